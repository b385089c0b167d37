//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary double as a helper program run inside the
// sandbox: argv[1] == "sandbox-helper" selects it.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "sandbox-helper" {
		os.Exit(helper(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func helper(args []string) int {
	switch args[0] {
	case "bind": // bind ADDR HOLD: listen on ADDR for HOLD
		ln, err := net.Listen("tcp", args[1])
		if err != nil {
			fmt.Println("bind failed:", err)
			return 1
		}
		defer ln.Close()
		fmt.Println("bound", ln.Addr())
		hold, _ := time.ParseDuration(args[2])
		time.Sleep(hold)
		return 0
	case "run": // run WORKSPACE SCRATCH MARKER: a suite that dies while its test runs
		s := Spec{
			Label: "//:t", Workspace: args[1], ScratchDir: args[2],
			LogPath: filepath.Join(args[2] + ".log"),
			Argv:    []string{"sh", "-c", "sleep " + args[3] + " & sleep " + args[3]},
			Env:     map[string]string{"PATH": "/usr/bin:/bin"},
		}
		res, err := Run(context.Background(), s)
		fmt.Println(res, err)
		return 0
	case "dial": // dial ADDR
		c, err := net.DialTimeout("tcp", args[1], time.Second)
		if err != nil {
			fmt.Println("dial failed:", err)
			return 1
		}
		c.Close()
		fmt.Println("connected")
		return 0
	}
	return 2
}

var modes = []struct {
	name string
	opt  options
}{
	{"namespaces", options{}},
	{"fallback", options{noNamespaces: true}},
}

// workspace makes a workspace from path -> content.
func workspace(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newSpec(t testing.TB, ws string, argv ...string) Spec {
	out := t.TempDir()
	return Spec{
		Label:         "//pkg:t",
		Workspace:     ws,
		WorkspaceName: "acme",
		Package:       "pkg",
		Argv:          argv,
		Env:           map[string]string{"PATH": "/usr/bin:/bin"},
		Timeout:       30 * time.Second,
		Grace:         300 * time.Millisecond,
		ScratchDir:    filepath.Join(out, "scratch"),
		LogPath:       filepath.Join(out, "test.log"),
		XMLPath:       filepath.Join(out, "test.xml"),
		OutputsDir:    filepath.Join(out, "outputs"),
	}
}

func mustRun(t testing.TB, ctx context.Context, s Spec, opt options) (Result, string) {
	t.Helper()
	res, err := run(ctx, s, opt)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	log, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(log)
}

// survivors lists processes whose command line contains marker.
func survivors(marker string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(marker)) {
			found = append(found, e.Name()+": "+string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return found
}

func uniqueSleep(t testing.TB) string {
	// GNU sleep takes fractions; the fraction makes the command line unique.
	return fmt.Sprintf("1000.%d", time.Now().UnixNano()%1_000_000_000)
}

func TestExitStatus(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cases := []struct {
				script string
				status Status
				code   int
				signal string
			}{
				{"exit 0", Passed, 0, ""},
				{"exit 3", Failed, 3, ""},
				{"kill -SEGV $$", Failed, -1, "SIGSEGV"},
				{"kill -KILL $$", Failed, -1, "SIGKILL"},
			}
			for _, c := range cases {
				res, log := mustRun(t, context.Background(), newSpec(t, ws, "sh", "-c", c.script), m.opt)
				if res.Status != c.status || res.ExitCode != c.code || res.Signal != c.signal {
					t.Errorf("%q: got %v exit %d signal %q, want %v exit %d signal %q (log %q)",
						c.script, res.Status, res.ExitCode, res.Signal, c.status, c.code, c.signal, log)
				}
			}
		})
	}
}

func TestCommandNotFound(t *testing.T) {
	ws := workspace(t, nil)
	s := newSpec(t, ws, "no-such-command-anywhere")
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Failed || res.ExitCode != 127 || !strings.Contains(log, "not found") {
		t.Errorf("got %v exit %d log %q, want failed 127 and a log saying not found", res.Status, res.ExitCode, log)
	}
	// Without PATH in the test's environment, the host's PATH is not used.
	s = newSpec(t, ws, "true")
	s.Env = nil
	res, log = mustRun(t, context.Background(), s, options{})
	if res.Status != Failed || !strings.Contains(log, "no PATH") {
		t.Errorf("got %v log %q, want failed with a log saying the environment has no PATH", res.Status, log)
	}
}

func TestEnvironmentIsExact(t *testing.T) {
	t.Setenv("SUITE_HOST_CANARY", "leaked")
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newSpec(t, ws, "env")
			s.Env["APP_MODE"] = "test"
			s.Env["HOME"] = "/root" // ours wins
			s.Timeout = 1500 * time.Millisecond
			s.TotalShards, s.ShardIndex = 3, 1
			s.Seed, s.Slot = 42, 5
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Passed {
				t.Fatalf("env: %v: %s", res.Status, log)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
				k, v, _ := strings.Cut(line, "=")
				got[k] = v
			}
			scratch := s.ScratchDir
			want := map[string]string{
				"PATH":                        "/usr/bin:/bin",
				"APP_MODE":                    "test",
				"TEST_TARGET":                 "//pkg:t",
				"TEST_WORKSPACE":              "acme",
				"TEST_SRCDIR":                 filepath.Join(scratch, "runfiles"),
				"RUNFILES_DIR":                filepath.Join(scratch, "runfiles"),
				"TEST_TMPDIR":                 filepath.Join(scratch, "tmp"),
				"HOME":                        filepath.Join(scratch, "tmp"),
				"TMPDIR":                      filepath.Join(scratch, "tmp"),
				"TZ":                          "UTC",
				"XML_OUTPUT_FILE":             filepath.Join(scratch, "test.xml"),
				"TEST_UNDECLARED_OUTPUTS_DIR": filepath.Join(scratch, "undeclared"),
				"TEST_TIMEOUT":                "2",
				"TEST_SHARD_INDEX":            "1",
				"TEST_TOTAL_SHARDS":           "3",
				"TEST_RANDOM_SEED":            "42",
				"TEST_SLOT":                   "5",
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			var extra []string
			for k := range got {
				if _, ok := want[k]; !ok {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Errorf("variables the test must not see: %v", extra)
			}
		})
	}
	// Unsharded: no shard variables.
	s := newSpec(t, ws, "env")
	s.TotalShards = 1
	_, log := mustRun(t, context.Background(), s, options{})
	if strings.Contains(log, "TEST_SHARD_INDEX") || strings.Contains(log, "TEST_TOTAL_SHARDS") {
		t.Errorf("unsharded test sees shard variables:\n%s", log)
	}
}

