package reapitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	smpb "github.com/bazelbuild/remote-apis/build/bazel/semver"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func (s *Server) checkInstance(name string) error {
	if name != s.instance {
		return status.Errorf(codes.InvalidArgument, "unknown instance %q", name)
	}
	return nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Server) put(b []byte) *repb.Digest {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := hashOf(b)
	s.cas[h] = b
	return &repb.Digest{Hash: h, SizeBytes: int64(len(b))}
}

func (s *Server) get(d *repb.Digest) ([]byte, bool) {
	if d.GetSizeBytes() == 0 {
		return nil, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.cas[d.GetHash()]
	return b, ok
}
func (s *services) GetCapabilities(_ context.Context, req *repb.GetCapabilitiesRequest) (*repb.ServerCapabilities, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	if s.refuseAll != "" && (s.refuseCode == codes.PermissionDenied || s.refuseCode == codes.Unauthenticated) {
		// Credentials are checked on every call, as an authenticating
		// proxy in front of a real engine does.
		return nil, status.Error(s.refuseCode, s.refuseAll)
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

func (s *services) GetActionResult(_ context.Context, req *repb.GetActionResultRequest) (*repb.ActionResult, error) {
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

func (s *services) UpdateActionResult(_ context.Context, req *repb.UpdateActionResultRequest) (*repb.ActionResult, error) {
	if err := s.checkInstance(req.InstanceName); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ac[req.ActionDigest.GetHash()] = req.ActionResult
	return req.ActionResult, nil
}

func (s *services) FindMissingBlobs(_ context.Context, req *repb.FindMissingBlobsRequest) (*repb.FindMissingBlobsResponse, error) {
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

func (s *services) BatchUpdateBlobs(_ context.Context, req *repb.BatchUpdateBlobsRequest) (*repb.BatchUpdateBlobsResponse, error) {
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

func (s *services) BatchReadBlobs(_ context.Context, req *repb.BatchReadBlobsRequest) (*repb.BatchReadBlobsResponse, error) {
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
func (s *Server) resource(name string) (string, error) {
	prefix := ""
	if s.instance != "" {
		prefix = s.instance + "/"
	}
	if !strings.HasPrefix(name, prefix) {
		return "", status.Errorf(codes.InvalidArgument, "resource %q is not in instance %q", name, s.instance)
	}
	return strings.TrimPrefix(name, prefix), nil
}

func (s *services) Read(req *bspb.ReadRequest, stream bspb.ByteStream_ReadServer) error {
	s.StreamReads.Add(1)
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

func (s *services) Write(stream bspb.ByteStream_WriteServer) error {
	s.StreamWrites.Add(1)
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

// parseBlobSubject reads "blobs/{hash}/{size}", the tail of a ByteStream
// resource name.
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

func marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func digestOf(b []byte) *repb.Digest {
	return &repb.Digest{Hash: hashOf(b), SizeBytes: int64(len(b))}
}
