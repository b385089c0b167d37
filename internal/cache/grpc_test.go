package cache

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeREAPI stands in for bazel-remote and BuildBuddy, whose REAPI v2
// caches do not install on this machine: Capabilities, ActionCache,
// ContentAddressableStorage and ByteStream, on the generated service
// interfaces, over real gRPC on a loopback port, backed by maps. It is
// strict where the real servers are (resource names exactly as
// remote_execution.proto spells them, batch limits, digests checked on
// upload) and behaves as bazel-remote does where clients trip: an action
// entry whose blobs are missing is kept but answered with NotFound.
type fakeREAPI struct {
	repb.UnimplementedCapabilitiesServer
	repb.UnimplementedActionCacheServer
	repb.UnimplementedContentAddressableStorageServer
	bspb.UnimplementedByteStreamServer

	instance    string
	batchLimit  int64                       // max_batch_total_size_bytes
	digestFuncs []repb.DigestFunction_Value // announced digest functions
	token       string                      // required bearer token, if set
	delay       time.Duration               // every call waits this long first: an overloaded server
	corrupt     atomic.Bool                 // blobs are served with a flipped byte
	calls       atomic.Int64                // calls received
	server      *grpc.Server
	url         string
	mu          sync.Mutex
	ac          map[string]*repb.ActionResult // by "hash/size"
	cas         map[string][]byte             // by hash
	// What clients did, for the tests to check.
	danglingUpdates, streamWrites, streamReads, writeChunks int
}

type fakeOptions struct {
	instance   string
	batchLimit int64
	token      string
	delay      time.Duration
	tls        *tls.Config
	md5Only    bool
	readOnly   bool // writes are refused with PERMISSION_DENIED, as for a read-only token
}

func startFakeREAPI(t *testing.T, o fakeOptions) *fakeREAPI {
	t.Helper()
	f := &fakeREAPI{
		instance:    o.instance,
		batchLimit:  o.batchLimit,
		digestFuncs: []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
		token:       o.token,
		delay:       o.delay,
		ac:          map[string]*repb.ActionResult{},
		cas:         map[string][]byte{},
	}
	if o.md5Only {
		f.digestFuncs = []repb.DigestFunction_Value{repb.DigestFunction_MD5}
	}
	opts := []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := f.admit(ctx); err != nil {
				return nil, err
			}
			if o.readOnly && (strings.HasSuffix(info.FullMethod, "/UpdateActionResult") || strings.HasSuffix(info.FullMethod, "/BatchUpdateBlobs")) {
				return nil, status.Error(codes.PermissionDenied, "this token may only read")
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := f.admit(ss.Context()); err != nil {
				return err
			}
			if o.readOnly && strings.HasSuffix(info.FullMethod, "/Write") {
				return status.Error(codes.PermissionDenied, "this token may only read")
			}
			return h(srv, ss)
		}),
	}
	scheme := "grpc"
	if o.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.tls)))
		scheme = "grpcs"
	}
	f.server = grpc.NewServer(opts...)
	repb.RegisterCapabilitiesServer(f.server, f)
	repb.RegisterActionCacheServer(f.server, f)
	repb.RegisterContentAddressableStorageServer(f.server, f)
	bspb.RegisterByteStreamServer(f.server, f)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.server.Serve(l)
	t.Cleanup(f.server.Stop)
	f.url = scheme + "://" + l.Addr().String()
	if o.instance != "" {
		f.url += "/" + o.instance
	}
	return f
}

// admit checks the bearer token and waits out the delay.
func (f *fakeREAPI) admit(ctx context.Context) error {
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if f.token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+f.token {
			return status.Error(codes.Unauthenticated, "missing or wrong bearer token")
		}
	}
	return nil
}

func (f *fakeREAPI) checkInstance(name string) error {
	if name != f.instance {
		return status.Errorf(codes.InvalidArgument, "unknown instance %q", name)
	}
	return nil
}

func (f *fakeREAPI) GetCapabilities(_ context.Context, req *repb.GetCapabilitiesRequest) (*repb.ServerCapabilities, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	return &repb.ServerCapabilities{CacheCapabilities: &repb.CacheCapabilities{
		DigestFunctions:               f.digestFuncs,
		MaxBatchTotalSizeBytes:        f.batchLimit,
		ActionCacheUpdateCapabilities: &repb.ActionCacheUpdateCapabilities{UpdateEnabled: true},
	}}, nil
}

