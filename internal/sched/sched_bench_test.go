package sched

import (
	"context"
	"fmt"
	"testing"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/rules"
)

// passExecutor passes every action at once: it stands in for the sandbox
// so that only the scheduler's own cost per action is measured.
type passExecutor struct{}

func (passExecutor) Execute(context.Context, *action.Action, int, int, int64) Outcome {
	return Outcome{Status: Passed}
}

// BenchmarkScheduleOverhead runs 10,000 actions on 2 slots: ordering is
// not included (actions come ordered), dispatch, events, history and the
// per-test aggregation are.
func BenchmarkScheduleOverhead(b *testing.B) {
	const n = 10_000
	actions := make([]*action.Action, 0, n)
	for i := 0; i < n; i++ {
		l := label.Label{Pkg: fmt.Sprintf("p%04d", i/5), Name: fmt.Sprintf("t%d", i%5)}
		t := &rules.Test{Label: l, Cmd: []string{"true"}, Shards: 1, Attempts: 1, CPUs: 1, Cache: true}
		actions = append(actions, &action.Action{Test: t, Label: l, Shards: 1, Run: 1, Runs: 1,
			Argv: t.Cmd, CPUs: 1, Attempts: 1, Network: "isolated", Cacheable: true})
	}
	events := 0
	for b.Loop() {
		end := Run(context.Background(), actions, passExecutor{}, Options{Jobs: 2, Selected: n},
			func(Event) { events++ })
		if end.Counts.Passed != n {
			b.Fatalf("passed %d of %d", end.Counts.Passed, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/action")
}