func TestExecRootHoldsOnlyDeclaredInputs(t *testing.T) {
	ws := workspace(t, map[string]string{
		"pkg/a.txt":      "A",
		"pkg/secret.txt": "undeclared",
		"lib/b.txt":      "B",
		"run.sh":         "#!/bin/sh\necho script\n",
	})
	if err := os.Chmod(filepath.Join(ws, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range modes {
		s := newSpec(t, ws, "sh", "-c", `cat a.txt ../lib/b.txt; echo; ../run.sh; pwd; cat secret.txt`)
		s.Inputs = []string{"lib/b.txt", "pkg/a.txt", "run.sh"}
		res, log := mustRun(t, context.Background(), s, m.opt)
		if res.Status != Failed {
			t.Errorf("%s: reading an undeclared file: got %v, want failed", m.name, res.Status)
		}
		// With namespaces the exec root is at the workspace's own path;
		// without, the test runs in the runfiles tree.
		cwd := filepath.Join(ws, "pkg")
		if m.opt.noNamespaces {
			cwd = filepath.Join(s.ScratchDir, "runfiles", "acme", "pkg")
		}
		wantLog := "AB\nscript\n" + cwd + "\n"
		if !strings.HasPrefix(log, wantLog) || !strings.Contains(log, "secret.txt") {
			t.Errorf("%s: log = %q, want it to start with %q and then fail to read secret.txt", m.name, log, wantLog)
		}
	}

	// The package directory exists even without inputs in it; a relative
	// argv[0] is relative to it.
	s := newSpec(t, ws, "../../run.sh")
	s.Package = "deep/empty"
	s.Inputs = []string{"run.sh"}
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Passed || log != "script\n" {
		t.Errorf("got %v %q, want passed \"script\\n\"", res.Status, log)
	}
}

// TestInputsAreExactCopies: an input the test sees has the workspace
// file's bytes (here more than one in-kernel copy call moves), its execute
// bit and its mtime.
func TestInputsAreExactCopies(t *testing.T) {
	big := make([]byte, 3<<20+123)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	ws := workspace(t, map[string]string{"pkg/big.bin": string(big), "pkg/tool.sh": "#!/bin/sh\necho tool ran\n"})
	if err := os.Chmod(filepath.Join(ws, "pkg/tool.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
	if err := os.Chtimes(filepath.Join(ws, "pkg/big.bin"), old, old); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	s := newSpec(t, ws, "sh", "-c", `sha256sum big.bin; stat -c '%s %Y' big.bin; ./tool.sh`)
	s.Inputs = []string{"pkg/big.bin", "pkg/tool.sh"}
	res, log := mustRun(t, context.Background(), s, options{})
	want := fmt.Sprintf("%x  big.bin\n%d %d\ntool ran\n", sum, len(big), old.Unix())
	if res.Status != Passed || log != want {
		t.Errorf("got %v %q, want passed %q", res.Status, log, want)
	}
}

func TestWorkspaceIsUntouched(t *testing.T) {
	files := map[string]string{"pkg/a.txt": "A", "pkg/b.txt": "B", "pkg/c/d.txt": "D"}
	ws := workspace(t, files)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newSpec(t, ws, "sh", "-c", `echo changed > a.txt && echo more >> c/d.txt && rm b.txt && chmod 000 c && echo new > new.txt`)
			s.Inputs = []string{"pkg/a.txt", "pkg/b.txt", "pkg/c/d.txt"}
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Passed {
				t.Fatalf("%v: %s", res.Status, log)
			}
			for p, content := range files {
				got, err := os.ReadFile(filepath.Join(ws, p))
				if err != nil || string(got) != content {
					t.Errorf("workspace %s = %q, %v; want %q", p, got, err, content)
				}
			}
			if _, err := os.Stat(filepath.Join(ws, "pkg", "new.txt")); err == nil {
				t.Error("the test created a file in the workspace")
			}
			if _, err := os.Stat(s.ScratchDir); err == nil {
				t.Error("scratch directory left behind")
			}
		})
	}
}

func TestTimeoutKillsEveryProcess(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			marker := uniqueSleep(t)
			// The main process ignores SIGTERM; so do a child in its group and
			// a setsid'd daemon that keeps the log as stdout.
			script := fmt.Sprintf(`trap "" TERM
sleep %[1]s &
setsid sh -c 'trap "" TERM; sleep %[1]s' &
echo started
sleep %[1]s`, marker)
			s := newSpec(t, ws, "sh", "-c", script)
			s.Timeout = 500 * time.Millisecond
			s.Grace = 200 * time.Millisecond
			start := time.Now()
			res, log := mustRun(t, context.Background(), s, m.opt)
			elapsed := time.Since(start)
			if res.Status != Timeout {
				t.Errorf("status %v, want timeout (log %q)", res.Status, log)
			}
			if res.Signal != "SIGKILL" {
				t.Errorf("signal %q, want SIGKILL: the test ignored SIGTERM", res.Signal)
			}
			if elapsed > 3*time.Second {
				t.Errorf("took %v for a 500ms timeout and 200ms grace", elapsed)
			}
			if !strings.Contains(log, "started") {
				t.Errorf("log %q lacks the test's output", log)
			}
			if left := survivors(marker); len(left) > 0 {
				t.Errorf("processes outlived the test: %v", left)
			}
		})
	}
}

