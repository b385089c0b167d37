package reapitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// operation is one execution, owned by the server rather than by the
// stream that asked for it.
type operation struct {
	name  string
	stage atomic.Int32 // repb.ExecutionStage_Value
	done  chan struct{}
	resp  *repb.ExecuteResponse
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

// refusal is the error with which the engine declines to queue an
// action: every one under RefuseAll, else one whose platform no worker
// advertises, matched exactly as Buildbarn's scheduler does.
func (s *services) refusal(act *repb.Action, cmd *repb.Command) error {
	if s.refuseAll != "" {
		return status.Error(s.refuseCode, s.refuseAll)
	}
	if s.workers == nil {
		return nil
	}
	props := act.GetPlatform().GetProperties()
	if len(props) == 0 {
		props = cmd.GetPlatform().GetProperties()
	}
	got := map[string]string{}
	var desc []string
	for _, p := range props {
		got[p.Name] = p.Value
		desc = append(desc, fmt.Sprintf("%q: %q", p.Name, p.Value))
	}
	same := len(got) == len(s.workers) && len(props) == len(got)
	for k, v := range s.workers {
		same = same && got[k] == v
	}
	if same {
		return nil
	}
	return status.Errorf(s.refuseCode, "No workers exist for instance name prefix %q platform {%s}", s.instance, strings.Join(desc, ", "))
}

func (s *services) Execute(req *repb.ExecuteRequest, stream repb.Execution_ExecuteServer) error {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return err
	}
	if len(req.ActionDigest.GetHash()) != sha256.Size*2 {
		return status.Errorf(codes.InvalidArgument, "action digest %q is not a SHA-256", req.ActionDigest.GetHash())
	}
	s.Executes.Add(1)
	if n := s.EvictInputs.Load(); n > 0 && s.EvictInputs.CompareAndSwap(n, n-1) {
		s.evict(req.ActionDigest)
	}
	op := &operation{name: fmt.Sprintf("operations/%d-%s", s.Executes.Load(), req.ActionDigest.GetHash()[:12]), done: make(chan struct{})}
	act, cmd, missing := s.load(req.ActionDigest)
	if len(missing) > 0 {
		s.PreconditionFailures.Add(1)
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
	if err := s.refusal(act, cmd); err != nil {
		s.Refusals.Add(1)
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
	if n := s.BreakStreams.Load(); n > 0 && s.BreakStreams.CompareAndSwap(n, n-1) {
		op.stage.Store(int32(repb.ExecutionStage_EXECUTING))
		if err := stream.Send(op.operation()); err != nil {
			return err
		}
		return status.Error(codes.Unavailable, "connection reset by a load balancer")
	}
	return s.follow(op, stream)
}

func (s *services) WaitExecution(req *repb.WaitExecutionRequest, stream repb.Execution_WaitExecutionServer) error {
	s.Waits.Add(1)
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

func (s *Server) follow(op *operation, stream interface {
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
func (s *Server) evict(ad *repb.Digest) {
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
func (s *Server) load(ad *repb.Digest) (*repb.Action, *repb.Command, []*repb.Digest) {
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
func (s *Server) run(ad *repb.Digest, act *repb.Action, cmd *repb.Command) *repb.ExecuteResponse {
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
	env = append(env, envOverrides(act, cmd)...) // later entries win in exec
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

func (s *Server) materialize(d *repb.Digest, dst string) error {
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
	// Symlinks last, as Buildbarn makes them: with their text as sent.
	for _, l := range dir.Symlinks {
		if err := os.Symlink(l.Target, filepath.Join(dst, l.Name)); err != nil {
			return err
		}
	}
	return nil
}

// storeDir stores the files under path and returns its Directory, adding
// every subfolder's Directory to tree.Children.
func (s *Server) storeDir(path string, tree *repb.Tree) *repb.Directory {
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

// envOverrides is the environment the EnvOverridesProperty asks for, from
// the Action's platform (REAPI 2.2) or else the Command's.
func envOverrides(act *repb.Action, cmd *repb.Command) []string {
	props := act.GetPlatform().GetProperties()
	if len(props) == 0 {
		props = cmd.GetPlatform().GetProperties()
	}
	var env []string
	for _, p := range props {
		if p.Name != EnvOverridesProperty {
			continue
		}
		for _, kv := range strings.Split(p.Value, ",") {
			if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
				env = append(env, kv)
			}
		}
	}
	return env
}
