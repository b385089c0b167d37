// Package remoteexec runs test actions on a REAPI v2 execution service
// (Buildbarn, BuildBuddy, NativeLink) instead of the local sandbox. Its
// Executor satisfies sched.Executor: for each attempt it uploads what the
// server lacks, asks the server's action cache, executes, and brings the
// log, the XML and the undeclared outputs back to the same places on local
// disk as the sandbox would, so the scheduler, the result cache and the
// reports cannot tell the difference. See README.md for the lifecycle.
package remoteexec

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cache"
	"github.com/suite-run/suite/internal/sched"
)

// DefaultLogLimit is the most log bytes kept per attempt when
// Options.LogLimit is 0: the sandbox's limit, so a log is the same size
// whichever executor ran the test.
const DefaultLogLimit = 16 << 20

// KeySource computes an action's canonical key. *action.Keyer is one;
// *sched.ResultCache is another that computes each key once per run.
type KeySource interface {
	Key(a *action.Action) (*action.Key, error)
}

// Options configures New.
type Options struct {
	// Keys gives each action's canonical key: its input tree and the
	// Command the remote one is built from. Required.
	Keys KeySource
	// OutputBase is the workspace's .suite folder; logs, XML and outputs
	// go to OutputBase/<action.LogDir()>, as with sched.SandboxExecutor.
	OutputBase string
	// LogLimit bounds the kept log (its tail is kept); DefaultLogLimit when 0.
	LogLimit int64

	// Timeout bounds each cache request (one FindMissingBlobs, one blob
	// transfer, one GetActionResult); cache.DefaultRemoteTimeout when 0.
	// Execution itself is bounded only by the Action's timeout, which the
	// server enforces, and by the caller's context.
	Timeout time.Duration
	// Headers, InstanceName and RootCAs are as in cache.RemoteOptions; the
	// headers of cache.RemoteHeadersEnv are added beneath Headers.
	Headers      map[string]string
	InstanceName string
	RootCAs      *x509.CertPool
	// NoCacheLookup (--no-cache) runs every action, even one the server's
	// action cache has a pass for.
	NoCacheLookup bool
}

// Executor sends actions to a REAPI Execution service. It is safe for
// concurrent use; Close it when the run is over.
type Executor struct {
	o        Options
	ep       *endpoint
	conn     *grpc.ClientConn
	exec     repb.ExecutionClient
	caps     repb.CapabilitiesClient
	cas      cache.Remote // CAS, ByteStream and ActionCache of the same server
	describe string

	mu            sync.Mutex
	checked       bool
	legacyOutputs bool // the server speaks REAPI < 2.1: no output_paths

}

// New returns an executor for the server at rawURL,
// grpc://HOST:PORT[/INSTANCE] or grpcs://…. Nothing is contacted yet; the
// first Execute asks the server's capabilities.
func New(rawURL string, o Options) (*Executor, error) {
	if o.Keys == nil {
		return nil, errors.New("remote executor: Options.Keys is required")
	}
	if o.OutputBase == "" {
		return nil, errors.New("remote executor: Options.OutputBase is required")
	}
	if o.LogLimit <= 0 {
		o.LogLimit = DefaultLogLimit
	}
	if o.Timeout <= 0 {
		o.Timeout = cache.DefaultRemoteTimeout
	}
	ep, err := parseEndpoint(rawURL, o)
	if err != nil {
		return nil, err
	}
	cas, err := cache.OpenRemote(rawURL, cache.RemoteOptions{Timeout: o.Timeout, Headers: o.Headers, InstanceName: ep.instance, RootCAs: o.RootCAs})
	if err != nil {
		return nil, fmt.Errorf("remote executor: %w", err)
	}
	conn, err := ep.dial(o)
	if err != nil {
		cas.Close()
		return nil, err
	}
	return &Executor{o: o, ep: ep, conn: conn, exec: repb.NewExecutionClient(conn),
		caps: repb.NewCapabilitiesClient(conn), cas: cas, describe: ep.url.Redacted()}, nil
}

// Close releases the connections.
func (e *Executor) Close() error {
	return errors.Join(e.conn.Close(), e.cas.Close())
}

// String is the executor's URL, any password hidden.
func (e *Executor) String() string { return e.describe }

