package cache

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"
)

// httpRemote speaks Bazel's HTTP cache protocol, as bazel-remote, nginx
// WebDAV and BuildBuddy serve it:
//
//	GET/PUT/HEAD {base}/ac/{hash}   serialized ActionResult for action digest hash
//	GET/PUT/HEAD {base}/cas/{hash}  raw blob whose SHA-256 is hash
//
// 404 is a miss; any other status but 2xx is a failure.
type httpRemote struct {
	base     string // scheme://host[:port][/prefix], no trailing slash, no userinfo
	user     *url.Userinfo
	headers  map[string]string
	timeout  time.Duration
	client   *http.Client
	redact   redactor
	describe string // the base URL with any password hidden, for messages
}

// findMissingParallelism bounds the HEAD requests of one FindMissingBlobs:
// an action names a handful of blobs, and a remote shared by a whole CI
// fleet should not see hundreds of connections from one run.
const findMissingParallelism = 8

func newHTTPRemote(u *url.URL, o RemoteOptions) *httpRemote {
	base := *u
	base.User = nil
	base.RawQuery, base.Fragment = "", ""
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// The scheduler asks from every worker at once; the default of 2 idle
	// connections per host would reconnect for most of them.
	transport.MaxIdleConnsPerHost = 32
	// Blobs are hashed byte for byte; no transparent gzip in between.
	transport.DisableCompression = true
	if o.RootCAs != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return &httpRemote{
		base:     strings.TrimSuffix(base.String(), "/"),
		user:     u.User,
		headers:  o.Headers,
		timeout:  o.Timeout,
		client:   &http.Client{Transport: transport},
		redact:   newRedactor(u, o.Headers),
		describe: u.Redacted(),
	}
}

func (h *httpRemote) String() string { return h.describe }

func (h *httpRemote) Close() error {
	h.client.CloseIdleConnections()
	return nil
}

// do sends one request and returns the response for the caller to read
// within ctx. A non-2xx status other than 404 is an error here.
func (h *httpRemote) do(ctx context.Context, method, kind, hash string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.base+"/"+kind+"/"+hash, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
		if size == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	for k, v := range h.headers {
		req.Header.Set(k, v)
	}
	if h.user != nil && req.Header.Get("Authorization") == "" {
		pass, _ := h.user.Password()
		req.SetBasicAuth(h.user.Username(), pass)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, contextErr(ctx, err)
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode/100 == 2 {
		return resp, nil
	}
	// A little of the body helps ("401 Authorization Required"), but a
	// proxy's error page is no message: take the first line only.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	resp.Body.Close()
	line, _, _ := strings.Cut(strings.TrimSpace(string(snippet)), "\n")
	msg := fmt.Sprintf("%s %s/%s/%s: %s", method, h.describe, kind, hash, resp.Status)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (check the URL's user:password and " + RemoteHeadersEnv + ")"
		if method == http.MethodPut {
			return nil, fmt.Errorf("%s: %w", msg, ErrWriteRefused)
		}
	case http.StatusMethodNotAllowed:
		msg += " (the server does not accept " + method + "; for nginx, enable dav_methods PUT)"
	default:
		if line != "" && !strings.HasPrefix(line, "<") {
			msg += ": " + line
		}
	}
	return nil, fmt.Errorf("%s", msg)
}

func (h *httpRemote) GetActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error) {
	r, err := h.getActionResult(ctx, key)
	return r, h.redact.wrap(err)
}

func (h *httpRemote) getActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error) {
	if err := checkDigest(key); err != nil {
		return nil, err
	}
	ctx, cancel := requestContext(ctx, h.timeout)
	defer cancel()
	resp, err := h.do(ctx, http.MethodGet, "ac", key.Hash, nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, &MissError{key.Hash, ReasonNotFound}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxEntryPayload+1))
	if err != nil {
		return nil, contextErr(ctx, err)
	}
	if len(data) > maxEntryPayload {
		return nil, &MissError{key.Hash, fmt.Sprintf("%s: remote entry is larger than %d bytes", ReasonCorrupt, maxEntryPayload)}
	}
	r := new(repb.ActionResult)
	if err := proto.Unmarshal(data, r); err != nil {
		return nil, &MissError{key.Hash, fmt.Sprintf("%s: remote entry is not an ActionResult: %v", ReasonCorrupt, err)}
	}
	return r, nil
}

