package cache

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// grpcRemote speaks REAPI v2 (remote_execution.proto) to a cache such as
// bazel-remote, BuildBuddy or Buildbarn: Capabilities once, ActionCache for
// entries, ContentAddressableStorage batches for blobs that fit the
// server's batch limit, ByteStream for the rest.
type grpcRemote struct {
	conn     *grpc.ClientConn
	instance string
	timeout  time.Duration
	redact   redactor
	describe string

	caps repb.CapabilitiesClient
	ac   repb.ActionCacheClient
	cas  repb.ContentAddressableStorageClient
	bs   bspb.ByteStreamClient

	// What GetCapabilities said, asked once before the first real call.
	mu            sync.Mutex
	checked       bool
	batchLimit    int64 // most bytes one batch request or response may carry
	maxBlob       int64 // largest blob the server accepts; 0: no limit
	updateEnabled bool
}

const (
	// grpcMaxMessage is gRPC's default largest message; a batch must fit
	// in one, whatever max_batch_total_size_bytes says (0 means "no limit
	// set, although in practice there will always be a message size
	// limitation of the protocol in use").
	grpcMaxMessage = 4 << 20
	// grpcRecvLimit accepts ByteStream chunks bigger than ours: servers
	// choose their own chunk size.
	grpcRecvLimit = 16 << 20
	// byteStreamChunk is the data in one WriteRequest.
	byteStreamChunk = 1 << 20
	// findMissingBatch bounds the digests of one FindMissingBlobs request
	// (about 80 bytes each) well under grpcMaxMessage.
	findMissingBatch = 10000
)

func newGRPCRemote(u *url.URL, o RemoteOptions) (*grpcRemote, error) {
	instance := o.InstanceName
	if instance == "" {
		instance = strings.Trim(u.Path, "/")
	}
	var creds credentials.TransportCredentials
	if u.Scheme == "grpcs" {
		creds = credentials.NewTLS(&tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12})
	} else {
		creds = insecure.NewCredentials()
	}
	var md []string
	for k, v := range o.Headers {
		md = append(md, strings.ToLower(k), v)
	}
	if u.User != nil && !hasHeader(o.Headers, "authorization") {
		pass, _ := u.User.Password()
		md = append(md, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	conn, err := grpc.NewClient(u.Host,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcRecvLimit)),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(withMetadata(ctx, md), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(withMetadata(ctx, md), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("remote cache %s: %w", u.Redacted(), newRedactor(u, o.Headers).wrap(err))
	}
	return &grpcRemote{
		conn:     conn,
		instance: instance,
		timeout:  o.Timeout,
		redact:   newRedactor(u, o.Headers),
		describe: u.Redacted(),
		caps:     repb.NewCapabilitiesClient(conn),
		ac:       repb.NewActionCacheClient(conn),
		cas:      repb.NewContentAddressableStorageClient(conn),
		bs:       bspb.NewByteStreamClient(conn),
	}, nil
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func withMetadata(ctx context.Context, md []string) context.Context {
	if len(md) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, md...)
}

func (g *grpcRemote) String() string { return g.describe }

func (g *grpcRemote) Close() error { return g.conn.Close() }

// fail names the call and the server in err, and hides secrets.
func (g *grpcRemote) fail(ctx context.Context, call string, err error) error {
	if err == nil {
		return nil
	}
	if IsMiss(err) {
		return g.redact.wrap(err)
	}
	if ctx.Err() == nil && status.Code(err) == codes.DeadlineExceeded {
		// The server gave up at the deadline we sent it, a moment
		// before our own timer would have.
		err = fmt.Errorf("remote cache did not answer within %v (%w)", g.timeout, err)
	}
	return g.redact.wrap(fmt.Errorf("%s %s: %w", call, g.describe, contextErr(ctx, err)))
}

// ready asks the server's capabilities once: a server that does not hash
// with SHA-256 cannot hold suite's keys, and the batch limit decides which
// blobs go through ByteStream. A failed ask is asked again next time.
func (g *grpcRemote) ready(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.checked {
		return nil
	}
	ctx, cancel := requestContext(ctx, g.timeout)
	defer cancel()
	sc, err := g.caps.GetCapabilities(ctx, &repb.GetCapabilitiesRequest{InstanceName: g.instance})
	if err != nil {
		return g.fail(ctx, "GetCapabilities", err)
	}
	cc := sc.GetCacheCapabilities()
	if cc == nil {
		return fmt.Errorf("GetCapabilities %s: the server offers no cache (cache_capabilities unset)", g.describe)
	}
	// An empty list is what servers from before digest_functions said;
	// they all hashed with SHA-256.
	if fns := cc.GetDigestFunctions(); len(fns) > 0 && !slices.Contains(fns, repb.DigestFunction_SHA256) {
		return fmt.Errorf("GetCapabilities %s: the server hashes with %v, not SHA256", g.describe, fns)
	}
	g.batchLimit = grpcMaxMessage - 64<<10 // room for the request's other fields
	if m := cc.GetMaxBatchTotalSizeBytes(); m > 0 && m < g.batchLimit {
		g.batchLimit = m
	}
	g.maxBlob = cc.GetMaxCasBlobSizeBytes()
	g.updateEnabled = cc.GetActionCacheUpdateCapabilities().GetUpdateEnabled()
	g.checked = true
	return nil
}

// fitsBatch reports whether blob d goes in a batch request rather than
// through ByteStream: the whole request, digest and framing included, must
// stay within the batch limit.
func (g *grpcRemote) fitsBatch(d *repb.Digest) bool {
	overhead := proto.Size(&repb.BatchUpdateBlobsRequest{
		InstanceName:   g.instance,
		Requests:       []*repb.BatchUpdateBlobsRequest_Request{{Digest: d}},
		DigestFunction: repb.DigestFunction_SHA256,
	})
	// The data field adds its tag and a length varint of at most 10 bytes.
	return d.SizeBytes+int64(overhead)+11 <= g.batchLimit
}

// resourcePrefix starts every ByteStream resource name: the instance name
// and a slash, or nothing for the empty instance ("If it is the empty path,
// the leading slash is omitted").
func (g *grpcRemote) resourcePrefix() string {
	if g.instance == "" {
		return ""
	}
	return g.instance + "/"
}

func (g *grpcRemote) GetActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error) {
	if err := checkDigest(key); err != nil {
		return nil, err
	}
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := requestContext(ctx, g.timeout)
	defer cancel()
	r, err := g.ac.GetActionResult(ctx, &repb.GetActionResultRequest{
		InstanceName:   g.instance,
		ActionDigest:   key,
		DigestFunction: repb.DigestFunction_SHA256,
	})
	if status.Code(err) == codes.NotFound {
		return nil, &MissError{key.Hash, ReasonNotFound}
	}
	if err != nil {
		return nil, g.fail(ctx, "GetActionResult", err)
	}
	return r, nil
}

