// Package sched runs test actions in parallel on a fixed number of worker
// slots: in the order it is given (see Order), exclusive actions alone after
// the rest, retrying failures up to each action's attempts, stopping early
// on the first failure with fail-fast or on cancellation. It reports what
// happens only as typed Events, and records durations and failures in a
// History for the next run's order.
package sched

import (
	"container/heap"
	"context"
	"sort"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/par"
)

// Executor runs one attempt of an action on a worker slot.
type Executor interface {
	Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) Outcome
}

// Options of one run.
type Options struct {
	Jobs     int // worker slots, at least 1
	Seed     int64
	Order    string // only reported; actions come already ordered
	FailFast bool
	Suite    string
	Budget   time.Duration
	Selected int // tests selected
	History  *History
	// Cache, when set, is asked before each action runs; hits never take
	// a worker slot. Clean first-attempt passes are stored in it.
	Cache *ResultCache
	// Share is this machine's part under --shard, only reported.
	Share *Share
	// Quarantined says which tests (by label) are quarantined: they run
	// and are reported, but their failures neither fail the run nor stop
	// it under FailFast.
	Quarantined func(label string) bool
	Now         func() time.Time // the clock; time.Now when nil
}

type msgKind int

const (
	msgStart msgKind = iota
	msgDone
)

type msg struct {
	kind    msgKind
	a       *action.Action
	slots   []int
	attempt int
	outcome Outcome
	start   time.Time
	time    time.Time
}

// Run executes the actions, in the given order, and returns the run's end
// event (also emitted). emit is called from Run's goroutine only.
func Run(ctx context.Context, actions []*action.Action, ex Executor, o Options, emit func(Event)) RunEnd {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	jobs := max(o.Jobs, 1)
	h := o.History
	if h == nil {
		h = &History{data: historyFile{Actions: map[string]actionRecord{}}}
	}
	var parallel, exclusive []*action.Action
	estimates := make([]time.Duration, 0, len(actions))
	allKnown := true
	for _, a := range actions {
		if a.Exclusive {
			exclusive = append(exclusive, a)
		} else {
			parallel = append(parallel, a)
		}
		d, known := Estimate(a, h)
		estimates = append(estimates, d)
		allKnown = allKnown && known
	}
	start := now()
	emit(RunStart{Suite: o.Suite, Seed: o.Seed, Jobs: jobs, Order: o.Order, Selected: o.Selected,
		Actions: len(actions), Expected: Predict(estimates, jobs), Known: allKnown, Share: o.Share, Time: start})

	// The dispatcher's context is cancelled also when an infrastructure
	// error aborts the run; ctx alone says whether the user interrupted.
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	d := &dispatcher{ctx: runCtx, abort: abort, ex: ex, seed: o.Seed, now: now, emit: emit, history: h, cache: o.Cache,
		failFast: o.FailFast, quarantined: o.Quarantined, msgs: make(chan msg), results: map[*action.Action]ActionEnd{}, warned: map[string]bool{}}
	if o.Cache != nil {
		parallel = d.skipHits(parallel)
		exclusive = d.skipHits(exclusive)
	}
	d.phase(parallel, jobs, func(a *action.Action) int { return min(max(a.CPUs, 1), jobs) })
	d.phase(exclusive, jobs, func(*action.Action) int { return jobs })

	end := RunEnd{Budget: o.Budget, Time: now(), Interrupted: ctx.Err() != nil, Share: o.Share, Aborted: d.aborted}
	end.Wall = end.Time.Sub(start)
	end.OverBudget = o.Budget > 0 && end.Wall > o.Budget
	end.Tests, end.Counts, end.NotRun = aggregate(actions, d.results, o.Quarantined)
	h.setLast(o.Seed, d.order, end.Tests, start)
	emit(end)
	return end
}

type dispatcher struct {
	ctx      context.Context
	abort    context.CancelFunc
	aborted  error // the first infrastructure error; nil while the run goes on
	ex       Executor
	seed     int64
	now      func() time.Time
	emit     func(Event)
	history  *History
	cache    *ResultCache
	warned   map[string]bool // each warning is emitted once per run
	failFast bool
	// quarantined tests' failures do not stop a fail-fast run; nil: none
	quarantined func(label string) bool
	stopping    bool
	msgs        chan msg
	order       []string // action IDs in dispatch order
	results     map[*action.Action]ActionEnd
}

