package sched

import (
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/par"
	"github.com/suite-run/suite/rules"
)

// PlannedAction is what a run would do with one action.
type PlannedAction struct {
	Action   *action.Action
	Cached   bool          // a usable cached result exists: the run would skip it
	Expected time.Duration // its recorded duration, or the guess of Estimate
	Known    bool          // Expected was recorded, not guessed
}

// Plan is what a run of the same actions would do, worked out without
// running or changing anything.
type Plan struct {
	Actions []PlannedAction
	// Tests counts the tests selected; Run the tests with at least one
	// action to execute; the others would be served from the cache.
	Tests, Run int
	// Predicted is the wall time the scheduler would take for the actions
	// to execute on Jobs slots, dispatched in their order as Run does.
	Predicted time.Duration
	Jobs      int
}

// MakePlan asks the cache the way a run would (c may be nil: nothing is
// cached) and simulates the dispatch of the misses: first fit on jobs
// slots in the given order, exclusive actions alone afterwards, each
// taking its expected duration.
func MakePlan(actions []*action.Action, jobs int, c *ResultCache, h *History) Plan {
	jobs = max(jobs, 1)
	if h == nil {
		h = &History{data: historyFile{Actions: map[string]actionRecord{}}}
	}
	p := Plan{Actions: make([]PlannedAction, len(actions)), Jobs: jobs}
	par.Each(len(actions), func(i int) {
		a := actions[i]
		d, known := Estimate(a, h)
		p.Actions[i] = PlannedAction{Action: a, Expected: d, Known: known, Cached: c != nil && !c.NoLookup && c.Peek(a)}
	})
	runs := map[*rules.Test]bool{} // test -> some action of it executes
	var parallel, exclusive []PlannedAction
	for _, pa := range p.Actions {
		if _, seen := runs[pa.Action.Test]; !seen {
			runs[pa.Action.Test] = false
		}
		if pa.Cached {
			continue
		}
		runs[pa.Action.Test] = true
		if pa.Action.Exclusive {
			exclusive = append(exclusive, pa)
		} else {
			parallel = append(parallel, pa)
		}
	}
	p.Tests = len(runs)
	for _, r := range runs {
		if r {
			p.Run++
		}
	}
	p.Predicted = simulate(parallel, jobs, func(a *action.Action) int { return min(max(a.CPUs, 1), jobs) }) +
		simulate(exclusive, jobs, func(*action.Action) int { return jobs })
	return p
}

// simulate is phase (sched.go) on a clock instead of processes: the first
// queued action that fits the free slots starts; when none fits, time moves
// to the next end. It returns when the last action would end.
func simulate(queue []PlannedAction, jobs int, need func(*action.Action) int) time.Duration {
	type running struct {
		end  time.Duration
		used int
	}
	var now time.Duration
	var active []running
	nfree := jobs
	for len(queue) > 0 || len(active) > 0 {
		for i := 0; i < len(queue) && nfree > 0; {
			n := need(queue[i].Action)
			if n > nfree {
				i++
				continue
			}
			active = append(active, running{now + queue[i].Expected, n})
			nfree -= n
			if i == 0 {
				queue = queue[1:] // the common case, without moving the rest
			} else {
				queue = append(queue[:i:i], queue[i+1:]...)
			}
		}
		if len(active) == 0 {
			break
		}
		next := 0
		for i, r := range active {
			if r.end < active[next].end {
				next = i
			}
		}
		now = active[next].end
		nfree += active[next].used
		active = append(active[:next], active[next+1:]...)
	}
	return now
}
