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

// Split gives each of Total machines a disjoint slice of the actions,
// balanced by expected duration: longest first, each to the machine with
// the least work so far (ties to the lowest index). Every machine computes
// the same split from the same actions and history, so the slices are
// disjoint and cover everything without the machines talking. The slice for
// this shard keeps the actions' order; the second result is each shard's
// predicted total duration.
func Split(actions []*action.Action, h *History, s Shard) ([]*action.Action, []time.Duration) {
	type job struct {
		a *action.Action
		d time.Duration
	}
	jobs := make([]job, len(actions))
	for i, a := range actions {
		d, _ := Estimate(a, h)
		jobs[i] = job{a, d}
	}
	sort.SliceStable(jobs, func(i, j int) bool {
		if jobs[i].d != jobs[j].d {
			return jobs[i].d > jobs[j].d
		}
		return jobs[i].a.ID() < jobs[j].a.ID()
	})
	load := make([]time.Duration, s.Total)
	mine := map[*action.Action]bool{}
	for _, j := range jobs {
		best := 0
		for m := 1; m < s.Total; m++ {
			if load[m] < load[best] {
				best = m
			}
		}
		load[best] += j.d
		if best == s.Index-1 {
			mine[j.a] = true
		}
	}
	var out []*action.Action
	for _, a := range actions {
		if mine[a] {
			out = append(out, a)
		}
	}
	return out, load
}
