package report

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/rules"
)

// The HTML report is checked in a real browser: Debian's chromium, which
// scripts/install-deps.sh installs. Under CI=true a missing chromium is a
// failure, never a skip.
func chromium(tb testing.TB) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium is not installed (scripts/install-deps.sh installs it); the HTML report's browser tests need it")
	}
	tb.Skip("chromium is not installed; scripts/install-deps.sh installs it")
	return ""
}

// browse opens url headless, with a fresh profile and nothing that would
// reach the network, and returns what chromium printed for args
// (--dump-dom: the DOM after the page's scripts ran).
func browse(tb testing.TB, bin, url string, args ...string) []byte {
	profile := tb.TempDir()
	argv := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile}, args...)
	cmd := exec.Command(bin, append(argv, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Dir = profile
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return out
}

// renderedReport is the part of a dumped DOM that the page's script drew:
// the <main> element, without the JSON data the page carries, so that a
// label found in it was rendered, not merely embedded.
func renderedReport(tb testing.TB, dom []byte) string {
	s := string(dom)
	i, j := strings.Index(s, `<main id="report">`), strings.Index(s, "</main>")
	if i < 0 || j < i {
		tb.Fatalf("no rendered <main id=\"report\"> in the DOM:\n%.2000s", s)
	}
	if !strings.Contains(s, `data-rendered="`) {
		tb.Fatalf("the page's script did not finish:\n%.2000s", s)
	}
	return s[i:j]
}

// domText is how a DOM serializer writes text: &, < and > escaped.
var domText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;")

// recordOf feeds a run's events through a Recorder, with marks.
func recordOf(events []sched.Event, marks map[string][]string) *Record {
	r := NewRecorder("/ws", "regression", marks, nil)
	for _, e := range events {
		r.Handle(e)
	}
	return r.Record()
}

func writeReport(tb testing.TB, rec *Record) string {
	path := filepath.Join(tb.TempDir(), "report.html")
	if err := WriteHTMLFile(path, rec); err != nil {
		tb.Fatal(err)
	}
	return path
}

var testRow = regexp.MustCompile(`<tr class="test" data-label="([^"]+)" data-status="([^"]+)"( hidden="")?>`)

// rows returns each rendered test row's label and whether it is hidden.
func rows(tb testing.TB, main string) map[string]bool {
	m := map[string]bool{}
	for _, sm := range testRow.FindAllStringSubmatch(main, -1) {
		m[sm[1]] = sm[3] != ""
	}
	return m
}

func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	events := aRun(t)
	rec := recordOf(events, map[string][]string{"//svc:broken": {"db"}, "//svc:ok": {"db", "unit"}, "//svc:slow": {"unit"}})
	// A label and a log that are markup must show as text.
	log := filepath.Join(t.TempDir(), "evil.log")
	os.WriteFile(log, []byte("<script>document.title='pwned'</script> & <b>not bold</b>\n"), 0o644)
	rec.Tests = append(rec.Tests, TestRecord{Label: "//svc:<i>odd</i>", Status: "failed", Marks: []string{}, LogTail: sched.LogTail(log, TailLines), Log: log})
	rec.Actions = append(rec.Actions, ActionRecord{ID: "//svc:<i>odd</i>", Label: "//svc:<i>odd</i>", Status: "failed", Slot: 1, StartS: 0.1, DurS: 0.2, Attempts: 1})
	path := writeReport(t, rec)

	main := renderedReport(t, browse(t, bin, "file://"+path, "--dump-dom"))
	for _, a := range rec.Actions {
		if !strings.Contains(main, domText.Replace(a.ID)) {
			t.Errorf("the rendered report does not show executed test %s", a.ID)
		}
	}
	nTails := 0
	for _, tr := range rec.Tests {
		if tr.Status == "failed" || tr.Status == "timeout" {
			if tr.LogTail == "" {
				t.Fatalf("%s failed but its record has no log tail", tr.Label)
			}
			nTails++
			if !strings.Contains(main, domText.Replace(tr.LogTail)) {
				t.Errorf("the rendered report does not show the log tail of %s: %q", tr.Label, tr.LogTail)
			}
		}
	}
	if nTails != 3 {
		t.Errorf("%d failed tests with a log tail, want 3", nTails)
	}
	for _, want := range []string{"TestSum", "want 2, got 3", "2 workers", "Over budget", "seed <b>7</b>"} {
		if !strings.Contains(main, want) {
			t.Errorf("the rendered report lacks %q", want)
		}
	}
	if strings.Contains(main, "<i>odd</i>") || strings.Contains(main, "<b>not bold</b>") {
		t.Errorf("a test's label or log was rendered as markup")
	}
	all := rows(t, main)
	if len(all) != len(rec.Tests) {
		t.Fatalf("%d test rows, want %d: %v", len(all), len(rec.Tests), all)
	}
	for l, hidden := range all {
		if hidden {
			t.Errorf("unfiltered report hides %s", l)
		}
	}

	// The filter, set through the URL fragment as a link to a filtered
	// view would set it.
	for _, c := range []struct {
		fragment string
		shown    []string
	}{
		{"status=failed", []string{"//svc:broken", "//svc:slow", "//svc:<i>odd</i>"}},
		{"status=cached", []string{"//svc:cached"}},
		{"status=flaky", []string{"//svc:flaky"}},
		{"mark=db", []string{"//svc:broken", "//svc:ok"}},
		{"mark=unit&status=failed", []string{"//svc:slow"}},
		{"q=BRO", []string{"//svc:broken"}},
	} {
		main := renderedReport(t, browse(t, bin, "file://"+path+"#"+c.fragment, "--dump-dom"))
		got := rows(t, main)
		want := map[string]bool{}
		for _, l := range c.shown {
			want[domText.Replace(l)] = true
		}
		for l, hidden := range got {
			if hidden == want[l] {
				t.Errorf("#%s: %s hidden=%v, want %v", c.fragment, l, hidden, !want[l])
			}
		}
		if s := fmt.Sprintf("%d of %d tests shown", len(c.shown), len(rec.Tests)); !strings.Contains(main, s) {
			t.Errorf("#%s: the page does not say %q", c.fragment, s)
		}
		// A failure's card follows the filter too.
		if strings.Contains(c.fragment, "status=cached") && !strings.Contains(main, `class="failure failed" data-label="//svc:broken" hidden=""`) {
			t.Errorf("#%s: the failure card of //svc:broken is not hidden", c.fragment)
		}
	}

	// A screenshot, kept where Bazel's convention (and suite) keeps a
	// test's undeclared outputs, else in the test's temporary folder.
	dir := os.Getenv("TEST_UNDECLARED_OUTPUTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "report.png")
	browse(t, bin, "file://"+path, "--window-size=1200,1600", "--hide-scrollbars", "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10_000 {
		t.Errorf("the screenshot is not a PNG of a drawn page (%d bytes)", len(b))
	}
	t.Logf("screenshot: %s", shot)
}

// manyTests is a run of n tests on 8 slots, every tenth failing with a
// log and every third cached.
func manyTests(tb testing.TB, n int) *Record {
	log := filepath.Join(tb.TempDir(), "test.log")
	os.WriteFile(log, []byte(strings.Repeat("some output of a failing test\n", 30)), 0o644)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []sched.Event{sched.RunStart{Jobs: 8, Selected: n, Actions: n, Time: t0}}
	var results []sched.TestResult
	for i := 0; i < n; i++ {
		tt := &rules.Test{Label: label.Label{Pkg: fmt.Sprintf("pkg%d", i/100), Name: fmt.Sprintf("test_%d", i)}, Marks: []string{"unit"}}
		a := &action.Action{Test: tt, Label: tt.Label, Shards: 1, Runs: 1, Run: 1}
		o := sched.Outcome{Status: sched.Passed, Duration: time.Duration(i%50) * time.Millisecond}
		if i%10 == 0 {
			o.Status, o.LogPath = sched.Failed, log
		}
		o.Cached = i%3 == 0 && o.Status == sched.Passed
		start := t0.Add(time.Duration(i/8) * 10 * time.Millisecond)
		events = append(events, sched.ActionEnd{Action: a, Slot: i % 8, Attempts: 1, Outcome: o, Start: start, End: start.Add(o.Duration)})
		results = append(results, sched.TestResult{Label: a.Label.String(), Status: o.Status, Cached: o.Cached, Duration: o.Duration, LogPath: o.LogPath})
	}
	events = append(events, sched.RunEnd{Tests: results, Wall: time.Duration(n/8) * 10 * time.Millisecond, Time: t0})
	return recordOf(events, nil)
}

// BenchmarkHTMLRender10000 measures how long chromium takes to load and
// draw the report of a 10,000-test run, from process start to the dumped
// DOM: the time a person waits for the page.
func BenchmarkHTMLRender10000(b *testing.B) {
	bin := chromium(b)
	path := writeReport(b, manyTests(b, 10_000))
	fi, _ := os.Stat(path)
	b.ReportMetric(float64(fi.Size())/1e6, "MB/page")
	var scriptMS, layoutMS float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dom := browse(b, bin, "file://"+path, "--dump-dom")
		main := renderedReport(b, dom)
		if n := len(testRow.FindAllStringIndex(main, -1)); n != 10_000 {
			b.Fatalf("%d test rows drawn, want 10000", n)
		}
		scriptMS += pageMS(b, dom, "data-script-ms")
		layoutMS += pageMS(b, dom, "data-layout-ms")
	}
	// Inside the page, from the start of navigation: the script done, and
	// the page laid out. The rest of ns/op is chromium starting and
	// serializing the DOM, which a person opening the page does not wait for.
	b.ReportMetric(scriptMS/float64(b.N), "ms-drawn")
	b.ReportMetric(layoutMS/float64(b.N), "ms-laid-out")
}

func pageMS(tb testing.TB, dom []byte, attr string) float64 {
	m := regexp.MustCompile(attr + `="(\d+)"`).FindSubmatch(dom)
	if m == nil {
		tb.Fatalf("the page did not record %s", attr)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
