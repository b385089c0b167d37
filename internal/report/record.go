package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/statefile"
)

// LastRunFile is where every run keeps its record, under the workspace's
// .suite folder, so that `suite report` can render the last run later.
const LastRunFile = "last-run.json"

// recordVersion is the format of LastRunFile; another version reads as
// no record at all.
const recordVersion = 1

// Record is everything the HTML report shows about one run: the run's
// settings, one entry per action, the tests' results and what the history
// says about them. It is written as JSON (LastRunFile) and embedded as
// JSON in the HTML page, whose script renders it.
type Record struct {
	Version   int       `json:"version"`
	Workspace string    `json:"workspace"`
	Suite     string    `json:"suite"`
	Selection string    `json:"selection"` // the command line's suite and patterns
	Seed      int64     `json:"seed"`
	Jobs      int       `json:"jobs"`
	Order     string    `json:"order"`
	CIShard   string    `json:"ci_shard,omitempty"` // "I/N" under --shard
	Start     time.Time `json:"start"`
	WallS     float64   `json:"wall_s"`
	// ExpectedS is the predicted wall time from history; ExpectedKnown
	// says every action's duration was known.
	ExpectedS     float64        `json:"expected_s"`
	ExpectedKnown bool           `json:"expected_known"`
	BudgetS       float64        `json:"budget_s"`
	OverBudget    bool           `json:"over_budget"`
	Interrupted   bool           `json:"interrupted"`
	Aborted       string         `json:"aborted,omitempty"`
	NotRun        int            `json:"not_run"`
	Counts        map[string]int `json:"counts"`
	Actions       []ActionRecord `json:"actions"`
	Tests         []TestRecord   `json:"tests"`
	Flaky         []FlakyRow     `json:"flaky"`
	Slower        []SlowerRow    `json:"slower"`
}

// ActionRecord is one action: a bar in the timeline, or a cached entry.
type ActionRecord struct {
	ID       string  `json:"id"`
	Label    string  `json:"label"`
	Status   string  `json:"status"`
	Cached   bool    `json:"cached"`
	Slot     int     `json:"slot"`
	StartS   float64 `json:"start_s"` // from the run's start
	DurS     float64 `json:"dur_s"`   // on its slot; the test's own duration for a hit
	Attempts int     `json:"attempts"`
}

// TestRecord is one test's result, with what explains a failure.
type TestRecord struct {
	Label       string   `json:"label"`
	Status      string   `json:"status"`
	Cached      bool     `json:"cached"`
	Quarantined bool     `json:"quarantined,omitempty"`
	DurationS   float64  `json:"duration_s"`
	Marks       []string `json:"marks"`
	// FailedCases, LogTail and Log are set for failed, timed-out and flaky
	// tests (quarantined or not) only.
	FailedCases []CaseRecord `json:"failed_cases,omitempty"`
	LogTail     string       `json:"log_tail,omitempty"`
	Log         string       `json:"log,omitempty"`
	// Recent is the test's recent results from history, oldest first, this
	// run included: one letter per run (see sparkLetter).
	Recent string `json:"recent,omitempty"`
}

// CaseRecord is a failing case inside a test.
type CaseRecord struct {
	Name    string `json:"name"`
	Message string `json:"message,omitempty"`
}

// Recorder is the Handler that builds a run's Record. Marks and the
// selection come from the caller, who knows the graph; history, when set,
// is read at the run's end (the scheduler has recorded the run in it by
// then) for the flaky, slower and recent-results parts.
type Recorder struct {
	rec     Record
	marks   map[string][]string
	history *sched.History
	bad     map[string]sched.ActionEnd // worst failing action per label
}

// NewRecorder returns a Recorder. marks maps labels to their marks.
func NewRecorder(workspace, selection string, marks map[string][]string, history *sched.History) *Recorder {
	return &Recorder{
		rec:     Record{Version: recordVersion, Workspace: workspace, Selection: selection},
		marks:   marks,
		history: history,
		bad:     map[string]sched.ActionEnd{},
	}
}

