package remoteexec

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	smpb "github.com/bazelbuild/remote-apis/build/bazel/semver"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// execServer stands in for a REAPI v2 execution engine — Buildbarn,
// BuildBuddy or NativeLink — none of which installs on this machine. It
// serves Capabilities, ContentAddressableStorage, ByteStream, ActionCache
// and Execution on the generated service interfaces, over real gRPC on a
// loopback port, and executes for real: it materializes the input root
// from its CAS into a fresh folder, runs argv with exactly the Command's
// environment in the working directory, enforces Action.timeout by killing
// the process group, and stores the outputs in its CAS.
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
type execServer struct {
	repb.UnimplementedCapabilitiesServer
	repb.UnimplementedActionCacheServer
	repb.UnimplementedContentAddressableStorageServer
	repb.UnimplementedExecutionServer
	bspb.UnimplementedByteStreamServer

	instance   string
	batchLimit int64
	execDir    string
	noExec     bool
	url        string

	mu  sync.Mutex
	cas map[string][]byte
	ac  map[string]*repb.ActionResult
	ops map[string]*operation

	// Faults to inject, each counted down as it fires.
	breakStreams atomic.Int32 // Execute streams cut after the EXECUTING update
	evictInputs  atomic.Int32 // input files dropped from the CAS as Execute begins
	// What clients did.
	executes, waits, preconditionFailures, streamWrites, streamReads atomic.Int32
	lastCommand                                                      atomic.Pointer[repb.Command]
}

type operation struct {
	name  string
	stage atomic.Int32 // repb.ExecutionStage_Value
	done  chan struct{}
	resp  *repb.ExecuteResponse
}

type serverOptions struct {
	instance   string
	batchLimit int64
	noExec     bool
}

func startExecServer(t *testing.T, o serverOptions) *execServer {
	t.Helper()
	s := &execServer{instance: o.instance, batchLimit: o.batchLimit, noExec: o.noExec, execDir: t.TempDir(),
		cas: map[string][]byte{}, ac: map[string]*repb.ActionResult{}, ops: map[string]*operation{}}
	if s.batchLimit == 0 {
		s.batchLimit = 4 << 20
	}
	srv := grpc.NewServer()
	repb.RegisterCapabilitiesServer(srv, s)
	repb.RegisterActionCacheServer(srv, s)
	repb.RegisterContentAddressableStorageServer(srv, s)
	repb.RegisterExecutionServer(srv, s)
	bspb.RegisterByteStreamServer(srv, s)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	s.url = "grpc://" + l.Addr().String()
	if o.instance != "" {
		s.url += "/" + o.instance
	}
	return s
}

func (s *execServer) checkInstance(name string) error {
	if name != s.instance {
		return status.Errorf(codes.InvalidArgument, "unknown instance %q", name)
	}
	return nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *execServer) put(b []byte) *repb.Digest {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashOf(b)
	s.cas[h] = b
	return &repb.Digest{Hash: h, SizeBytes: int64(len(b))}
}