// A daemon that detached completely (new session, no inherited descriptors,
// cwd elsewhere) is caught only by the pid namespace.
func TestDetachedDaemonDies(t *testing.T) {
	ws := workspace(t, nil)
	marker := uniqueSleep(t)
	script := fmt.Sprintf(`cd / && setsid sh -c 'sleep %s' </dev/null >/dev/null 2>&1 &`, marker)
	s := newSpec(t, ws, "sh", "-c", script+" sleep 0.2; exit 0")
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Passed {
		t.Fatalf("%v: %s", res.Status, log)
	}
	if left := survivors(marker); len(left) > 0 {
		t.Errorf("a daemon outlived the test: %v", left)
	}
}

func TestLeftoversDieWithMainProcess(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			marker := uniqueSleep(t)
			// The background sleep holds the log pipe: Run must not wait for it.
			s := newSpec(t, ws, "sh", "-c", fmt.Sprintf("sleep %s & echo done", marker))
			start := time.Now()
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Passed || log != "done\n" {
				t.Errorf("got %v %q", res.Status, log)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v: waited for a leftover", d)
			}
			if left := survivors(marker); len(left) > 0 {
				t.Errorf("processes outlived the test: %v", left)
			}
		})
	}
}

func TestCancelKillsPromptly(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			marker := uniqueSleep(t)
			s := newSpec(t, ws, "sh", "-c", fmt.Sprintf(`trap "" TERM INT; sleep %[1]s & sleep %[1]s`, marker))
			s.Grace = 200 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			res, _ := mustRun(t, ctx, s, m.opt)
			if res.Status != Interrupted {
				t.Errorf("status %v, want interrupted", res.Status)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to stop after cancel", d)
			}
			if left := survivors(marker); len(left) > 0 {
				t.Errorf("processes outlived the test: %v", left)
			}
		})
	}
}

