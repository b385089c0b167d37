package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/suite-run/suite/internal/sched"
)

// WritePlan prints what `suite run --dry-run` found: each action in
// dispatch order, marked run or cached, then one line that says how much
// would run and how long it would take. budget is the suite's (0: none).
func WritePlan(w io.Writer, p sched.Plan, budget time.Duration) error {
	bw := bufio.NewWriter(w)
	for _, pa := range p.Actions {
		will := "run"
		if pa.Cached {
			will = "cached"
		}
		est := "estimated"
		if pa.Known {
			est = "recorded"
		}
		fmt.Fprintf(bw, "%-6s\t%s\ttimeout %s\t%s %s\n", will, pa.Action.ID(), pa.Action.Timeout, est, roundDuration(pa.Expected))
	}
	fmt.Fprintln(bw, PlanLine(p, budget))
	return bw.Flush()
}

// PlanLine is the last line of a dry run:
//
//	suite: would run 3 of 10 tests (7 cached), predicted 1.2s on 2 workers; budget 1m0s: within
func PlanLine(p sched.Plan, budget time.Duration) string {
	s := fmt.Sprintf("suite: would run %d of %d tests (%d cached), predicted %s on %d workers",
		p.Run, p.Tests, p.Tests-p.Run, roundDuration(p.Predicted), p.Jobs)
	switch {
	case budget <= 0:
	case p.Predicted <= budget:
		s += fmt.Sprintf("; budget %s: within", budget)
	default:
		s += fmt.Sprintf("; budget %s: over by %s", budget, roundDuration(p.Predicted-budget))
	}
	return s
}

// roundDuration keeps two or three significant figures: 12s, 1.2s, 340ms.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

type jsonPlannedAction struct {
	Event     string  `json:"event"`
	Label     string  `json:"label"`
	Shard     int     `json:"shard"`
	Shards    int     `json:"shards"`
	Run       int     `json:"run"`
	Will      string  `json:"will"` // "run" or "cached"
	ExpectedS float64 `json:"expected_s"`
	Known     bool    `json:"known"`
	TimeoutS  float64 `json:"timeout_s"`
}

type jsonPlan struct {
	Event      string  `json:"event"`
	Run        int     `json:"run"`
	Selected   int     `json:"selected"`
	Cached     int     `json:"cached"`
	Jobs       int     `json:"jobs"`
	PredictedS float64 `json:"predicted_s"`
	BudgetS    float64 `json:"budget_s"`
	OverBudget bool    `json:"over_budget"`
}

// WritePlanJSON writes the plan as JSON Lines (--json with --dry-run): a
// "planned_test" event per action, then one "plan" event.
func WritePlanJSON(path string, p sched.Plan, budget time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, pa := range p.Actions {
		a := pa.Action
		will := "run"
		if pa.Cached {
			will = "cached"
		}
		if err := enc.Encode(jsonPlannedAction{"planned_test", a.Label.String(), a.Shard, a.Shards, a.Run, will,
			pa.Expected.Seconds(), pa.Known, a.Timeout.Seconds()}); err != nil {
			f.Close()
			return err
		}
	}
	err = enc.Encode(jsonPlan{"plan", p.Run, p.Tests, p.Tests - p.Run, p.Jobs, p.Predicted.Seconds(),
		budget.Seconds(), budget > 0 && p.Predicted > budget})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
