package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"time"

	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/sched"
)

// JSONLines writes the run's events as JSON Lines (--json FILE).
type JSONLines struct {
	// Quarantined says which tests (by label) are quarantined; nil: none.
	Quarantined func(label string) bool

	f   *os.File
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewJSONLines creates the file.
func NewJSONLines(path string) (*JSONLines, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	return &JSONLines{f: f, w: w, enc: json.NewEncoder(w)}, nil
}

type jsonCase struct {
	Name      string  `json:"name"`
	Class     string  `json:"class,omitempty"`
	Status    string  `json:"status"`
	DurationS float64 `json:"duration_s"`
	Message   string  `json:"message,omitempty"`
}

// The events' JSON forms. Structs, not maps: a run of thousands of cache
// hits writes thousands of test_result lines, and maps are encoded by
// sorting their keys through reflection.
type jsonRunStart struct {
	Event     string  `json:"event"`
	Suite     string  `json:"suite"`
	Seed      int64   `json:"seed"`
	Jobs      int     `json:"jobs"`
	Selected  int     `json:"selected"`
	Actions   int     `json:"actions"`
	Order     string  `json:"order"`
	ExpectedS float64 `json:"expected_s"`
	// CIShard is "I/N" under --shard, with this machine's test count;
	// "shard" in test_result is a test's own TEST_SHARD_INDEX.
	CIShard      string `json:"ci_shard,omitempty"`
	CIShardTests int    `json:"ci_shard_tests,omitempty"`
	Time         string `json:"time"`
}

type jsonTestResult struct {
	Event     string     `json:"event"`
	Label     string     `json:"label"`
	Shard     int        `json:"shard"`
	Shards    int        `json:"shards"`
	Run       int        `json:"run"`
	Status    string     `json:"status"`
	Cached    bool       `json:"cached"`
	DurationS float64    `json:"duration_s"`
	Attempts  int        `json:"attempts"`
	Slot      int        `json:"slot"`
	ExitCode  int        `json:"exit_code"`
	Signal    string     `json:"signal"`
	Log       string     `json:"log"`
	Cases     []jsonCase `json:"cases"`
	// UndeclaredReads are workspace files a failed test looked up that
	// it had not declared; omitted when there are none.
	UndeclaredReads []string `json:"undeclared_reads,omitempty"`
	// Quarantined tests keep their real status but never fail the run.
	Quarantined bool `json:"quarantined,omitempty"`
}

type jsonWarning struct {
	Event   string `json:"event"`
	Message string `json:"message"`
}

type jsonRunEnd struct {
	Event       string  `json:"event"`
	Passed      int     `json:"passed"`
	Failed      int     `json:"failed"`
	Skipped     int     `json:"skipped"`
	Flaky       int     `json:"flaky"`
	Timeout     int     `json:"timeout"`
	Cached      int     `json:"cached"`
	Interrupted bool    `json:"interrupted"`
	NotRun      int     `json:"not_run"`
	WallS       float64 `json:"wall_s"`
	BudgetS     float64 `json:"budget_s"`
	OverBudget  bool    `json:"over_budget"`
	// Quarantined tests are counted here only, not by status.
	Quarantined       int `json:"quarantined"`
	QuarantinedFailed int `json:"quarantined_failed"`
	// Error is the infrastructure error that stopped the run (exit 3).
	Error string `json:"error,omitempty"`
}

// Handle implements Handler.
func (j *JSONLines) Handle(e sched.Event) {
	var v any
	switch e := e.(type) {
	case sched.RunStart:
		rs := jsonRunStart{Event: "run_start", Suite: e.Suite, Seed: e.Seed, Jobs: e.Jobs, Selected: e.Selected,
			Actions: e.Actions, Order: e.Order, ExpectedS: e.Expected.Seconds(), Time: e.Time.UTC().Format(time.RFC3339Nano)}
		if e.Share != nil {
			rs.CIShard, rs.CIShardTests = e.Share.Shard.String(), e.Share.Tests
		}
		v = rs
	case sched.ActionEnd:
		o := e.Outcome
		if o.Cached && len(o.Cases) == 0 {
			// A hit's cases are in its stored XML (or go test -json log),
			// read only when a report asks for them: they are the cases
			// as they were when the test ran.
			o.ReadCases(e.Action.Argv)
		}
		cs := make([]jsonCase, 0, len(o.Cases))
		for _, c := range o.Cases {
			cs = append(cs, jsonCase{c.Name, c.Class, string(c.Status), c.Duration.Seconds(), c.Message})
		}
		a := e.Action
		v = jsonTestResult{"test_result", a.Label.String(), a.Shard, a.Shards, a.Run, o.Status.String(), o.Cached,
			o.Duration.Seconds(), e.Attempts, e.Slot, o.ExitCode, o.Signal, o.LogPath, cs, o.Undeclared,
			j.Quarantined != nil && j.Quarantined(a.Label.String())}
	case sched.Warning:
		v = jsonWarning{"warning", e.Msg}
	case sched.RunEnd:
		c := e.Counts
		re := jsonRunEnd{"run_end", c.Passed + c.Flaky, c.Failed + c.Timeout, c.Skipped, c.Flaky, c.Timeout, c.Cached,
			e.Interrupted, e.NotRun, e.Wall.Seconds(), e.Budget.Seconds(), e.OverBudget, c.Quarantined, c.QuarantinedFailed, ""}
		if e.Aborted != nil {
			re.Error = e.Aborted.Error()
		}
		v = re
	default:
		return
	}
	if j.err == nil {
		j.err = j.enc.Encode(v)
	}
}

// Close flushes and closes the file.
func (j *JSONLines) Close() error {
	if err := j.w.Flush(); j.err == nil {
		j.err = err
	}
	if err := j.f.Close(); j.err == nil {
		j.err = err
	}
	return j.err
}

// JUnit collects every action's cases and writes one JUnit XML document
// for the run (--junit FILE): a <testsuite> per action.
type JUnit struct {
	// Quarantined says which tests (by label) are quarantined; nil: none.
	// Their failing cases are written as skipped, as pytest writes an
	// xfail, with the real outcome in the message: CI systems that read
	// the file would otherwise fail a build that suite passed.
	Quarantined func(label string) bool

	path   string
	suites []cases.Suite
}

// NewJUnit returns a JUnit writer for path.
func NewJUnit(path string) *JUnit { return &JUnit{path: path} }

// Handle implements Handler.
func (j *JUnit) Handle(e sched.Event) {
	end, ok := e.(sched.ActionEnd)
	if !ok {
		return
	}
	o := end.Outcome
	if o.Cached && len(o.Cases) == 0 {
		o.ReadCases(end.Action.Argv) // a hit's stored cases, read only when asked for
	}
	cs := o.Cases
	if len(cs) == 0 {
		status := cases.StatusPassed
		switch o.Status {
		case sched.Skipped:
			status = cases.StatusSkipped
		case sched.Failed:
			status = cases.StatusFailed
		case sched.Timeout, sched.Interrupted:
			status = cases.StatusError
		}
		cs = cases.Synthesize(end.Action.Label.Name, status, o.Duration, sched.LogTail(o.LogPath, TailLines))
	}
	if j.Quarantined != nil && j.Quarantined(end.Action.Label.String()) {
		cs = append([]cases.Case(nil), cs...)
		for i, c := range cs {
			if c.Status == cases.StatusFailed || c.Status == cases.StatusError {
				cs[i].Status = cases.StatusSkipped
				cs[i].Message = "quarantined, " + string(c.Status) + ": " + c.Message
			}
		}
	}
	j.suites = append(j.suites, cases.Suite{Name: end.Action.ID(), Cases: cs, Duration: o.Duration, Timestamp: end.Start})
}

// Close writes the file.
func (j *JUnit) Close() error {
	f, err := os.Create(j.path)
	if err != nil {
		return err
	}
	if err := cases.WriteJUnit(f, j.suites); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Profile writes a Chrome trace (--profile FILE), loadable in Perfetto or
// chrome://tracing: one lane per worker slot, a span per attempt.
type Profile struct {
	path   string
	start  time.Time
	events []map[string]any
	slots  map[int]bool
}

// NewProfile returns a Profile writer for path.
func NewProfile(path string) *Profile { return &Profile{path: path, slots: map[int]bool{}} }

// Handle implements Handler.
func (p *Profile) Handle(e sched.Event) {
	switch e := e.(type) {
	case sched.RunStart:
		p.start = e.Time
	case sched.ActionEnd:
		if e.Outcome.Cached {
			return // nothing ran
		}
		p.slots[e.Slot] = true
		name := e.Action.ID()
		if e.Outcome.Cached {
			name += " (cached)"
		}
		p.events = append(p.events, map[string]any{
			"name": name, "cat": e.Outcome.Status.String(), "ph": "X", "pid": 1, "tid": e.Slot,
			"ts": e.Start.Sub(p.start).Microseconds(), "dur": max(e.End.Sub(e.Start).Microseconds(), 1),
			"args": map[string]any{"status": e.Outcome.Status.String(), "attempts": e.Attempts},
		})
	}
}

// Close writes the trace.
func (p *Profile) Close() error {
	events := []map[string]any{{"name": "process_name", "ph": "M", "pid": 1, "args": map[string]any{"name": "suite"}}}
	for s := range p.slots {
		events = append(events, map[string]any{"name": "thread_name", "ph": "M", "pid": 1, "tid": s,
			"args": map[string]any{"name": fmt.Sprintf("slot %d", s)}})
	}
	b, err := json.Marshal(map[string]any{"traceEvents": append(events, p.events...), "displayTimeUnit": "ms"})
	if err != nil {
		return err
	}
	return os.WriteFile(p.path, b, 0o644)
}