// A test that handles SIGTERM gets to finish within the grace period.
func TestTimeoutSendsSIGTERMFirst(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newSpec(t, ws, "sh", "-c", `trap 'echo got TERM; exit 7' TERM; while :; do sleep 0.05; done`)
			s.Timeout = 300 * time.Millisecond
			s.Grace = 5 * time.Second
			start := time.Now()
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Timeout || res.ExitCode != 7 || !strings.Contains(log, "got TERM") {
				t.Errorf("got %v exit %d log %q, want timeout, exit 7, \"got TERM\"", res.Status, res.ExitCode, log)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v: the grace period was not cut short by the exit", d)
			}
		})
	}
}

func TestHugeOutputIsBounded(t *testing.T) {
	ws := workspace(t, nil)
	const limit = 1 << 20
	const zeros = 200_000_000
	s := newSpec(t, ws, "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | tr '\\0' a; seq 1 100000", zeros))
	s.LogLimit = limit
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, log := mustRun(t, context.Background(), s, options{})
	runtime.ReadMemStats(&after)
	if res.Status != Passed {
		t.Fatalf("%v", res.Status)
	}
	var seq strings.Builder
	for i := 1; i <= 100000; i++ {
		fmt.Fprintf(&seq, "%d\n", i)
	}
	total := int64(zeros + seq.Len())
	if res.LogBytes != total || !res.LogTruncated {
		t.Errorf("LogBytes %d truncated %v, want %d true", res.LogBytes, res.LogTruncated, total)
	}
	header, body, _ := strings.Cut(log, "\n")
	if !strings.Contains(header, fmt.Sprint(total-limit)) {
		t.Errorf("first line %q does not say %d bytes were dropped", header, total-limit)
	}
	wantBody := strings.Repeat("a", limit-seq.Len()) + seq.String()
	if body != wantBody {
		t.Errorf("kept %d bytes ending %q, want the last %d bytes written", len(body), body[max(0, len(body)-20):], limit)
	}
	if len(log) > limit+200 {
		t.Errorf("log is %d bytes, want at most the limit plus a header", len(log))
	}
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > 16<<20 {
		t.Errorf("allocated %d bytes for a 1 MiB log of a 200 MB output", grew)
	}
	if _, err := os.Stat(s.ScratchDir); err == nil {
		t.Error("scratch directory left behind")
	}
}

func TestOutputsAreKept(t *testing.T) {
	ws := workspace(t, nil)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newSpec(t, ws, "sh", "-c", `echo '<testsuites/>' > "$XML_OUTPUT_FILE" &&
mkdir -p "$TEST_UNDECLARED_OUTPUTS_DIR/shots" &&
echo png > "$TEST_UNDECLARED_OUTPUTS_DIR/shots/a.png" &&
echo "$TEST_TMPDIR" > "$TEST_UNDECLARED_OUTPUTS_DIR/tmpdir" &&
echo scratch > "$TEST_TMPDIR/x"`)
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Passed || !res.WroteXML {
				t.Fatalf("%v wroteXML=%v: %s", res.Status, res.WroteXML, log)
			}
			if xml, err := os.ReadFile(s.XMLPath); string(xml) != "<testsuites/>\n" {
				t.Errorf("XML = %q, %v", xml, err)
			}
			if png, err := os.ReadFile(filepath.Join(s.OutputsDir, "shots", "a.png")); string(png) != "png\n" {
				t.Errorf("undeclared output = %q, %v", png, err)
			}
			tmp, _ := os.ReadFile(filepath.Join(s.OutputsDir, "tmpdir"))
			if _, err := os.Stat(strings.TrimSpace(string(tmp))); err == nil {
				t.Errorf("TEST_TMPDIR %s left behind", tmp)
			}
		})
	}
	// Nothing written, nothing kept.
	s := newSpec(t, ws, "true")
	res, _ := mustRun(t, context.Background(), s, options{})
	if res.WroteXML {
		t.Error("WroteXML for a test that wrote none")
	}
	if _, err := os.Stat(s.OutputsDir); err == nil {
		t.Error("outputs directory created for a test without outputs")
	}
}

