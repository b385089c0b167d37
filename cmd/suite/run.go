package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cache"
	"github.com/suite-run/suite/internal/remoteexec"
	"github.com/suite-run/suite/internal/report"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

type runFlags struct {
	filterFlags
	jobs                    string
	timeout                 time.Duration
	grace                   time.Duration
	seed, order             string
	failFast, lf, ff        bool
	runsPerTest             int
	dryRun, noCache         bool
	output                  string
	junit, jsonOut, profile string
	html                    string
	shard                   string
	durationsPath           string
	sandboxBase             string
	remoteCache             string
	remoteUpload            bool
	remoteExecutor          string
	remoteExecProps         []string
}

func newRunCmd(g *globalFlags) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [SUITE] [PATTERN...]",
		Short: "Run a suite, or the tests under patterns, in parallel",
		Long: `Run the selected tests hermetically and in parallel, and print a summary
whose last line is "suite: N passed, N failed, N skipped".

SUITE names a suite; PATTERNs are target patterns. With neither, the tests of
the current package and everything below it run. Logs are kept under
<workspace>/.suite/testlogs/<package>/<name>/.

` + exitCodesHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTests(cmd, g, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.jobs, "jobs", "n", "", "run `N` tests at once, or \"auto\" for one per CPU (default: the suite's, else the workspace's)")
	f.filterFlags.add(fl)
	fl.DurationVar(&f.timeout, "timeout", 0, "timeout of tests that set none (beats the suite's and the workspace's)")
	fl.DurationVar(&f.grace, "grace", 5*time.Second, "time between SIGTERM and SIGKILL when a test times out")
	fl.StringVar(&f.seed, "seed", "random", "`N`, \"last\" (the previous run's seed and order) or \"random\"; exported as TEST_RANDOM_SEED; an explicit N implies --order random")
	fl.StringVar(&f.order, "order", "", "duration (longest first, from history) | random (by the seed) | declared (default: the suite's, else duration)")
	fl.BoolVarP(&f.failFast, "fail-fast", "x", false, "start no more tests after the first failure")
	fl.BoolVar(&f.lf, "lf", false, "run only the tests that failed last time (all when none did)")
	fl.BoolVar(&f.ff, "ff", false, "run the tests that failed last time first")
	fl.IntVar(&f.runsPerTest, "runs-per-test", 1, "run each test `N` times (each run is its own action)")
	fl.StringVar(&f.remoteCache, "remote-cache", "", "read results from `URL` too: http(s)://host:port/prefix (Bazel's HTTP cache) or grpc(s)://host:port (REAPI); overrides remote_cache")
	fl.BoolVar(&f.remoteUpload, "remote-upload", false, "write results to the remote cache as well (usually only CI does)")
	fl.StringVar(&f.remoteExecutor, "remote-executor", "", "run missed tests on a REAPI execution service at `URL` (grpc:// or grpcs://) instead of locally")
	fl.StringArrayVar(&f.remoteExecProps, "remote-exec-property", nil, "platform property `K=V` sent with every action (adds to remote_exec_properties)")
	fl.StringVar(&f.sandboxBase, "sandbox-base", "", "where execution roots and TEST_TMPDIRs are made (default: /dev/shm when it is a writable tmpfs, else $TMPDIR)")
	fl.StringVar(&f.shard, "shard", "", "run shard `I/N` of the selection: N CI machines each get a disjoint slice, balanced by the durations file")
	fl.StringVar(&f.durationsPath, "durations-path", "", "the durations file --shard balances by (default: "+sched.DurationsFile+" at the workspace root; written by 'suite durations')")
	fl.BoolVar(&f.noCache, "no-cache", false, "run every test, even those with a cached pass (passes are still stored)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan: every action in order, marked run or cached, and the predicted time; run nothing")
	fl.StringVar(&f.output, "output", report.OutputErrors, "errors | all | summary")
	fl.StringVar(&f.junit, "junit", "", "write one JUnit XML report of the run to `FILE`")
	fl.StringVar(&f.jsonOut, "json", "", "write JSON Lines events to `FILE`")
	fl.StringVar(&f.profile, "profile", "", "write a Chrome trace of the run (one lane per worker) to `FILE`")
	fl.StringVar(&f.html, "html", "", "write the run's report, one self-contained HTML page, to `FILE` (later: 'suite report')")
	return cmd
}

func parseJobs(s string) (int, error) {
	if s == "auto" {
		return rules.JobsAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, invalid("--jobs %q: want a positive number or \"auto\"", s)
	}
	return n, nil
}