// phase dispatches queue on jobs slots, an action taking need(a) of them;
// the first queued action that fits goes next. It returns when every
// started action is done.
func (d *dispatcher) phase(queue []*action.Action, jobs int, need func(*action.Action) int) {
	free := make([]bool, jobs)
	for i := range free {
		free[i] = true
	}
	nfree := jobs
	running := 0
	done := d.ctx.Done() // nil for a context that is never cancelled
	for {
		if d.stopping || d.ctx.Err() != nil {
			queue = nil
		}
		// First fit, but stop as soon as no slot is free: with thousands
		// queued, scanning them all after every finished test would make
		// scheduling quadratic.
		for i := 0; i < len(queue) && nfree > 0; {
			n := need(queue[i])
			if n > nfree {
				i++
				continue
			}
			slots := take(free, n)
			nfree -= n
			a := queue[i]
			if i == 0 {
				queue = queue[1:] // the common case, without moving the rest
			} else {
				queue = append(queue[:i], queue[i+1:]...)
			}
			running++
			d.order = append(d.order, a.ID())
			go d.runAction(a, slots)
		}
		if running == 0 {
			return
		}
		select {
		case m := <-d.msgs:
			switch m.kind {
			case msgStart:
				exp, _ := d.history.Duration(m.a.ID())
				d.emit(ActionStart{Action: m.a, Slot: m.slots[0], Attempt: m.attempt, Expected: exp, Time: m.time})
			case msgDone:
				running--
				for _, s := range m.slots {
					free[s] = true
				}
				nfree += len(m.slots)
				for _, w := range m.outcome.Warnings {
					d.warn(w)
				}
				if m.outcome.Infra != nil || d.aborted != nil && m.outcome.Status == Interrupted {
					// Not a test result: the test was not run, or was
					// stopped because the run is being aborted.
					if d.aborted == nil {
						d.aborted = m.outcome.Infra
						d.abort()
					}
					continue
				}
				ev := ActionEnd{Action: m.a, Slot: m.slots[0], Attempts: m.attempt, Outcome: m.outcome, Start: m.start, End: m.time}
				d.results[m.a] = ev
				d.history.record(m.a.ID(), m.outcome, m.time)
				d.emit(ev)
				if d.failFast && !m.outcome.Status.OK() && !(d.quarantined != nil && d.quarantined(m.a.Label.String())) {
					d.stopping = true
				}
			}
		case <-done:
			done = nil // cancelled: start nothing more, wait for the running
		}
	}
}

// skipHits looks the actions up in the cache, several at once, reports
// every hit as finished, and returns the misses in their order.
func (d *dispatcher) skipHits(actions []*action.Action) []*action.Action {
	type hit struct {
		o  Outcome
		ok bool
	}
	hits := make([]hit, len(actions))
	par.Each(len(actions), func(i int) { hits[i].o, hits[i].ok = d.cache.Lookup(actions[i]) })
	for _, w := range d.cache.TakeWarnings() {
		d.warn(w)
	}
	var misses []*action.Action
	t := d.now()
	for i, a := range actions {
		if !hits[i].ok {
			misses = append(misses, a)
			continue
		}
		d.order = append(d.order, a.ID())
		ev := ActionEnd{Action: a, Slot: -1, Attempts: 0, Outcome: hits[i].o, Start: t, End: t}
		d.results[a] = ev
		d.emit(ev)
	}
	return misses
}

// warn emits a warning the first time it is said: executors and the cache
// report a problem on every action it touches (no namespaces, a dead
// remote), and the user needs to read it once.
func (d *dispatcher) warn(msg string) {
	if !d.warned[msg] {
		d.warned[msg] = true
		d.emit(Warning{Msg: msg})
	}
}

