package remoteexec

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cases"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/reapitest"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

// fixture is a workspace on disk, an executor pointed at a stand-in
// server, and what it takes to build actions. The server is reapitest's,
// standing in for Buildbarn, BuildBuddy or NativeLink, which do not
// install here.
type fixture struct {
	t     *testing.T
	root  string
	srv   *reapitest.Server
	keyer *action.Keyer
	ex    *Executor
}

func newFixture(t *testing.T, o reapitest.Options, files map[string]string) *fixture {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	digests, err := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Instance == "" {
		o.Instance = "main" // every call must carry it, as real servers check
	}
	srv := reapitest.Start(t, o)
	keyer := &action.Keyer{Root: root, WorkspaceName: "ws", Digests: digests,
		Platform: map[string]string{"pool": "linux-small", "container-image": "docker://debian"}}
	ex, err := New(srv.URL(), Options{Keys: keyer, OutputBase: filepath.Join(root, ".suite"), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return &fixture{t: t, root: root, srv: srv, keyer: keyer, ex: ex}
}

// action is a test in package pkg running the shell script with the
// given inputs.
func (f *fixture) action(pkg, name, script string, inputs ...string) *action.Action {
	l := label.Label{Pkg: pkg, Name: name}
	argv := []string{"/bin/sh", "-c", script}
	test := &rules.Test{Label: l, Cmd: argv, Inputs: inputs, Cache: true, Attempts: 1, Shards: 1}
	return &action.Action{Test: test, Label: l, Shard: 0, Shards: 1, Run: 1, Runs: 1,
		Argv: argv, Env: map[string]string{"PATH": "/usr/bin:/bin"}, Inputs: inputs,
		Timeout: 30 * time.Second, Network: "isolated", Attempts: 1, Cacheable: true}
}

func (f *fixture) execute(a *action.Action) sched.Outcome {
	f.t.Helper()
	return f.ex.Execute(context.Background(), a, 1, 0, 42)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantStatus(t *testing.T, o sched.Outcome, want sched.Status) {
	t.Helper()
	if o.Status != want {
		log := ""
		if o.LogPath != "" {
			log = readFile(t, o.LogPath)
		}
		t.Fatalf("status %v (exit %d), want %v; log:\n%s", o.Status, o.ExitCode, want, log)
	}
}

// A passing test sees its declared inputs, not its undeclared neighbours,
// and the test encyclopedia's variables as real, writable paths on the
// worker; its log lands where the sandbox's would.
func TestPassSeesInputsAndEnvironment(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, map[string]string{
		"svc/api/data.txt":   "hello from an input\n",
		"svc/api/secret.txt": "undeclared\n",
	})
	a := f.action("svc/api", "env", `
set -e
cat data.txt
test ! -e secret.txt || { echo "undeclared input visible"; exit 1; }
test "$PWD" = "$TEST_SRCDIR/svc/api" || { echo "cwd $PWD is not the package"; exit 1; }
test "$HOME" = "$TEST_TMPDIR" && test "$TMPDIR" = "$TEST_TMPDIR"
touch "$TEST_TMPDIR/scratch"
test -d "$TEST_UNDECLARED_OUTPUTS_DIR"
echo "target=$TEST_TARGET workspace=$TEST_WORKSPACE tz=$TZ timeout=$TEST_TIMEOUT seed=$TEST_RANDOM_SEED slot=$TEST_SLOT"
echo "xml=$XML_OUTPUT_FILE"
echo "unexpected=${GOCACHE-unset}"
`, "svc/api/data.txt")
	o := f.execute(a)
	wantStatus(t, o, sched.Passed)
	wantLog := filepath.Join(f.root, ".suite", "testlogs", "svc/api/env", "test.log")
	if o.LogPath != wantLog {
		t.Errorf("log at %s, want %s", o.LogPath, wantLog)
	}
	log := readFile(t, o.LogPath)
	for _, want := range []string{"hello from an input", "target=//svc/api:env workspace=ws tz=UTC timeout=30 seed=42 slot=0", "unexpected=unset"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "${") {
		t.Errorf("a placeholder reached the test:\n%s", log)
	}
	if o.XMLPath != "" || o.OutputsDir != "" {
		t.Errorf("XMLPath %q, OutputsDir %q: the test wrote neither", o.XMLPath, o.OutputsDir)
	}
	if o.Duration <= 0 {
		t.Errorf("duration %v, want the worker's", o.Duration)
	}
	// The worker got the configured platform, sorted, for routing, and
	// nothing else (no implicit OSFamily or ISA).
	cmd := f.srv.LastCommand()
	var props []string
	for _, p := range cmd.GetPlatform().GetProperties() {
		props = append(props, p.Name+"="+p.Value)
	}
	if got, want := strings.Join(props, ","), "container-image=docker://debian,pool=linux-small"; got != want {
		t.Errorf("platform %s, want exactly %s", got, want)
	}
}

// A failing test fails with its exit code and its output (stdout and
// stderr, interleaved), and an exit code the rule declares "nothing to
// run" is a skip.
func TestFailureAndSkip(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	o := f.execute(f.action("pkg", "fail", "echo to stdout; echo to stderr >&2; exit 3"))
	wantStatus(t, o, sched.Failed)
	if o.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", o.ExitCode)
	}
	if log := readFile(t, o.LogPath); !strings.Contains(log, "to stdout\nto stderr\n") {
		t.Errorf("log does not hold both streams in order:\n%s", log)
	}

	a := f.action("pkg", "nothing", "exit 5")
	a.Test.SkipExitCodes = []int{5}
	wantStatus(t, f.execute(a), sched.Skipped)

	a = f.action("pkg", "missing-tool", "exec no-such-tool-anywhere")
	o = f.execute(a)
	wantStatus(t, o, sched.Failed)
	if log := readFile(t, o.LogPath); !strings.Contains(log, "no-such-tool-anywhere") {
		t.Errorf("log does not name the missing tool:\n%s", log)
	}
}

// Action.timeout is enforced by the server; the result is a timeout, not a
// failure, and it comes back soon after the timeout.
func TestTimeout(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	a := f.action("pkg", "slow", "echo started; sleep 30")
	a.Timeout = time.Second
	start := time.Now()
	o := f.execute(a)
	wantStatus(t, o, sched.Timeout)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %v", d)
	}
	log := readFile(t, o.LogPath)
	if !strings.Contains(log, "started") || !strings.Contains(log, "timeout of 1s") {
		t.Errorf("log lacks the partial output or the reason:\n%s", log)
	}
}