func runTests(cmd *cobra.Command, g *globalFlags, f *runFlags, args []string) error {
	switch f.output {
	case report.OutputErrors, report.OutputAll, report.OutputSummary:
	default:
		return invalid("--output %q: want errors, all or summary", f.output)
	}
	if f.order != "" && f.order != sched.OrderDuration && f.order != sched.OrderRandom && f.order != sched.OrderDeclared {
		return invalid("--order %q: want duration, random or declared", f.order)
	}
	if f.runsPerTest < 1 {
		return invalid("--runs-per-test %d: want 1 or more", f.runsPerTest)
	}
	if f.lf && f.ff {
		return invalid("--lf and --ff are exclusive")
	}
	if f.dryRun && f.html != "" {
		return invalid("--html with --dry-run: nothing runs, so there is no report; --json FILE writes the plan")
	}
	// Before the workspace is evaluated: a report written into the tree,
	// or the durations file read, must never be an input, of this run's
	// graph or a later one's.
	g.recordReports(cmd.ErrOrStderr(), f.jsonOut, f.junit, f.profile, f.html, f.durationsPath)
	s, err := g.load()
	if err != nil {
		return err
	}
	sel, err := s.selectTests(args, f.marks, f.keywords)
	if err != nil {
		return err
	}
	root := s.graph.Root
	outBase := filepath.Join(root, workspace.OutputDir)
	history := sched.LoadHistory(filepath.Join(outBase, "history.json"))

	tests := sel.tests
	if f.lf {
		if failed := history.LastFailed(); len(failed) > 0 {
			var keep []*rules.Test
			for _, t := range tests {
				if failed[t.Label.String()] {
					keep = append(keep, t)
				}
			}
			if len(keep) > 0 {
				tests = keep
			}
		}
	}
	if len(tests) == 0 {
		return &exitError{exitNoTests, errors.New("no test selected")}
	}

	// Settings: the command line beats the suite, which beats the workspace.
	jobs := s.graph.Config.Jobs
	order := sched.OrderDuration
	var budget time.Duration
	suiteName := ""
	if su := sel.suite; su != nil {
		suiteName = su.Name
		if su.Jobs != rules.JobsUnset {
			jobs = su.Jobs
		}
		if su.Order != "" {
			order = su.Order
		}
		budget = su.Budget
	}
	if f.jobs != "" {
		if jobs, err = parseJobs(f.jobs); err != nil {
			return err
		}
	}
	if jobs == rules.JobsAuto || jobs == rules.JobsUnset {
		jobs = runtime.NumCPU()
	}
	seed, replay, err := chooseSeed(f.seed, history)
	if err != nil {
		return err
	}
	if f.seed != "random" && f.seed != "last" && f.order == "" {
		order = sched.OrderRandom // a chosen seed asks for a reproducible shuffle
	}
	if f.order != "" {
		order = f.order
	}

	actions := action.Build(s.graph, tests, action.Options{
		Suite: sel.suite, Timeout: f.timeout, RunsPerTest: f.runsPerTest, LookupEnv: os.LookupEnv,
		ToolEnv: &action.ToolEnv{}, MarkExpr: action.CombineMarks(suiteMarks(sel.suite), f.marks),
	})
	var share *sched.Share
	if f.shard != "" {
		sh, err := sched.ParseShard(f.shard)
		if err != nil {
			return invalid("%v", err)
		}
		durations, err := sched.LoadDurations(durationsPath(root, f.durationsPath))
		if err != nil {
			return invalid("%v", err)
		}
		var sh1 sched.Share
		actions, sh1 = sched.Split(actions, durations, sh)
		share = &sh1
		stderr := cmd.ErrOrStderr()
		switch rel := relPath(s.cwd, durationsPath(root, f.durationsPath)); {
		case share.Known == 0:
			fmt.Fprintf(stderr, "suite: %s, balanced by count: %s holds no duration for them ('suite durations' records them)\n", share, rel)
		default:
			fmt.Fprintf(stderr, "suite: %s, predicted %s of test time (shards: %s)\n",
				share, share.Loads[sh.Index-1].Round(time.Millisecond), formatLoads(share.Loads))
			if n := share.Selected - share.Known; n > 0 {
				fmt.Fprintf(stderr, "suite: %d of %d selected tests have no duration in %s and count as the mean of the others ('suite durations' records them)\n",
					n, share.Selected, rel)
			}
		}
		if len(actions) == 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "suite: %s\nsuite: 0 passed, 0 failed, 0 skipped\n", share)
			return nil // an empty shard is not an error: there were fewer tests than machines
		}
	}
	if replay {
		sched.ReorderLike(actions, history.LastOrder())
	} else {
		sched.Order(actions, order, seed, history)
	}
	if f.ff {
		sched.FailedFirst(actions, history.LastFailed())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal stays in this buffered channel, to tell the exit
	// code (130 for SIGINT, 143 for SIGTERM) once the run has stopped.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// The remote cache: --remote-cache, else the workspace's, else the
	// executor's own, as in Bazel, so that --remote-executor alone finds
	// the results it executed before.
	remoteURL := s.graph.Config.RemoteCache
	if f.remoteCache != "" {
		remoteURL = f.remoteCache
	}
	if remoteURL == "" {
		remoteURL = f.remoteExecutor
	}
	var remote cache.Remote
	if remoteURL != "" {
		if remote, err = cache.OpenRemote(remoteURL, cache.RemoteOptions{}); err != nil {
			return invalid("remote cache: %v", err)
		}
	}
	upload := f.remoteUpload || s.graph.Config.RemoteUpload
	for _, kv := range f.remoteExecProps {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return invalid("--remote-exec-property %q: want KEY=VALUE", kv)
		}
	}
	res, err := s.openResults(f.remoteExecProps...)
	var rc *sched.ResultCache
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: cache unavailable, every test runs: %v\n", err)
		if remote != nil {
			remote.Close()
		}
	} else {
		tiered := cache.NewTiered(res.store, remote, upload)
		tiered.SetExecutorCache(remote != nil && remoteURL == f.remoteExecutor)
		defer tiered.Close()
		rc = &sched.ResultCache{Keyer: res.keyer, Store: tiered, Index: res.index, History: history,
			NoLookup: f.noCache, Ctx: ctx}
	}

	stdout := cmd.OutOrStdout()
	if f.dryRun {
		plan := sched.MakePlan(actions, jobs, rc, history)
		if f.jsonOut != "" {
			if err := report.WritePlanJSON(f.jsonOut, plan, budget); err != nil {
				return invalid("--json: %v", err)
			}
		}
		if share != nil {
			fmt.Fprintf(stdout, "suite: %s\n", share)
		}
		return report.WritePlan(stdout, plan, budget)
	}

	if err := os.MkdirAll(outBase, 0o755); err != nil {
		return &exitError{exitInternal, err}
	}
	scratch, err := os.MkdirTemp(sandboxBase(f.sandboxBase), "suite-run-")
	if err != nil {
		return &exitError{exitInternal, err}
	}
	defer os.RemoveAll(scratch)

	quarantined := quarantineOf(s.graph.Config, actions)
	var handlers []report.Handler
	var closers []report.Closer
	term := report.NewTerminal(stdout, isTerminal(stdout), f.output, s.cwd, nil)
	term.Quarantined = quarantined
	recorder := report.NewRecorder(root, selectionText(args, s.cwdPkg), marksOf(actions), history)
	handlers = append(handlers, term, recorder)
	if f.jsonOut != "" {
		j, err := report.NewJSONLines(f.jsonOut)
		if err != nil {
			return invalid("--json: %v", err)
		}
		j.Quarantined = quarantined
		closers = append(closers, j)
	}
	if f.junit != "" {
		ju := report.NewJUnit(f.junit)
		ju.Quarantined = quarantined
		closers = append(closers, ju)
	}
	if f.profile != "" {
		closers = append(closers, report.NewProfile(f.profile))
	}
	for _, c := range closers {
		handlers = append(handlers, c)
	}

	policy := newSandboxPolicy(s.graph.Config)
	for _, line := range policy.relaxations(actions) {
		fmt.Fprintf(cmd.ErrOrStderr(), "suite: %s\n", line)
	}
	var ex sched.Executor = &sched.SandboxExecutor{
		Workspace: root, WorkspaceName: s.graph.Config.Name, OutputBase: outBase,
		ScratchBase: scratch, Grace: f.grace,
		Writable: policy.writable, Readable: policy.readable, Hide: policy.hide, Home: policy.home,
		// Tracing every lookup costs about a tenth of a go test's time; a
		// test that passes has nothing to name, so strict tests are traced
		// once they have failed (docs/TRACING.md).
		TraceLabels: history.LastFailed(),
	}
	if f.remoteExecutor != "" {
		if rc == nil {
			return &exitError{exitInternal, errors.New("remote execution needs the local cache to compute action keys")}
		}
		rex, err := remoteexec.New(f.remoteExecutor, remoteexec.Options{Keys: rc, OutputBase: outBase, NoCacheLookup: f.noCache})
		if err != nil {
			return invalid("--remote-executor: %v", err)
		}
		defer rex.Close()
		ex = tracedLocally{remote: rex.WithLocalFallback(ex), local: ex}
	}
	end := sched.Run(ctx, actions, ex, sched.Options{
		Jobs: jobs, Seed: seed, Order: order, FailFast: f.failFast, Suite: suiteName,
		Budget: budget, Selected: countTests(actions), History: history, Cache: rc, Share: share,
		Quarantined: quarantined,
	}, report.Fan(handlers...))

	if res != nil {
		if err := res.save(); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: recording cache state: %v\n", err)
		}
		if err := res.store.MaybeTrim(); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: trimming the cache: %v\n", err)
		}
	}

	if err := history.Save(); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: recording history: %v\n", err)
	}
	for _, c := range closers {
		if err := c.Close(); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: %v\n", err)
		}
	}
	// Every run keeps its record, so that 'suite report' can draw it later.
	if err := recorder.Record().Save(filepath.Join(outBase, report.LastRunFile)); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: recording the run for 'suite report': %v\n", err)
	}
	if f.html != "" {
		if err := report.WriteHTMLFile(f.html, recorder.Record()); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "suite: warning: --html: %v\n", err)
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "suite: report written to %s\n", f.html)
		}
	}
	switch {
	case end.Aborted != nil:
		// Checked before the interrupt: the abort cancelled what ran.
		return &exitError{exitInternal, end.Aborted}
	case end.Interrupted:
		code := exitInterrupted
		if len(sigs) > 0 && <-sigs == syscall.SIGTERM {
			code = 128 + int(syscall.SIGTERM)
		}
		return &exitError{code, errors.New("")}
	case end.Counts.Failed+end.Counts.Timeout > 0:
		return &exitError{exitTestsFailed, errors.New("")}
	}
	return nil
}

