package cases

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// want is what a test expects of one case; Message is checked for a part.
type want struct {
	name, class string
	status      Status
	duration    time.Duration
	message     string
}

func checkCases(t *testing.T, got []Case, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d cases, want %d:\n%v", len(got), len(wants), got)
	}
	for i, w := range wants {
		if i >= len(got) {
			break
		}
		c := got[i]
		if c.Name != w.name || c.Class != w.class || c.Status != w.status {
			t.Errorf("case %d = %q %q %s, want %q %q %s", i, c.Class, c.Name, c.Status, w.class, w.name, w.status)
		}
		if w.duration >= 0 && c.Duration != w.duration {
			t.Errorf("case %d (%s): duration %v, want %v", i, w.name, c.Duration, w.duration)
		}
		if !strings.Contains(c.Message, w.message) || (w.message == "" && c.Message != "") {
			t.Errorf("case %d (%s): message %q, want it to contain %q", i, w.name, c.Message, w.message)
		}
	}
}

// As pytest --junitxml writes it (xunit2, pytest 8), with a parametrized test
// whose time a locale-minded writer grouped with a comma.
const pytestXML = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="6" time="0.052" timestamp="2025-05-01T12:00:00.000000+00:00" hostname="ci"><testcase classname="tests.test_login" name="test_ok" time="0.001" /><testcase classname="tests.test_login" name="test_bad" time="0.002"><failure message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2

tests/test_login.py:5: AssertionError</failure></testcase><testcase classname="tests.test_login" name="test_skip" time="0.000"><skipped type="pytest.skip" message="not today">tests/test_login.py:7: not today</skipped></testcase><testcase classname="tests.test_login" name="test_xfail" time="0.001"><skipped type="pytest.xfail" message="known bug" /></testcase><testcase classname="tests.test_login" name="test_db" time="0.000"><error message="failed on setup with &quot;ValueError: no db&quot;">@pytest.fixture
def db():
&gt;   raise ValueError("no db")
E   ValueError: no db</error></testcase><testcase classname="tests.test_login" name="test_param[a-1]" time="1,234.5" /></testsuite></testsuites>`

// As node --test --test-reporter=junit writes it (node 20): cases directly
// under <testsuites>, describe() blocks as nested suites, todo as skipped.
const nodeXML = `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testcase name="top passes" time="0.001766" classname="test"/>
	<testcase name="top fails" time="0.002052" classname="test" failure="Expected values to be strictly equal:1 !== 2">
		<failure type="testCodeFailure" message="Expected values to be strictly equal:1 !== 2">
[Error [ERR_TEST_FAILURE]: Expected values to be strictly equal:

1 !== 2
] {
  code: 'ERR_TEST_FAILURE',
}
		</failure>
	</testcase>
	<testcase name="skipped one" time="0.000177" classname="test">
		<skipped type="skipped" message="not today"/>
	</testcase>
	<testcase name="todo one" time="0.000156" classname="test">
		<skipped type="todo" message="true"/>
	</testcase>
	<testsuite name="group" time="0.000794" disabled="0" errors="0" tests="2" failures="1" skipped="0" hostname="vm">
		<testcase name="inner ok" time="0.000250" classname="test"/>
		<testcase name="inner bad" time="0.000154" classname="test" failure="boom &lt;&amp;>">
			<failure type="testCodeFailure" message="boom &lt;&amp;>">
Error [ERR_TEST_FAILURE]: boom &lt;&amp;>
			</failure>
		</testcase>
	</testsuite>
	<!-- tests 6 -->
</testsuites>`

// As gotestsum --junitfile writes it, with properties and a TestMain failure.
const gotestsumXML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="2" errors="0" time="0.512000">
	<testsuite tests="3" failures="2" time="0.512000" name="example.com/shop/cart" timestamp="2025-05-01T12:00:00Z">
		<properties>
			<property name="go.version" value="go1.24.2 linux/amd64"></property>
		</properties>
		<testcase classname="example.com/shop/cart" name="TestAdd" time="0.010000"></testcase>
		<testcase classname="example.com/shop/cart" name="TestAdd/empty" time="0.000000"><failure message="Failed" type="">=== RUN   TestAdd/empty&#xA;    cart_test.go:12: got 1&#xA;</failure></testcase>
		<testcase classname="example.com/shop/cart" name="TestMain" time="0.000000"><failure message="Failed" type="">panic: init failed&#xA;</failure></testcase>
	</testsuite>
</testsuites>`

