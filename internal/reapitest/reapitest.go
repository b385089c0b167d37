// Package reapitest runs a REAPI v2 remote execution engine inside a test
// process, as net/http/httptest runs an HTTP server: Start serves
// Capabilities, ContentAddressableStorage, ByteStream, ActionCache and
// Execution on a loopback port until the test ends, and URL is what a
// client dials.
//
// The Server stands in for Buildbarn, BuildBuddy and NativeLink, none of
// which installs on a development machine. It is built on the generated
// service interfaces, speaks real gRPC, and executes for real: it
// materializes the input root from its CAS into a fresh folder, runs argv
// with exactly the Command's environment in the working directory,
// enforces Action.timeout by killing the process group, and stores the
// outputs in its CAS.
//
// It checks what the real engines check: the instance name on every call
// and resource name; platform properties and environment variables sorted
// by name and output paths sorted, or INVALID_ARGUMENT; digests of every
// uploaded blob; batch requests within max_batch_total_size_bytes; and a
// missing Action, Command, Directory or file answered, as
// remote_execution.proto says, with FAILED_PRECONDITION and a
// PreconditionFailure violation of type MISSING per blob. Like Buildbarn it
// does not consult its action cache inside Execute, and it caches clean
// results of actions without do_not_cache.
//
// A client under test sees what a user of a real engine would; the tests
// read the Server's counters and arm its faults to see the rest.
package reapitest

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// DefaultBatchLimit is max_batch_total_size_bytes when Options.BatchLimit
// is 0: 4 MiB, gRPC's default message limit, which the engines advertise.
const DefaultBatchLimit = 4 << 20

// EnvOverridesProperty is the platform property whose value,
// "NAME=VALUE,NAME=VALUE", the Server adds to the environment of the
// action it runs, as BuildBuddy's executors do with the property of the
// same name. It makes a platform property observable from inside a test.
const EnvOverridesProperty = "env-overrides"

// Options configures Start. The zero value is an executing engine with the
// empty instance name.
type Options struct {
	// Instance is the instance name every call and resource name must
	// carry; it is the URL's path.
	Instance string
	// BatchLimit is max_batch_total_size_bytes; DefaultBatchLimit when 0.
	BatchLimit int64
	// NoExec makes a cache-only server: Capabilities says exec_enabled is
	// false (Execute still works, as a misconfigured client would find).
	NoExec bool
	// WorkerPlatform, when set, is the one platform the engine's workers
	// advertise. As in Buildbarn, an action runs only when its platform is
	// exactly this one (no property more or less); any other is refused
	// with RefuseCode and "No workers exist for instance name prefix ...
	// platform ...".
	WorkerPlatform map[string]string
	// RefuseCode is the gRPC code of refusals: FAILED_PRECONDITION when
	// unset, as current Buildbarn answers; older Buildbarn said UNAVAILABLE.
	RefuseCode codes.Code
	// RefuseAll refuses every Execute with RefuseCode and this message, as
	// an engine does to a client without permission (PERMISSION_DENIED,
	// then GetCapabilities too) or over its quota (RESOURCE_EXHAUSTED).
	RefuseAll string
	// WorkDir holds a folder per running action. Start uses t.TempDir()
	// when empty; NewServer makes a temporary folder and Close removes it.
	WorkDir string
}

// Server is a running stand-in. Its counters say what clients did; its
// faults, armed by storing a count, each fire that many times.
type Server struct {
	// Faults to inject, each counted down as it fires.
	BreakStreams atomic.Int32 // Execute streams cut after the EXECUTING update
	EvictInputs  atomic.Int32 // input files dropped from the CAS as Execute begins

	// What clients did.
	Executes             atomic.Int32 // Execute calls
	Waits                atomic.Int32 // WaitExecution calls
	PreconditionFailures atomic.Int32 // Execute calls answered FAILED_PRECONDITION
	Refusals             atomic.Int32 // Execute calls refused (WorkerPlatform, RefuseAll)
	StreamWrites         atomic.Int32 // ByteStream Write calls
	StreamReads          atomic.Int32 // ByteStream Read calls

	lastCommand atomic.Pointer[repb.Command]

	instance    string
	batchLimit  int64
	noExec      bool
	workers     map[string]string
	refuseCode  codes.Code
	refuseAll   string
	execDir     string
	ownsExecDir bool
	url         string
	grpc        *grpc.Server
	stopOnce    sync.Once

	mu  sync.Mutex
	cas map[string][]byte
	ac  map[string]*repb.ActionResult
	ops map[string]*operation
}

// Start serves a new stand-in on a free loopback port until t ends.
// Actions run in folders under t.TempDir().
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.WorkDir == "" {
		o.WorkDir = t.TempDir()
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatalf("reapitest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer serves a new stand-in on a free loopback port until Close. It
// is Start for callers without a testing.TB, such as a testscript command.
func NewServer(o Options) (*Server, error) {
	s := &Server{instance: o.Instance, batchLimit: o.BatchLimit, noExec: o.NoExec, execDir: o.WorkDir,
		workers: o.WorkerPlatform, refuseCode: o.RefuseCode, refuseAll: o.RefuseAll,
		cas: map[string][]byte{}, ac: map[string]*repb.ActionResult{}, ops: map[string]*operation{}}
	if s.refuseCode == codes.OK {
		s.refuseCode = codes.FailedPrecondition
	}
	if s.batchLimit == 0 {
		s.batchLimit = DefaultBatchLimit
	}
	if s.execDir == "" {
		dir, err := os.MkdirTemp("", "reapitest-")
		if err != nil {
			return nil, err
		}
		s.execDir, s.ownsExecDir = dir, true
	} else if err := os.MkdirAll(s.execDir, 0o755); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if s.ownsExecDir {
			os.RemoveAll(s.execDir)
		}
		return nil, err
	}
	s.grpc = grpc.NewServer()
	svc := &services{Server: s}
	repb.RegisterCapabilitiesServer(s.grpc, svc)
	repb.RegisterActionCacheServer(s.grpc, svc)
	repb.RegisterContentAddressableStorageServer(s.grpc, svc)
	repb.RegisterExecutionServer(s.grpc, svc)
	bspb.RegisterByteStreamServer(s.grpc, svc)
	go s.grpc.Serve(l)
	s.url = "grpc://" + l.Addr().String()
	if o.Instance != "" {
		s.url += "/" + o.Instance
	}
	return s, nil
}

// URL is grpc://127.0.0.1:PORT, followed by /INSTANCE when there is one.
func (s *Server) URL() string { return s.url }

// Close stops serving at once, cutting open streams, and removes the
// folder NewServer made when Options.WorkDir was empty. It is safe to call
// more than once; Start arranges a call when the test ends.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		s.grpc.Stop()
		if s.ownsExecDir {
			os.RemoveAll(s.execDir)
		}
	})
}

// LastCommand is the Command of the last action that passed validation
// in Execute, or nil.
func (s *Server) LastCommand() *repb.Command { return s.lastCommand.Load() }

// services implements the REAPI and ByteStream services on a Server; it is
// separate so the Server's exported methods are the test's API, not the
// gRPC handlers.
type services struct {
	repb.UnimplementedCapabilitiesServer
	repb.UnimplementedActionCacheServer
	repb.UnimplementedContentAddressableStorageServer
	repb.UnimplementedExecutionServer
	bspb.UnimplementedByteStreamServer
	*Server
}