func acKey(d *repb.Digest) string { return fmt.Sprintf("%s/%d", d.GetHash(), d.GetSizeBytes()) }

// missingBlobsLocked lists the blobs r names that the CAS lacks.
func (f *fakeREAPI) missingBlobsLocked(r *repb.ActionResult) []string {
	var missing []string
	for _, d := range referencedDigests(r) {
		if d.GetSizeBytes() == 0 {
			continue
		}
		if _, ok := f.cas[d.GetHash()]; !ok {
			missing = append(missing, d.GetHash())
		}
	}
	return missing
}

func (f *fakeREAPI) GetActionResult(_ context.Context, req *repb.GetActionResultRequest) (*repb.ActionResult, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.ac[acKey(req.ActionDigest)]
	if !ok || len(f.missingBlobsLocked(r)) > 0 {
		return nil, status.Error(codes.NotFound, "no such action result")
	}
	return r, nil
}

func (f *fakeREAPI) UpdateActionResult(_ context.Context, req *repb.UpdateActionResultRequest) (*repb.ActionResult, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	if req.DigestFunction != repb.DigestFunction_SHA256 && req.DigestFunction != repb.DigestFunction_UNKNOWN {
		return nil, status.Error(codes.InvalidArgument, "only SHA256")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.missingBlobsLocked(req.ActionResult)) > 0 {
		f.danglingUpdates++
	}
	f.ac[acKey(req.ActionDigest)] = req.ActionResult
	return req.ActionResult, nil
}

func (f *fakeREAPI) FindMissingBlobs(_ context.Context, req *repb.FindMissingBlobsRequest) (*repb.FindMissingBlobsResponse, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &repb.FindMissingBlobsResponse{}
	for _, d := range req.BlobDigests {
		if _, ok := f.cas[d.Hash]; !ok {
			resp.MissingBlobDigests = append(resp.MissingBlobDigests, d)
		}
	}
	return resp, nil
}

