package cache

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Remote is a shared cache on another machine, spoken to in one of the two
// protocols bazel-remote, BuildBuddy, Buildbarn and nginx WebDAV serve. Keys
// and blobs are the local store's: an action digest names an ActionResult,
// a blob digest names the bytes that hash to it.
//
// A Remote is safe for concurrent use. Every method bounds each request it
// makes by RemoteOptions.Timeout. A lookup that finds nothing returns a
// *MissError whose Reason is ReasonNotFound; an entry or blob that arrives
// but is not what it claims to be is a *MissError whose Reason starts with
// ReasonCorrupt; anything else (refused, unreachable, timed out) is another
// error. Errors never carry header values or passwords.
type Remote interface {
	// GetActionResult returns the entry for the action digest key.
	GetActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error)
	// UpdateActionResult stores r under key. Upload the blobs r names
	// first: bazel-remote keeps an entry whose blobs are missing but then
	// answers NotFound for it.
	UpdateActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error
	// FindMissingBlobs returns those of ds the remote does not hold.
	FindMissingBlobs(ctx context.Context, ds []*repb.Digest) ([]*repb.Digest, error)
	// UploadBlob stores the d.SizeBytes bytes read from r as blob d. If
	// they do not hash to d the upload is abandoned before the remote can
	// commit it, and the error says so.
	UploadBlob(ctx context.Context, d *repb.Digest, r io.Reader) error
	// DownloadBlob writes blob d to w. The bytes are hashed on the way;
	// if they do not match d, the error is a corrupt *MissError and what
	// was written to w must be thrown away. Write to a temporary place,
	// never straight into a store.
	DownloadBlob(ctx context.Context, d *repb.Digest, w io.Writer) error
	// Close releases connections.
	Close() error
	// String is the remote's URL, any password hidden.
	String() string
}

// ErrWriteRefused is wrapped by a write the remote refused for want of
// permission (HTTP 401/403, gRPC PERMISSION_DENIED/UNAUTHENTICATED): a
// cache that lets this client read but not write.
var ErrWriteRefused = errors.New("the remote cache refused the write")

// IsWriteRefused reports whether err is a write the remote refused for
// want of permission.
func IsWriteRefused(err error) bool {
	if errors.Is(err, ErrWriteRefused) {
		return true
	}
	c := status.Code(err)
	return c == codes.PermissionDenied || c == codes.Unauthenticated
}

// RemoteHeadersEnv names the environment variable holding extra headers
// for every request to a remote cache, as "Name=value,Name2=value2" (for
// example "Authorization=Bearer t0k"). The values are secrets: they are
// never printed.
const RemoteHeadersEnv = "SUITE_REMOTE_HEADERS"

// DefaultRemoteTimeout bounds one request when RemoteOptions.Timeout is 0.
// It is Bazel's --remote_timeout default, so a remote that serves Bazel in
// time serves suite in time too; a blob transfer counts as one request.
const DefaultRemoteTimeout = 60 * time.Second

// RemoteOptions configures OpenRemote.
type RemoteOptions struct {
	// Timeout bounds each request (one GET, one RPC, one blob transfer).
	// 0 means DefaultRemoteTimeout.
	Timeout time.Duration
	// Headers are sent with every request (HTTP headers, or gRPC metadata
	// with lower-cased names). OpenRemote adds those of RemoteHeadersEnv;
	// where both name a header, Headers wins.
	Headers map[string]string
	// InstanceName selects the REAPI instance on a gRPC remote. If empty,
	// the path of a grpc(s) URL is taken ("grpcs://host/main" → "main").
	InstanceName string
	// RootCAs verifies https and grpcs servers. nil means the system
	// roots, which Go reads from SSL_CERT_FILE and SSL_CERT_DIR when set.
	RootCAs *x509.CertPool
}