func (g *grpcRemote) UpdateActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error {
	if err := checkDigest(key); err != nil {
		return err
	}
	if err := g.ready(ctx); err != nil {
		return err
	}
	if !g.updateEnabled {
		return fmt.Errorf("UpdateActionResult %s: the server does not take action cache updates from clients (update_enabled is false)", g.describe)
	}
	ctx, cancel := requestContext(ctx, g.timeout)
	defer cancel()
	_, err := g.ac.UpdateActionResult(ctx, &repb.UpdateActionResultRequest{
		InstanceName:   g.instance,
		ActionDigest:   key,
		ActionResult:   r,
		DigestFunction: repb.DigestFunction_SHA256,
	})
	return g.fail(ctx, "UpdateActionResult", err)
}

func (g *grpcRemote) FindMissingBlobs(ctx context.Context, ds []*repb.Digest) ([]*repb.Digest, error) {
	var ask []*repb.Digest
	for _, d := range ds {
		if err := checkDigest(d); err != nil {
			return nil, err
		}
		if d.SizeBytes > 0 { // the empty blob is always available
			ask = append(ask, d)
		}
	}
	if len(ask) == 0 {
		return nil, nil
	}
	if err := g.ready(ctx); err != nil {
		return nil, err
	}
	var missing []*repb.Digest
	for batch := range slices.Chunk(ask, findMissingBatch) {
		rctx, cancel := requestContext(ctx, g.timeout)
		resp, err := g.cas.FindMissingBlobs(rctx, &repb.FindMissingBlobsRequest{
			InstanceName:   g.instance,
			BlobDigests:    batch,
			DigestFunction: repb.DigestFunction_SHA256,
		})
		err = g.fail(rctx, "FindMissingBlobs", err)
		cancel()
		if err != nil {
			return nil, err
		}
		missing = append(missing, resp.GetMissingBlobDigests()...)
	}
	return missing, nil
}

// transfers reports whether blob d must travel (the empty blob never
// does), once the connection is ready for it.
func (g *grpcRemote) transfers(ctx context.Context, d *repb.Digest) (bool, error) {
	if err := checkDigest(d); err != nil {
		return false, err
	}
	if d.SizeBytes == 0 {
		return false, nil
	}
	return true, g.ready(ctx)
}

func (g *grpcRemote) UploadBlob(ctx context.Context, d *repb.Digest, r io.Reader) error {
	if ok, err := g.transfers(ctx, d); !ok || err != nil {
		return err
	}
	if g.maxBlob > 0 && d.SizeBytes > g.maxBlob {
		return fmt.Errorf("uploading blob %s to %s: %d bytes, more than the %d the server accepts", d.Hash, g.describe, d.SizeBytes, g.maxBlob)
	}
	ctx, cancel := requestContext(ctx, g.timeout)
	defer cancel()
	if g.fitsBatch(d) {
		return g.fail(ctx, "BatchUpdateBlobs", g.batchUpload(ctx, d, r))
	}
	return g.fail(ctx, "ByteStream.Write", g.streamUpload(ctx, d, r))
}

