package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func act(name string) *action.Action {
	t := &rules.Test{Label: label.Label{Pkg: "svc", Name: name}, Shards: 1}
	return &action.Action{Test: t, Label: t.Label, Shards: 1, Runs: 1, Run: 1}
}

// aRun is a run as the scheduler reports it: a pass, a cache hit, a flaky
// pass, a failure with cases and a log, and a timeout.
func aRun(t *testing.T) []sched.Event {
	log := filepath.Join(t.TempDir(), "test.log")
	os.WriteFile(log, []byte("line 1\nline 2\nassertion failed: want 2, got 3\n"), 0o644)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	return []sched.Event{
		sched.RunStart{Suite: "regression", Seed: 7, Jobs: 2, Order: "duration", Selected: 5, Actions: 5, Expected: 3 * time.Second, Known: true, Time: at(0)},
		sched.ActionEnd{Action: act("cached"), Slot: -1, Outcome: sched.Outcome{Status: sched.Passed, Cached: true, Duration: 1200 * time.Millisecond}, Start: at(1), End: at(1)},
		sched.ActionStart{Action: act("ok"), Slot: 0, Attempt: 1, Time: at(2)},
		sched.ActionStart{Action: act("broken"), Slot: 1, Attempt: 1, Time: at(2)},
		sched.ActionEnd{Action: act("ok"), Slot: 0, Attempts: 1, Outcome: sched.Outcome{Status: sched.Passed, Duration: 250 * time.Millisecond}, Start: at(2), End: at(252)},
		sched.Warning{Msg: "network namespaces unavailable"},
		sched.ActionEnd{Action: act("broken"), Slot: 1, Attempts: 1, Outcome: sched.Outcome{Status: sched.Failed, ExitCode: 1, Duration: 2 * time.Second, LogPath: log,
			Cases: []cases.Case{{Name: "TestGood", Status: cases.StatusPassed}, {Name: "TestSum", Status: cases.StatusFailed, Message: "want 2, got 3"}}}, Start: at(2), End: at(2002)},
		sched.ActionEnd{Action: act("flaky"), Slot: 0, Attempts: 2, Outcome: sched.Outcome{Status: sched.Flaky, Duration: 30 * time.Millisecond}, Start: at(300), End: at(400)},
		sched.ActionEnd{Action: act("slow"), Slot: 0, Attempts: 1, Outcome: sched.Outcome{Status: sched.Timeout, ExitCode: -1, Signal: "SIGKILL", Duration: time.Second, LogPath: log}, Start: at(400), End: at(1400)},
		sched.RunEnd{
			Tests: []sched.TestResult{
				{Label: "//svc:broken", Status: sched.Failed, LogPath: log, Failed: []cases.Case{{Name: "TestSum", Status: cases.StatusFailed}}},
				{Label: "//svc:cached", Status: sched.Passed, Cached: true},
				{Label: "//svc:flaky", Status: sched.Flaky},
				{Label: "//svc:ok", Status: sched.Passed},
				{Label: "//svc:slow", Status: sched.Timeout, LogPath: log},
			},
			Counts: sched.Counts{Passed: 2, Failed: 1, Flaky: 1, Timeout: 1, Cached: 1},
			Wall:   2100 * time.Millisecond, Budget: 2 * time.Second, OverBudget: true, Time: at(2100),
		},
	}
}

func render(t *testing.T, tty bool, mode string) string {
	var out bytes.Buffer
	events := aRun(t)
	dir := filepath.Dir(events[6].(sched.ActionEnd).Outcome.LogPath)
	term := NewTerminal(&out, tty, mode, dir, func() time.Time { return t0.Add(time.Second) })
	for _, e := range events {
		term.Handle(e)
	}
	return out.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(p, []byte(got), 0o644)
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s", name, got)
	}
}

func TestTerminalLinePerTest(t *testing.T) {
	golden(t, "terminal-lines.golden", render(t, false, OutputErrors))
}

func TestTerminalLiveLine(t *testing.T) {
	golden(t, "terminal-tty.golden", render(t, true, OutputErrors))
}

func TestTerminalSummaryOnly(t *testing.T) {
	out := render(t, false, OutputSummary)
	if strings.Contains(out, "PASSED") || strings.Contains(out, "line 2") {
		t.Errorf("--output summary printed per-test lines:\n%s", out)
	}
}

// The last line's form is the contract: counts of tests, flaky as passed,
// timeouts as failed.
func TestSummaryLastLine(t *testing.T) {
	for _, tty := range []bool{false, true} {
		lines := strings.Split(strings.TrimRight(render(t, tty, OutputErrors), "\n"), "\n")
		if last := lines[len(lines)-1]; last != "suite: 3 passed, 2 failed, 0 skipped" {
			t.Errorf("tty=%v: last line %q", tty, last)
		}
	}
}

func TestJSONLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.jsonl")
	j, err := NewJSONLines(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range aRun(t) {
		j.Handle(e)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		kinds = append(kinds, ev["event"].(string))
		switch ev["event"] {
		case "run_start":
			for _, k := range []string{"suite", "seed", "jobs", "selected"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("run_start lacks %q", k)
				}
			}
		case "test_result":
			for _, k := range []string{"label", "shard", "status", "cached", "duration_s", "attempts", "cases"} {
				if _, ok := ev[k]; !ok {
					t.Errorf("test_result lacks %q", k)
				}
			}
		case "run_end":
			if ev["passed"].(float64) != 3 || ev["failed"].(float64) != 2 || ev["flaky"].(float64) != 1 ||
				ev["timeout"].(float64) != 1 || ev["cached"].(float64) != 1 || ev["over_budget"] != true {
				t.Errorf("run_end %v", ev)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "run_start,test_result,test_result,warning,test_result,test_result,test_result,run_end" {
		t.Errorf("events %s", got)
	}
}

func TestJUnitAndProfile(t *testing.T) {
	dir := t.TempDir()
	ju, pr := NewJUnit(filepath.Join(dir, "run.xml")), NewProfile(filepath.Join(dir, "trace.json"))
	for _, e := range aRun(t) {
		ju.Handle(e)
		pr.Handle(e)
	}
	if err := ju.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	xml, _ := os.ReadFile(filepath.Join(dir, "run.xml"))
	cs, err := cases.ParseJUnit(xml)
	if err != nil {
		t.Fatal(err)
	}
	// 1 synthesized case each for cached, ok, flaky, slow; 2 real ones for broken.
	if len(cs) != 6 || len(cases.Failed(cs)) != 2 {
		t.Errorf("JUnit holds %d cases, %d failed: %+v", len(cs), len(cases.Failed(cs)), cs)
	}
	var trace struct {
		TraceEvents []struct {
			Ph   string `json:"ph"`
			Tid  int    `json:"tid"`
			Name string `json:"name"`
		} `json:"traceEvents"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "trace.json"))
	if err := json.Unmarshal(b, &trace); err != nil {
		t.Fatal(err)
	}
	spans := 0
	for _, e := range trace.TraceEvents {
		if e.Ph == "X" {
			spans++
			if strings.Contains(e.Name, "cached") {
				t.Error("a cache hit is drawn as if it ran")
			}
		}
	}
	if spans != 4 {
		t.Errorf("%d spans, want one per executed action (4)", spans)
	}
}