// chooseSeed interprets --seed. "last" reuses the previous run's seed and
// asks for its order to be replayed.
func chooseSeed(flag string, h *sched.History) (seed int64, replay bool, err error) {
	switch flag {
	case "random", "":
		var b [8]byte
		rand.Read(b[:])
		return int64(binary.LittleEndian.Uint64(b[:]) >> 33), false, nil
	case "last":
		s, ok := h.LastSeed()
		if !ok {
			return 0, false, invalid("--seed last: no previous run recorded in this workspace")
		}
		return s, true, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(flag), 10, 64)
	if err != nil || n < 0 {
		return 0, false, invalid("--seed %q: want a non-negative number, \"last\" or \"random\"", flag)
	}
	return n, false, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func suiteMarks(s *rules.Suite) string {
	if s == nil {
		return ""
	}
	return s.Marks.String()
}

func formatLoads(ls []time.Duration) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.Round(time.Millisecond).String())
	}
	return strings.Join(parts, " ")
}

// quarantineOf says which of the run's tests are quarantined, by label:
// listed in WORKSPACE's quarantine, or marked "quarantine".
func quarantineOf(c rules.Config, actions []*action.Action) func(string) bool {
	q := map[string]bool{}
	for _, a := range actions {
		if c.Quarantined(a.Test) {
			q[a.Label.String()] = true
		}
	}
	return func(label string) bool { return q[label] }
}

