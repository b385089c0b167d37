package cases

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
)

// testEvent is one line of `go test -json` (see `go doc test2json`).
type testEvent struct {
	Time        time.Time
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output and build-fail events
	FailedBuild string // a package's fail event when its test binary did not build
}

type goTest struct {
	Case
	out      clipped
	started  time.Time
	finished bool
}

type goPackage struct {
	out         clipped
	failed      bool
	failedBuild string
	last        time.Time
}

// ParseGoTestJSON returns one case per test of a `go test -json` stream, in
// the order the tests started, with the package as Class and subtests named
// "TestX/sub". Lines that are not JSON events, such as a build's messages,
// are skipped. A failed or skipped case keeps its output in Message, bounded
// to MaxMessage bytes.
//
// A test that started but never reported a result (a panic or a timeout
// elsewhere ended the test binary) has status Error. A package that failed
// without any failed test — it did not build, or TestMain or init failed —
// gets one case named "TestMain" with status StatusError, as gotestsum reports it.
func ParseGoTestJSON(r io.Reader) ([]Case, error) {
	var (
		tests  []*goTest
		byName = map[[2]string]*goTest{}
		pkgs   []string
		byPkg  = map[string]*goPackage{}
		builds = map[string]*clipped{}
	)
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		var e testEvent
		if len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &e) == nil && e.Action != "" {
			switch {
			case e.Action == "build-output":
				if builds[e.ImportPath] == nil {
					builds[e.ImportPath] = new(clipped)
				}
				builds[e.ImportPath].WriteString(e.Output)
			case e.Package == "":
			case e.Test == "":
				p := byPkg[e.Package]
				if p == nil {
					p = new(goPackage)
					byPkg[e.Package] = p
					pkgs = append(pkgs, e.Package)
				}
				p.last = later(p.last, e.Time)
				switch e.Action {
				case "output":
					p.out.WriteString(e.Output)
				case "fail":
					p.failed, p.failedBuild = true, e.FailedBuild
				}
			default:
				if p := byPkg[e.Package]; p != nil {
					p.last = later(p.last, e.Time)
				}
				key := [2]string{e.Package, e.Test}
				t := byName[key]
				if t == nil {
					t = &goTest{Case: Case{Name: e.Test, Class: e.Package}}
					byName[key] = t
					tests = append(tests, t)
				}
				t.event(e)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}

	var out []Case
	failedIn := map[string]bool{}
	for _, t := range tests {
		if !t.finished {
			t.Status = StatusError
			t.out.WriteString("\n(no result: the test binary exited while this test ran)\n")
			if p := byPkg[t.Class]; p != nil && !t.started.IsZero() && p.last.After(t.started) {
				t.Duration = p.last.Sub(t.started)
			}
		}
		if t.Status != StatusPassed {
			t.Message = strings.TrimSpace(t.out.String())
		}
		if t.Status == StatusFailed || t.Status == StatusError {
			failedIn[t.Class] = true
		}
		out = append(out, t.Case)
	}
	for _, name := range pkgs {
		p := byPkg[name]
		if !p.failed || failedIn[name] {
			continue
		}
		msg := p.out.String()
		if b := builds[p.failedBuild]; b != nil {
			msg = b.String() + msg
		}
		out = append(out, Case{Name: "TestMain", Class: name, Status: StatusError, Message: clip(strings.TrimSpace(msg))})
	}
	return out, nil
}

func (t *goTest) event(e testEvent) {
	switch e.Action {
	case "run":
		t.started = e.Time
	case "output":
		if !isFraming(e.Output) {
			t.out.WriteString(e.Output)
		}
	case "pass", "fail", "skip":
		t.Status = map[string]Status{"pass": StatusPassed, "fail": StatusFailed, "skip": StatusSkipped}[e.Action]
		t.Duration = seconds(e.Elapsed)
		t.finished = true
	}
}

// isFraming reports whether an output line is one of the lines with which
// the testing package marks where a test runs, which say nothing about why it failed.
func isFraming(line string) bool {
	for _, p := range []string{"=== RUN ", "=== PAUSE ", "=== CONT ", "=== NAME "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