// WithLocalFallback returns an executor that sends actions to e, unless e's
// server, asked once when the first action that missed the cache needs it
// (so a run of cache hits never contacts it), cannot run them: then every
// action runs on local instead, with the reason as a warning, as Bazel's
// --remote_local_fallback does. A server lost mid-run, or one that
// refuses an action, is an infrastructure error (Outcome.Infra) that stops
// the run: see README.md.
func (e *Executor) WithLocalFallback(local sched.Executor) sched.Executor {
	return &fallback{remote: e, local: local}
}

type fallback struct {
	remote *Executor
	local  sched.Executor
	once   sync.Once
	err    error
}

func (f *fallback) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) sched.Outcome {
	f.once.Do(func() { f.err = f.remote.ready(ctx) })
	if f.err == nil {
		return f.remote.Execute(ctx, a, attempt, slot, seed)
	}
	var r *refusedError
	if errors.As(f.err, &r) && (r.code == codes.PermissionDenied || r.code == codes.Unauthenticated) {
		// A server that is there but refuses these credentials is a
		// configuration to fix, not an outage to run around.
		return sched.Outcome{Status: sched.Interrupted, ExitCode: -1, Infra: infraError(f.err, nil)}
	}
	o := f.local.Execute(ctx, a, attempt, slot, seed)
	if ctx.Err() == nil {
		o.Warnings = append(o.Warnings, fmt.Sprintf("%v; running tests locally", f.err))
	}
	return o
}

// ready asks the server's capabilities once: it must execute, and hash
// with SHA-256, or it cannot run suite's actions. A failed ask is asked
// again by the next action.
func (e *Executor) ready(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.checked {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	sc, err := e.caps.GetCapabilities(ctx, &repb.GetCapabilitiesRequest{InstanceName: e.ep.instance})
	if err != nil {
		return &serverError{&refusedError{status.Code(err), e.fail("GetCapabilities", err)}}
	}
	ec := sc.GetExecutionCapabilities()
	if ec == nil || !ec.GetExecEnabled() {
		return &serverError{fmt.Errorf("remote executor %s: the server does not execute (execution_capabilities.exec_enabled is false)", e.describe)}
	}
	fns := ec.GetDigestFunctions()
	if f := ec.GetDigestFunction(); f != repb.DigestFunction_UNKNOWN {
		fns = append(fns, f)
	}
	if len(fns) > 0 && !slices.Contains(fns, repb.DigestFunction_SHA256) {
		return &serverError{fmt.Errorf("remote executor %s: the server executes with digest functions %v, not SHA256", e.describe, fns)}
	}
	if v := sc.GetHighApiVersion(); v != nil && (v.Major < 2 || v.Major == 2 && v.Minor < 1) {
		e.legacyOutputs = true
	}
	e.checked = true
	return nil
}

// serverError says the executor cannot be used at all (unreachable, or it
// does not execute): the same error for every action, so warned once.
type serverError struct{ err error }

func (e *serverError) Error() string { return e.err.Error() }
func (e *serverError) Unwrap() error { return e.err }

// fail names the call and the server, with secrets hidden.
func (e *Executor) fail(call string, err error) error {
	return fmt.Errorf("%s %s: %s", call, e.describe, e.ep.redact(err.Error()))
}

// attemptFiles are the local places of one attempt's results.
type attemptFiles struct {
	dir, log, xml, outputs string
}

// prepare makes the action's testlogs folder as SandboxExecutor does:
// earlier attempts' logs are kept as test_attempts/attempt_N.log.
func (e *Executor) prepare(a *action.Action, attempt int) (attemptFiles, error) {
	dir := filepath.Join(e.o.OutputBase, filepath.FromSlash(a.LogDir()))
	f := attemptFiles{dir: dir, log: filepath.Join(dir, "test.log"), xml: filepath.Join(dir, "test.xml"), outputs: filepath.Join(dir, "outputs")}
	if attempt > 1 {
		prev := filepath.Join(dir, "test_attempts")
		_ = os.MkdirAll(prev, 0o755)
		_ = os.Rename(f.log, filepath.Join(prev, fmt.Sprintf("attempt_%d.log", attempt-1)))
	} else {
		_ = os.RemoveAll(dir)
	}
	_ = os.Remove(f.xml)
	_ = os.RemoveAll(f.outputs)
	return f, os.MkdirAll(dir, 0o755)
}

// Execute runs one attempt of a on the remote executor.
func (e *Executor) Execute(ctx context.Context, a *action.Action, attempt, slot int, seed int64) sched.Outcome {
	start := time.Now()
	files, err := e.prepare(a, attempt)
	if err != nil {
		return sched.Outcome{Status: sched.Failed, ExitCode: -1, Warnings: []string{err.Error()}}
	}
	o, err := e.execute(ctx, a, files, slot, seed)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted while the remote executor ran the test (%v)", err)
			_ = os.WriteFile(files.log, []byte("suite: remote execution: "+err.Error()+"\n"), 0o644)
			return sched.Outcome{Status: sched.Interrupted, ExitCode: -1, Duration: time.Since(start), LogPath: files.log, Warnings: o.Warnings}
		}
		// The test did not run, or its result could not be brought back:
		// not a result of the test, neither pass nor failure. The run
		// stops and says what to change.
		var platform *repb.Platform
		if key, kerr := e.o.Keys.Key(a); kerr == nil {
			platform = key.Command.GetPlatform()
		}
		err = infraError(err, platform)
		_ = os.WriteFile(files.log, []byte("suite: "+err.Error()+"\n"), 0o644)
		return sched.Outcome{Status: sched.Interrupted, ExitCode: -1, Duration: time.Since(start), LogPath: files.log,
			Warnings: o.Warnings, Infra: err}
	}
	return o
}

