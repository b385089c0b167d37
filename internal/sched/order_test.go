package sched

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/rules"
)

func testActions(n int) []*action.Action {
	var as []*action.Action
	for i := 0; i < n; i++ {
		t := &rules.Test{Label: label.Label{Pkg: "p", Name: fmt.Sprintf("t%03d", i)}, Shards: 1, Attempts: 1, CPUs: 1}
		as = append(as, &action.Action{Test: t, Label: t.Label, Shards: 1, Runs: 1, Run: 1, Timeout: time.Minute, Attempts: 1, CPUs: 1})
	}
	return as
}

func ids(as []*action.Action) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID())
	}
	return out
}

func historyWith(t *testing.T, durations map[string]time.Duration) *History {
	h := LoadHistory(filepath.Join(t.TempDir(), "history.json"))
	for id, d := range durations {
		h.Learn(id, d)
	}
	return h
}

func TestOrderDurationPutsUnknownFirstThenLongest(t *testing.T) {
	as := testActions(4)
	h := historyWith(t, map[string]time.Duration{
		"//p:t000": time.Second, "//p:t001": 3 * time.Second, "//p:t002": 2 * time.Second,
	})
	Order(as, OrderDuration, 0, h)
	want := []string{"//p:t003", "//p:t001", "//p:t002", "//p:t000"}
	if got := ids(as); !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestOrderRandomIsReproducibleBySeed(t *testing.T) {
	a, b, c := testActions(30), testActions(30), testActions(30)
	Order(a, OrderRandom, 7, nil)
	Order(b, OrderRandom, 7, nil)
	Order(c, OrderRandom, 8, nil)
	if !slices.Equal(ids(a), ids(b)) {
		t.Error("the same seed gave two orders")
	}
	if slices.Equal(ids(a), ids(c)) {
		t.Error("seeds 7 and 8 gave the same order")
	}
}

// Random selections, durations and machine counts: the shards are
// disjoint, cover everything, hold what they predict, and their loads
// differ by no more than the longest single test. Some tests have no
// duration in the file, as after tests are added.
func TestSplitPartitionsAndBalances(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 1 + r.IntN(60)
		as := testActions(n)
		d := &Durations{Tests: map[string]float64{}}
		for _, a := range as {
			if r.IntN(5) > 0 {
				d.Set(a.ID(), time.Duration(r.ExpFloat64()*float64(time.Second)))
			}
		}
		total := 1 + r.IntN(5)
		seen := map[string]int{}
		var loads []time.Duration
		tests := 0
		for i := 1; i <= total; i++ {
			mine, share := Split(as, d, Shard{i, total})
			loads = share.Loads
			tests += share.Tests
			if share.Tests != len(mine) || share.Selected != n {
				t.Fatalf("shard %d/%d: share %+v for %d actions of %d", i, total, share, len(mine), n)
			}
			for _, a := range mine {
				seen[a.ID()]++
			}
		}
		if tests != n {
			t.Fatalf("the shards hold %d tests, want %d", tests, n)
		}
		for _, a := range as {
			if seen[a.ID()] != 1 {
				t.Fatalf("%s is in %d shards", a.ID(), seen[a.ID()])
			}
		}
		lo, hi := slices.Min(loads), slices.Max(loads)
		// A test weighs its duration, or the mean of the known ones, or
		// a second when none is known: never more than this.
		bound := time.Second
		for _, a := range as {
			if v, ok := d.Get(a.ID()); ok {
				bound = max(bound, v)
			}
		}
		if hi-lo > bound {
			t.Fatalf("loads %v differ by more than the longest test %s", loads, bound)
		}
	}
}

// With no durations at all, the split balances by count.
func TestSplitWithoutDurationsBalancesCount(t *testing.T) {
	as := testActions(10)
	for i := 1; i <= 3; i++ {
		mine, _ := Split(as, nil, Shard{i, 3})
		if len(mine) < 3 || len(mine) > 4 {
			t.Errorf("shard %d/3 got %d of 10 tests, want 3 or 4", i, len(mine))
		}
	}
}

// The split reads only the durations file: history rewritten between
// shards (as each shard's own run does) changes nothing.
func TestSplitIgnoresHistory(t *testing.T) {
	as := testActions(12)
	d := &Durations{Tests: map[string]float64{}}
	for i, a := range as {
		d.Set(a.ID(), time.Duration(i+1)*100*time.Millisecond)
	}
	before, _ := Split(as, d, Shard{2, 3})
	h := historyWith(t, map[string]time.Duration{"//p:t000": time.Hour})
	Order(as, OrderDuration, 0, h)
	after, _ := Split(as, d, Shard{2, 3})
	if !slices.Equal(sortedIDs(before), sortedIDs(after)) {
		t.Errorf("shard 2/3 was %v, then %v", sortedIDs(before), sortedIDs(after))
	}
}

func sortedIDs(as []*action.Action) []string {
	ids := ids(as)
	slices.Sort(ids)
	return ids
}

func TestPredictIsLPTMakespan(t *testing.T) {
	// Longest first, each job to the least-loaded of 2 workers:
	// 5 | 4, then +3 on 4 = 7, +3 on 5 = 8, +3 on 7 = 10. The optimum, 9, is
	// not what LPT finds.
	ds := []time.Duration{5, 4, 3, 3, 3}
	if got := Predict(ds, 2); got != 10 {
		t.Errorf("Predict = %d, want 10", got)
	}
	if got := Predict(ds, 10); got != 5 {
		t.Errorf("Predict with more workers than jobs = %d, want the longest, 5", got)
	}
}

// sameWarning is an executor whose every action reports the same problem,
// as the sandbox does where the kernel refuses namespaces.
type sameWarning struct{}

func (sameWarning) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) Outcome {
	return Outcome{Status: Passed, Warnings: []string{"namespaces unavailable", "about " + a.Label.Name}}
}

func TestWarningsAreSaidOncePerRun(t *testing.T) {
	said := map[string]int{}
	Run(context.Background(), testActions(5), sameWarning{}, Options{Jobs: 2}, func(e Event) {
		if w, ok := e.(Warning); ok {
			said[w.Msg]++
		}
	})
	if said["namespaces unavailable"] != 1 {
		t.Errorf("a warning every action repeats was said %d times, want once", said["namespaces unavailable"])
	}
	if len(said) != 6 {
		t.Errorf("%d distinct warnings said, want 6 (one shared, one per action): %v", len(said), said)
	}
}