func (h *httpRemote) UpdateActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error {
	return h.redact.wrap(h.updateActionResult(ctx, key, r))
}

func (h *httpRemote) updateActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error {
	if err := checkDigest(key); err != nil {
		return err
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(ctx, h.timeout)
	defer cancel()
	return h.put(ctx, "ac", key.Hash, bytes.NewReader(data), int64(len(data)))
}

func (h *httpRemote) put(ctx context.Context, kind, hash string, body io.Reader, size int64) error {
	resp, err := h.do(ctx, http.MethodPut, kind, hash, body, size)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("PUT %s/%s/%s: %s", h.describe, kind, hash, resp.Status)
	}
	return nil
}

func (h *httpRemote) FindMissingBlobs(ctx context.Context, ds []*repb.Digest) ([]*repb.Digest, error) {
	missing, err := h.findMissingBlobs(ctx, ds)
	return missing, h.redact.wrap(err)
}

func (h *httpRemote) findMissingBlobs(ctx context.Context, ds []*repb.Digest) ([]*repb.Digest, error) {
	for _, d := range ds {
		if err := checkDigest(d); err != nil {
			return nil, err
		}
	}
	present := make([]bool, len(ds))
	errs := make([]error, len(ds))
	sem := make(chan struct{}, findMissingParallelism)
	var wg sync.WaitGroup
	for i, d := range ds {
		if d.SizeBytes == 0 {
			present[i] = true // the empty blob is always available
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			present[i], errs[i] = h.has(ctx, d)
		}()
	}
	wg.Wait()
	var missing []*repb.Digest
	for i, d := range ds {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if !present[i] {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

// has asks with HEAD whether the blob d is there with its size. A blob of
// another size is as good as missing: uploading it again repairs it.
func (h *httpRemote) has(ctx context.Context, d *repb.Digest) (bool, error) {
	ctx, cancel := requestContext(ctx, h.timeout)
	defer cancel()
	resp, err := h.do(ctx, http.MethodHead, "cas", d.Hash, nil, 0)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return false, nil
	}
	// -1: the server did not say (chunked); trust the 2xx.
	return resp.ContentLength == -1 || resp.ContentLength == d.SizeBytes, nil
}

func (h *httpRemote) UploadBlob(ctx context.Context, d *repb.Digest, r io.Reader) error {
	return h.redact.wrap(h.uploadBlob(ctx, d, r))
}

func (h *httpRemote) uploadBlob(ctx context.Context, d *repb.Digest, r io.Reader) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	ctx, cancel := requestContext(ctx, h.timeout)
	defer cancel()
	// The digestReader fails the body's last read if the bytes are not
	// blob d; net/http then aborts the request, and the server, short of
	// its Content-Length, stores nothing.
	if err := h.put(ctx, "cas", d.Hash, newDigestReader(r, d), d.SizeBytes); err != nil {
		return fmt.Errorf("uploading blob %s: %w", d.Hash, err)
	}
	return nil
}

func (h *httpRemote) DownloadBlob(ctx context.Context, d *repb.Digest, w io.Writer) error {
	return h.redact.wrap(h.downloadBlob(ctx, d, w))
}

func (h *httpRemote) downloadBlob(ctx context.Context, d *repb.Digest, w io.Writer) error {
	if err := checkDigest(d); err != nil {
		return err
	}
	if d.SizeBytes == 0 {
		return nil
	}
	ctx, cancel := requestContext(ctx, h.timeout)
	defer cancel()
	resp, err := h.do(ctx, http.MethodGet, "cas", d.Hash, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return &MissError{d.Hash, ReasonNotFound}
	}
	dw := newDigestWriter(w, d)
	if _, err := io.Copy(dw, resp.Body); err != nil {
		if IsMiss(err) {
			return err
		}
		return contextErr(ctx, fmt.Errorf("downloading blob %s: %w", d.Hash, err))
	}
	return dw.check()
}