func (g *grpcRemote) batchUpload(ctx context.Context, d *repb.Digest, r io.Reader) error {
	data, err := readAllDigest(r, d)
	if err != nil {
		return err
	}
	resp, err := g.cas.BatchUpdateBlobs(ctx, &repb.BatchUpdateBlobsRequest{
		InstanceName:   g.instance,
		Requests:       []*repb.BatchUpdateBlobsRequest_Request{{Digest: d, Data: data}},
		DigestFunction: repb.DigestFunction_SHA256,
	})
	if err != nil {
		return err
	}
	for _, res := range resp.GetResponses() {
		if res.GetDigest().GetHash() != d.Hash {
			continue
		}
		if c := codes.Code(res.GetStatus().GetCode()); c != codes.OK {
			return fmt.Errorf("blob %s: %v: %s", d.Hash, c, res.GetStatus().GetMessage())
		}
		return nil
	}
	return fmt.Errorf("blob %s: the response does not mention it", d.Hash)
}

// streamUpload writes blob d with ByteStream.Write to
// {instance}/uploads/{uuid}/blobs/{hash}/{size}. The last request carries
// finish_write only after the digestReader has seen the whole blob hash to
// d; on a mismatch the stream is cancelled instead, so the server never
// commits it.
func (g *grpcRemote) streamUpload(ctx context.Context, d *repb.Digest, r io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.bs.Write(ctx)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%suploads/%s/blobs/%s/%d", g.resourcePrefix(), newUUID(), d.Hash, d.SizeBytes)
	dr := newDigestReader(r, d)
	var offset int64
	for {
		// A fresh buffer per message: gRPC may still hold the last one.
		buf := make([]byte, min(byteStreamChunk, d.SizeBytes-offset+1))
		n, rerr := io.ReadFull(dr, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return rerr // cancel() abandons the upload
		}
		req := &bspb.WriteRequest{WriteOffset: offset, Data: buf[:n], FinishWrite: rerr != nil}
		if offset == 0 {
			req.ResourceName = name
		}
		if err := stream.Send(req); err != nil {
			if err != io.EOF {
				return err
			}
			// The server ended the stream: either someone else has
			// committed this blob (committed_size is its full size) or
			// an error that CloseAndRecv returns.
			break
		}
		offset += int64(n)
		if req.FinishWrite {
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	if resp.GetCommittedSize() != d.SizeBytes {
		return fmt.Errorf("blob %s: server committed %d bytes, want %d", d.Hash, resp.GetCommittedSize(), d.SizeBytes)
	}
	return nil
}

func (g *grpcRemote) DownloadBlob(ctx context.Context, d *repb.Digest, w io.Writer) error {
	if ok, err := g.transfers(ctx, d); !ok || err != nil {
		return err
	}
	ctx, cancel := requestContext(ctx, g.timeout)
	defer cancel()
	dw := newDigestWriter(w, d)
	if g.fitsBatch(d) {
		if err := g.batchDownload(ctx, d, dw); err != nil {
			return g.fail(ctx, "BatchReadBlobs", err)
		}
	} else if err := g.streamDownload(ctx, d, dw); err != nil {
		return g.fail(ctx, "ByteStream.Read", err)
	}
	return dw.check()
}

func (g *grpcRemote) batchDownload(ctx context.Context, d *repb.Digest, w io.Writer) error {
	resp, err := g.cas.BatchReadBlobs(ctx, &repb.BatchReadBlobsRequest{
		InstanceName:   g.instance,
		Digests:        []*repb.Digest{d},
		DigestFunction: repb.DigestFunction_SHA256,
	})
	if err != nil {
		return err
	}
	for _, res := range resp.GetResponses() {
		if res.GetDigest().GetHash() != d.Hash {
			continue
		}
		switch c := codes.Code(res.GetStatus().GetCode()); c {
		case codes.OK:
		case codes.NotFound:
			return &MissError{d.Hash, ReasonNotFound}
		default:
			return fmt.Errorf("blob %s: %v: %s", d.Hash, c, res.GetStatus().GetMessage())
		}
		if res.GetCompressor() != repb.Compressor_IDENTITY {
			return &MissError{d.Hash, fmt.Sprintf("%s: server sent %v data, which was not asked for", ReasonCorrupt, res.GetCompressor())}
		}
		_, err := w.Write(res.GetData())
		return err
	}
	return &MissError{d.Hash, ReasonCorrupt + ": BatchReadBlobs response does not mention the blob"}
}

// streamDownload reads blob d with ByteStream.Read from
// {instance}/blobs/{hash}/{size}.
func (g *grpcRemote) streamDownload(ctx context.Context, d *repb.Digest, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	name := fmt.Sprintf("%sblobs/%s/%d", g.resourcePrefix(), d.Hash, d.SizeBytes)
	stream, err := g.bs.Read(ctx, &bspb.ReadRequest{ResourceName: name})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if status.Code(err) == codes.NotFound {
			return &MissError{d.Hash, ReasonNotFound}
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(resp.GetData()); err != nil {
			return err
		}
	}
}

// newUUID returns a random (version 4) UUID, as upload resource names want.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