func (s *execServer) get(d *repb.Digest) ([]byte, bool) {
	if d.GetSizeBytes() == 0 {
		return nil, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.cas[d.GetHash()]
	return b, ok
}

func (s *execServer) GetCapabilities(_ context.Context, req *repb.GetCapabilitiesRequest) (*repb.ServerCapabilities, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	return &repb.ServerCapabilities{
		CacheCapabilities: &repb.CacheCapabilities{
			DigestFunctions:               []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
			MaxBatchTotalSizeBytes:        s.batchLimit,
			ActionCacheUpdateCapabilities: &repb.ActionCacheUpdateCapabilities{UpdateEnabled: true},
		},
		ExecutionCapabilities: &repb.ExecutionCapabilities{
			DigestFunction:  repb.DigestFunction_SHA256,
			DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
			ExecEnabled:     !s.noExec,
		},
		LowApiVersion:  &smpb.SemVer{Major: 2},
		HighApiVersion: &smpb.SemVer{Major: 2, Minor: 3},
	}, nil
}

func (s *execServer) GetActionResult(_ context.Context, req *repb.GetActionResultRequest) (*repb.ActionResult, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.ac[req.ActionDigest.GetHash()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such action result")
	}
	return r, nil
}

func (s *execServer) UpdateActionResult(_ context.Context, req *repb.UpdateActionResultRequest) (*repb.ActionResult, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ac[req.ActionDigest.GetHash()] = req.ActionResult
	return req.ActionResult, nil
}

func (s *execServer) FindMissingBlobs(_ context.Context, req *repb.FindMissingBlobsRequest) (*repb.FindMissingBlobsResponse, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	resp := &repb.FindMissingBlobsResponse{}
	for _, d := range req.BlobDigests {
		if _, ok := s.get(d); !ok {
			resp.MissingBlobDigests = append(resp.MissingBlobDigests, d)
		}
	}
	return resp, nil
}

func (s *execServer) BatchUpdateBlobs(_ context.Context, req *repb.BatchUpdateBlobsRequest) (*repb.BatchUpdateBlobsResponse, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	if int64(proto.Size(req)) > s.batchLimit {
		return nil, status.Errorf(codes.InvalidArgument, "batch of %d bytes exceeds max_batch_total_size_bytes %d", proto.Size(req), s.batchLimit)
	}
	resp := &repb.BatchUpdateBlobsResponse{}
	for _, r := range req.Requests {
		st := &spb.Status{}
		if hashOf(r.Data) != r.Digest.GetHash() || int64(len(r.Data)) != r.Digest.GetSizeBytes() {
			st = &spb.Status{Code: int32(codes.InvalidArgument), Message: "digest mismatch"}
		} else {
			s.put(r.Data)
		}
		resp.Responses = append(resp.Responses, &repb.BatchUpdateBlobsResponse_Response{Digest: r.Digest, Status: st})
	}
	return resp, nil
}

func (s *execServer) BatchReadBlobs(_ context.Context, req *repb.BatchReadBlobsRequest) (*repb.BatchReadBlobsResponse, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	resp := &repb.BatchReadBlobsResponse{}
	var total int64
	for _, d := range req.Digests {
		total += d.GetSizeBytes()
		r := &repb.BatchReadBlobsResponse_Response{Digest: d, Status: &spb.Status{}}
		if b, ok := s.get(d); ok {
			r.Data = b
		} else {
			r.Status = &spb.Status{Code: int32(codes.NotFound), Message: "not found"}
		}
		resp.Responses = append(resp.Responses, r)
	}
	if total > s.batchLimit {
		return nil, status.Errorf(codes.InvalidArgument, "batch of %d bytes exceeds max_batch_total_size_bytes", total)
	}
	return resp, nil
}

// resource splits a ByteStream resource name after the instance.
func (s *execServer) resource(name string) (string, error) {
	prefix := ""
	if s.instance != "" {
		prefix = s.instance + "/"
	}
	if !strings.HasPrefix(name, prefix) {
		return "", status.Errorf(codes.InvalidArgument, "resource %q is not in instance %q", name, s.instance)
	}
	return strings.TrimPrefix(name, prefix), nil
}

func (s *execServer) Read(req *bspb.ReadRequest, stream bspb.ByteStream_ReadServer) error {
	s.streamReads.Add(1)
	rest, err := s.resource(req.ResourceName)
	if err != nil {
		return err
	}
	d, ok := parseBlobSubject(rest)
	if !ok {
		return status.Errorf(codes.InvalidArgument, "bad resource name %q", req.ResourceName)
	}
	b, ok := s.get(d)
	if !ok {
		return status.Error(codes.NotFound, "not found")
	}
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		if err := stream.Send(&bspb.ReadResponse{Data: b[:n]}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (s *execServer) Write(stream bspb.ByteStream_WriteServer) error {
	s.streamWrites.Add(1)
	var buf bytes.Buffer
	var want *repb.Digest
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if want == nil {
			rest, err := s.resource(req.ResourceName)
			if err != nil {
				return err
			}
			parts := strings.SplitN(rest, "/", 3) // uploads/{uuid}/blobs/{hash}/{size}
			if len(parts) != 3 || parts[0] != "uploads" {
				return status.Errorf(codes.InvalidArgument, "bad upload resource %q", req.ResourceName)
			}
			d, ok := parseBlobSubject(parts[2])
			if !ok {
				return status.Errorf(codes.InvalidArgument, "bad upload resource %q", req.ResourceName)
			}
			want = d
		}
		if req.WriteOffset != int64(buf.Len()) {
			return status.Errorf(codes.InvalidArgument, "write_offset %d, want %d", req.WriteOffset, buf.Len())
		}
		buf.Write(req.Data)
		if req.FinishWrite {
			break
		}
	}
	if hashOf(buf.Bytes()) != want.Hash || int64(buf.Len()) != want.SizeBytes {
		return status.Error(codes.InvalidArgument, "uploaded data does not match its digest")
	}
	s.put(buf.Bytes())
	return stream.SendAndClose(&bspb.WriteResponse{CommittedSize: int64(buf.Len())})
}

func sortedBy[T any](xs []T, key func(T) string) bool {
	return sort.SliceIsSorted(xs, func(i, j int) bool { return key(xs[i]) < key(xs[j]) })
}

// validate checks the Action and Command as Buildbarn does before it
// queues them.
func validate(a *repb.Action, c *repb.Command) error {
	name := func(p *repb.Platform_Property) string { return p.Name }
	if !sortedBy(a.GetPlatform().GetProperties(), name) || !sortedBy(c.GetPlatform().GetProperties(), name) {
		return status.Error(codes.InvalidArgument, "platform properties are not sorted by name")
	}
	if !sortedBy(c.EnvironmentVariables, func(e *repb.Command_EnvironmentVariable) string { return e.Name }) {
		return status.Error(codes.InvalidArgument, "environment variables are not sorted by name")
	}
	if !sort.StringsAreSorted(c.OutputPaths) {
		return status.Error(codes.InvalidArgument, "output paths are not sorted")
	}
	if len(c.Arguments) == 0 {
		return status.Error(codes.InvalidArgument, "no arguments")
	}
	return nil
}

func (s *execServer) Execute(req *repb.ExecuteRequest, stream repb.Execution_ExecuteServer) error {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return err
	}
	s.executes.Add(1)
	if n := s.evictInputs.Load(); n > 0 && s.evictInputs.CompareAndSwap(n, n-1) {
		s.evict(req.ActionDigest)
	}
	op := &operation{name: fmt.Sprintf("operations/%d-%s", s.executes.Load(), req.ActionDigest.GetHash()[:12]), done: make(chan struct{})}
	act, cmd, missing := s.load(req.ActionDigest)
	if len(missing) > 0 {
		s.preconditionFailures.Add(1)
		pf := &errdetails.PreconditionFailure{}
		for _, d := range missing {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{
				Type: "MISSING", Subject: fmt.Sprintf("blobs/%s/%d", d.Hash, d.SizeBytes)})
		}
		detail, _ := anypb.New(pf)
		op.resp = &repb.ExecuteResponse{Status: &spb.Status{Code: int32(codes.FailedPrecondition),
			Message: fmt.Sprintf("%d blobs missing", len(missing)), Details: []*anypb.Any{detail}}}
		close(op.done)
		return stream.Send(op.operation())
	}
	if err := validate(act, cmd); err != nil {
		return err
	}
	s.lastCommand.Store(cmd)
	s.mu.Lock()
	s.ops[op.name] = op
	s.mu.Unlock()
	op.stage.Store(int32(repb.ExecutionStage_QUEUED))
	if err := stream.Send(op.operation()); err != nil {
		return err
	}
	// The execution belongs to the server, not to this stream: a client
	// that loses the stream finds it again with WaitExecution.
	go func() {
		op.stage.Store(int32(repb.ExecutionStage_EXECUTING))
		op.resp = s.run(req.ActionDigest, act, cmd)
		op.stage.Store(int32(repb.ExecutionStage_COMPLETED))
		close(op.done)
	}()
	if n := s.breakStreams.Load(); n > 0 && s.breakStreams.CompareAndSwap(n, n-1) {
		op.stage.Store(int32(repb.ExecutionStage_EXECUTING))
		if err := stream.Send(op.operation()); err != nil {
			return err
		}
		return status.Error(codes.Unavailable, "connection reset by a load balancer")
	}
	return s.follow(op, stream)
}