// marksOf maps each test's label to its marks.
func marksOf(actions []*action.Action) map[string][]string {
	m := map[string][]string{}
	for _, a := range actions {
		m[a.Label.String()] = a.Test.Marks
	}
	return m
}

// selectionText is what the report calls the selection: the suite and
// patterns as given, or the default pattern they stand for.
func selectionText(args []string, cwdPkg string) string {
	if len(args) > 0 {
		return strings.Join(args, " ")
	}
	if cwdPkg == "" {
		return "//..."
	}
	return "//" + cwdPkg + "/..."
}

func countTests(actions []*action.Action) int {
	seen := map[*rules.Test]bool{}
	for _, a := range actions {
		seen[a.Test] = true
	}
	return len(seen)
}

// sandboxBase picks where execution roots are made. Making and removing a
// few directories per test costs about 20x less on tmpfs than on a disk
// filesystem, which is most of a trivial test's overhead; Bazel offers the
// same choice as --sandbox_base=/dev/shm. A test that fills TEST_TMPDIR
// then fills memory, bounded by the tmpfs size; --sandbox-base moves it.
func sandboxBase(flag string) string {
	if flag != "" {
		return flag
	}
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// tracedLocally runs the tests with traced inputs on this machine and the
// rest on the remote executor: a remote worker holds only the declared
// inputs, and cannot say what a test read (docs/TRACING.md).
type tracedLocally struct{ remote, local sched.Executor }

func (e tracedLocally) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) sched.Outcome {
	if a.TracedInputs {
		return e.local.Execute(ctx, a, attempt, slot, seed)
	}
	return e.remote.Execute(ctx, a, attempt, slot, seed)
}