// The XML a test writes comes back and its cases are read; undeclared
// outputs come back as files, folders and executable bits.
func TestXMLAndUndeclaredOutputs(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	o := f.execute(f.action("", "junit", `
cat > "$XML_OUTPUT_FILE" <<'XML'
<testsuite name="s"><testcase classname="c" name="good"/><testcase classname="c" name="bad"><failure message="boom">trace</failure></testcase></testsuite>
XML
mkdir -p "$TEST_UNDECLARED_OUTPUTS_DIR/shots"
echo png > "$TEST_UNDECLARED_OUTPUTS_DIR/shots/a.png"
printf '#!/bin/sh\n' > "$TEST_UNDECLARED_OUTPUTS_DIR/replay.sh"
chmod +x "$TEST_UNDECLARED_OUTPUTS_DIR/replay.sh"
`))
	wantStatus(t, o, sched.Passed)
	if o.XMLPath == "" || !strings.Contains(readFile(t, o.XMLPath), `name="bad"`) {
		t.Fatalf("XML not brought back (XMLPath %q)", o.XMLPath)
	}
	if len(o.Cases) != 2 || cases.Failed(o.Cases)[0].Name != "bad" {
		t.Errorf("cases %+v, want good and a failing bad", o.Cases)
	}
	if o.OutputsDir == "" {
		t.Fatal("no OutputsDir")
	}
	if got := readFile(t, filepath.Join(o.OutputsDir, "shots", "a.png")); got != "png\n" {
		t.Errorf("shots/a.png = %q", got)
	}
	fi, err := os.Stat(filepath.Join(o.OutputsDir, "replay.sh"))
	if err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("replay.sh lost its executable bit: %v %v", fi, err)
	}
}

// Blobs above the server's batch limit go up and come down through
// ByteStream: a big input, and a big output.
func TestBlobsAboveBatchLimit(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 20<<10) // 320 KiB
	f := newFixture(t, reapitest.Options{BatchLimit: 64 << 10}, map[string]string{"data/big.bin": big})
	o := f.execute(f.action("data", "big", `
test "$(wc -c < big.bin)" -eq 327680 || { echo "big.bin truncated"; exit 1; }
cp big.bin "$TEST_UNDECLARED_OUTPUTS_DIR/copy.bin"
`, "data/big.bin"))
	wantStatus(t, o, sched.Passed)
	if got := readFile(t, filepath.Join(o.OutputsDir, "copy.bin")); got != big {
		t.Errorf("copy.bin came back with %d bytes, want %d", len(got), len(big))
	}
	if f.srv.StreamWrites.Load() == 0 || f.srv.StreamReads.Load() == 0 {
		t.Errorf("ByteStream writes %d, reads %d: want both", f.srv.StreamWrites.Load(), f.srv.StreamReads.Load())
	}
}

