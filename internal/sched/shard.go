package sched

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/suite-run/suite/internal/action"
)

// Shard is one CI machine's part of a run: Index of Total, 1-based.
type Shard struct{ Index, Total int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Total) }

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	a, err1 := strconv.Atoi(i)
	b, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || b < 1 || a < 1 || a > b {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 1 <= I <= N, e.g. 2/4", s)
	}
	return Shard{a, b}, nil
}

// Share is what Split gave one shard.
type Share struct {
	Shard    Shard
	Tests    int             // tests in this shard
	Selected int             // tests in the whole selection
	Known    int             // selected tests with a duration in the durations file
	Loads    []time.Duration // each shard's predicted test time
}

// String is the line each shard's summary prints.
func (s Share) String() string {
	return fmt.Sprintf("shard %s: %d of %d selected tests", s.Shard, s.Tests, s.Selected)
}

// Split gives each of Total machines a disjoint slice of the actions,
// whole tests at a time (the shards and runs of one test stay together, so
// a machine's summary counts tests), balanced by the durations file:
// longest first, each to the machine with the least work so far, ties to
// the lowest index.
//
// The split depends on nothing but the selected tests and d, which every
// machine reads from the same checkout. Never on the local history: a
// shard's own run rewrites that, and shards run one after another on one
// machine (or one retried after the others) would then split different
// histories, running some tests twice and others never. A test missing
// from d weighs the mean of those present (all weigh the same when none
// is, which balances by count), so adding or removing tests moves only a
// few others.
//
// The slice for this shard keeps the actions' order.
func Split(actions []*action.Action, d *Durations, s Shard) ([]*action.Action, Share) {
	type test struct {
		label string
		runs  int
		d     time.Duration
		known bool
	}
	byLabel := map[string]*test{}
	var tests []*test
	for _, a := range actions {
		l := a.Label.String()
		if byLabel[l] == nil {
			t := &test{label: l, runs: max(a.Runs, 1)}
			t.d, t.known = d.Get(l)
			byLabel[l] = t
			tests = append(tests, t)
		}
	}
	var sum time.Duration
	known := 0
	for _, t := range tests {
		if t.known {
			sum += t.d
			known++
		}
	}
	unknown := time.Second
	if known > 0 {
		unknown = sum / time.Duration(known)
	}
	for _, t := range tests {
		if !t.known {
			t.d = unknown
		}
		t.d *= time.Duration(t.runs)
	}
	sort.SliceStable(tests, func(i, j int) bool {
		if tests[i].d != tests[j].d {
			return tests[i].d > tests[j].d
		}
		return tests[i].label < tests[j].label
	})
	share := Share{Shard: s, Selected: len(tests), Known: known, Loads: make([]time.Duration, s.Total)}
	mine := map[string]bool{}
	for _, t := range tests {
		best := 0
		for m := 1; m < s.Total; m++ {
			if share.Loads[m] < share.Loads[best] {
				best = m
			}
		}
		share.Loads[best] += t.d
		if best == s.Index-1 {
			mine[t.label] = true
			share.Tests++
		}
	}
	var out []*action.Action
	for _, a := range actions {
		if mine[a.Label.String()] {
			out = append(out, a)
		}
	}
	return out, share
}
