package cache

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"
)

// These tests run a real nginx with WebDAV PUT, the simplest server of
// Bazel's HTTP cache protocol (test.sh installs it). Without nginx they are
// skipped, except under CI=true, where that is a failure.

type nginxOptions struct {
	user, password string // auth_basic when user != ""
	bearer         string // required "Authorization: Bearer <bearer>" when set
	tls            bool   // serve https with a self-signed certificate
	readOnly       bool   // PUT is forbidden (403), as for anonymous clients of a shared cache
}

type nginxServer struct {
	url     string // base URL of the cache, without credentials
	dataDir string // the directory holding ac/ and cas/
	pool    *x509.CertPool
	cert    string // certificate file when tls
	kill    func()
}

func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed (test.sh installs it: apt-get install -y nginx)")
	}
	t.Skip("nginx is not installed; apt-get install -y nginx to run the HTTP remote cache tests")
	return ""
}

// startNginx starts nginx on a free loopback port serving a WebDAV cache
// under /cache/, and stops it (and its workers) when the test ends.
func startNginx(t *testing.T, o nginxOptions) *nginxServer {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	for _, sub := range []string{"data/cache", "tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &nginxServer{dataDir: filepath.Join(dir, "data", "cache")}
	var location strings.Builder
	location.WriteString("dav_methods PUT;\n      create_full_put_path on;\n      dav_access user:rw group:r all:r;\n")
	if o.user != "" {
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.user+":{PLAIN}"+o.password+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&location, "      auth_basic \"suite cache\";\n      auth_basic_user_file %s;\n", htpasswd)
	}
	if o.bearer != "" {
		fmt.Fprintf(&location, "      if ($http_authorization != \"Bearer %s\") { return 401; }\n", o.bearer)
	}
	if o.readOnly {
		location.WriteString("      limit_except GET HEAD { deny all; }\n")
	}
	var ssl string
	scheme := "http"
	if o.tls {
		certFile, keyFile, pool := selfSignedCert(t, dir)
		s.pool, s.cert = pool, certFile
		ssl = fmt.Sprintf(" ssl;\n    ssl_certificate %s;\n    ssl_certificate_key %s", certFile, keyFile)
		scheme = "https"
	}
	// nginx started as root hands requests to workers running as
	// "nobody", who could not write into the test's private temp dir.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		conf := fmt.Sprintf(`%s
worker_processes 1;
events { worker_connections 128; }
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path %[2]s/tmp/client_body;
  proxy_temp_path %[2]s/tmp/proxy;
  fastcgi_temp_path %[2]s/tmp/fastcgi;
  uwsgi_temp_path %[2]s/tmp/uwsgi;
  scgi_temp_path %[2]s/tmp/scgi;
  server {
    listen 127.0.0.1:%[3]d%[4]s;
    location /cache/ {
      root %[2]s/data;
      %[5]s    }
  }
}
`, user, dir, port, ssl, location.String())
		confFile := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		logFile := filepath.Join(dir, "logs", fmt.Sprintf("stderr-%d.log", attempt))
		logOut, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-p", dir, "-c", confFile, "-e", "stderr",
			"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
		cmd.Stdout, cmd.Stderr = logOut, logOut
		// Its own process group, so that killing it takes the workers
		// too: a worker whose master died goes on serving.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logOut.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		killed := false
		s.kill = func() {
			if !killed {
				killed = true
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		t.Cleanup(s.kill)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		up := make(chan error, 1)
		go func() { up <- waitForPort(addr, 10*time.Second) }()
		select {
		case err := <-up:
			if err != nil {
				s.kill()
				log, _ := os.ReadFile(logFile)
				t.Fatalf("nginx: %v\n%s", err, log)
			}
		case <-exited:
			log, _ := os.ReadFile(logFile)
			if bytes.Contains(log, []byte("Address already in use")) && attempt < 3 {
				continue // another test took the port between freePort and now
			}
			t.Fatalf("nginx exited at start:\n%s", log)
		}
		s.url = fmt.Sprintf("%s://127.0.0.1:%d/cache", scheme, port)
		return s
	}
}

// withUser returns the server's URL carrying user:password.
func (s *nginxServer) withUser(user, password string) string {
	scheme, rest, _ := strings.Cut(s.url, "://")
	return scheme + "://" + user + ":" + password + "@" + rest
}

func TestHTTPRemoteRoundTrip(t *testing.T) {
	srv := startNginx(t, nginxOptions{})
	r := openRemote(t, srv.url, RemoteOptions{Timeout: 10 * time.Second})
	ctx := t.Context()
	e := newTestEntry("roundtrip", 300<<10)

	if _, err := r.GetActionResult(ctx, e.key); !isNotFound(err) {
		t.Fatalf("GetActionResult of an absent entry: got %v, want a not-found miss", err)
	}
	var buf bytes.Buffer
	if err := r.DownloadBlob(ctx, DigestOf(e.log), &buf); !isNotFound(err) {
		t.Fatalf("DownloadBlob of an absent blob: got %v, want a not-found miss", err)
	}
	all := []*repb.Digest{DigestOf(e.log), DigestOf(e.xml), DigestOf(e.output), DigestOf(nil)}
	missing, err := r.FindMissingBlobs(ctx, all)
	if err != nil || len(missing) != 3 {
		t.Fatalf("FindMissingBlobs on an empty cache: %d missing, %v; want the 3 non-empty blobs", len(missing), err)
	}
	for _, b := range e.blobs() {
		if err := r.UploadBlob(ctx, DigestOf(b), bytes.NewReader(b)); err != nil {
			t.Fatalf("UploadBlob: %v", err)
		}
	}
	if missing, err := r.FindMissingBlobs(ctx, all); err != nil || len(missing) != 0 {
		t.Fatalf("FindMissingBlobs after upload: %v, %v; want none", missing, err)
	}
	if err := r.UpdateActionResult(ctx, e.key, e.result); err != nil {
		t.Fatal(err)
	}
	// What nginx holds is the protocol's layout: a Bazel client or
	// bazel-remote reads the same files.
	if _, err := os.Stat(filepath.Join(srv.dataDir, "ac", e.key.Hash)); err != nil {
		t.Errorf("entry not at {base}/ac/{hash}: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(srv.dataDir, "cas", DigestOf(e.log).Hash)); !bytes.Equal(got, e.log) {
		t.Errorf("log not at {base}/cas/{hash}")
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

	// An upload whose bytes are not the digest's is refused before the
	// server has all of them, so it stores nothing: nginx commits a PUT
	// as soon as it has Content-Length bytes.
	for _, size := range []int{20, 300 << 10} {
		want := bytes.Repeat([]byte("a"), size)
		liar := DigestOf(want)
		wrong := bytes.Clone(want)
		wrong[size-1] = 'b'
		for name, body := range map[string][]byte{"wrong": wrong, "longer": append(bytes.Clone(want), 'a'), "shorter": want[:size-1]} {
			if err := r.UploadBlob(ctx, liar, bytes.NewReader(body)); err == nil {
				t.Errorf("UploadBlob of %d bytes, %s: no error", size, name)
			}
			if _, err := os.Stat(filepath.Join(srv.dataDir, "cas", liar.Hash)); err == nil {
				t.Fatalf("UploadBlob of %d bytes, %s: the server stored a blob under a digest its bytes do not have", size, name)
			}
		}
	}
}

func TestHTTPRemoteBasicAuth(t *testing.T) {
	srv := startNginx(t, nginxOptions{user: "ci", password: "hunter22"})
	e := newTestEntry("auth", 10)
	good := openRemote(t, srv.withUser("ci", "hunter22"), RemoteOptions{})
	if err := good.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("with the right password: %v", err)
	}
	if _, err := good.GetActionResult(t.Context(), e.key); err != nil {
		t.Fatalf("with the right password: %v", err)
	}

	for _, url := range []string{srv.withUser("ci", "wrong-pass"), srv.url} {
		bad := openRemote(t, url, RemoteOptions{})
		_, err := bad.GetActionResult(t.Context(), e.key)
		if err == nil || IsMiss(err) {
			t.Fatalf("%s: got %v, want a refusal that is not a miss", url, err)
		}
		if !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-pass") {
			t.Errorf("error %q: want the 401 and no password", err)
		}
	}
}

func TestHTTPRemoteBearerHeader(t *testing.T) {
	srv := startNginx(t, nginxOptions{bearer: "t0k-s3cret"})
	e := newTestEntry("bearer", 10)

	t.Setenv(RemoteHeadersEnv, "Authorization=Bearer t0k-s3cret,X-Other=1")
	good := openRemote(t, srv.url, RemoteOptions{})
	if err := good.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("with the header: %v", err)
	}

	t.Setenv(RemoteHeadersEnv, "Authorization=Bearer wr0ng-s3cret")
	bad := openRemote(t, srv.url, RemoteOptions{})
	_, err := bad.GetActionResult(t.Context(), e.key)
	if err == nil || IsMiss(err) || !strings.Contains(err.Error(), RemoteHeadersEnv) {
		t.Fatalf("with a wrong token: got %v, want a refusal pointing at %s", err, RemoteHeadersEnv)
	}
	c := NewTiered(openStore(t), bad, true)
	checkMiss(t, c, e.key)
	checkOneWarning(t, c, "wr0ng-s3cret")
}

// A cache holding something else under an entry's or a blob's name (a
// proxy's error page, a truncated file, another tool's data) is never a hit.
func TestHTTPRemoteGarbage(t *testing.T) {
	srv := startNginx(t, nginxOptions{})
	r := openRemote(t, srv.url, RemoteOptions{})
	ctx := t.Context()
	e := newTestEntry("garbage", 1000)

	for _, dir := range []string{"ac", "cas"} {
		os.MkdirAll(filepath.Join(srv.dataDir, dir), 0o755)
	}
	write := func(path string, data []byte) {
		if err := os.WriteFile(filepath.Join(srv.dataDir, path), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ac/"+e.key.Hash, []byte("<html>502 Bad Gateway</html>\xff\xff\xff"))
	_, err := r.GetActionResult(ctx, e.key)
	var miss *MissError
	if !errors.As(err, &miss) || !strings.HasPrefix(miss.Reason, ReasonCorrupt) {
		t.Fatalf("GetActionResult of a garbage entry: got %v, want a corrupt miss", err)
	}
	c := NewTiered(openStore(t), r, false)
	checkMiss(t, c, e.key)
	checkOneWarning(t, c)

	// A good entry whose output blob has other content than its digest.
	if err := r.UpdateActionResult(ctx, e.key, e.result); err != nil {
		t.Fatal(err)
	}
	write("cas/"+DigestOf(e.log).Hash, e.log)
	write("cas/"+DigestOf(e.xml).Hash, e.xml)
	wrong := bytes.Clone(e.output)
	wrong[500] ^= 1
	write("cas/"+DigestOf(e.output).Hash, wrong)
	var buf bytes.Buffer
	err = r.DownloadBlob(ctx, DigestOf(e.output), &buf)
	if !errors.As(err, &miss) || !strings.HasPrefix(miss.Reason, ReasonCorrupt) {
		t.Fatalf("DownloadBlob of a wrong blob: got %v, want a corrupt miss", err)
	}
	longer := append(bytes.Clone(e.output), 'x')
	write("cas/"+DigestOf(e.output).Hash, longer)
	if err := r.DownloadBlob(ctx, DigestOf(e.output), &buf); err == nil {
		t.Fatal("DownloadBlob of a longer blob: no error")
	}

	write("cas/"+DigestOf(e.output).Hash, wrong)
	local := openStore(t)
	c = NewTiered(local, r, false)
	checkMiss(t, c, e.key)
	checkOneWarning(t, c)
	if _, err := local.GetBlob(DigestOf(e.output)); !IsMiss(err) {
		t.Errorf("the wrong blob reached the local store: GetBlob = %v", err)
	}
	if _, err := local.GetActionResult(e.key.Hash); !IsMiss(err) {
		t.Errorf("the entry reached the local store without its blob: %v", err)
	}
}

// An entry whose blob the remote has lost (evicted) is a miss, and the
// remote stays in use: shared caches evict all the time.
func TestHTTPRemoteDanglingEntryIsPlainMiss(t *testing.T) {
	srv := startNginx(t, nginxOptions{})
	r := openRemote(t, srv.url, RemoteOptions{})
	e := newTestEntry("dangling", 10)
	if err := r.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatal(err)
	}
	c := NewTiered(openStore(t), r, false)
	checkMiss(t, c, e.key)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("a dangling remote entry gave warnings %q", w)
	}
	for _, b := range e.blobs() {
		if err := r.UploadBlob(t.Context(), DigestOf(b), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	e.checkHit(t, c) // the remote was not given up on
}

func TestHTTPSRemote(t *testing.T) {
	srv := startNginx(t, nginxOptions{tls: true})
	e := newTestEntry("tls", 10)
	r := openRemote(t, srv.url, RemoteOptions{RootCAs: srv.pool})
	if err := r.UpdateActionResult(t.Context(), e.key, e.result); err != nil {
		t.Fatalf("https with the CA in RootCAs: %v", err)
	}
	if _, err := r.GetActionResult(t.Context(), e.key); err != nil {
		t.Fatalf("https with the CA in RootCAs: %v", err)
	}

	untrusted := openRemote(t, srv.url, RemoteOptions{})
	if _, err := untrusted.GetActionResult(t.Context(), e.key); err == nil || IsMiss(err) ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("https with an unknown CA: got %v, want a certificate error", err)
	}

	// Go reads SSL_CERT_FILE once per process, so a child process checks
	// that the system roots come from it.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHTTPSChildTrustsSSLCertFile$", "-test.v")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+srv.cert, "SUITE_TEST_HTTPS_URL="+srv.url, "SUITE_TEST_HTTPS_KEY="+e.key.Hash)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestHTTPSChildTrustsSSLCertFile")) {
		t.Fatalf("child with SSL_CERT_FILE: %v\n%s", err, out)
	}
}

// TestHTTPSChildTrustsSSLCertFile runs in the child process of TestHTTPSRemote.
func TestHTTPSChildTrustsSSLCertFile(t *testing.T) {
	url := os.Getenv("SUITE_TEST_HTTPS_URL")
	if url == "" {
		t.Skip("run by TestHTTPSRemote")
	}
	r := openRemote(t, url, RemoteOptions{})
	got, err := r.GetActionResult(t.Context(), &repb.Digest{Hash: os.Getenv("SUITE_TEST_HTTPS_KEY"), SizeBytes: 1})
	if err != nil || got == nil {
		t.Fatalf("https trusting SSL_CERT_FILE: %v", err)
	}
}

// A server that accepts connections and never answers (a hung proxy)
// costs one timeout, then the run goes on without it.
func TestHTTPRemoteHungServerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	r := openRemote(t, "http://"+l.Addr().String()+"/cache", RemoteOptions{Timeout: 300 * time.Millisecond})
	c := NewTiered(openStore(t), r, true)
	start := time.Now()
	for i := range 5 {
		checkMiss(t, c, newTestEntry(fmt.Sprint("hung", i), 1).key)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("5 lookups took %v: the remote was not given up on after the first timeout", d)
	}
	checkOneWarning(t, c)
	if w := c.Warnings()[0]; !strings.Contains(w, "did not answer within 300ms") {
		t.Errorf("warning %q does not say the remote timed out", w)
	}
}
