package sched

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/rules"
)

// TestLoad10000 runs 10,000 trivial tests through the real sandbox at one
// worker per CPU: every result must be recorded, the Go heap must stay
// bounded, and no file descriptor may leak.
func TestLoad10000(t *testing.T) {
	n := 10000
	if testing.Short() || raceEnabled {
		n = 2000
		t.Logf("running %d tests, not 10,000 (-short or -race)", n)
	}
	root := t.TempDir()
	out := t.TempDir()
	var actions []*action.Action
	for i := 0; i < n; i++ {
		test := &rules.Test{Label: label.Label{Pkg: "load", Name: fmt.Sprintf("t%05d", i)}, Cmd: []string{"/bin/true"}, Attempts: 1, Shards: 1, CPUs: 1, Cache: true}
		actions = append(actions, &action.Action{Test: test, Label: test.Label, Shards: 1, Runs: 1, Run: 1,
			Argv: test.Cmd, Env: map[string]string{}, Timeout: time.Minute, Network: "host", CPUs: 1, Attempts: 1})
	}
	fdsBefore := openFDs(t)
	ex := &SandboxExecutor{Workspace: root, WorkspaceName: "load", OutputBase: out, ScratchBase: t.TempDir()}

	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		var m runtime.MemStats
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				max = maxU(max, m.HeapInuse)
			}
		}
	}()
	results := 0
	start := time.Now()
	end := Run(context.Background(), actions, ex, Options{Jobs: runtime.NumCPU(), Selected: n}, func(e Event) {
		if _, ok := e.(ActionEnd); ok {
			results++
		}
	})
	close(stop)
	heap := <-peak
	wall := time.Since(start)

	if results != n || end.Counts.Passed != n {
		t.Fatalf("%d results, %d passed; want %d of each (counts %+v)", results, end.Counts.Passed, n, end.Counts)
	}
	if fdsAfter := openFDs(t); fdsAfter > fdsBefore+2 {
		t.Errorf("file descriptors: %d before, %d after the run", fdsBefore, fdsAfter)
	}
	// The scheduler keeps one small record per action; 10,000 of them are a
	// few MiB. A leak of logs or processes would show as hundreds.
	if heap > 256<<20 {
		t.Errorf("peak Go heap %d MiB, want under 256 MiB", heap>>20)
	}
	logs, _ := filepath.Glob(filepath.Join(out, "testlogs", "load", "*", "test.log"))
	if len(logs) != n {
		t.Errorf("%d logs kept, want %d", len(logs), n)
	}
	t.Logf("%d tests in %s (%.1f ms per test per worker), peak Go heap %d MiB, peak RSS %s",
		n, wall.Round(time.Millisecond), float64(wall.Milliseconds())*float64(runtime.NumCPU())/float64(n), heap>>20, peakRSS())
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
