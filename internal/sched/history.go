package sched

import (
	"encoding/json"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/suite-run/suite/internal/statefile"
)

// History is what earlier runs in this workspace recorded: each action's
// last duration and status, and the last run's seed, order and failures.
// It lives in .suite/history.json; a missing or unreadable file is an
// empty history, never an error, since it only guides ordering.
type History struct {
	mu   sync.Mutex
	path string
	data historyFile
}

type historyFile struct {
	Version int                     `json:"version"`
	Actions map[string]actionRecord `json:"actions"`
	Last    lastRun                 `json:"last"`
	// Tests holds each test's recent results, oldest first, at most
	// RecentRuns of them: what flakiness and slowdowns are judged on.
	Tests map[string][]TestRun `json:"tests,omitempty"`
}

// RecentRuns bounds the results kept per test. Twenty runs tell a test
// failing one run in five from a broken one, and keep history.json at a
// few kilobytes per hundred tests.
const RecentRuns = 20

// forgetAfter bounds the number of tests in the history: a test whose
// last result is older than this was renamed or deleted, or is never
// selected any more, and its results would only describe old code.
const forgetAfter = 90 * 24 * time.Hour

// TestRun is one test's result in one earlier run.
type TestRun struct {
	Status      string    `json:"status"`
	DurationS   float64   `json:"duration_s"`
	Cached      bool      `json:"cached,omitempty"`
	Quarantined bool      `json:"quarantined,omitempty"`
	When        time.Time `json:"when"`
}

type actionRecord struct {
	DurationS float64   `json:"duration_s"`
	Status    string    `json:"status"`
	When      time.Time `json:"when"`
}

type lastRun struct {
	Seed   int64    `json:"seed"`
	Order  []string `json:"order"`  // action IDs in dispatch order
	Failed []string `json:"failed"` // labels that failed or timed out
	Ran    bool     `json:"ran"`
}

const historyVersion = 1

// LoadHistory reads the history file at path.
func LoadHistory(path string) *History {
	h := &History{path: path}
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &h.data) != nil || h.data.Version != historyVersion {
			h.data = historyFile{}
		}
	}
	if h.data.Actions == nil {
		h.data.Actions = map[string]actionRecord{}
	}
	h.data.Version = historyVersion
	return h
}

// Duration returns the last recorded duration of an action.
func (h *History) Duration(id string) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.data.Actions[id]
	if !ok || r.Status == Interrupted.String() {
		return 0, false
	}
	return time.Duration(r.DurationS * float64(time.Second)), true
}

// Learn records a duration seen elsewhere (e.g. in a cached result) without
// changing the last status.
func (h *History) Learn(id string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.data.Actions[id]
	r.DurationS = d.Seconds()
	h.data.Actions[id] = r
}

func (h *History) record(id string, o Outcome, when time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o.Status == Interrupted {
		return // a killed test's duration says nothing
	}
	h.data.Actions[id] = actionRecord{DurationS: o.Duration.Seconds(), Status: o.Status.String(), When: when}
}

// LastSeed is the seed of the previous run, and whether there was one.
func (h *History) LastSeed() (int64, bool) { return h.data.Last.Seed, h.data.Last.Ran }

// LastOrder is the dispatch order of the previous run.
func (h *History) LastOrder() []string { return h.data.Last.Order }

// LastFailed is the set of labels that failed in the previous run.
func (h *History) LastFailed() map[string]bool {
	m := map[string]bool{}
	for _, l := range h.data.Last.Failed {
		m[l] = true
	}
	return m
}

// Recent returns every test's recent results, oldest first, by label.
func (h *History) Recent() map[string][]TestRun {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]TestRun, len(h.data.Tests))
	for l, rs := range h.data.Tests {
		out[l] = append([]TestRun(nil), rs...)
	}
	return out
}

// Save writes the history atomically.
func (h *History) Save() error {
	h.mu.Lock()
	b, err := json.Marshal(h.data)
	h.mu.Unlock()
	if err != nil {
		return err
	}
	return statefile.WriteBytes(h.path, b)
}

// setLast records a run. A run forgets the failures only of the tests it
// ran: after `run //a/...`, --lf still knows what failed under //b.
func (h *History) setLast(seed int64, order []string, tests []TestResult, when time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.data.Tests == nil {
		h.data.Tests = map[string][]TestRun{}
	}
	for _, t := range tests {
		if t.Status == Interrupted {
			continue // stopped by the user: says nothing about the test
		}
		r := TestRun{Status: t.Status.String(), DurationS: t.Duration.Seconds(),
			Cached: t.Cached, Quarantined: t.Quarantined, When: when}
		rs := h.data.Tests[t.Label]
		if n := len(rs); n > 0 && r.Cached && rs[n-1].Cached && rs[n-1].Status == r.Status && rs[n-1].Quarantined == r.Quarantined {
			// A hit after a hit repeats the same result: it only says the
			// result still holds. Kept as one entry, so that reruns with
			// nothing changed neither grow the file every run loads nor
			// push the executed results out of the window.
			rs[n-1].When = when
			h.data.Tests[t.Label] = rs
			continue
		}
		rs = append(rs, r)
		if len(rs) > RecentRuns {
			rs = append([]TestRun(nil), rs[len(rs)-RecentRuns:]...)
		}
		h.data.Tests[t.Label] = rs
	}
	for l, rs := range h.data.Tests {
		if len(rs) == 0 || when.Sub(rs[len(rs)-1].When) > forgetAfter {
			delete(h.data.Tests, l)
		}
	}
	failed := map[string]bool{}
	for _, l := range h.data.Last.Failed {
		failed[l] = true
	}
	for _, t := range tests {
		delete(failed, t.Label)
		if t.Status == Failed || t.Status == Timeout {
			failed[t.Label] = true
		}
	}
	var fl []string
	for l := range failed {
		fl = append(fl, l)
	}
	sort.Strings(fl)
	h.data.Last = lastRun{Seed: seed, Order: order, Failed: fl, Ran: true}
}
