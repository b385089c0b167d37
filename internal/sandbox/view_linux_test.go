//go:build linux

package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests check what a test can and cannot touch (README.md): each
// runs a real shell script in the sandbox and looks at what it printed and
// at the host's files afterwards. TestUnprivileged runs them again as an
// unprivileged user.

// hostFixture is a workspace with an undeclared file, a home with a secret
// and a file in the host's /tmp.
type hostFixture struct {
	ws, home, hostTmpFile string
}

func newHostFixture(t *testing.T) hostFixture {
	ws := workspace(t, map[string]string{
		"pkg/a.txt":      "A",
		"pkg/secret.txt": "undeclared",
	})
	home := workspace(t, map[string]string{
		".npmrc":        "//registry/:_authToken=SECRET",
		".ssh/id_rsa":   "PRIVATE KEY",
		"notes.txt":     "home file",
		".cache/go/one": "cache",
	})
	f, err := os.CreateTemp("", "host-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("host")
	f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	return hostFixture{ws: ws, home: home, hostTmpFile: f.Name()}
}

func (h hostFixture) spec(t *testing.T, script string) Spec {
	s := newSpec(t, h.ws, "sh", "-c", script)
	s.Inputs = []string{"pkg/a.txt"}
	s.Home = h.home
	s.Env["WS"], s.Env["REAL_HOME"], s.Env["HOST_TMP"] = h.ws, h.home, h.hostTmpFile
	return s
}

// unchanged fails the test if a host file of the fixture changed.
func (h hostFixture) unchanged(t *testing.T) {
	t.Helper()
	for p, want := range map[string]string{
		filepath.Join(h.ws, "pkg/a.txt"):      "A",
		filepath.Join(h.ws, "pkg/secret.txt"): "undeclared",
		filepath.Join(h.home, ".npmrc"):       "//registry/:_authToken=SECRET",
		filepath.Join(h.home, "notes.txt"):    "home file",
		h.hostTmpFile:                         "host",
	} {
		if got, err := os.ReadFile(p); err != nil || string(got) != want {
			t.Errorf("host file %s = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, p := range []string{filepath.Join(h.ws, "pkg/owned.txt"), filepath.Join(h.home, "owned.txt"), filepath.Join(h.ws, "owned.txt")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the test created %s on the host", p)
		}
	}
}

// runView runs script with namespaces and returns its log; namespaces
// must work (as root, or where user namespaces are allowed).
func runView(t *testing.T, s Spec) string {
	t.Helper()
	res, log := mustRun(t, context.Background(), s, options{})
	if len(res.Warnings) > 0 {
		t.Fatalf("warnings %q: the isolation these tests check is not there", res.Warnings)
	}
	if res.Status != Passed {
		t.Fatalf("%v (exit %d):\n%s", res.Status, res.ExitCode, log)
	}
	return log
}

func TestViewWritesOutsideFail(t *testing.T) {
	h := newHostFixture(t)
	// Each write must fail with "Read-only file system", which the test
	// sees; the script fails if one succeeds.
	script := `
fail=0
for f in "$REAL_HOME/owned.txt" "$REAL_HOME/notes.txt" /usr/owned.txt /etc/owned.txt /owned.txt; do
	if out=$( (echo pwned > "$f") 2>&1 ); then echo "wrote $f"; fail=1; else echo "$out"; fi
done
rm -rf "$REAL_HOME/.ssh" 2>&1 || true
exit $fail`
	log := runView(t, h.spec(t, script))
	if got := strings.Count(log, "Read-only file system"); got != 5 {
		t.Errorf("want 5 writes failing with EROFS, got %d:\n%s", got, log)
	}
	h.unchanged(t)
	if _, err := os.Stat(filepath.Join(h.home, ".ssh/id_rsa")); err != nil {
		t.Errorf("rm -rf in home removed a file: %v", err)
	}
}

func TestViewSourceTreeHidden(t *testing.T) {
	h := newHostFixture(t)
	// The workspace's own path shows the exec root: declared inputs only.
	// A write there lands in the action's copy, never in the user's files.
	script := `
pwd
ls "$WS/pkg"
cat "$WS/pkg/secret.txt" 2>&1 && exit 1
echo pwned > "$WS/pkg/owned.txt" && echo pwned > "$WS/pkg/a.txt" && cat "$WS/pkg/a.txt"
cat "$TEST_SRCDIR/$TEST_WORKSPACE/pkg/a.txt"`
	log := runView(t, h.spec(t, script))
	want := h.ws + "/pkg\na.txt\n"
	if !strings.HasPrefix(log, want) || !strings.Contains(log, "secret.txt: No such file") || !strings.HasSuffix(log, "pwned\npwned\n") {
		t.Errorf("log = %q; want cwd and only the declared file listed (%q), the undeclared one missing, writes landing in the exec root", log, want)
	}
	h.unchanged(t)
}

func TestViewHomeAndHostTmpHidden(t *testing.T) {
	h := newHostFixture(t)
	script := `
cat "$REAL_HOME/.npmrc" 2>&1
cat "$REAL_HOME/.ssh/id_rsa" 2>&1
cat "$HOST_TMP" 2>&1
echo private > "$HOST_TMP" && cat "$HOST_TMP"
echo shm > /dev/shm/x && cat /dev/shm/x
test "$(ls /dev/shm)" = x || { echo "/dev/shm is shared"; exit 1; }
true`
	log := runView(t, h.spec(t, script))
	if strings.Contains(log, "SECRET") || strings.Contains(log, "PRIVATE") || strings.Contains(log, "host\n") {
		t.Errorf("the test read a host file:\n%s", log)
	}
	if !strings.Contains(log, "private\nshm\n") {
		t.Errorf("/tmp and /dev/shm are not private and writable:\n%s", log)
	}
	h.unchanged(t)
}

func TestViewExceptions(t *testing.T) {
	h := newHostFixture(t)
	venv := filepath.Join(h.ws, ".venv")
	if err := os.MkdirAll(filepath.Join(venv, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(venv, "lib/site.py"), []byte("installed"), 0o644)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			// A read-only environment inside the hidden workspace shows at
			// its relative place in both modes; with namespaces, also at
			// its absolute path, unwritable; a writable cache under the
			// hidden home keeps what the test writes.
			script := `cat ../.venv/lib/site.py; echo
if [ -z "$NO_NS" ]; then
	cat "$WS/.venv/lib/site.py"; echo
	(echo x > "$WS/.venv/lib/site.py") 2>&1
	cat "$REAL_HOME/.cache/go/one"; echo
	echo two > "$REAL_HOME/.cache/go/two"
	echo three > "$REAL_HOME/.cache/new/three"
	cat "$REAL_HOME/notes.txt" 2>&1
fi
true`
			s := h.spec(t, script)
			s.ReadOnlyPaths = []string{venv}
			// .cache/new does not exist yet: it is made, as the tool would.
			s.WritablePaths = []string{filepath.Join(h.home, ".cache/go"), filepath.Join(h.home, ".cache/new")}
			if m.opt.noNamespaces {
				s.Env["NO_NS"] = "1"
			}
			res, log := mustRun(t, context.Background(), s, m.opt)
			if res.Status != Passed || !strings.HasPrefix(log, "installed\n") {
				t.Fatalf("%v:\n%s", res.Status, log)
			}
			if m.opt.noNamespaces {
				return
			}
			if !strings.Contains(log, "installed\ninstalled\n") || !strings.Contains(log, "Read-only file system") ||
				!strings.Contains(log, "cache\n") || strings.Contains(log, "home file") {
				t.Errorf("log:\n%s\nwant the environment readable, not writable; the cache readable; the rest of home hidden", log)
			}
			if got, _ := os.ReadFile(filepath.Join(h.home, ".cache/go/two")); string(got) != "two\n" {
				t.Errorf("the write to the writable cache did not reach the host: %q", got)
			}
			if got, _ := os.ReadFile(filepath.Join(h.home, ".cache/new/three")); string(got) != "three\n" {
				t.Errorf("the write to the new writable cache did not reach the host: %q", got)
			}
			if got, _ := os.ReadFile(filepath.Join(venv, "lib/site.py")); string(got) != "installed" {
				t.Errorf("the environment changed: %q", got)
			}
		})
	}
	h.unchanged(t)
}