func TestKeepScratch(t *testing.T) {
	ws := workspace(t, map[string]string{"pkg/a": "a"})
	s := newSpec(t, ws, "true")
	s.Inputs = []string{"pkg/a"}
	s.KeepScratch = true
	mustRun(t, context.Background(), s, options{})
	if _, err := os.Stat(filepath.Join(s.ScratchDir, "runfiles", "acme", "pkg", "a")); err != nil {
		t.Errorf("KeepScratch: %v", err)
	}
	// A used scratch directory is refused rather than mixed into the exec root.
	if _, err := Run(context.Background(), s); err == nil || !strings.Contains(err.Error(), "not fresh") {
		t.Errorf("reused scratch: err = %v, want one saying it is not fresh", err)
	}
}

func helperSpec(t testing.TB, ws string, args ...string) Spec {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return newSpec(t, ws, append([]string{exe, "sandbox-helper"}, args...)...)
}

func TestIsolatedNetworkSharesNoPorts(t *testing.T) {
	ws := workspace(t, nil)
	// Both bind the same loopback port at the same time.
	var wg sync.WaitGroup
	results := make([]string, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := helperSpec(t, ws, "bind", "127.0.0.1:18787", "500ms")
			res, err := Run(context.Background(), s)
			log, _ := os.ReadFile(s.LogPath)
			results[i] = fmt.Sprintf("%v %v %s", res.Status, err, log)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if !strings.HasPrefix(r, "passed <nil> bound 127.0.0.1:18787") {
			t.Errorf("isolated bind: %s", r)
		}
	}

	// The host's listeners are out of reach, unless network = "host".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	s := helperSpec(t, ws, "dial", addr)
	res, log := mustRun(t, context.Background(), s, options{})
	if res.Status != Failed {
		t.Errorf("isolated test reached the host's %s: %s", addr, log)
	}
	s = helperSpec(t, ws, "dial", addr)
	s.Network = NetworkHost
	res, log = mustRun(t, context.Background(), s, options{})
	if res.Status != Passed {
		t.Errorf("host-network test could not reach %s: %s", addr, log)
	}
	s = helperSpec(t, ws, "bind", addr, "0s")
	s.Network = NetworkHost
	res, log = mustRun(t, context.Background(), s, options{})
	if res.Status != Failed || !strings.Contains(log, "address already in use") {
		t.Errorf("host-network test bound the host's busy port %s: %v %s", addr, res.Status, log)
	}
}

