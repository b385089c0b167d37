package sched

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/rules"
)

// Orders a run can use.
const (
	OrderDuration = "duration" // longest first, so the long tail starts early
	OrderRandom   = "random"   // shuffled by the seed
	OrderDeclared = "declared" // label order
)

// Estimate is the expected duration of an action: its recorded duration,
// or, for an action never seen, a guess from its timeout class.
func Estimate(a *action.Action, h *History) (d time.Duration, known bool) {
	if d, ok := h.Duration(a.ID()); ok {
		return d, true
	}
	return unknownEstimate(a), false
}

// unknownEstimate guesses a tenth of the timeout, capped by the size class
// the timeout falls in: a test with a 60s (small) timeout that has never
// run is guessed at 6s. The guess only orders and predicts; it is replaced
// by the real duration after one run.
func unknownEstimate(a *action.Action) time.Duration {
	t := a.Timeout
	if t <= 0 {
		t = rules.SizeTimeouts["medium"]
	}
	return t / 10
}

// Order sorts actions for dispatch. Under OrderDuration, actions never run
// come first (largest timeout class first: they may be long), then the
// others longest first. Ties keep label order, so an order is reproducible.
func Order(actions []*action.Action, order string, seed int64, h *History) {
	switch order {
	case OrderRandom:
		r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		r.Shuffle(len(actions), func(i, j int) { actions[i], actions[j] = actions[j], actions[i] })
	case OrderDeclared:
		// Build already returns label order.
	default:
		type key struct {
			known bool
			d     time.Duration
		}
		keys := make(map[*action.Action]key, len(actions))
		for _, a := range actions {
			d, known := Estimate(a, h)
			keys[a] = key{known, d}
		}
		sort.SliceStable(actions, func(i, j int) bool {
			a, b := keys[actions[i]], keys[actions[j]]
			if a.known != b.known {
				return !a.known
			}
			return a.d > b.d
		})
	}
}

// ReorderLike puts actions in the order of ids (a previous run's order);
// actions not in it follow, in their current order.
func ReorderLike(actions []*action.Action, ids []string) {
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	sort.SliceStable(actions, func(i, j int) bool {
		pi, iok := pos[actions[i].ID()]
		pj, jok := pos[actions[j].ID()]
		if iok != jok {
			return iok
		}
		return iok && pi < pj
	})
}

// FailedFirst moves the actions of tests in failed to the front, keeping
// the relative order otherwise (--ff).
func FailedFirst(actions []*action.Action, failed map[string]bool) {
	sort.SliceStable(actions, func(i, j int) bool {
		return failed[actions[i].Label.String()] && !failed[actions[j].Label.String()]
	})
}