// As Bazel synthesizes test.xml for a test that wrote none: no classname, the
// log in <system-out>.
const bazelXML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
<testsuite name="//svc/auth:login_test" tests="1" failures="0" errors="1">
<testcase name="//svc/auth:login_test" status="run" duration="3" time="3"><error message="exited with error code 1"></error></testcase>
<system-out>
Generated test.log (if the file is not UTF-8, then this may be unreadable):
<![CDATA[FAIL: login rejected]]>
</system-out>
</testsuite>
</testsuites>`

// A lone <testsuite> root with suites nested in suites, as JUnit 5's and
// Maven's writers produce, and a case that has only its suite for a class.
const nestedXML = `<testsuite name="outer" tests="3">
	<testcase name="a" classname="com.acme.A" time="0.5"/>
	<testsuite name="middle">
		<testsuite name="inner">
			<testcase name="b" time="0.25"><skipped/></testcase>
		</testsuite>
		<testcase name="c" time="-1"><failure>stack trace only</failure><error message="and teardown broke"/></testcase>
	</testsuite>
</testsuite>`

func TestParseJUnit(t *testing.T) {
	const any = -1 // do not check the duration
	tests := []struct {
		name string
		xml  string
		want []want
	}{
		{"pytest", pytestXML, []want{
			{"test_ok", "tests.test_login", StatusPassed, time.Millisecond, ""},
			{"test_bad", "tests.test_login", StatusFailed, 2 * time.Millisecond, "assert 1 == 2\ndef test_bad():\n>       assert 1 == 2"},
			{"test_skip", "tests.test_login", StatusSkipped, 0, "not today"},
			{"test_xfail", "tests.test_login", StatusSkipped, time.Millisecond, "known bug"},
			{"test_db", "tests.test_login", StatusError, 0, `failed on setup with "ValueError: no db"` + "\n@pytest.fixture"},
			{"test_param[a-1]", "tests.test_login", StatusPassed, 1234500 * time.Millisecond, ""},
		}},
		{"node", nodeXML, []want{
			{"top passes", "test", StatusPassed, 1766 * time.Microsecond, ""},
			{"top fails", "test", StatusFailed, any, "Expected values to be strictly equal:1 !== 2\n[Error [ERR_TEST_FAILURE]"},
			{"skipped one", "test", StatusSkipped, any, "not today"},
			{"todo one", "test", StatusSkipped, any, ""},
			{"inner ok", "test", StatusPassed, any, ""},
			{"inner bad", "test", StatusFailed, any, "boom <&>"},
		}},
		{"gotestsum", gotestsumXML, []want{
			{"TestAdd", "example.com/shop/cart", StatusPassed, 10 * time.Millisecond, ""},
			{"TestAdd/empty", "example.com/shop/cart", StatusFailed, 0, "Failed\n=== RUN   TestAdd/empty\n    cart_test.go:12: got 1"},
			{"TestMain", "example.com/shop/cart", StatusFailed, 0, "panic: init failed"},
		}},
		{"bazel", bazelXML, []want{
			{"//svc/auth:login_test", "//svc/auth:login_test", StatusError, 3 * time.Second, "exited with error code 1"},
		}},
		{"nested", nestedXML, []want{
			{"a", "com.acme.A", StatusPassed, 500 * time.Millisecond, ""},
			{"b", "inner", StatusSkipped, 250 * time.Millisecond, ""},
			{"c", "middle", StatusFailed, 0, "stack trace only\nand teardown broke"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJUnit([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			checkCases(t, got, tt.want)
		})
	}
}

func TestParseJUnitErrors(t *testing.T) {
	tests := []struct{ name, xml, want string }{
		{"empty", "", "junit: no <testsuites> or <testsuite> element"},
		{"only a declaration", `<?xml version="1.0"?>`, "junit: no <testsuites> or <testsuite> element"},
		{"another format", `<html><body>502 Bad Gateway</body></html>`, "junit: root element is <html>, want <testsuites> or <testsuite>"},
		{"truncated", `<testsuites><testsuite name="x"><testcase name="a"/>`, "junit: XML syntax error on line 1: unexpected EOF"},
		{"not XML", `<testsuites><testcase name="a" time=0.1/></testsuites>`, "junit: XML syntax error"},
	}
	for _, tt := range tests {
		_, err := ParseJUnit([]byte(tt.xml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParseJUnit error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestParseJUnitClipsMessages(t *testing.T) {
	trace := strings.Repeat("  at frame\n", 2000)
	doc := `<testsuite name="s"><testcase name="t"><failure message="the first line">` + trace + `the last line</failure></testcase></testsuite>`
	got, err := ParseJUnit([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m := got[0].Message
	if len(m) > MaxMessage || !strings.HasPrefix(m, "the first line\n") || !strings.HasSuffix(m, "at frame\nthe last line") {
		t.Errorf("message of %d bytes, want at most %d that keeps its first and last lines:\n%.200s...", len(m), MaxMessage, m)
	}
}

func TestWriteJUnitRoundTrip(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	suites := []Suite{
		{
			Name: "//svc/auth:login_test", Duration: 1500 * time.Millisecond, Timestamp: start,
			SystemOut: "log line <1>\n\x1b[31mred\x1b[0m\n",
			Cases: []Case{
				{Name: "TestLogin", Class: "acme/auth", Status: StatusPassed, Duration: 250 * time.Millisecond},
				{Name: "TestLogout", Class: "acme/auth", Status: StatusFailed, Duration: time.Second, Message: "want <ok> & \"done\"\n  at logout.go:12"},
				{Name: "TestSlow", Class: "acme/auth", Status: StatusSkipped, Message: "slow"},
			},
		},
		{
			Name:  "//web:e2e",
			Cases: Synthesize("//web:e2e", StatusError, 2*time.Second, "Killed\n"),
		},
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, suites); err != nil {
		t.Fatal(err)
	}
	doc := buf.String()
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>`,
		`<testsuites tests="4" failures="1" errors="1" skipped="1" time="3.500">`,
		`<testsuite name="//svc/auth:login_test" tests="3" failures="1" errors="0" skipped="1" time="1.500" timestamp="2025-05-01T10:00:00Z">`,
		`<failure message="want &lt;ok&gt; &amp; &#34;done&#34;">`,
	} {
		if !strings.Contains(doc, s) {
			t.Errorf("document lacks %s:\n%s", s, doc)
		}
	}
	got, err := ParseJUnit(buf.Bytes())
	if err != nil {
		t.Fatalf("ParseJUnit(WriteJUnit output): %v\n%s", err, doc)
	}
	checkCases(t, got, []want{
		{"TestLogin", "acme/auth", StatusPassed, 250 * time.Millisecond, ""},
		{"TestLogout", "acme/auth", StatusFailed, time.Second, "want <ok> & \"done\"\n  at logout.go:12"},
		{"TestSlow", "acme/auth", StatusSkipped, 0, "slow"},
		{"//web:e2e", "//web:e2e", StatusError, 2 * time.Second, "Killed"},
	})
	if got[1].Message != suites[0].Cases[1].Message {
		t.Errorf("message after a round trip = %q, want %q", got[1].Message, suites[0].Cases[1].Message)
	}
	// XML 1.0 cannot hold ESC; a reader other than Go's must accept the document too.
	if python, err := exec.LookPath("python3"); err == nil {
		path := filepath.Join(t.TempDir(), "out.xml")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(python, "-c", "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])", path).CombinedOutput()
		if err != nil {
			t.Errorf("python's XML parser rejects the document: %v\n%s\n%s", err, out, doc)
		}
	}
}

func TestWriteJUnitEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ParseJUnit(buf.Bytes())
	if err != nil || len(got) != 0 {
		t.Errorf("ParseJUnit(WriteJUnit(nil)) = %v, %v; want no cases\n%s", got, err, buf.String())
	}
}

func TestSynthesize(t *testing.T) {
	got := Synthesize("//a:b", StatusPassed, time.Second, "all good\n")
	if len(got) != 1 || got[0].Name != "//a:b" || got[0].Status != StatusPassed || got[0].Duration != time.Second || got[0].Message != "" {
		t.Errorf("Synthesize(passed) = %+v, want one passed case without a message", got)
	}
	long := strings.Repeat("é", MaxMessage) // 2 bytes each
	got = Synthesize("//a:b", StatusFailed, time.Second, "first\n"+long+"last")
	m := got[0].Message
	if len(m) > MaxMessage || !utf8.ValidString(m) || !strings.HasPrefix(m, "first\n") || !strings.HasSuffix(m, "éélast") {
		t.Errorf("Synthesize(failed, long log) message: %d bytes, valid UTF-8 %v, want at most %d bytes of valid UTF-8 with the first and last lines", len(m), utf8.ValidString(m), MaxMessage)
	}
	exact := strings.Repeat("x", MaxMessage)
	if got := Synthesize("//a:b", StatusFailed, 0, exact); got[0].Message != exact {
		t.Errorf("a log of exactly MaxMessage bytes was cut")
	}
}

func TestFailed(t *testing.T) {
	cs := []Case{
		{Name: "a", Status: StatusPassed},
		{Name: "b", Status: StatusFailed},
		{Name: "c", Status: StatusSkipped},
		{Name: "d", Status: StatusError},
	}
	got := Failed(cs)
	if len(got) != 2 || got[0].Name != "b" || got[1].Name != "d" {
		t.Errorf("Failed = %v, want b and d", got)
	}
	if got := Failed(cs[:1]); len(got) != 0 {
		t.Errorf("Failed(passing cases) = %v, want none", got)
	}
}
