package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/rogpeppe/go-internal/testscript"
	"google.golang.org/grpc/codes"

	"github.com/suite-run/suite/internal/reapitest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"suite": func() { os.Exit(main1()) },
	})
}

// TestScript runs the end-to-end scripts in testdata/script: each is a
// small workspace and the suite commands a user would type against it.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Keep each script's cache private and out of the real home.
			env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/.cache")
			env.Setenv("CI", os.Getenv("CI"))
			// Share the host's Go caches so scripts running go test are fast.
			for v, val := range hostGoEnv() {
				env.Setenv(v, val)
			}
			// The script's REAPI servers by variable, for reapi-executes.
			env.Values[reapiServersKey{}] = map[string]*reapitest.Server{}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			// A tool a script needs "exists" under CI=true even when it is
			// missing, so that CI fails instead of skipping silently.
			ci := os.Getenv("CI") == "true"
			// have:TOOL is exec:TOOL, except that under CI=true it holds
			// even when TOOL is missing, so the script fails instead of
			// skipping silently.
			if tool, ok := strings.CutPrefix(cond, "have:"); ok {
				_, err := exec.LookPath(tool)
				return ci || err == nil, nil
			}
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			case "tmpfs":
				// Mounting a tiny filesystem is how a full disk is made.
				dir, err := os.MkdirTemp("", "suite-tmpfs-")
				if err != nil {
					return false, nil
				}
				defer os.Remove(dir)
				if syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16k") != nil {
					return false, nil
				}
				syscall.Unmount(dir, 0)
				return true, nil
			case "rules_go":
				// For run_runfiles.txtar: Bazel's runfiles library for Go,
				// which scripts/install-deps.sh downloads.
				_, err := os.Stat(filepath.Join(hostGoEnv()["GOMODCACHE"], "github.com/bazelbuild/rules_go@v0.50.1/go/runfiles"))
				return ci || err == nil, nil
			case "chromium":
				// The HTML report, drawn by a real browser.
				_, err := exec.LookPath("chromium")
				return ci || err == nil, nil
			case "bazel":
				_, err := exec.LookPath("bazel")
				return ci || err == nil, nil
			case "nginx":
				_, err1 := exec.LookPath("nginx")
				_, err2 := os.Stat("/usr/sbin/nginx")
				return ci || err1 == nil || err2 == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"noproc":         cmdNoProc,
			"maxconcurrent":  cmdMaxConcurrent,
			"waitfile":       cmdWaitFile,
			"order":          cmdOrder,
			"nginx-cache":    cmdNginxCache,
			"reapi-server":   cmdREAPIServer,
			"reapi-executes": cmdREAPIExecutes,
		},
	})
}

var goEnvOnce = sync.OnceValue(func() map[string]string {
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	m := map[string]string{}
	if err == nil {
		json.Unmarshal(out, &m)
	}
	return m
})

func hostGoEnv() map[string]string { return goEnvOnce() }

// noproc MARKER: no running process has MARKER in its command line.
func cmdNoProc(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: noproc MARKER")
	}
	var found []string
	// A killed process may take a moment to be reaped by its parent, and a
	// killed pid namespace a moment to be torn down on a loaded machine.
	for deadline := time.Now().Add(10 * time.Second); ; {
		found = processesWith(args[0])
		if len(found) == 0 || neg || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if neg != (len(found) > 0) {
		ts.Fatalf("processes with %q: %v", args[0], found)
	}
}