func take(free []bool, n int) []int {
	var slots []int
	for i, f := range free {
		if f {
			slots = append(slots, i)
			if len(slots) == n {
				for _, s := range slots {
					free[s] = false
				}
				return slots
			}
		}
	}
	return nil
}

// runAction runs the attempts of one action and reports to the dispatcher.
func (d *dispatcher) runAction(a *action.Action, slots []int) {
	start := d.now()
	var o Outcome
	attempt := 0
	for attempt < max(a.Attempts, 1) {
		attempt++
		d.msgs <- msg{kind: msgStart, a: a, slots: slots, attempt: attempt, time: d.now()}
		o = d.ex.Execute(d.ctx, a, attempt, slots[0], d.seed)
		if o.Infra != nil {
			break
		}
		if attempt == 1 && d.cache != nil {
			d.cache.Save(a, o, d.now().Add(-o.Duration))
			o.Warnings = append(o.Warnings, d.cache.TakeWarnings()...)
		}
		if o.Status == Passed || o.Status == Skipped || o.Status == Interrupted || d.ctx.Err() != nil {
			break
		}
	}
	if o.Status == Passed && attempt > 1 {
		o.Status = Flaky
	}
	d.msgs <- msg{kind: msgDone, a: a, slots: slots, attempt: attempt, outcome: o, start: start, time: d.now()}
}

// aggregate folds action results into one result per test, in label order.
func aggregate(actions []*action.Action, results map[*action.Action]ActionEnd, quarantined func(string) bool) ([]TestResult, Counts, int) {
	byLabel := map[string]*TestResult{}
	var labels []string
	notRun := 0
	for _, a := range actions {
		l := a.Label.String()
		r := byLabel[l]
		if r == nil {
			r = &TestResult{Label: l, Status: Skipped, Cached: true}
			byLabel[l] = r
			labels = append(labels, l)
		}
		ev, ok := results[a]
		if !ok {
			notRun++
			r.Status = max(r.Status, Interrupted)
			r.Cached = false
			continue
		}
		o := ev.Outcome
		if o.Status >= r.Status {
			r.Status = o.Status
			r.LogPath = o.LogPath
		}
		r.Cached = r.Cached && o.Cached
		r.Duration += o.Duration
		r.Failed = append(r.Failed, cases.Failed(o.Cases)...)
	}
	sort.Strings(labels)
	var out []TestResult
	var c Counts
	for _, l := range labels {
		r := byLabel[l]
		r.Quarantined = quarantined != nil && quarantined(l)
		out = append(out, *r)
		if r.Quarantined && r.Status != Interrupted {
			c.Quarantined++
			if r.Status == Failed || r.Status == Timeout {
				c.QuarantinedFailed++
			}
			continue
		}
		switch r.Status {
		case Passed:
			c.Passed++
		case Flaky:
			c.Flaky++
		case Failed:
			c.Failed++
		case Timeout:
			c.Timeout++
		case Skipped:
			c.Skipped++
		case Interrupted:
			c.Interrupted++
		}
		if r.Cached && r.Status.OK() {
			c.Cached++
		}
	}
	return out, c, notRun
}

// Predict is the makespan of running jobs of these durations longest first
// on n workers (the LPT schedule the duration order approximates).
func Predict(durations []time.Duration, n int) time.Duration {
	ds := append([]time.Duration(nil), durations...)
	sort.Slice(ds, func(i, j int) bool { return ds[i] > ds[j] })
	w := make(workers, max(n, 1))
	heap.Init(&w)
	for _, d := range ds {
		w[0] += d
		heap.Fix(&w, 0)
	}
	var makespan time.Duration
	for _, t := range w {
		makespan = max(makespan, t)
	}
	return makespan
}

type workers []time.Duration

func (w workers) Len() int           { return len(w) }
func (w workers) Less(i, j int) bool { return w[i] < w[j] }
func (w workers) Swap(i, j int)      { w[i], w[j] = w[j], w[i] }
func (w *workers) Push(x any)        { *w = append(*w, x.(time.Duration)) }
func (w *workers) Pop() any {
	old := *w
	x := old[len(old)-1]
	*w = old[:len(old)-1]
	return x
}
