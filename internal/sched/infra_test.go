package sched

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/action"
)

// refusingExecutor stands for a remote executor that refuses the third
// action it is given (a worker pool that does not exist) while the others
// pass or, for "slow", run until stopped.
type refusingExecutor struct{ calls atomic.Int32 }

func (r *refusingExecutor) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) Outcome {
	if r.calls.Add(1) == 3 {
		return Outcome{Status: Interrupted, Infra: errors.New("no worker for the platform")}
	}
	if a.Label.Name == "t001" {
		select {
		case <-ctx.Done():
			return Outcome{Status: Interrupted}
		case <-time.After(time.Minute):
		}
	}
	return Outcome{Status: Passed, Duration: time.Millisecond}
}

// An infrastructure error is no test result: the run stops at once (the
// running test too), nothing is counted as failed, and the run says why.
func TestInfraErrorAbortsTheRun(t *testing.T) {
	as := testActions(10)
	for _, a := range as {
		a.Attempts = 3 // a refusal is not retried either
	}
	ex := &refusingExecutor{}
	var results []ActionEnd
	start := time.Now()
	end := Run(context.Background(), as, ex, Options{Jobs: 2}, func(e Event) {
		if r, ok := e.(ActionEnd); ok {
			results = append(results, r)
		}
	})
	if time.Since(start) > 30*time.Second {
		t.Fatal("the running test was not stopped")
	}
	if end.Aborted == nil || end.Aborted.Error() != "no worker for the platform" {
		t.Fatalf("Aborted = %v, want the refusal", end.Aborted)
	}
	if end.Interrupted {
		t.Error("an abort is reported as the user's interrupt")
	}
	if end.Counts.Failed != 0 || end.Counts.Timeout != 0 {
		t.Errorf("counts %+v: a refusal made failures", end.Counts)
	}
	for _, r := range results {
		if r.Outcome.Status != Passed {
			t.Errorf("%s reported %v; only real results may be reported", r.Action.ID(), r.Outcome.Status)
		}
	}
	if n := ex.calls.Load(); n > 4 {
		t.Errorf("%d attempts started; the run should stop after the refusal", n)
	}
	if end.NotRun+len(results) != len(as) {
		t.Errorf("%d not run and %d results, want %d actions in all", end.NotRun, len(results), len(as))
	}
}
