//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTraceNamesUndeclaredRead: in the strict view an undeclared file is
// missing, and the tracer reports the failed lookup of its path, whether
// the test names it relatively or absolutely; declared inputs it read are
// reported as reads; paths outside the workspace are not reported.
func TestTraceNamesUndeclaredRead(t *testing.T) {
	ws := workspace(t, map[string]string{
		"pkg/a.txt":           "A",
		"testdata/shared.txt": "shared",
		"other/b.txt":         "B",
	})
	s := newSpec(t, ws, "sh", "-c", `cat a.txt; cat ../testdata/shared.txt; cat "$WS/other/b.txt"; cat /etc/hostname >/dev/null; test -e ../nothing/here; exit 1`)
	s.Env["WS"] = ws
	s.Inputs = []string{"pkg/a.txt"}
	s.Trace = true
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Failed {
		t.Fatalf("status %v, want failed; log:\n%s", res.Status, log)
	}
	if !res.Traced {
		t.Fatalf("not traced; warnings %q", res.Warnings)
	}
	if !slices.Contains(paths(res.Reads), "pkg/a.txt") {
		t.Errorf("reads %v lack the declared pkg/a.txt", res.Reads)
	}
	for _, want := range []string{"testdata/shared.txt", "other/b.txt", "nothing/here"} {
		if !slices.Contains(res.Missing, want) {
			t.Errorf("missing %q lacks %s", res.Missing, want)
		}
	}
	for _, p := range append(paths(res.Reads), res.Missing...) {
		if strings.HasPrefix(p, "/") || strings.Contains(p, "hostname") {
			t.Errorf("reported %q, which is outside the workspace", p)
		}
	}
}

// TestTracedInputsSeeTheWorkspace: with traced inputs the test sees the
// real workspace read-only, and every file it read is reported.
func TestTracedInputsSeeTheWorkspace(t *testing.T) {
	ws := workspace(t, map[string]string{
		"pkg/a.txt":           "A",
		"testdata/shared.txt": "shared",
	})
	s := newSpec(t, ws, "sh", "-c", `cat ../testdata/shared.txt && ls ../testdata >/dev/null && test ! -e ../testdata/absent.txt && ! echo x 2>/dev/null > ../testdata/new.txt`)
	s.Inputs = []string{"pkg/a.txt"}
	s.TracedInputs, s.Trace = true, true
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Passed {
		t.Fatalf("status %v, want passed; log:\n%s", res.Status, log)
	}
	if !strings.Contains(log, "shared") {
		t.Errorf("log %q: the shared file was not read", log)
	}
	if reads := paths(res.Reads); !slices.Contains(reads, "testdata/shared.txt") || slices.Contains(reads, "pkg/a.txt") {
		t.Errorf("reads %v, want testdata/shared.txt and not the unread pkg/a.txt", res.Reads)
	}
	if !slices.Contains(res.Missing, "testdata/absent.txt") {
		t.Errorf("missing %q lacks testdata/absent.txt", res.Missing)
	}
	if !slices.Contains(paths(res.Listed), "testdata") {
		t.Errorf("listed %v lacks testdata", res.Listed)
	}
}

// BenchmarkTraceOpen is the cost of the tracer per looked-up path: a
// Python loop stats a file outside the workspace b.N times, traced or not;
// the difference between the two is the cost of one stopped call.
func BenchmarkTraceOpen(b *testing.B) {
	for _, traced := range []bool{false, true} {
		b.Run(fmt.Sprintf("traced=%v", traced), func(b *testing.B) {
			ws := workspace(b, map[string]string{"pkg/a.txt": "A"})
			s := newSpec(b, ws, "python3", "-c", fmt.Sprintf("import os\nfor _ in range(%d): os.stat(\"/etc/passwd\")", b.N))
			s.Trace = traced
			b.ResetTimer()
			res, log := mustRun(b, context.Background(), s, options{})
			if res.Status != Passed {
				b.Fatalf("status %v; log:\n%s", res.Status, log)
			}
		})
	}
}

func paths(files []TracedFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

// A scratch folder inside the workspace (a sandbox base the user chose
// there) is the test's own: what it makes in TEST_TMPDIR is not a read.
func TestTraceLeavesOutTheScratchFolder(t *testing.T) {
	ws := workspace(t, map[string]string{"pkg/a.txt": "A", "testdata/x.txt": "x"})
	s := newSpec(t, ws, "sh", "-c", `echo t > "$TEST_TMPDIR/made.txt" && cat "$TEST_TMPDIR/made.txt" ../testdata/x.txt`)
	s.ScratchDir = filepath.Join(ws, ".sandbox", "action-1")
	s.Inputs = []string{"pkg/a.txt"}
	s.TracedInputs, s.Trace = true, true
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Passed {
		t.Fatalf("status %v; log:\n%s", res.Status, log)
	}
	for _, p := range append(paths(res.Reads), res.Missing...) {
		if strings.HasPrefix(p, ".sandbox") {
			t.Errorf("reported %s, in the action's own scratch folder", p)
		}
	}
	if !slices.Contains(paths(res.Reads), "testdata/x.txt") {
		t.Errorf("reads %v lack testdata/x.txt", res.Reads)
	}
}