func processesWith(marker string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || e.Name() == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(stat), ") Z ") {
			continue // a zombie is already dead
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, marker) && !strings.Contains(cmd, "noproc") {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

// maxconcurrent TRACE N: at most N spans of the Chrome trace overlap, and
// N of them do at some moment.
func cmdMaxConcurrent(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: maxconcurrent TRACE N")
	}
	var trace struct {
		TraceEvents []struct {
			Ph  string `json:"ph"`
			Ts  int64  `json:"ts"`
			Dur int64  `json:"dur"`
		} `json:"traceEvents"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &trace))
	type edge struct {
		t     int64
		delta int
	}
	var edges []edge
	for _, e := range trace.TraceEvents {
		if e.Ph == "X" {
			edges = append(edges, edge{e.Ts, 1}, edge{e.Ts + e.Dur, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].t != edges[j].t {
			return edges[i].t < edges[j].t
		}
		return edges[i].delta < edges[j].delta // an end before a start at the same instant
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	want, _ := strconv.Atoi(args[1])
	if (peak == want) == neg {
		ts.Fatalf("peak concurrency %d, want %d", peak, want)
	}
}

// waitfile PATH: wait up to 20s for PATH to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	p := ts.MkAbs(args[0])
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	ts.Fatalf("%s did not appear", args[0])
}

// order JSONFILE OUTFILE: writes the labels of the test_result events of a
// --json file, one per line, in order.
func cmdOrder(ts *testscript.TestScript, neg bool, args []string) {
	var labels []string
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		var ev struct{ Event, Label string }
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "test_result" {
			labels = append(labels, ev.Label)
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(labels, "\n")+"\n"), 0o644))
}

// nginx-cache VAR: starts a real nginx serving a WebDAV cache (Bazel's HTTP
// cache protocol) on a free loopback port, and sets VAR to its URL. It is
// stopped when the script ends. Scripts guard it with [!nginx] skip.
func cmdNginxCache(ts *testscript.TestScript, neg bool, args []string) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		ts.Fatalf("nginx is not installed (test.sh installs it: apt-get install -y nginx)")
	}
	dir := ts.MkAbs("nginx")
	for _, d := range []string{"data/cache", "tmp"} {
		ts.Check(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers as nobody could not write into the script's dir
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path %[2]s/tmp;
  server {
    listen 127.0.0.1:%[3]d;
    location /cache/ {
      root %[2]s/data;
      dav_methods PUT;
      create_full_put_path on;
    }
  }
}
`, user, dir, port)
	ts.Check(os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644))
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	ts.Check(cmd.Start())
	ts.Defer(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nginx did not start")
		}
	}
	ts.Setenv(args[0], fmt.Sprintf("http://127.0.0.1:%d/cache", port))
	ts.Setenv(args[0]+"_PGID", fmt.Sprint(cmd.Process.Pid))
}

// reapi-server VAR: starts reapitest's in-process REAPI engine, standing in
// for Buildbarn, BuildBuddy or NativeLink (none installs here), on a free
// loopback port with instance name "main", and sets VAR to its
// grpc://127.0.0.1:PORT/main URL for the suite subprocess. It executes
// actions for real, echoes the env-overrides platform property into their
// environment as BuildBuddy does, and is stopped when the script ends.
type reapiServersKey struct{}

// reapi-server VAR [-platform K=V]... [-refuse CODE [MESSAGE]]: an
// in-process REAPI engine, its URL in $VAR. -platform is the one platform
// its workers advertise, matched exactly as Buildbarn does; -refuse makes
// it refuse with the gRPC code named (FailedPrecondition, Unavailable,
// PermissionDenied, ResourceExhausted): every action when a MESSAGE is
// given, else those no worker's platform matches.
func cmdREAPIServer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || neg {
		ts.Fatalf("usage: reapi-server VAR [-platform K=V]... [-refuse CODE [MESSAGE]]")
	}
	o := reapitest.Options{Instance: "main"}
	for rest := args[1:]; len(rest) > 0; {
		switch {
		case rest[0] == "-platform" && len(rest) > 1:
			k, v, _ := strings.Cut(rest[1], "=")
			if o.WorkerPlatform == nil {
				o.WorkerPlatform = map[string]string{}
			}
			o.WorkerPlatform[k] = v
			rest = rest[2:]
		case rest[0] == "-refuse" && len(rest) > 1:
			var code codes.Code
			ts.Check(code.UnmarshalJSON([]byte(strconv.Quote(toUpperSnake(rest[1])))))
			o.RefuseCode = code
			rest = rest[2:]
			if len(rest) > 0 {
				o.RefuseAll, rest = rest[0], rest[1:]
			}
		default:
			ts.Fatalf("reapi-server: unknown argument %q", rest[0])
		}
	}
	srv, err := reapitest.NewServer(o)
	ts.Check(err)
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL())
	ts.Value(reapiServersKey{}).(map[string]*reapitest.Server)[args[0]] = srv
}

// reapi-executes VAR N: the server of $VAR was asked to execute N actions
// since it started.
func cmdREAPIExecutes(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: reapi-executes VAR N")
	}
	srv := ts.Value(reapiServersKey{}).(map[string]*reapitest.Server)[args[0]]
	if srv == nil {
		ts.Fatalf("no reapi-server %s", args[0])
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	if got := int(srv.Executes.Load()); (got == want) == neg {
		ts.Fatalf("%s executed %d actions, want %d", args[0], got, want)
	}
}

// toUpperSnake turns PermissionDenied into PERMISSION_DENIED, the form
// codes.Code reads.
func toUpperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
