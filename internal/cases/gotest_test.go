package cases

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The module `go test -json` runs on: every kind of result a Go test can have.
var tinyModule = map[string]string{
	"go.mod": "module tiny\n\ngo 1.26\n",
	"ok/ok_test.go": `package ok

import (
	"fmt"
	"testing"
)

func TestPass(t *testing.T) { t.Log("fine") }
func TestFail(t *testing.T) { t.Error("want 1, got 2") }
func TestSkip(t *testing.T) { t.Skip("not today") }
func TestParent(t *testing.T) {
	t.Run("sub ok", func(t *testing.T) {})
	t.Run("sub bad", func(t *testing.T) { t.Fatal("sub broke") })
}
func TestParallelA(t *testing.T) { t.Parallel(); t.Log("a says hi") }
func TestParallelB(t *testing.T) { t.Parallel(); t.Error("b broke") }
func TestNoisy(t *testing.T) {
	for i := range 10000 {
		fmt.Printf("line %d\n", i)
	}
	t.Fail()
}
`,
	// A package whose test binary does not build.
	"broken/b.go":      "package broken\n\nfunc f() int { return \"x\" }\n",
	"broken/b_test.go": "package broken\n\nimport \"testing\"\n\nfunc TestNeverRuns(t *testing.T) {}\n",
	// A package whose binary times out while a test runs.
	"hangs/h_test.go": `package hangs

import (
	"testing"
	"time"
)

func TestQuick(t *testing.T) {}
func TestHangs(t *testing.T) { time.Sleep(time.Minute) }
`,
}

// goTestJSON runs `go test -json` on tinyModule and returns its output.
func goTestJSON(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, content := range tinyModule {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-json", "-timeout=1s", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=", "GOWORK=off", "GOPROXY=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("go test -json: %v, want exit status 1\n%s", err, stderr.Bytes())
	}
	return out
}

func TestParseGoTestJSON(t *testing.T) {
	stream := goTestJSON(t)
	// Lines that are not events, as a wrapper script or `go vet` may add.
	stream = append([]byte("some build noise\n{not json\n"), stream...)
	got, err := ParseGoTestJSON(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Case{}
	for _, c := range got {
		key := c.Class + " " + c.Name
		if _, dup := byName[key]; dup {
			t.Errorf("case %s appears twice", key)
		}
		byName[key] = c
	}

	tests := []struct {
		class, name string
		status      Status
		has, hasNot []string // in Message
	}{
		{"tiny/ok", "TestPass", StatusPassed, nil, nil},
		{"tiny/ok", "TestFail", StatusFailed, []string{"ok_test.go:9: want 1, got 2", "--- FAIL: TestFail"}, []string{"=== RUN"}},
		{"tiny/ok", "TestSkip", StatusSkipped, []string{"not today"}, nil},
		{"tiny/ok", "TestParent", StatusFailed, nil, nil},
		{"tiny/ok", "TestParent/sub_ok", StatusPassed, nil, nil},
		{"tiny/ok", "TestParent/sub_bad", StatusFailed, []string{"sub broke"}, nil},
		{"tiny/ok", "TestParallelA", StatusPassed, nil, nil},
		{"tiny/ok", "TestParallelB", StatusFailed, []string{"b broke"}, []string{"a says hi", "=== CONT", "=== PAUSE"}},
		// The start says what the test did first, the end how it ended.
		{"tiny/ok", "TestNoisy", StatusFailed, []string{"line 0\n", "line 9999\n--- FAIL: TestNoisy", "[...]"}, []string{"line 5000\n"}},
		{"tiny/hangs", "TestQuick", StatusPassed, nil, nil},
		{"tiny/hangs", "TestHangs", StatusError, []string{"panic: test timed out after 1s", "no result"}, nil},
		{"tiny/broken", "TestMain", StatusError, []string{`cannot use "x"`, "[build failed]"}, nil},
	}
	for _, tt := range tests {
		c, ok := byName[tt.class+" "+tt.name]
		if !ok {
			t.Errorf("no case %s %s; got %v", tt.class, tt.name, got)
			continue
		}
		if c.Status != tt.status {
			t.Errorf("%s: status %q, want %q; message:\n%s", tt.name, c.Status, tt.status, c.Message)
		}
		if tt.status == StatusPassed && c.Message != "" {
			t.Errorf("%s passed but has a message: %q", tt.name, c.Message)
		}
		for _, s := range tt.has {
			if !strings.Contains(c.Message, s) {
				t.Errorf("%s: message does not contain %q:\n%s", tt.name, s, c.Message)
			}
		}
		for _, s := range tt.hasNot {
			if strings.Contains(c.Message, s) {
				t.Errorf("%s: message contains %q:\n%s", tt.name, s, c.Message)
			}
		}
		if len(c.Message) > MaxMessage {
			t.Errorf("%s: message is %d bytes, more than %d", tt.name, len(c.Message), MaxMessage)
		}
	}
	if len(got) != len(tests) {
		t.Errorf("got %d cases, want %d: %v", len(got), len(tests), got)
	}
	if d := byName["tiny/hangs TestHangs"].Duration; d < 900*time.Millisecond || d > time.Minute {
		t.Errorf("TestHangs ran until the 1s timeout, but its duration is %v", d)
	}
	if first, second := indexOf(got, "TestPass"), indexOf(got, "TestFail"); first > second {
		t.Errorf("TestPass ran before TestFail but comes after it")
	}
}

func indexOf(cs []Case, name string) int {
	for i, c := range cs {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func TestParseGoTestJSONEmpty(t *testing.T) {
	got, err := ParseGoTestJSON(strings.NewReader("no events at all\n"))
	if err != nil || len(got) != 0 {
		t.Errorf("ParseGoTestJSON(no events) = %v, %v; want no cases", got, err)
	}
}

func TestParseGoTestJSONReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"Action":"run","Package":"p","Test":"TestA"}`+"\n"), errReader{})
	if _, err := ParseGoTestJSON(r); err == nil {
		t.Error("ParseGoTestJSON of a failing reader succeeded, want its error")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }
