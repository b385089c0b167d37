package remoteexec

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reconnecting to an execution whose stream broke: how often, and how long
// to wait before each try (doubling from the first, up to the last). A
// server restarting behind a load balancer is back within seconds.
const (
	maxStreamBreaks = 5
	firstBackoff    = 100 * time.Millisecond
	maxBackoff      = 5 * time.Second
)

// run executes ra and returns the server's final ExecuteResponse. When the
// server says inputs are missing although they were uploaded (evicted in
// between, or a CAS whose shards disagree), the blobs it names (all of
// them if it names none) are uploaded again, unconditionally, and the
// action is executed once more.
func (e *Executor) run(ctx context.Context, ra *remoteAction, blobs blobSet, skipCacheLookup bool) (*repb.ExecuteResponse, error) {
	reuploaded := false
	for {
		resp, err := e.executeOnce(ctx, ra, skipCacheLookup)
		if err == nil {
			if m := missingBlobs(resp.GetStatus()); m != nil {
				err = m
			}
		}
		m, missing := isMissingBlobs(err)
		if !missing || reuploaded || ctx.Err() != nil {
			return resp, err
		}
		reuploaded = true
		ds := m.digests
		if len(ds) == 0 {
			ds = blobs.digests()
		}
		if err := e.upload(ctx, blobs, ds); err != nil {
			return nil, fmt.Errorf("%s; uploading them again: %w", m.msg, err)
		}
	}
}

// executeOnce calls Execute and follows the operation to its end. When the
// stream breaks it reattaches with WaitExecution under the operation's
// name; when the server has forgotten the operation (NOT_FOUND) it
// executes again, as the protocol says to.
func (e *Executor) executeOnce(ctx context.Context, ra *remoteAction, skipCacheLookup bool) (*repb.ExecuteResponse, error) {
	req := &repb.ExecuteRequest{
		InstanceName:    e.ep.instance,
		ActionDigest:    ra.digest,
		SkipCacheLookup: skipCacheLookup,
		DigestFunction:  repb.DigestFunction_SHA256,
	}
	// Cancelled on return: a stream left after its last message would
	// otherwise hold its goroutines until the connection closes.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var w watch
	stream, err := e.exec.Execute(ctx, req)
	for breaks := 0; ; breaks++ {
		var op *longrunningpb.Operation
		if err == nil {
			op, err = w.follow(stream)
		}
		if err == nil {
			return operationResponse(op)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w%s", ctx.Err(), w.stage())
		}
		st := status.Convert(err)
		if m := missingBlobs(st.Proto()); m != nil {
			return nil, m
		}
		if st.Code() == codes.DeadlineExceeded {
			// "DEADLINE_EXCEEDED: The execution timed out", said as
			// an RPC error rather than in the response.
			return &repb.ExecuteResponse{Status: st.Proto()}, nil
		}
		if !retryable(st.Code()) || breaks == maxStreamBreaks {
			return nil, &refusedError{st.Code(), fmt.Errorf("%w%s", e.fail("Execute", err), w.stage())}
		}
		if err := sleep(ctx, min(firstBackoff<<breaks, maxBackoff)); err != nil {
			return nil, err
		}
		if w.name != "" && st.Code() != codes.NotFound {
			stream, err = e.exec.WaitExecution(ctx, &repb.WaitExecutionRequest{Name: w.name})
		} else {
			w = watch{}
			stream, err = e.exec.Execute(ctx, req)
		}
	}
}

// errStreamEnded is a stream that closed before its operation was done.
var errStreamEnded = status.Error(codes.Unavailable, "the operation stream ended before the execution finished")

func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.Aborted, codes.Internal, codes.Unknown, codes.NotFound, codes.ResourceExhausted:
		return true
	}
	return false
}

// watch follows one execution's operation stream, remembering its name
// (to reattach) and its last stage (to say where a failure happened).
type watch struct {
	name  string
	last  repb.ExecutionStage_Value
	since time.Time
}

type operationStream interface {
	Recv() (*longrunningpb.Operation, error)
}

func (w *watch) follow(s operationStream) (*longrunningpb.Operation, error) {
	for {
		op, err := s.Recv()
		if err == io.EOF {
			return nil, errStreamEnded
		}
		if err != nil {
			return nil, err
		}
		if op.GetName() != "" {
			w.name = op.GetName()
		}
		md := &repb.ExecuteOperationMetadata{}
		if op.GetMetadata() != nil && op.GetMetadata().UnmarshalTo(md) == nil && md.Stage != w.last {
			w.last, w.since = md.Stage, time.Now()
		}
		if op.GetDone() {
			return op, nil
		}
	}
}

func (w *watch) stage() string {
	if w.last == repb.ExecutionStage_UNKNOWN {
		return ""
	}
	return fmt.Sprintf(" (the action was %s for %v)", strings.ToLower(w.last.String()), time.Since(w.since).Round(time.Millisecond))
}

func operationResponse(op *longrunningpb.Operation) (*repb.ExecuteResponse, error) {
	if e := op.GetError(); e != nil {
		// The protocol forbids it, but a server that does it means it.
		return &repb.ExecuteResponse{Status: e}, nil
	}
	if op.GetResponse() == nil {
		return nil, fmt.Errorf("operation %s is done but has no response", op.GetName())
	}
	resp := &repb.ExecuteResponse{}
	if err := op.GetResponse().UnmarshalTo(resp); err != nil {
		return nil, fmt.Errorf("operation %s: the response is not an ExecuteResponse: %v", op.GetName(), err)
	}
	return resp, nil
}

// missingBlobs reads a FAILED_PRECONDITION status: the blobs named by its
// PreconditionFailure violations of type MISSING, subject
// "blobs/{hash}/{size}". Nil when the status is something else, including
// a FAILED_PRECONDITION without a MISSING violation, which is how Buildbarn
// says that no worker has the action's platform: uploading again would not
// help that.
func missingBlobs(st *spb.Status) *errMissingBlobs {
	if codes.Code(st.GetCode()) != codes.FailedPrecondition {
		return nil
	}
	m := &errMissingBlobs{msg: "the remote executor is missing inputs: " + st.GetMessage()}
	missing := false
	for _, detail := range st.GetDetails() {
		pf := &errdetails.PreconditionFailure{}
		if detail.UnmarshalTo(pf) != nil {
			continue
		}
		for _, v := range pf.GetViolations() {
			if v.GetType() != "MISSING" {
				continue
			}
			missing = true
			if d, ok := parseBlobSubject(v.GetSubject()); ok {
				m.digests = append(m.digests, d)
			}
		}
	}
	if !missing {
		return nil
	}
	return m
}

// parseBlobSubject reads "blobs/{hash}/{size}"; a digest-function segment
// ("blobs/blake3/{hash}/{size}") names a function suite does not use.
func parseBlobSubject(s string) (*repb.Digest, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] != "blobs" {
		return nil, false
	}
	size, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || size < 0 {
		return nil, false
	}
	return &repb.Digest{Hash: parts[1], SizeBytes: size}, true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