func TestConcurrentRuns(t *testing.T) {
	ws := workspace(t, map[string]string{"pkg/in": "x"})
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opt := modes[i%2].opt
			s := newSpec(t, ws, "sh", "-c", fmt.Sprintf("cat in; echo %d; exit $((%d %% 3))", i, i))
			s.Inputs = []string{"pkg/in"}
			res, err := run(context.Background(), s, opt)
			log, _ := os.ReadFile(s.LogPath)
			if err != nil || res.ExitCode != i%3 || string(log) != fmt.Sprintf("x%d\n", i) {
				errs <- fmt.Sprintf("run %d: %v exit %d log %q", i, err, res.ExitCode, log)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBadSpec(t *testing.T) {
	ws := workspace(t, nil)
	for name, mutate := range map[string]func(*Spec){
		"escaping input": func(s *Spec) { s.Inputs = []string{"../etc/passwd"} },
		"missing input":  func(s *Spec) { s.Inputs = []string{"pkg/nope"} },
		"bad network":    func(s *Spec) { s.Network = "lan" },
		"empty argv":     func(s *Spec) { s.Argv = nil },
	} {
		s := newSpec(t, ws, "true")
		mutate(&s)
		if _, err := Run(context.Background(), s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkRunTrue measures the sandbox's overhead per action. The "shm"
// variants keep the scratch directory on tmpfs, which separates our cost
// from the filesystem's (mkdir costs ~600µs on some VM disks).
func BenchmarkRunTrue(b *testing.B) {
	ws := workspace(b, map[string]string{"pkg/a.py": "print(1)\n"})
	for _, m := range []struct {
		name    string
		network string
		opt     options
	}{
		{"namespaces/isolated", NetworkIsolated, options{}},
		{"namespaces/host", NetworkHost, options{}},
		{"namespaces/host/no-view", NetworkHost, options{noMounts: true}},
		{"fallback", NetworkHost, options{noNamespaces: true}},
	} {
		for _, onShm := range []bool{false, true} {
			name := m.name
			scratchRoot := b.TempDir()
			if onShm {
				dir, err := os.MkdirTemp("/dev/shm", "sandbox-bench-")
				if err != nil {
					continue
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
				name, scratchRoot = m.name+"/shm", dir
			}
			b.Run(name, func(b *testing.B) {
				base := newSpec(b, ws, "true")
				base.Inputs = []string{"pkg/a.py"}
				base.Network = m.network
				base.Home, _ = os.UserHomeDir() // the real view hides it, as suite run does
				for i := 0; b.Loop(); i++ {
					s := base
					s.ScratchDir = filepath.Join(scratchRoot, fmt.Sprint("s", i))
					res, err := run(context.Background(), s, m.opt)
					if err != nil || res.Status != Passed {
						b.Fatal(res, err)
					}
				}
			})
		}
	}
}

// Where the kernel allows namespaces (CI runs as root), the test runs in a
// pid namespace of its own, under our init, with a /proc of that namespace,
// and nothing needs a warning.
func TestRunsInPidNamespace(t *testing.T) {
	ws := workspace(t, nil)
	script := `tr '\0' ' ' </proc/$$/cmdline; echo; tr '\0' ' ' </proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'`
	res, log := mustRun(t, context.Background(), newSpec(t, ws, "sh", "-c", script), options{})
	lines := append(strings.Split(log, "\n"), "", "", "")
	procs, _ := strconv.Atoi(lines[2])
	if lines[0] != "sh -c "+script+" " || !strings.HasPrefix(lines[1], initArg0+" lo /") || procs < 2 || procs > 10 || len(res.Warnings) > 0 {
		t.Errorf("log %q, warnings %q; want /proc/$$ to be the test, /proc/1 our init, few processes, no warnings", log, res.Warnings)
	}
}

func TestTestDiesWithSuite(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	marker := uniqueSleep(t)
	suite := exec.Command(exe, "sandbox-helper", "run", workspace(t, nil), filepath.Join(t.TempDir(), "scratch"), marker)
	if err := suite.Start(); err != nil {
		t.Fatal(err)
	}
	// The helper, our init, and the test's two sleeps carry the marker.
	for deadline := time.Now().Add(5 * time.Second); len(survivors(marker)) < 4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the test did not start")
		}
	}
	suite.Process.Kill()
	suite.Wait()
	// The kernel kills the init (parent-death signal), then the namespace;
	// that takes a moment once suite is gone.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left := survivors(marker)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes outlived a killed suite: %v", left)
		}
	}
}

// The test keeps the caller's uid: a user namespace (for non-root callers)
// maps it to itself.
func TestSameUser(t *testing.T) {
	res, log := mustRun(t, context.Background(), newSpec(t, workspace(t, nil), "id", "-u"), options{})
	if res.Status != Passed || strings.TrimSpace(log) != strconv.Itoa(os.Geteuid()) {
		t.Errorf("id -u: %v %q, want %d", res.Status, log, os.Geteuid())
	}
}

// BenchmarkForkExecStatic is the machine's floor for starting a test: fork
// and exec of a static binary that exits at once, waited for. The speed
// targets compare the sandbox's cost per trivial test with it.
func BenchmarkForkExecStatic(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "true.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	bin := filepath.Join(dir, "true-static")
	if out, err := exec.Command("cc", "-static", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		b.Skipf("cannot build a static binary with cc: %v\n%s", err, out)
	}
	for b.Loop() {
		if err := exec.Command(bin).Run(); err != nil {
			b.Fatal(err)
		}
	}
}