func (e *Executor) execute(ctx context.Context, a *action.Action, files attemptFiles, slot int, seed int64) (sched.Outcome, error) {
	var o sched.Outcome
	key, err := e.o.Keys.Key(a)
	if err != nil {
		return o, err
	}
	if err := checkRunDirFree(key); err != nil {
		return o, err
	}
	if err := e.ready(ctx); err != nil {
		return o, err
	}
	e.mu.Lock()
	legacy := e.legacyOutputs
	e.mu.Unlock()
	ra, err := buildRemoteAction(a, key, slot, seed, legacy)
	if err != nil {
		return o, err
	}
	blobs := newBlobSet(key, ra)
	if err := e.uploadMissing(ctx, blobs); err != nil {
		return o, err
	}

	// Buildbarn does not consult its action cache inside Execute, so ask
	// first; a pass another run left there is a pass.
	if a.Cacheable && !e.o.NoCacheLookup {
		r, err := e.cas.GetActionResult(ctx, ra.digest)
		switch {
		case err == nil && r.GetExitCode() == 0:
			o, ferr := e.collect(ctx, a, files, &repb.ExecuteResponse{Result: r, CachedResult: true})
			if ferr == nil {
				return o, nil
			}
			// A cache entry whose blobs are gone is a miss: run it.
		case err != nil && !cache.IsMiss(err) && ctx.Err() == nil:
			o.Warnings = []string{fmt.Sprintf("remote executor: action cache lookup failed, executing instead: %v", err)}
		}
	}

	resp, err := e.run(ctx, ra, blobs, e.o.NoCacheLookup)
	if err != nil {
		return o, err
	}
	out, err := e.collect(ctx, a, files, resp)
	if err != nil && resp.GetCachedResult() && ctx.Err() == nil {
		// The server answered from its cache but the blobs are gone:
		// run it for real.
		if resp, err = e.run(ctx, ra, blobs, true); err != nil {
			return o, err
		}
		out, err = e.collect(ctx, a, files, resp)
	}
	out.Warnings = append(o.Warnings, out.Warnings...)
	return out, err
}

// checkRunDirFree refuses an input root that already has runDir at its
// top: the test's scratch folders would mix with inputs.
func checkRunDirFree(key *action.Key) error {
	root := key.Dirs[key.Action.GetInputRootDigest().GetHash()]
	for _, d := range root.GetDirectories() {
		if d.Name == runDir {
			return fmt.Errorf("the input root has a folder %s, which remote execution keeps for the test's scratch files; rename it", runDir)
		}
	}
	for _, f := range root.GetFiles() {
		if f.Name == runDir {
			return fmt.Errorf("the input root has a file %s, which remote execution keeps for the test's scratch files; rename it", runDir)
		}
	}
	return nil
}