func TestViewRelaxed(t *testing.T) {
	h := newHostFixture(t)
	// Relaxed: the real workspace and home are visible, read-only, except
	// the hide list; /tmp stays private.
	script := `
pwd
cat "$WS/pkg/secret.txt"; echo
cat "$REAL_HOME/notes.txt"; echo
cat "$REAL_HOME/.npmrc" 2>&1; echo
ls "$REAL_HOME/.ssh" 2>&1; echo
cat "$TEST_SRCDIR/$TEST_WORKSPACE/pkg/a.txt"; echo
(echo pwned > "$WS/pkg/owned.txt") 2>&1
(echo pwned > "$REAL_HOME/owned.txt") 2>&1
cat "$HOST_TMP" 2>&1
true`
	s := h.spec(t, script)
	s.Relaxed = true
	s.HidePaths = []string{filepath.Join(h.home, ".npmrc"), filepath.Join(h.home, ".ssh"), "/nonexistent/path"}
	log := runView(t, s)
	want := h.ws + "/pkg\nundeclared\nhome file\n\n\nA\n"
	if !strings.HasPrefix(log, want) || strings.Count(log, "Read-only file system") != 2 || strings.Contains(log, "SECRET") || strings.Contains(log, "PRIVATE") || strings.Contains(log, "host\n") {
		t.Errorf("log = %q, want it to start %q, show two failed writes and no secret", log, want)
	}
	h.unchanged(t)
}

