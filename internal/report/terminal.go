package report

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suite-run/suite/internal/sched"
)

// Output modes of --output.
const (
	OutputErrors  = "errors"  // a line per finished test off a terminal; failures' log tails at once
	OutputAll     = "all"     // also a line per finished test on a terminal
	OutputSummary = "summary" // only the summary
)

// TailLines is how much of a failing test's log is shown at once.
const TailLines = 25

// Terminal writes progress and the summary for a person. On a terminal it
// keeps one live status line; otherwise it prints a line per finished test.
type Terminal struct {
	out  io.Writer
	tty  bool
	mode string
	cwd  string // log paths are shown relative to it
	now  func() time.Time

	start     time.Time
	expected  time.Duration
	known     bool
	total     int
	done      int
	cached    int
	running   map[string]time.Time
	lineShown bool

	// Quarantined says which tests (by label) are quarantined: their
	// lines read QUARANTINED, with the real outcome beside. Nil: none.
	Quarantined func(label string) bool
}

// NewTerminal returns a Terminal writing to out; tty says whether out is a
// terminal that understands carriage return and erase-line.
func NewTerminal(out io.Writer, tty bool, mode, cwd string, now func() time.Time) *Terminal {
	if now == nil {
		now = time.Now
	}
	return &Terminal{out: out, tty: tty, mode: mode, cwd: cwd, now: now, running: map[string]time.Time{}}
}

// Handle implements Handler.
func (t *Terminal) Handle(e sched.Event) {
	switch e := e.(type) {
	case sched.RunStart:
		t.start, t.total, t.expected, t.known = e.Time, e.Actions, e.Expected, e.Known
		what := fmt.Sprintf("%d tests", e.Selected)
		if e.Suite != "" {
			what = fmt.Sprintf("suite %s: %d tests", e.Suite, e.Selected)
		}
		if e.Actions != e.Selected {
			what += fmt.Sprintf(" (%d actions)", e.Actions)
		}
		if t.mode != OutputSummary {
			t.printf("suite: running %s on %d workers, order %s, seed %d\n", what, e.Jobs, e.Order, e.Seed)
		}
	case sched.ActionStart:
		t.running[e.Action.ID()] = e.Time
		t.status()
	case sched.ActionEnd:
		delete(t.running, e.Action.ID())
		t.done++
		if e.Outcome.Cached {
			t.cached++
		}
		t.finished(e)
		t.status()
	case sched.Warning:
		t.printf("suite: warning: %s\n", e.Msg)
	case sched.RunEnd:
		t.clearStatus()
		t.summary(e)
	}
}

func (t *Terminal) printf(format string, args ...any) {
	t.clearStatus()
	fmt.Fprintf(t.out, format, args...)
}

func (t *Terminal) clearStatus() {
	if t.lineShown {
		fmt.Fprint(t.out, "\r\033[K")
		t.lineShown = false
	}
}

// status redraws the live line: done/total, running, cached, ETA.
func (t *Terminal) status() {
	if !t.tty || t.mode == OutputSummary {
		return
	}
	t.clearStatus()
	names := make([]string, 0, len(t.running))
	for id := range t.running {
		names = append(names, id)
	}
	sort.Strings(names)
	if len(names) > 3 {
		names = append(names[:3], "…")
	}
	line := fmt.Sprintf("[%d/%d] %d running, %d cached", t.done, t.total, len(t.running), t.cached)
	if eta := t.eta(); eta > 0 {
		line += fmt.Sprintf(", ETA %s", eta.Round(time.Second))
	}
	if len(names) > 0 {
		line += ": " + strings.Join(names, ", ")
	}
	fmt.Fprint(t.out, line)
	t.lineShown = true
}

// eta is the history's predicted wall time less the time elapsed when
// every duration is known; otherwise, or once past the prediction, the
// pace so far applied to what is left.
func (t *Terminal) eta() time.Duration {
	if t.done >= t.total {
		return 0
	}
	elapsed := t.now().Sub(t.start)
	if t.known && t.expected > elapsed {
		return t.expected - elapsed
	}
	if t.done == 0 {
		return 0
	}
	return time.Duration(float64(elapsed) / float64(t.done) * float64(t.total-t.done))
}