// OpenRemote opens the remote cache at rawURL: "http://" or "https://" for
// Bazel's HTTP cache protocol ({base}/ac/{hash}, {base}/cas/{hash}), and
// "grpc://" or "grpcs://" for REAPI v2. A user:password in the URL is sent
// as basic authentication, unless an Authorization header is given (see
// RemoteHeadersEnv). Nothing is contacted yet: an unreachable remote
// shows up as an error from the first call.
func OpenRemote(rawURL string, o RemoteOptions) (Remote, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the URL, password and all.
		return nil, fmt.Errorf("remote cache: cannot parse URL %q: want scheme://host:port/path", redactURLString(rawURL))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("remote cache: URL %s has no host: want scheme://host:port/path", u.Redacted())
	}
	headers, err := ParseRemoteHeaders(os.Getenv(RemoteHeadersEnv))
	if err != nil {
		return nil, err
	}
	for k, v := range o.Headers {
		headers[textproto.CanonicalMIMEHeaderKey(k)] = v
	}
	o.Headers = headers
	if o.Timeout <= 0 {
		o.Timeout = DefaultRemoteTimeout
	}
	switch u.Scheme {
	case "http", "https":
		return newHTTPRemote(u, o), nil
	case "grpc", "grpcs":
		// Not returned directly: a nil *grpcRemote would be a non-nil Remote.
		g, err := newGRPCRemote(u, o)
		if err != nil {
			return nil, err
		}
		return g, nil
	}
	return nil, fmt.Errorf("remote cache: unsupported scheme %q in %s: want http, https, grpc or grpcs", u.Scheme, u.Redacted())
}

// ParseRemoteHeaders parses the value of RemoteHeadersEnv. Errors name the
// entry by position and header name, never by value.
func ParseRemoteHeaders(s string) (map[string]string, error) {
	headers := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return headers, nil
	}
	for i, entry := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(entry, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t:") {
			return nil, fmt.Errorf("%s: entry %d is not Name=value: want Name=value,Name2=value2", RemoteHeadersEnv, i+1)
		}
		headers[textproto.CanonicalMIMEHeaderKey(name)] = strings.TrimSpace(value)
	}
	return headers, nil
}

// redactor hides secrets (header values, the URL's password) in errors that
// leave a remote: net/http and gRPC errors may quote what was sent.
type redactor struct{ secrets []string }

func newRedactor(u *url.URL, headers map[string]string) redactor {
	var r redactor
	if p, ok := u.User.Password(); ok && p != "" {
		r.secrets = append(r.secrets, p)
	}
	for _, v := range headers {
		// A value as short as "1" would blank out every digit of a
		// message; those are not secrets worth that.
		if len(v) >= 4 {
			r.secrets = append(r.secrets, v)
			// The token without its scheme ("Bearer ") may be quoted alone.
			if _, tok, ok := strings.Cut(v, " "); ok && len(tok) >= 4 {
				r.secrets = append(r.secrets, tok)
			}
		}
	}
	return r
}