// A pass in the executor's action cache is a pass, without executing
// again (Buildbarn does not look there inside Execute); a test declared
// uncacheable runs every time.
func TestActionCacheHitSkipsExecute(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, map[string]string{"p/in.txt": "x"})
	a := f.action("p", "t", "echo ran", "p/in.txt")
	wantStatus(t, f.execute(a), sched.Passed)
	o := f.execute(a)
	wantStatus(t, o, sched.Passed)
	if !o.Cached {
		t.Error("second run not reported as cached")
	}
	if n := f.srv.Executes.Load(); n != 1 {
		t.Errorf("Execute called %d times, want 1", n)
	}
	if log := readFile(t, o.LogPath); !strings.Contains(log, "ran") {
		t.Errorf("cached log lacks the output:\n%s", log)
	}

	u := f.action("p", "uncached", "echo ran", "p/in.txt")
	u.Cacheable = false
	f.execute(u)
	if o := f.execute(u); o.Cached {
		t.Error("an uncacheable test was answered from the action cache")
	}
	if n := f.srv.Executes.Load(); n != 3 {
		t.Errorf("Execute called %d times, want 3", n)
	}
}

// When the Execute stream breaks mid-way, the client finds the execution
// again with WaitExecution instead of running it twice.
func TestStreamBreakWaitsForExecution(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	f.srv.BreakStreams.Store(1)
	o := f.execute(f.action("p", "t", "sleep 0.3; echo done"))
	wantStatus(t, o, sched.Passed)
	if f.srv.Waits.Load() != 1 || f.srv.Executes.Load() != 1 {
		t.Errorf("WaitExecution %d, Execute %d: want 1 and 1", f.srv.Waits.Load(), f.srv.Executes.Load())
	}
	if !strings.Contains(readFile(t, o.LogPath), "done") {
		t.Error("log lacks the output")
	}
}

// Inputs evicted between upload and execution: the server answers
// FAILED_PRECONDITION naming them; they go up again and the action runs.
func TestMissingBlobsAfterUploadAreUploadedAgain(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, map[string]string{"p/in.txt": "needed"})
	f.srv.EvictInputs.Store(1)
	o := f.execute(f.action("p", "t", "cat in.txt", "p/in.txt"))
	wantStatus(t, o, sched.Passed)
	if f.srv.PreconditionFailures.Load() != 1 || f.srv.Executes.Load() != 2 {
		t.Errorf("precondition failures %d, executes %d: want 1 and 2", f.srv.PreconditionFailures.Load(), f.srv.Executes.Load())
	}
	if !strings.Contains(readFile(t, o.LogPath), "needed") {
		t.Error("log lacks the input's content")
	}

	// Evicted again after the retry too: an infrastructure error that says
	// why, not a loop, and not a failed test.
	f.srv.EvictInputs.Store(2)
	o = f.ex.Execute(context.Background(), f.action("p", "t2", "cat in.txt", "p/in.txt"), 1, 0, 1)
	wantInfra(t, o, "missing inputs")
}

// wantInfra checks that o is no test result but an infrastructure error
// whose message, also in the log, contains want.
func wantInfra(t *testing.T, o sched.Outcome, want string) {
	t.Helper()
	if o.Infra == nil || o.Status == sched.Failed || o.Status == sched.Passed {
		t.Fatalf("status %v, infrastructure error %v: want an infrastructure error, no test result", o.Status, o.Infra)
	}
	if !strings.Contains(o.Infra.Error(), want) {
		t.Errorf("error %q does not say %q", o.Infra, want)
	}
	if log := readFile(t, o.LogPath); !strings.Contains(log, want) {
		t.Errorf("log does not say %q:\n%s", want, log)
	}
}

// Ctrl-C while the server runs the test: the attempt is interrupted at
// once, not when the server is done.
func TestCancelIsInterrupted(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	o := f.ex.Execute(ctx, f.action("p", "t", "sleep 20"), 1, 0, 1)
	wantStatus(t, o, sched.Interrupted)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("interrupt took %v", d)
	}
}

// A server that does not execute is refused with a reason, as an
// infrastructure error rather than a failed or passing test.
func TestServerWithoutExecution(t *testing.T) {
	f := newFixture(t, reapitest.Options{NoExec: true}, nil)
	wantInfra(t, f.execute(f.action("p", "t", "true")), "does not execute")
	wantInfra(t, f.execute(f.action("p", "u", "true")), "does not execute")
}

