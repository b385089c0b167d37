package sched

import (
	"testing"
	"time"
)

// The plan's prediction follows the dispatcher: first fit in the given
// order, a test taking several CPUs waiting for them, exclusive tests
// alone afterwards.
func TestPlanPredictsTheDispatchOrder(t *testing.T) {
	s := time.Second
	as := testActions(5)
	h := historyWith(t, map[string]time.Duration{
		"//p:t000": 3 * s, "//p:t001": 1 * s, "//p:t002": 1 * s, "//p:t003": 2 * s, "//p:t004": 4 * s,
	})
	// t003 needs both slots: it starts when t000 (3s) ends, after t001
	// and t002 ran beside t000; t004 runs alone after the rest.
	as[3].CPUs = 2
	as[4].Exclusive = true
	p := MakePlan(as, 2, nil, h)
	if want := 3*s + 2*s + 4*s; p.Predicted != want {
		t.Errorf("predicted %s, want %s", p.Predicted, want)
	}
	if p.Run != 5 || p.Tests != 5 {
		t.Errorf("would run %d of %d tests, want 5 of 5", p.Run, p.Tests)
	}
	for _, pa := range p.Actions {
		if !pa.Known || pa.Cached {
			t.Errorf("%s: known %v cached %v, want recorded and not cached", pa.Action.ID(), pa.Known, pa.Cached)
		}
	}

	// In the given order, not longest first: the dry run tells what this
	// run's order would take.
	as = testActions(3)
	h = historyWith(t, map[string]time.Duration{"//p:t000": 1 * s, "//p:t001": 1 * s, "//p:t002": 2 * s})
	if got := MakePlan(as, 2, nil, h).Predicted; got != 3*s {
		t.Errorf("1s, 1s, 2s on 2 slots in that order: predicted %s, want 3s", got)
	}
}
