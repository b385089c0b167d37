package reapitest

import (
	"context"
	"strings"
	"testing"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// client is a bare REAPI client: what a caller's client would send,
// without its care for sorting.
type client struct {
	t    *testing.T
	conn *grpc.ClientConn
	cas  repb.ContentAddressableStorageClient
	exec repb.ExecutionClient
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimSuffix(s.URL(), "/main"), "grpc://")
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, cas: repb.NewContentAddressableStorageClient(conn), exec: repb.NewExecutionClient(conn)}
}

// put uploads messages and returns the digest of the first.
func (c *client) put(ms ...proto.Message) *repb.Digest {
	c.t.Helper()
	req := &repb.BatchUpdateBlobsRequest{InstanceName: "main"}
	for _, m := range ms {
		b, err := marshal(m)
		if err != nil {
			c.t.Fatal(err)
		}
		req.Requests = append(req.Requests, &repb.BatchUpdateBlobsRequest_Request{Digest: digestOf(b), Data: b})
	}
	if _, err := c.cas.BatchUpdateBlobs(context.Background(), req); err != nil {
		c.t.Fatal(err)
	}
	return req.Requests[0].Digest
}

// execute runs argv with the platform properties, in that order, and
// returns the final ExecuteResponse or the stream's error.
func (c *client) execute(argv []string, props ...string) (*repb.ExecuteResponse, error) {
	c.t.Helper()
	platform := &repb.Platform{}
	for _, kv := range props {
		k, v, _ := strings.Cut(kv, "=")
		platform.Properties = append(platform.Properties, &repb.Platform_Property{Name: k, Value: v})
	}
	root := &repb.Directory{}
	cmd := &repb.Command{Arguments: argv, Platform: platform,
		EnvironmentVariables: []*repb.Command_EnvironmentVariable{{Name: "PATH", Value: "/usr/bin:/bin"}}}
	act := &repb.Action{CommandDigest: c.put(cmd), InputRootDigest: c.put(root), Platform: platform}
	stream, err := c.exec.Execute(context.Background(), &repb.ExecuteRequest{InstanceName: "main", ActionDigest: c.put(act)})
	if err != nil {
		return nil, err
	}
	for {
		op, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if op.Done {
			resp := &repb.ExecuteResponse{}
			if err := op.GetResponse().UnmarshalTo(resp); err != nil {
				c.t.Fatal(err)
			}
			return resp, nil
		}
	}
}

// Unsorted platform properties are refused, as Buildbarn refuses them, so
// a client that forgets to sort fails against the stand-in too.
func TestUnsortedPlatformIsRefused(t *testing.T) {
	c := dial(t, Start(t, Options{Instance: "main"}))
	_, err := c.execute([]string{"/bin/true"}, "zone=b", "pool=a")
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Execute with unsorted properties: %v, want INVALID_ARGUMENT", err)
	}
}

// The env-overrides property reaches the action's environment, and the
// run's stdout comes back by digest.
func TestEnvOverridesReachTheAction(t *testing.T) {
	s := Start(t, Options{Instance: "main"})
	c := dial(t, s)
	resp, err := c.execute([]string{"/bin/sh", "-c", `echo "pool=$POOL zone=$ZONE"`}, "env-overrides=POOL=big,ZONE=b", "pool=a")
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != 0 || resp.GetResult().GetExitCode() != 0 {
		t.Fatalf("response %v", resp)
	}
	out, _ := s.get(resp.Result.StdoutDigest)
	if got := string(out); got != "pool=big zone=b\n" {
		t.Errorf("stdout %q, want the overrides", got)
	}
	if s.Executes.Load() != 1 {
		t.Errorf("Executes = %d, want 1", s.Executes.Load())
	}
}
