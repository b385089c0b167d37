package remoteexec

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/textproto"
	"net/url"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/suite-run/suite/internal/cache"
)

// recvLimit accepts Operation messages bigger than gRPC's 4 MiB default: an
// ExecuteResponse may carry inline stdout/stderr and server logs.
const recvLimit = 16 << 20

// endpoint is a parsed executor URL with the headers every call carries.
type endpoint struct {
	url      *url.URL
	instance string
	headers  map[string]string // canonical names; values are secrets
}

// parseEndpoint reads grpc://HOST:PORT[/INSTANCE] or grpcs://…, and the
// headers of cache.RemoteHeadersEnv beneath o.Headers, as cache.OpenRemote
// does for the cache side of the same server.
func parseEndpoint(rawURL string, o Options) (*endpoint, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("remote executor: cannot parse URL: want grpc://HOST:PORT[/INSTANCE] or grpcs://…")
	}
	if u.Scheme != "grpc" && u.Scheme != "grpcs" {
		return nil, fmt.Errorf("remote executor: unsupported scheme %q in %s: want grpc or grpcs", u.Scheme, u.Redacted())
	}
	headers, err := cache.ParseRemoteHeaders(os.Getenv(cache.RemoteHeadersEnv))
	if err != nil {
		return nil, err
	}
	for k, v := range o.Headers {
		headers[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	instance := o.InstanceName
	if instance == "" {
		instance = strings.Trim(u.Path, "/")
	}
	return &endpoint{url: u, instance: instance, headers: headers}, nil
}

// dial opens the connection for the Execution and Capabilities services.
// It mirrors the cache's gRPC setup (TLS for grpcs, headers as metadata,
// basic auth from the URL unless an Authorization header is given) so one
// URL and one set of credentials serve both.
func (ep *endpoint) dial(o Options) (*grpc.ClientConn, error) {
	var creds credentials.TransportCredentials
	if ep.url.Scheme == "grpcs" {
		creds = credentials.NewTLS(&tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12})
	} else {
		creds = insecure.NewCredentials()
	}
	var md []string
	hasAuth := false
	for k, v := range ep.headers {
		md = append(md, strings.ToLower(k), v)
		hasAuth = hasAuth || strings.EqualFold(k, "authorization")
	}
	if ep.url.User != nil && !hasAuth {
		pass, _ := ep.url.User.Password()
		md = append(md, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ep.url.User.Username()+":"+pass)))
	}
	with := func(ctx context.Context) context.Context {
		if len(md) == 0 {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, md...)
	}
	conn, err := grpc.NewClient(ep.url.Host,
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(recvLimit)),
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return invoker(with(ctx), method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return streamer(with(ctx), desc, cc, method, opts...)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("remote executor %s: %v", ep.url.Redacted(), ep.redact(err.Error()))
	}
	return conn, nil
}

// redact hides header values and the URL's password in a message that came
// back from gRPC, which may quote what was sent.
func (ep *endpoint) redact(s string) string {
	var secrets []string
	if p, ok := ep.url.User.Password(); ok && p != "" {
		secrets = append(secrets, p)
	}
	for _, v := range ep.headers {
		if len(v) >= 4 {
			secrets = append(secrets, v)
			if _, tok, ok := strings.Cut(v, " "); ok && len(tok) >= 4 {
				secrets = append(secrets, tok)
			}
		}
	}
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}