func (s *execServer) WaitExecution(req *repb.WaitExecutionRequest, stream repb.Execution_WaitExecutionServer) error {
	s.waits.Add(1)
	s.mu.Lock()
	op, ok := s.ops[req.Name]
	s.mu.Unlock()
	if !ok {
		return status.Errorf(codes.NotFound, "no operation %q", req.Name)
	}
	if err := stream.Send(op.operation()); err != nil {
		return err
	}
	return s.follow(op, stream)
}

func (s *execServer) follow(op *operation, stream interface {
	Send(*longrunningpb.Operation) error
	Context() context.Context
}) error {
	select {
	case <-op.done:
		return stream.Send(op.operation())
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
}

func (op *operation) operation() *longrunningpb.Operation {
	stage := repb.ExecutionStage_Value(op.stage.Load())
	lop := &longrunningpb.Operation{Name: op.name}
	select {
	case <-op.done:
		stage = repb.ExecutionStage_COMPLETED
		lop.Done = true
		lop.Result = &longrunningpb.Operation_Response{Response: mustAny(op.resp)}
	default:
	}
	lop.Metadata = mustAny(&repb.ExecuteOperationMetadata{Stage: stage})
	return lop
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// evict drops the input files of the action from the CAS, as a CAS under
// pressure does between a client's upload and the execution.
func (s *execServer) evict(ad *repb.Digest) {
	act, _, _ := s.load(ad)
	if act == nil {
		return
	}
	var walk func(d *repb.Digest)
	walk = func(d *repb.Digest) {
		b, ok := s.get(d)
		dir := &repb.Directory{}
		if !ok || proto.Unmarshal(b, dir) != nil {
			return
		}
		s.mu.Lock()
		for _, f := range dir.Files {
			delete(s.cas, f.Digest.Hash)
		}
		s.mu.Unlock()
		for _, sub := range dir.Directories {
			walk(sub.Digest)
		}
	}
	walk(act.InputRootDigest)
}

// load reads the Action and Command and lists the blobs of the action
// missing from the CAS.
func (s *execServer) load(ad *repb.Digest) (*repb.Action, *repb.Command, []*repb.Digest) {
	var missing []*repb.Digest
	b, ok := s.get(ad)
	if !ok {
		return nil, nil, []*repb.Digest{ad}
	}
	act := &repb.Action{}
	if proto.Unmarshal(b, act) != nil {
		return nil, nil, []*repb.Digest{ad}
	}
	cmd := &repb.Command{}
	if b, ok := s.get(act.CommandDigest); !ok || proto.Unmarshal(b, cmd) != nil {
		missing = append(missing, act.CommandDigest)
	}
	var walk func(d *repb.Digest)
	walk = func(d *repb.Digest) {
		b, ok := s.get(d)
		dir := &repb.Directory{}
		if !ok || proto.Unmarshal(b, dir) != nil {
			missing = append(missing, d)
			return
		}
		for _, f := range dir.Files {
			if _, ok := s.get(f.Digest); !ok {
				missing = append(missing, f.Digest)
			}
		}
		for _, sub := range dir.Directories {
			walk(sub.Digest)
		}
	}
	walk(act.InputRootDigest)
	return act, cmd, missing
}

// run executes the action as a worker does and returns its response.
func (s *execServer) run(ad *repb.Digest, act *repb.Action, cmd *repb.Command) *repb.ExecuteResponse {
	fail := func(err error) *repb.ExecuteResponse {
		return &repb.ExecuteResponse{Status: &spb.Status{Code: int32(codes.Internal), Message: err.Error()}}
	}
	root, err := os.MkdirTemp(s.execDir, "build-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(root)
	if err := s.materialize(act.InputRootDigest, root); err != nil {
		return fail(err)
	}
	outputs := cmd.OutputPaths
	if len(outputs) == 0 {
		outputs = append(append([]string(nil), cmd.OutputFiles...), cmd.OutputDirectories...)
	}
	for _, p := range outputs { // the worker creates the outputs' parents
		os.MkdirAll(filepath.Join(root, cmd.WorkingDirectory, filepath.Dir(p)), 0o755)
	}
	var env []string
	for _, e := range cmd.EnvironmentVariables {
		env = append(env, e.Name+"="+e.Value)
	}
	ctx := context.Background()
	if act.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, act.Timeout.AsDuration())
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, cmd.Arguments[0], cmd.Arguments[1:]...)
	c.Env = env
	if c.Env == nil {
		c.Env = []string{} // exactly the Command's environment, even when empty
	}
	c.Dir = filepath.Join(root, cmd.WorkingDirectory)
	c.Stdout, c.Stderr = &stdout, &stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second
	start := time.Now()
	err = c.Run()
	end := time.Now()
	r := &repb.ActionResult{
		StdoutDigest: s.put(stdout.Bytes()),
		StderrDigest: s.put(stderr.Bytes()),
		ExecutionMetadata: &repb.ExecutedActionMetadata{Worker: "stand-in",
			ExecutionStartTimestamp: timestamppb.New(start), ExecutionCompletedTimestamp: timestamppb.New(end)},
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.ExitCode = int32(exitErr.ExitCode())
	default:
		return fail(err)
	}
	for _, p := range outputs {
		full := filepath.Join(root, cmd.WorkingDirectory, p)
		fi, err := os.Lstat(full)
		switch {
		case err != nil:
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(full)
			r.OutputFiles = append(r.OutputFiles, &repb.OutputFile{Path: p, Digest: s.put(b), IsExecutable: fi.Mode()&0o111 != 0})
		case fi.IsDir():
			tree := &repb.Tree{}
			tree.Root = s.storeDir(full, tree)
			b, _ := marshal(tree)
			r.OutputDirectories = append(r.OutputDirectories, &repb.OutputDirectory{Path: p, TreeDigest: s.put(b)})
		}
	}
	resp := &repb.ExecuteResponse{Result: r, Status: &spb.Status{}}
	if ctx.Err() == context.DeadlineExceeded {
		resp.Status = &spb.Status{Code: int32(codes.DeadlineExceeded), Message: "action timed out"}
		return resp
	}
	if r.ExitCode == 0 && !act.DoNotCache {
		s.mu.Lock()
		s.ac[ad.Hash] = r
		s.mu.Unlock()
	}
	return resp
}

func (s *execServer) materialize(d *repb.Digest, dst string) error {
	b, _ := s.get(d)
	dir := &repb.Directory{}
	if err := proto.Unmarshal(b, dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, f := range dir.Files {
		data, _ := s.get(f.Digest)
		mode := os.FileMode(0o644)
		if f.IsExecutable {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dst, f.Name), data, mode); err != nil {
			return err
		}
	}
	for _, sub := range dir.Directories {
		if err := s.materialize(sub.Digest, filepath.Join(dst, sub.Name)); err != nil {
			return err
		}
	}
	return nil
}

// storeDir stores the files under path and returns its Directory, adding
// every subfolder's Directory to tree.Children.
func (s *execServer) storeDir(path string, tree *repb.Tree) *repb.Directory {
	dir := &repb.Directory{}
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		full := filepath.Join(path, e.Name())
		switch {
		case e.Type().IsRegular():
			b, _ := os.ReadFile(full)
			fi, _ := e.Info()
			dir.Files = append(dir.Files, &repb.FileNode{Name: e.Name(), Digest: s.put(b), IsExecutable: fi.Mode()&0o111 != 0})
		case e.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(full)
			dir.Symlinks = append(dir.Symlinks, &repb.SymlinkNode{Name: e.Name(), Target: target})
		case e.IsDir():
			child := s.storeDir(full, tree)
			tree.Children = append(tree.Children, child)
			b, _ := marshal(child)
			dir.Directories = append(dir.Directories, &repb.DirectoryNode{Name: e.Name(), Digest: digestOf(b)})
		}
	}
	return dir
}