func (r redactor) string(s string) string {
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// wrap returns err with secrets hidden in its message. A *MissError stays a
// *MissError (its Reason redacted), so callers can still tell a miss.
func (r redactor) wrap(err error) error {
	if err == nil {
		return nil
	}
	var miss *MissError
	if errors.As(err, &miss) {
		return &MissError{Key: miss.Key, Reason: r.string(miss.Reason)}
	}
	msg := err.Error()
	if clean := r.string(msg); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps errors.Is(err, context.DeadlineExceeded) and the like working.
func (e *redactedError) Unwrap() error { return e.err }

func redactURLString(s string) string {
	// Best effort for a URL url.Parse rejected: drop anything between
	// "//" and "@".
	if i := strings.Index(s, "//"); i >= 0 {
		if j := strings.LastIndex(s, "@"); j > i {
			return s[:i+2] + "[redacted]@" + s[j+1:]
		}
	}
	return s
}

// digestWriter hashes and counts what passes through it on the way to w,
// and refuses to pass more than want bytes: a remote that sends a longer
// blob is cut off before it fills a disk.
type digestWriter struct {
	w    io.Writer
	h    hash.Hash
	n    int64
	want *repb.Digest
}

func newDigestWriter(w io.Writer, want *repb.Digest) *digestWriter {
	return &digestWriter{w: w, h: sha256.New(), want: want}
}

func (dw *digestWriter) Write(p []byte) (int, error) {
	if dw.n+int64(len(p)) > dw.want.SizeBytes {
		return 0, &MissError{dw.want.Hash, fmt.Sprintf("%s: remote sent more than the %d bytes of the blob", ReasonCorrupt, dw.want.SizeBytes)}
	}
	n, err := dw.w.Write(p)
	dw.h.Write(p[:n])
	dw.n += int64(n)
	return n, err
}

// check reports whether what passed through is exactly blob want.
func (dw *digestWriter) check() error {
	if dw.n != dw.want.SizeBytes {
		return &MissError{dw.want.Hash, fmt.Sprintf("%s: remote sent %d bytes, want %d", ReasonCorrupt, dw.n, dw.want.SizeBytes)}
	}
	if hex.EncodeToString(dw.h.Sum(nil)) != dw.want.Hash {
		return &MissError{dw.want.Hash, ReasonCorrupt + ": remote content does not match its digest"}
	}
	return nil
}

// digestReader passes exactly want.SizeBytes bytes from r and fails instead
// of ending if they are not blob want. It checks before it hands out the
// last bytes: an HTTP server that has received all of Content-Length
// commits the upload, so the bytes that would complete it must not leave
// unless they are right. An upload reading from it is aborted short, and
// the remote never stores a blob under a wrong name.
type digestReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want *repb.Digest
	err  error // sticky: once wrong, always wrong
}

func newDigestReader(r io.Reader, want *repb.Digest) *digestReader {
	return &digestReader{r: io.LimitReader(r, want.SizeBytes+1), h: sha256.New(), want: want}
}

func (dr *digestReader) Read(p []byte) (int, error) {
	if dr.err != nil {
		return 0, dr.err
	}
	n, err := dr.r.Read(p)
	dr.h.Write(p[:n])
	dr.n += int64(n)
	switch {
	case dr.n > dr.want.SizeBytes:
		dr.err = fmt.Errorf("blob %s to upload is longer than %d bytes", dr.want.Hash, dr.want.SizeBytes)
		return 0, dr.err
	case dr.n == dr.want.SizeBytes:
		if err == nil {
			// Make sure nothing follows before declaring it complete.
			var one [1]byte
			if m, perr := io.ReadFull(dr.r, one[:]); m > 0 {
				dr.err = fmt.Errorf("blob %s to upload is longer than %d bytes", dr.want.Hash, dr.want.SizeBytes)
				return 0, dr.err
			} else if perr != io.EOF {
				dr.err = perr
				return 0, dr.err
			}
		}
		if hex.EncodeToString(dr.h.Sum(nil)) != dr.want.Hash {
			dr.err = fmt.Errorf("blob %s to upload does not match its digest", dr.want.Hash)
			return 0, dr.err
		}
		dr.err = io.EOF
		return n, io.EOF
	case err == io.EOF:
		dr.err = fmt.Errorf("blob %s to upload has %d bytes, want %d", dr.want.Hash, dr.n, dr.want.SizeBytes)
		return n, dr.err
	}
	return n, err
}

// readAllDigest reads the whole of blob d from r, checked.
func readAllDigest(r io.Reader, d *repb.Digest) ([]byte, error) {
	data, err := io.ReadAll(newDigestReader(r, d))
	if err != nil {
		return nil, err
	}
	return data, nil
}

// requestContext bounds one request by the remote's timeout. The cause
// names the timeout, so the one warning a user sees says what happened.
func requestContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, timeout, fmt.Errorf("remote cache did not answer within %v", timeout))
}

// contextErr turns an error caused by ctx ending into the context's cause,
// which says "did not answer within 1m0s" rather than "context deadline
// exceeded".
func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
			return fmt.Errorf("%w (%w)", cause, ctx.Err())
		}
	}
	return err
}