func (f *fakeREAPI) BatchUpdateBlobs(_ context.Context, req *repb.BatchUpdateBlobsRequest) (*repb.BatchUpdateBlobsResponse, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	if n := int64(proto.Size(req)); f.batchLimit > 0 && n > f.batchLimit {
		return nil, status.Errorf(codes.InvalidArgument, "batch of %d bytes exceeds max_batch_total_size_bytes %d", n, f.batchLimit)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &repb.BatchUpdateBlobsResponse{}
	for _, r := range req.Requests {
		st := &spb.Status{}
		if d := DigestOf(r.Data); d.Hash != r.Digest.GetHash() || d.SizeBytes != r.Digest.GetSizeBytes() {
			st = &spb.Status{Code: int32(codes.InvalidArgument), Message: "data does not match digest"}
		} else {
			f.cas[d.Hash] = r.Data
		}
		resp.Responses = append(resp.Responses, &repb.BatchUpdateBlobsResponse_Response{Digest: r.Digest, Status: st})
	}
	return resp, nil
}

func (f *fakeREAPI) BatchReadBlobs(_ context.Context, req *repb.BatchReadBlobsRequest) (*repb.BatchReadBlobsResponse, error) {
	if err := f.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	var total int64
	for _, d := range req.Digests {
		total += d.SizeBytes
	}
	if f.batchLimit > 0 && total > f.batchLimit {
		return nil, status.Errorf(codes.InvalidArgument, "%d bytes exceed max_batch_total_size_bytes %d", total, f.batchLimit)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &repb.BatchReadBlobsResponse{}
	for _, d := range req.Digests {
		data, ok := f.cas[d.Hash]
		res := &repb.BatchReadBlobsResponse_Response{Digest: d, Status: &spb.Status{}}
		if !ok {
			res.Status = &spb.Status{Code: int32(codes.NotFound), Message: "not found"}
		} else {
			res.Data = f.maybeCorrupt(data)
		}
		resp.Responses = append(resp.Responses, res)
	}
	return resp, nil
}

func (f *fakeREAPI) maybeCorrupt(data []byte) []byte {
	if !f.corrupt.Load() || len(data) == 0 {
		return data
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x20
	return bad
}

// uuidV4 is how remote_execution.proto wants the {uuid} of an upload.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// parseBlobPath parses "{hash}/{size}" exactly (no digest function: SHA256
// is the default and "MUST be omitted").
func parseBlobPath(s string) (*repb.Digest, error) {
	hash, sizeText, ok := strings.Cut(s, "/")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if !ok || err != nil || !validHash(hash) || strconv.FormatInt(size, 10) != sizeText {
		return nil, status.Errorf(codes.InvalidArgument, "malformed blob path %q", s)
	}
	return &repb.Digest{Hash: hash, SizeBytes: size}, nil
}

func (f *fakeREAPI) prefix() string {
	if f.instance == "" {
		return ""
	}
	return f.instance + "/"
}

func (f *fakeREAPI) Read(req *bspb.ReadRequest, stream bspb.ByteStream_ReadServer) error {
	rest, ok := strings.CutPrefix(req.ResourceName, f.prefix()+"blobs/")
	if !ok {
		return status.Errorf(codes.InvalidArgument, "read resource %q is not %sblobs/{hash}/{size}", req.ResourceName, f.prefix())
	}
	d, err := parseBlobPath(rest)
	if err != nil {
		return err
	}
	f.mu.Lock()
	data, ok := f.cas[d.Hash]
	f.streamReads++
	f.mu.Unlock()
	if !ok {
		return status.Error(codes.NotFound, "no such blob")
	}
	data = f.maybeCorrupt(data)
	const chunk = 64 << 10
	for len(data) > 0 {
		n := min(chunk, len(data))
		if err := stream.Send(&bspb.ReadResponse{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func (f *fakeREAPI) Write(stream bspb.ByteStream_WriteServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(first.ResourceName, f.prefix()+"uploads/")
	uuid, blobPath, ok2 := strings.Cut(rest, "/blobs/")
	if !ok || !ok2 || !uuidV4.MatchString(uuid) {
		return status.Errorf(codes.InvalidArgument, "write resource %q is not %suploads/{uuid}/blobs/{hash}/{size}", first.ResourceName, f.prefix())
	}
	d, err := parseBlobPath(blobPath)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.streamWrites++
	_, exists := f.cas[d.Hash]
	f.mu.Unlock()
	if exists {
		// As the proto says: end at once, committed_size the full size.
		return stream.SendAndClose(&bspb.WriteResponse{CommittedSize: d.SizeBytes})
	}
	var data []byte
	for req := first; ; {
		if req.WriteOffset != int64(len(data)) {
			return status.Errorf(codes.InvalidArgument, "write_offset %d, want %d", req.WriteOffset, len(data))
		}
		if req.ResourceName != "" && req.ResourceName != first.ResourceName {
			return status.Error(codes.InvalidArgument, "resource_name changed mid-stream")
		}
		data = append(data, req.Data...)
		f.mu.Lock()
		f.writeChunks++
		f.mu.Unlock()
		if req.FinishWrite {
			break
		}
		if req, err = stream.Recv(); err != nil {
			return err // the client went away: nothing is committed
		}
	}
	if got := DigestOf(data); got.Hash != d.Hash || got.SizeBytes != d.SizeBytes {
		return status.Error(codes.InvalidArgument, "uploaded data does not match the digest")
	}
	f.mu.Lock()
	f.cas[d.Hash] = data
	f.mu.Unlock()
	return stream.SendAndClose(&bspb.WriteResponse{CommittedSize: d.SizeBytes})
}

func (f *fakeREAPI) hasBlob(hash string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.cas[hash]
	return ok
}

func (f *fakeREAPI) counts() (dangling, writes, reads, chunks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.danglingUpdates, f.streamWrites, f.streamReads, f.writeChunks
}

func TestGRPCRemoteRoundTrip(t *testing.T) {
	for _, instance := range []string{"", "ci/main"} {
		t.Run(fmt.Sprintf("instance=%q", instance), func(t *testing.T) {
			// A 4 KiB batch limit sends the 3 MiB output through
			// ByteStream, in several chunks each way.
			f := startFakeREAPI(t, fakeOptions{instance: instance, batchLimit: 4 << 10})
			r := openRemote(t, f.url, RemoteOptions{Timeout: 10 * time.Second})
			ctx := t.Context()
			e := newTestEntry("grpc", 3<<20)

			if _, err := r.GetActionResult(ctx, e.key); !isNotFound(err) {
				t.Fatalf("GetActionResult of an absent entry: got %v, want a not-found miss", err)
			}
			var buf bytes.Buffer
			for _, d := range []*repb.Digest{DigestOf(e.log), DigestOf(e.output)} {
				if err := r.DownloadBlob(ctx, d, &buf); !isNotFound(err) {
					t.Fatalf("DownloadBlob of an absent blob of %d bytes: got %v, want a not-found miss", d.SizeBytes, err)
				}
			}
			all := []*repb.Digest{DigestOf(e.log), DigestOf(e.xml), DigestOf(e.output), DigestOf(nil)}
			if missing, err := r.FindMissingBlobs(ctx, all); err != nil || len(missing) != 3 {
				t.Fatalf("FindMissingBlobs on an empty cache: %v, %v; want the 3 non-empty blobs", missing, err)
			}
			for _, b := range e.blobs() {
				if err := r.UploadBlob(ctx, DigestOf(b), bytes.NewReader(b)); err != nil {
					t.Fatalf("UploadBlob of %d bytes: %v", len(b), err)
				}
			}
			if missing, err := r.FindMissingBlobs(ctx, all); err != nil || len(missing) != 0 {
				t.Fatalf("FindMissingBlobs after upload: %v, %v; want none", missing, err)
			}
			if _, writes, _, chunks := f.counts(); writes != 1 || chunks < 3 {
				t.Errorf("%d ByteStream writes in %d chunks; want the 3 MiB output alone, in several chunks", writes, chunks)
			}
			// Uploading a blob the server already has ends early.
			if err := r.UploadBlob(ctx, DigestOf(e.output), bytes.NewReader(e.output)); err != nil {
				t.Fatalf("UploadBlob of a blob already there: %v", err)
			}
			if err := r.UpdateActionResult(ctx, e.key, e.result); err != nil {
				t.Fatal(err)
			}
			got, err := r.GetActionResult(ctx, e.key)
			if err != nil || !proto.Equal(got, e.result) {
				t.Fatalf("GetActionResult: %v, %v; want %v", got, err, e.result)
			}
			for _, b := range e.blobs() {
				buf.Reset()
				if err := r.DownloadBlob(ctx, DigestOf(b), &buf); err != nil || !bytes.Equal(buf.Bytes(), b) {
					t.Fatalf("DownloadBlob: %d bytes, %v; want the %d uploaded", buf.Len(), err, len(b))
				}
			}
			if _, _, reads, _ := f.counts(); reads != 2 {
				t.Errorf("%d ByteStream reads, want 2 (the absent and the present output)", reads)
			}

			// Bytes that are not the digest's never get committed, by
			// batch or by stream.
			for _, size := range []int{100, 2 << 20} {
				want := bytes.Repeat([]byte("a"), size)
				liar := DigestOf(want)
				wrong := bytes.Clone(want)
				wrong[size-1] = 'b'
				if err := r.UploadBlob(ctx, liar, bytes.NewReader(wrong)); err == nil {
					t.Errorf("UploadBlob of %d wrong bytes: no error", size)
				}
				if err := r.UploadBlob(ctx, liar, bytes.NewReader(want[:size-1])); err == nil {
					t.Errorf("UploadBlob of %d bytes short: no error", size)
				}
				if f.hasBlob(liar.Hash) {
					t.Errorf("the server committed %d bytes under a digest they do not have", size)
				}
			}
		})
	}
}

func TestGRPCRemoteBearerHeader(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{token: "t0k-s3cret"})
	e := newTestEntry("bearer", 10)
	t.Setenv(RemoteHeadersEnv, "Authorization=Bearer t0k-s3cret")
	good := openRemote(t, f.url, RemoteOptions{})
	if err := good.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("with the token: %v", err)
	}

	t.Setenv(RemoteHeadersEnv, "Authorization=Bearer wr0ng-s3cret")
	bad := openRemote(t, f.url, RemoteOptions{})
	_, err := bad.GetActionResult(t.Context(), e.key)
	if status.Code(errors.Unwrap(err)) != codes.Unauthenticated && !strings.Contains(fmt.Sprint(err), "Unauthenticated") {
		t.Fatalf("with a wrong token: got %v, want Unauthenticated", err)
	}
	c := NewTiered(openStore(t), bad, false)
	checkMiss(t, c, e.key)
	checkOneWarning(t, c, "wr0ng-s3cret")
}

func TestGRPCRemoteNeedsSHA256(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{md5Only: true})
	r := openRemote(t, f.url, RemoteOptions{})
	_, err := r.GetActionResult(t.Context(), newTestEntry("md5", 1).key)
	if err == nil || IsMiss(err) || !strings.Contains(err.Error(), "SHA256") {
		t.Fatalf("a server hashing with MD5 only: got %v, want an error saying SHA256", err)
	}
}

func TestGRPCSRemote(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	f := startFakeREAPI(t, fakeOptions{tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	e := newTestEntry("grpcs", 10)
	r := openRemote(t, f.url, RemoteOptions{RootCAs: pool})
	if err := r.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("grpcs with the CA in RootCAs: %v", err)
	}
	untrusted := openRemote(t, f.url, RemoteOptions{Timeout: 5 * time.Second})
	if _, err := untrusted.GetActionResult(t.Context(), e.key); err == nil || IsMiss(err) ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("grpcs with an unknown CA: got %v, want a certificate error", err)
	}
	plain := openRemote(t, strings.Replace(f.url, "grpcs://", "grpc://", 1), RemoteOptions{Timeout: 5 * time.Second})
	if _, err := plain.GetActionResult(t.Context(), e.key); err == nil || IsMiss(err) {
		t.Fatalf("plaintext to a TLS server: got %v, want an error", err)
	}
}

// A server sending blobs whose bytes are not their digest's: the entry is a
// miss, nothing of it reaches the local store, and the run is told once.
func TestGRPCRemoteCorruptBlobs(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{batchLimit: 4 << 10})
	r := openRemote(t, f.url, RemoteOptions{})
	for i, size := range []int{100, 1 << 20} { // by batch, by stream
		e := newTestEntry(fmt.Sprint("corrupt", i), size)
		up := NewTiered(openStore(t), r, true)
		e.putLocal(t, up)
		f.corrupt.Store(true)
		var buf bytes.Buffer
		var miss *MissError
		if err := r.DownloadBlob(t.Context(), DigestOf(e.output), &buf); !errors.As(err, &miss) || !strings.HasPrefix(miss.Reason, ReasonCorrupt) {
			t.Fatalf("DownloadBlob of a corrupted blob: got %v, want a corrupt miss", err)
		}
		local := openStore(t)
		c := NewTiered(local, r, false)
		checkMiss(t, c, e.key)
		checkOneWarning(t, c)
		if _, err := local.GetBlob(DigestOf(e.output)); !IsMiss(err) {
			t.Errorf("a corrupted blob reached the local store: %v", err)
		}
		f.corrupt.Store(false)
	}
}

// A server that answers nothing in time: one timeout, one warning, and the
// rest of the run does not ask it again.
func TestGRPCRemoteSlowServerDegrades(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{delay: 20 * time.Second})
	r := openRemote(t, f.url, RemoteOptions{Timeout: 300 * time.Millisecond})
	c := NewTiered(openStore(t), r, true)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 8 { // the scheduler's workers, all at once
		wg.Go(func() { checkMiss(t, c, newTestEntry(fmt.Sprint("slow", i), 1).key) })
	}
	wg.Wait()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("8 concurrent lookups took %v", d)
	}
	checkOneWarning(t, c)
	if w := c.Warnings()[0]; !strings.Contains(w, "did not answer within 300ms") {
		t.Errorf("warning %q does not say the remote timed out", w)
	}
	// Requests the lookups sent before they timed out may still be on their
	// way to the server: count from when the server has seen them all.
	calls := f.calls.Load()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		n := f.calls.Load()
		if n == calls {
			break
		}
		calls = n
	}
	e := newTestEntry("after", 1)
	e.putLocal(t, c) // uploads would go to the remote; it is given up on
	e.checkHit(t, c)
	checkMiss(t, c, newTestEntry("later", 1).key)
	if n := f.calls.Load(); n != calls {
		t.Errorf("the remote got %d more calls after it was given up on", n-calls)
	}
}

// An action result naming a blob by something that is not a SHA-256 digest
// is garbage, not an entry: a miss, and the run is told once.
func TestGRPCRemoteGarbageEntry(t *testing.T) {
	f := startFakeREAPI(t, fakeOptions{})
	e := newTestEntry("garbage", 10)
	f.mu.Lock()
	f.ac[acKey(e.key)] = &repb.ActionResult{StdoutDigest: &repb.Digest{Hash: "<html>", SizeBytes: 0}}
	f.mu.Unlock()
	local := openStore(t)
	c := NewTiered(local, openRemote(t, f.url, RemoteOptions{}), false)
	checkMiss(t, c, e.key)
	checkOneWarning(t, c)
	if _, err := local.GetActionResult(e.key.Hash); !IsMiss(err) {
		t.Errorf("the garbage entry reached the local store: %v", err)
	}
}