// Handle implements Handler.
func (r *Recorder) Handle(e sched.Event) {
	switch e := e.(type) {
	case sched.RunStart:
		r.rec.Suite, r.rec.Seed, r.rec.Jobs, r.rec.Order = e.Suite, e.Seed, e.Jobs, e.Order
		r.rec.Start = e.Time
		r.rec.ExpectedS, r.rec.ExpectedKnown = e.Expected.Seconds(), e.Known
		if e.Share != nil {
			r.rec.CIShard = e.Share.Shard.String()
		}
	case sched.ActionEnd:
		o := e.Outcome
		a := ActionRecord{ID: e.Action.ID(), Label: e.Action.Label.String(), Status: o.Status.String(),
			Cached: o.Cached, Slot: e.Slot, Attempts: e.Attempts, DurS: e.End.Sub(e.Start).Seconds()}
		if o.Cached {
			a.Slot, a.DurS = -1, o.Duration.Seconds()
		} else {
			a.StartS = e.Start.Sub(r.rec.Start).Seconds()
		}
		r.rec.Actions = append(r.rec.Actions, a)
		if o.Status != sched.Passed && o.Status != sched.Skipped {
			l := a.Label
			if prev, ok := r.bad[l]; !ok || o.Status > prev.Outcome.Status {
				r.bad[l] = e
			}
		}
	case sched.RunEnd:
		r.end(e)
	}
}

func (r *Recorder) end(e sched.RunEnd) {
	c := e.Counts
	r.rec.WallS, r.rec.BudgetS, r.rec.OverBudget = e.Wall.Seconds(), e.Budget.Seconds(), e.OverBudget
	r.rec.Interrupted, r.rec.NotRun = e.Interrupted, e.NotRun
	if e.Aborted != nil {
		r.rec.Aborted = e.Aborted.Error()
	}
	r.rec.Counts = map[string]int{"passed": c.Passed, "flaky": c.Flaky, "failed": c.Failed, "timeout": c.Timeout,
		"skipped": c.Skipped, "interrupted": c.Interrupted, "cached": c.Cached,
		"quarantined": c.Quarantined, "quarantined_failed": c.QuarantinedFailed}
	var recent map[string][]sched.TestRun
	if r.history != nil {
		recent = r.history.Recent()
	}
	for _, t := range e.Tests {
		tr := TestRecord{Label: t.Label, Status: t.Status.String(), Cached: t.Cached, Quarantined: t.Quarantined,
			DurationS: t.Duration.Seconds(), Marks: r.marks[t.Label]}
		if tr.Marks == nil {
			tr.Marks = []string{}
		}
		if bad, ok := r.bad[t.Label]; ok && t.Status != sched.Interrupted {
			o := bad.Outcome
			if len(o.Cases) == 0 && o.XMLPath != "" {
				o.ReadCases(bad.Action.Argv)
			}
			for _, fc := range cases.Failed(o.Cases) {
				tr.FailedCases = append(tr.FailedCases, CaseRecord{Name: fc.Name, Message: fc.Message})
			}
			tr.Log = o.LogPath
			if o.Status == sched.Flaky && bad.Attempts > 1 && o.LogPath != "" {
				// The last attempt passed; what needs explaining is the
				// failure before it, kept as Bazel keeps it.
				tr.Log = filepath.Join(filepath.Dir(o.LogPath), "test_attempts", fmt.Sprintf("attempt_%d.log", bad.Attempts-1))
			}
			tr.LogTail = sched.LogTail(tr.Log, TailLines)
		}
		tr.Recent = Sparkline(recent[t.Label])
		r.rec.Tests = append(r.rec.Tests, tr)
	}
	if recent != nil {
		r.rec.Flaky = Flakiest(recent)
		r.rec.Slower = Slower(recent)
	}
}

// Record returns the record; complete once the run's end was handled.
func (r *Recorder) Record() *Record { return &r.rec }

// Save writes the record to path, atomically.
func (rec *Record) Save(path string) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return statefile.WriteBytes(path, b)
}

// LoadRecord reads a record written by Save.
func LoadRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil || rec.Version != recordVersion {
		return nil, fmt.Errorf("%s: not a run record of this version of suite; run the tests again", path)
	}
	return &rec, nil
}

// Slowest returns the executed actions that took longest, longest first,
// at most n.
func (rec *Record) Slowest(n int) []ActionRecord {
	var ran []ActionRecord
	for _, a := range rec.Actions {
		if !a.Cached {
			ran = append(ran, a)
		}
	}
	sort.SliceStable(ran, func(i, j int) bool { return ran[i].DurS > ran[j].DurS })
	return ran[:min(n, len(ran))]
}
