package sched

import (
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/sandbox"
)

// Status is how a test action, or a whole test, ended. Later values are
// worse: a test's status is the worst of its actions'.
type Status int

const (
	Skipped     Status = iota // nothing to run (e.g. pytest collected no test)
	Passed                    // passed at the first attempt
	Flaky                     // passed after failing
	Failed                    // failed every attempt
	Timeout                   // killed at its timeout
	Interrupted               // killed by Ctrl-C, or not finished when the run stopped
)

var statusNames = [...]string{"skipped", "passed", "flaky", "failed", "timeout", "interrupted"}

func (s Status) String() string { return statusNames[s] }

// OK reports whether the status counts as a pass for the exit code.
func (s Status) OK() bool { return s <= Flaky }

// Outcome is what executing (or looking up) one attempt of an action gave.
type Outcome struct {
	Status   Status
	Cached   bool
	Remote   bool // run (or answered from its cache) by a remote executor
	ExitCode int
	Signal   string
	Duration time.Duration
	LogPath  string // absolute path of the kept log, "" if none
	XMLPath  string // absolute path of the kept XML, "" if none
	// OutputsDir holds the undeclared outputs, "" if none.
	OutputsDir string
	Cases      []cases.Case
	Warnings   []string
	// Infra, when set, says the action could not be run at all for a
	// reason outside the test: a remote executor refused it (no worker
	// for the platform, no permission, a quota) or was lost. It is not a
	// test result: the scheduler starts nothing more, stops what runs,
	// and ends the run with RunEnd.Aborted.
	Infra error
	// Traced says the sandbox saw the test's lookups under the workspace:
	// the files there (TracedReads), the paths that were not
	// (TracedMissing) and the directories it opened (TracedListed).
	Traced        bool
	TracedReads   []sandbox.TracedFile
	TracedMissing []string
	TracedListed  []sandbox.TracedFile
	// Undeclared are workspace paths a failed test looked up that were
	// not among its declared inputs (a trailing "/" marks a directory).
	Undeclared []string
}

// Event is something the scheduler reports. Consumers (terminal, JSON,
// JUnit, profile) see the events in order, from one goroutine.
type Event interface{ event() }

// RunStart opens a run.
type RunStart struct {
	Suite    string
	Seed     int64
	Jobs     int
	Order    string
	Selected int           // tests
	Actions  int           // actions (shards and runs count separately)
	Expected time.Duration // predicted wall time from history
	// Known says every action's duration was recorded before; otherwise
	// Expected rests partly on guesses from timeouts.
	Known bool
	// Share is this CI machine's part of the selection under --shard;
	// nil when the run is not sharded.
	Share *Share
	Time  time.Time
}

// ActionStart is sent when an attempt of an action begins on a worker slot.
type ActionStart struct {
	Action   *action.Action
	Slot     int
	Attempt  int
	Expected time.Duration // from history; 0 when unknown
	Time     time.Time
}

// ActionEnd is sent once per action, when its last attempt is over.
type ActionEnd struct {
	Action   *action.Action
	Slot     int
	Attempts int
	Outcome  Outcome // of the last attempt, with Status for the whole action
	Start    time.Time
	End      time.Time
}

// Warning is a problem worth one line that does not change any result.
type Warning struct{ Msg string }

// TestResult is one test's result, aggregated over its actions.
type TestResult struct {
	Label    string
	Status   Status
	Cached   bool // every action was a cache hit
	Duration time.Duration
	Failed   []cases.Case // failing cases, when the runner reported cases
	LogPath  string       // of the worst action
	// Quarantined tests run and keep their real Status, but are counted
	// apart (Counts.Quarantined) and never fail the run.
	Quarantined bool
}

// Counts of tests by status. A quarantined test is counted only in
// Quarantined (and QuarantinedFailed when it failed or timed out), never
// in the counts by status, so that it cannot fail the run.
type Counts struct {
	Passed, Failed, Skipped, Flaky, Timeout, Interrupted, Cached int
	Quarantined, QuarantinedFailed                               int
}

// RunEnd closes a run.
type RunEnd struct {
	Tests       []TestResult // in label order
	Counts      Counts
	NotRun      int // actions never started (fail-fast or interrupt)
	Wall        time.Duration
	Budget      time.Duration
	OverBudget  bool
	Interrupted bool
	// Aborted is the infrastructure error that stopped the run (a remote
	// executor refusing actions): no test result, and the reason the run
	// could not say whether the tests pass. Nil otherwise.
	Aborted error
	Share   *Share // as in RunStart
	Time    time.Time
}

func (RunStart) event()    {}
func (ActionStart) event() {}
func (ActionEnd) event()   {}
func (Warning) event()     {}
func (RunEnd) event()      {}