// An engine that routes by exact platform match (Buildbarn) runs actions
// whose platform is exactly what its workers advertise, and refuses the
// rest; a refusal is an infrastructure error that names the platform and
// the setting to change, whichever code the engine says it with.
func TestPlatformRefusalIsInfrastructure(t *testing.T) {
	workers := map[string]string{"container-image": "docker://debian", "pool": "linux-small"}
	f := newFixture(t, reapitest.Options{WorkerPlatform: workers}, nil)
	wantStatus(t, f.execute(f.action("p", "t", "true")), sched.Passed)

	for _, code := range []codes.Code{codes.FailedPrecondition, codes.Unavailable} {
		f := newFixture(t, reapitest.Options{WorkerPlatform: map[string]string{"OSFamily": "linux"}, RefuseCode: code}, nil)
		o := f.execute(f.action("p", "t", "true"))
		wantInfra(t, o, "No workers exist")
		for _, want := range []string{"container-image=docker://debian, pool=linux-small", "remote_exec_properties"} {
			if !strings.Contains(o.Infra.Error(), want) {
				t.Errorf("%v: %q does not say %q", code, o.Infra, want)
			}
		}
		if f.srv.Refusals.Load() == 0 {
			t.Errorf("%v: the server refused nothing", code)
		}
	}
}

// Permission and quota refusals say what to change.
func TestRefusalsSayWhatToChange(t *testing.T) {
	for code, want := range map[codes.Code]string{
		codes.PermissionDenied:  "SUITE_REMOTE_HEADERS",
		codes.ResourceExhausted: "-n",
	} {
		f := newFixture(t, reapitest.Options{RefuseAll: "refused by policy", RefuseCode: code}, nil)
		o := f.execute(f.action("p", "t", "true"))
		wantInfra(t, o, "refused by policy")
		if !strings.Contains(o.Infra.Error(), want) {
			t.Errorf("%v: %q does not say %q", code, o.Infra, want)
		}
	}
}

// Retried attempts keep earlier logs beside the last, as the sandbox does.
func TestAttemptsKeepEarlierLogs(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	a := f.action("p", "t", "echo attempt; exit 1")
	f.ex.Execute(context.Background(), a, 1, 0, 1)
	o := f.ex.Execute(context.Background(), a, 2, 0, 1)
	wantStatus(t, o, sched.Failed)
	prev := filepath.Join(filepath.Dir(o.LogPath), "test_attempts", "attempt_1.log")
	if !strings.Contains(readFile(t, prev), "attempt") {
		t.Error("first attempt's log not kept")
	}
}

// A log above the limit keeps its tail under the sandbox's header, so the
// end of a long failure is what the user sees.
func TestLogKeepsTail(t *testing.T) {
	f := newFixture(t, reapitest.Options{}, nil)
	ex, err := New(f.srv.URL(), Options{Keys: f.keyer, OutputBase: filepath.Join(f.root, ".suite"), LogLimit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	o := ex.Execute(context.Background(), f.action("p", "t", "i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); done; exit 1"), 1, 0, 1)
	wantStatus(t, o, sched.Failed)
	log := readFile(t, o.LogPath)
	header, rest, _ := strings.Cut(log, "\n")
	if !strings.HasPrefix(header, "suite: log truncated: the first ") || len(rest) != 1000 {
		t.Errorf("header %q and %d bytes kept, want the truncation header and 1000", header, len(rest))
	}
	if !strings.HasSuffix(rest, "line499\n") {
		t.Errorf("the tail is not kept:\n%s", rest)
	}
}

// localPass stands for the sandbox in the fallback tests.
type localPass struct{ ran int }

func (l *localPass) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) sched.Outcome {
	l.ran++
	return sched.Outcome{Status: sched.Passed}
}

// An executor that cannot be used (here: it does not execute) is run
// around with a warning; one that refuses suite's credentials is a
// configuration to fix, and stops the run.
func TestFallbackOnlyWhenTheExecutorIsUnusable(t *testing.T) {
	f := newFixture(t, reapitest.Options{NoExec: true}, nil)
	local := &localPass{}
	o := f.ex.WithLocalFallback(local).Execute(context.Background(), f.action("p", "t", "true"), 1, 0, 1)
	if o.Status != sched.Passed || o.Infra != nil || local.ran != 1 {
		t.Errorf("status %v, infra %v, local runs %d: want a local pass", o.Status, o.Infra, local.ran)
	}
	if len(o.Warnings) != 1 || !strings.Contains(o.Warnings[0], "running tests locally") {
		t.Errorf("warnings %q, want one saying the tests run locally", o.Warnings)
	}

	f = newFixture(t, reapitest.Options{RefuseCode: codes.PermissionDenied, RefuseAll: "bad token"}, nil)
	local = &localPass{}
	o = f.ex.WithLocalFallback(local).Execute(context.Background(), f.action("p", "t", "true"), 1, 0, 1)
	if o.Infra == nil || local.ran != 0 {
		t.Fatalf("status %v, infra %v, local runs %d: want an infrastructure error", o.Status, o.Infra, local.ran)
	}
	if !strings.Contains(o.Infra.Error(), "bad token") || !strings.Contains(o.Infra.Error(), "SUITE_REMOTE_HEADERS") {
		t.Errorf("error %q does not give the reason and what to change", o.Infra)
	}
}