func (t *Terminal) finished(e sched.ActionEnd) {
	o := e.Outcome
	bad := !o.Status.OK()
	showLine := t.mode == OutputAll || (!t.tty && t.mode == OutputErrors) || (bad && t.mode != OutputSummary)
	if !showLine {
		return
	}
	word := strings.ToUpper(o.Status.String())
	detail := formatDuration(o.Duration)
	if o.Cached {
		word = "CACHED"
	}
	if t.Quarantined != nil && t.Quarantined(e.Action.Label.String()) {
		detail = o.Status.String() + ", " + detail
		if o.Cached {
			detail = "cached, " + detail
		}
		word = "QUARANTINED"
	}
	if e.Attempts > 1 {
		detail += fmt.Sprintf(", %d attempts", e.Attempts)
	}
	if o.Signal != "" {
		detail += ", killed by " + o.Signal
	} else if o.Status == sched.Failed && o.ExitCode > 0 {
		detail += fmt.Sprintf(", exit code %d", o.ExitCode)
	}
	t.printf("%-8s %s (%s)\n", word, e.Action.ID(), detail)
	if bad && t.mode != OutputSummary {
		for _, c := range failedCases(o) {
			t.printf("    failed case: %s\n", c)
		}
		if tail := sched.LogTail(o.LogPath, TailLines); tail != "" {
			for _, l := range strings.Split(tail, "\n") {
				t.printf("    | %s\n", l)
			}
		}
		if o.LogPath != "" {
			t.printf("    log: %s\n", t.rel(o.LogPath))
		}
	}
}

func failedCases(o sched.Outcome) []string {
	var names []string
	for _, c := range o.Cases {
		if c.Status == "failed" || c.Status == "error" {
			names = append(names, c.Name)
		}
	}
	return names
}

func (t *Terminal) rel(p string) string {
	if r, err := filepath.Rel(t.cwd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func (t *Terminal) summary(e sched.RunEnd) {
	var failed, flaky, quarantined []sched.TestResult
	for _, r := range e.Tests {
		switch {
		case r.Quarantined:
			quarantined = append(quarantined, r)
		case r.Status == sched.Flaky:
			flaky = append(flaky, r)
		case !r.Status.OK() && r.Status != sched.Interrupted:
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(t.out, "\nFailed tests:")
		for _, r := range failed {
			line := fmt.Sprintf("  %-8s %s", strings.ToUpper(r.Status.String()), r.Label)
			if r.LogPath != "" {
				line += "  " + t.rel(r.LogPath)
			}
			fmt.Fprintln(t.out, line)
			for _, c := range r.Failed {
				fmt.Fprintf(t.out, "           %s\n", c.Name)
			}
		}
	}
	if len(flaky) > 0 {
		fmt.Fprintln(t.out, "\nFlaky tests (passed after failing):")
		for _, r := range flaky {
			fmt.Fprintf(t.out, "  %s\n", r.Label)
		}
	}
	if len(quarantined) > 0 {
		fmt.Fprintln(t.out, "\nQuarantined tests (reported, never failing the run):")
		for _, r := range quarantined {
			line := fmt.Sprintf("  %-8s %s", strings.ToUpper(r.Status.String()), r.Label)
			if r.LogPath != "" && !r.Status.OK() {
				line += "  " + t.rel(r.LogPath)
			}
			fmt.Fprintln(t.out, line)
		}
	}
	c := e.Counts
	var notes []string
	if c.Cached > 0 {
		notes = append(notes, fmt.Sprintf("%d cached", c.Cached))
	}
	if c.Flaky > 0 {
		notes = append(notes, fmt.Sprintf("%d flaky", c.Flaky))
	}
	if c.Timeout > 0 {
		notes = append(notes, fmt.Sprintf("%d timed out", c.Timeout))
	}
	if e.NotRun > 0 {
		notes = append(notes, fmt.Sprintf("%d not run", e.NotRun))
	}
	line := fmt.Sprintf("\nsuite: ran %d tests in %s", len(e.Tests), formatDuration(e.Wall))
	if len(notes) > 0 {
		line += " (" + strings.Join(notes, ", ") + ")"
	}
	fmt.Fprintln(t.out, line)
	if e.OverBudget {
		fmt.Fprintf(t.out, "suite: over budget: took %s, budget %s\n", formatDuration(e.Wall), formatDuration(e.Budget))
	}
	if e.Interrupted {
		fmt.Fprintln(t.out, "suite: interrupted")
	}
	if e.Aborted != nil {
		fmt.Fprintf(t.out, "suite: stopped: %v\n", e.Aborted)
	}
	if e.Share != nil {
		fmt.Fprintf(t.out, "suite: %s\n", e.Share)
	}
	if c.Quarantined > 0 {
		// Counted apart, so that the last line says what decides the exit code.
		fmt.Fprintf(t.out, "suite: %d quarantined (%d failed), not counted below\n", c.Quarantined, c.QuarantinedFailed)
	}
	// The last line's form is part of the contract.
	fmt.Fprintf(t.out, "suite: %d passed, %d failed, %d skipped\n", c.Passed+c.Flaky, c.Failed+c.Timeout, c.Skipped)
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