// TestUnprivileged runs the view tests again as an unprivileged user
// (nobody), as CI must: there the sandbox relies on a user namespace. The
// test binary and the temporary folders are made reachable for that user.
func TestUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already unprivileged: the other tests cover it")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv (util-linux) is needed to run the tests as an unprivileged user: ", err)
	}
	dir, err := os.MkdirTemp("", "sandbox-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o1777)
	exe, _ := os.Executable()
	bin := filepath.Join(dir, "sandbox.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		bin, "-test.run", "^(TestView|TestTrace|TestEnvironmentIsExact|TestExecRootHoldsOnlyDeclaredInputs|TestSameUser|TestRunsInPidNamespace)", "-test.count=1")
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	t.Logf("as nobody:\n%s", out)
}

// A version manager's shim on PATH under the hidden home runs an
// interpreter from elsewhere in its installation: the installation shows,
// read-only, and the rest of home stays hidden.
func TestViewToolsUnderHome(t *testing.T) {
	h := newHostFixture(t)
	root := filepath.Join(h.home, ".fakeenv")
	for p, content := range map[string]string{
		"shims/tool":            "#!/bin/sh\nexec \"$(dirname \"$0\")/../versions/1.0/bin/tool\"\n",
		"versions/1.0/bin/tool": "#!/bin/sh\necho real tool\n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte(content), 0o755)
	}
	s := h.spec(t, `tool; cat "$REAL_HOME/notes.txt" 2>&1; (echo x > "$REAL_HOME/.fakeenv/x") 2>&1; true`)
	s.Env["PATH"] = filepath.Join(root, "shims") + ":/usr/bin:/bin"
	log := runView(t, s)
	if !strings.HasPrefix(log, "real tool\n") || strings.Contains(log, "home file") || !strings.Contains(log, "Read-only file system") {
		t.Errorf("log:\n%s\nwant the tool to run, the rest of home hidden, the installation read-only", log)
	}
}

// pytest, which writes __pycache__ next to the sources and (unless told
// not to) .pytest_cache, passes in the read-only view; go test, which needs
// its build cache, too (as root only: as nobody it would compile the
// standard library into an empty cache first).
func TestViewPytestAndGoTest(t *testing.T) {
	ws := workspace(t, map[string]string{
		"pkg/test_x.py": "import os\n\ndef test_x():\n    assert os.path.exists('test_x.py')\n",
		"go/go.mod":     "module example.com/x\n\ngo 1.21\n",
		"go/x_test.go":  "package x\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {}\n",
	})
	pytest, err := exec.LookPath("pytest")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("pytest is needed (scripts/install-deps.sh installs it): ", err)
	}
	if err == nil {
		s := newSpec(t, ws, pytest, "-p", "no:cacheprovider", "-q", "test_x.py")
		s.Inputs = []string{"pkg/test_x.py"}
		s.Home, _ = os.UserHomeDir()
		if log := runView(t, s); !strings.Contains(log, "1 passed") {
			t.Errorf("pytest:\n%s", log)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil || os.Geteuid() != 0 {
		return
	}
	out, err := exec.Command(goBin, "env", "GOCACHE", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Fields(string(out))
	s := newSpec(t, ws, "go", "test", ".")
	s.Package = "go"
	s.Inputs = []string{"go/go.mod", "go/x_test.go"}
	s.Env["PATH"] = filepath.Dir(goBin) + ":/usr/bin:/bin"
	s.Env["GOCACHE"] = vars[0]
	s.Env["GOFLAGS"] = "-mod=mod"
	s.WritablePaths = []string{vars[0]}
	s.ReadOnlyPaths = []string{vars[1]}
	s.Home, _ = os.UserHomeDir()
	if log := runView(t, s); !strings.Contains(log, "ok") {
		t.Errorf("go test:\n%s", log)
	}
}
