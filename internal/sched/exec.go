package sched

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/sandbox"
)

// SandboxExecutor runs actions in the sandbox, keeping each one's log, XML
// and undeclared outputs under OutputBase (the workspace's .suite folder).
type SandboxExecutor struct {
	Workspace     string // absolute workspace root
	WorkspaceName string
	OutputBase    string // <workspace>/.suite
	ScratchBase   string // where per-action scratch directories are made
	Grace         time.Duration
	LogLimit      int64
	// The sandbox's exceptions for every action (WORKSPACE's
	// sandbox_writable, sandbox_readable, sandbox_hide), absolute, and the
	// user's home, which strict tests do not see.
	Writable, Readable, Hide []string
	Home                     string
	// TraceLabels are the tests with declared inputs whose lookups are
	// traced, to name undeclared reads exactly should they fail: those
	// that failed in the previous run. A retry after a failed attempt is
	// traced too. Others are named from their logs. Tests with traced
	// inputs are always traced.
	TraceLabels map[string]bool
}

// Execute runs one attempt. Earlier attempts' logs are kept beside the
// final one as test_attempts/attempt_N.log, as Bazel does.
func (e *SandboxExecutor) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) Outcome {
	dir := filepath.Join(e.OutputBase, filepath.FromSlash(a.LogDir()))
	logPath := filepath.Join(dir, "test.log")
	xmlPath := filepath.Join(dir, "test.xml")
	outputs := filepath.Join(dir, "outputs")
	if attempt > 1 {
		prev := filepath.Join(dir, "test_attempts")
		_ = os.MkdirAll(prev, 0o755)
		_ = os.Rename(logPath, filepath.Join(prev, fmt.Sprintf("attempt_%d.log", attempt-1)))
	} else {
		removeIfThere(filepath.Join(dir, "test_attempts"))
	}
	// What an earlier run left is removed piecemeal: the log is truncated
	// in place, and removing a whole folder costs far more on most disks.
	_ = os.Remove(xmlPath)
	removeIfThere(outputs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Warnings: []string{err.Error()}}
	}
	scratch, err := os.MkdirTemp(e.ScratchBase, "action-")
	if err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Warnings: []string{fmt.Sprintf("%s: %v", a.ID(), err)}}
	}
	res, err := sandbox.Run(ctx, sandbox.Spec{
		Label:         a.Label.String(),
		Workspace:     e.Workspace,
		WorkspaceName: e.WorkspaceName,
		Package:       a.Label.Pkg,
		Inputs:        a.Inputs,
		Argv:          a.Argv,
		Env:           a.Env,
		Timeout:       a.Timeout,
		Grace:         e.Grace,
		Network:       a.Network,
		ShardIndex:    a.Shard,
		TotalShards:   a.Shards,
		Seed:          seed,
		Slot:          slot,
		ScratchDir:    scratch,
		LogPath:       logPath,
		LogLimit:      e.LogLimit,
		XMLPath:       xmlPath,
		OutputsDir:    outputs,
		ReadOnlyPaths: concat(e.Readable, a.ReadablePaths),
		WritablePaths: concat(e.Writable, a.WritablePaths),
		HidePaths:     e.Hide,
		Home:          e.Home,
		Relaxed:       a.Sandbox == "relaxed",
		TracedInputs:  a.TracedInputs,
		Trace:         a.TracedInputs || attempt > 1 || e.TraceLabels[a.Label.String()],
	})
	if err != nil {
		// The sandbox itself failed (e.g. an input vanished): the test did
		// not run, which is a failure the user must see, not a pass.
		os.WriteFile(logPath, []byte("suite: "+err.Error()+"\n"), 0o644)
		return Outcome{Status: Failed, ExitCode: -1, LogPath: logPath, Warnings: res.Warnings}
	}
	o := Outcome{
		ExitCode: res.ExitCode,
		Signal:   res.Signal,
		Duration: res.Duration,
		LogPath:  logPath,
		Warnings: res.Warnings,
	}
	switch res.Status {
	case sandbox.Passed:
		o.Status = Passed
	case sandbox.Timeout:
		o.Status = Timeout
	case sandbox.Interrupted:
		o.Status = Interrupted
	default:
		o.Status = Failed
		for _, c := range a.Test.SkipExitCodes {
			if res.ExitCode == c {
				o.Status = Skipped
			}
		}
	}
	if fi, err := os.Stat(outputs); err == nil && fi.IsDir() {
		o.OutputsDir = outputs
	}
	if res.WroteXML {
		o.XMLPath = xmlPath
	}
	o.setTrace(res)
	if o.Status == Failed && !a.TracedInputs {
		e.nameUndeclared(a, &o, res)
	}
	o.ReadCases(a.Argv)
	return o
}

// nameUndeclared says which undeclared workspace files a failed test
// looked up: from the trace, or else from its log. The names go into the
// outcome (the JSON result), a warning, and the end of the test's log.
func (e *SandboxExecutor) nameUndeclared(a *action.Action, o *Outcome, res sandbox.Result) {
	if res.Traced {
		o.Undeclared = undeclaredReads(e.Workspace, res.Missing)
	} else {
		o.Undeclared = undeclaredFromLog(e.Workspace, a.Label.Pkg, o.LogPath, a.Inputs)
	}
	if len(o.Undeclared) == 0 {
		return
	}
	msg := undeclaredMessage(a.Label.String(), o.Undeclared)
	o.Warnings = append(o.Warnings, msg)
	if f, err := os.OpenFile(o.LogPath, os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintf(f, "suite: warning: %s\n", msg)
		f.Close()
	}
}

// ReadCases fills Cases from the JUnit XML the test wrote, or else, for
// `go test -json`, from its log.
func (o *Outcome) ReadCases(argv []string) {
	if o.XMLPath != "" {
		if data, err := os.ReadFile(o.XMLPath); err == nil {
			o.Cases, _ = cases.ParseJUnit(data)
		}
	} else if isGoTestJSON(argv) && o.LogPath != "" {
		if f, err := os.Open(o.LogPath); err == nil {
			o.Cases, _ = cases.ParseGoTestJSON(f)
			f.Close()
		}
	}
}

// isGoTestJSON reports whether argv runs `go test -json`, whose output
// holds the individual test cases.
func isGoTestJSON(argv []string) bool {
	s := " " + strings.Join(argv, " ") + " "
	return strings.Contains(s, " test ") && strings.Contains(s, " -json ") && strings.Contains(s, "go ")
}

// LogTail returns the last n lines of a log file.
func LogTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const window = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-window, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return ""
	}
	buf = bytes.TrimRight(buf, "\n")
	lines := bytes.Split(buf, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func concat(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	return append(append([]string(nil), a...), b...)
}

func removeIfThere(p string) {
	if _, err := os.Lstat(p); err == nil {
		_ = os.RemoveAll(p)
	}
}
