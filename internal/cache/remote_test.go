package cache

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/types/known/durationpb"
)

// testEntry is what a clean pass leaves in the cache: a log, a JUnit XML
// and an undeclared output, and the ActionResult naming them.
type testEntry struct {
	key    *repb.Digest // action digest
	log    []byte
	xml    []byte
	output []byte
	result *repb.ActionResult
}

// newTestEntry makes an entry whose action is named by seed; outputSize
// sets the size of the undeclared output (big ones go through ByteStream).
func newTestEntry(seed string, outputSize int) *testEntry {
	e := &testEntry{
		key: DigestOf([]byte("action " + seed)),
		log: []byte("=== RUN TestLogin\n--- PASS: TestLogin (0.01s)\nPASS " + seed + "\n"),
		xml: []byte(`<testsuites><testsuite name="` + seed + `" tests="1"/></testsuites>`),
	}
	e.output = make([]byte, outputSize)
	for i := range e.output {
		e.output[i] = byte(i*7) ^ seed[i%len(seed)]
	}
	e.result = &repb.ActionResult{
		ExitCode:     0,
		StdoutDigest: DigestOf(e.log),
		OutputFiles: []*repb.OutputFile{
			{Path: "test.xml", Digest: DigestOf(e.xml)},
			{Path: "test.outputs/trace.bin", Digest: DigestOf(e.output)},
			{Path: "test.outputs/empty", Digest: DigestOf(nil)},
		},
		ExecutionMetadata: &repb.ExecutedActionMetadata{
			VirtualExecutionDuration: durationpb.New(1500 * time.Millisecond),
		},
	}
	return e
}

func (e *testEntry) blobs() [][]byte { return [][]byte{e.log, e.xml, e.output} }

// putLocal stores e through c as the scheduler does: blobs, then the entry.
func (e *testEntry) putLocal(t *testing.T, c *Tiered) {
	t.Helper()
	for _, b := range e.blobs() {
		if _, err := c.PutBlob(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("PutActionResult: %v", err)
	}
}

// checkHit asserts that c serves e, log bytes and all.
func (e *testEntry) checkHit(t *testing.T, c *Tiered) {
	t.Helper()
	r, err := c.GetActionResult(t.Context(), e.key)
	if err != nil {
		t.Fatalf("GetActionResult: want a hit, got %v (warnings %q)", err, c.Warnings())
	}
	if r.GetStdoutDigest().GetHash() != e.result.StdoutDigest.Hash || len(r.GetOutputFiles()) != 3 ||
		r.GetExecutionMetadata().GetVirtualExecutionDuration().AsDuration() != 1500*time.Millisecond {
		t.Fatalf("GetActionResult returned %v, want %v", r, e.result)
	}
	for _, b := range e.blobs() {
		got, err := c.GetBlob(DigestOf(b))
		if err != nil {
			t.Fatalf("GetBlob after a hit: %v", err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("GetBlob returned %d different bytes, want the %d stored", len(got), len(b))
		}
	}
}

// checkMiss asserts that c misses e.
func checkMiss(t *testing.T, c *Tiered, key *repb.Digest) {
	t.Helper()
	r, err := c.GetActionResult(t.Context(), key)
	if !IsMiss(err) {
		t.Fatalf("GetActionResult: want a miss, got %v, %v", r, err)
	}
}

func openRemote(t *testing.T, url string, o RemoteOptions) Remote {
	t.Helper()
	r, err := OpenRemote(url, o)
	if err != nil {
		t.Fatalf("OpenRemote(%s): %v", url, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// selfSignedCert writes a certificate for 127.0.0.1 and localhost and its
// key into dir, and returns their paths and a pool trusting it.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "suite test cache"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// checkOneWarning asserts that c has given up on its remote with exactly
// one warning that names no secret.
func checkOneWarning(t *testing.T, c *Tiered, secrets ...string) {
	t.Helper()
	w := c.Warnings()
	if len(w) != 1 {
		t.Fatalf("Warnings() = %q, want exactly one", w)
	}
	if !strings.Contains(w[0], "local cache only") {
		t.Errorf("warning %q does not say the run goes on with the local cache", w[0])
	}
	for _, s := range secrets {
		if strings.Contains(w[0], s) {
			t.Errorf("warning %q shows the secret %q", w[0], s)
		}
	}
}

func TestParseRemoteHeaders(t *testing.T) {
	h, err := ParseRemoteHeaders("Authorization=Bearer xyz, X-Other=a=b")
	if err != nil {
		t.Fatal(err)
	}
	if h["Authorization"] != "Bearer xyz" || h["X-Other"] != "a=b" || len(h) != 2 {
		t.Errorf("got %q", h)
	}
	_, err = ParseRemoteHeaders("Authorization=Bearer xyz,s3cr3t-token")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "xyz") {
		t.Errorf("a malformed entry: got %v, want an error naming no value", err)
	}
}

func TestOpenRemoteRejects(t *testing.T) {
	for _, url := range []string{"ftp://host/x", "http://", "grpc:///x"} {
		if _, err := OpenRemote(url, RemoteOptions{}); err == nil {
			t.Errorf("OpenRemote(%q): no error", url)
		}
	}
	_, err := OpenRemote("ftp://me:hunter22@host/x", RemoteOptions{})
	if err == nil || strings.Contains(err.Error(), "hunter22") {
		t.Errorf("error %v shows the password", err)
	}
}

// isNotFound reports whether err is a miss because the thing is absent.
func isNotFound(err error) bool {
	var miss *MissError
	return errors.As(err, &miss) && miss.Reason == ReasonNotFound
}

// freePort returns a loopback port nothing listens on (for a moment).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitForPort(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
