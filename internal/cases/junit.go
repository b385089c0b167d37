package cases

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

type junitResult struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failures  []junitResult `xml:"failure"`
	Errors    []junitResult `xml:"error"`
	Skipped   []junitResult `xml:"skipped"`
}

// ParseJUnit returns the cases of a JUnit XML document in document order. It
// reads the dialects of pytest --junitxml, node --test-reporter=junit,
// gotestsum and Bazel: a <testsuites> or a lone <testsuite> root, suites
// nested in suites, cases directly under <testsuites>, <failure>, <error> and
// <skipped> results, and time attributes in seconds. A case without a
// classname takes the name of the suite around it.
func ParseJUnit(data []byte) ([]Case, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var (
		cases    []Case
		suites   []string // names of the open <testsuite> elements, innermost last
		seenRoot bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("junit: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if !seenRoot {
				if name != "testsuites" && name != "testsuite" {
					return nil, fmt.Errorf("junit: root element is <%s>, want <testsuites> or <testsuite>", name)
				}
				seenRoot = true
			}
			switch name {
			case "testsuites", "testsuite":
				suites = append(suites, attr(t, "name"))
			case "testcase":
				var jc junitCase
				if err := d.DecodeElement(&jc, &t); err != nil {
					return nil, fmt.Errorf("junit: %v", err)
				}
				cases = append(cases, jc.toCase(suites[len(suites)-1]))
			}
		case xml.EndElement:
			if t.Name.Local == "testsuites" || t.Name.Local == "testsuite" {
				suites = suites[:len(suites)-1]
				if len(suites) == 0 {
					return cases, nil // ignore whatever follows the root
				}
			}
		}
	}
	// The decoder reports an unclosed root as a syntax error, so the document had none.
	return nil, errors.New("junit: no <testsuites> or <testsuite> element")
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (jc junitCase) toCase(suite string) Case {
	c := Case{Name: jc.Name, Class: jc.Classname, Duration: parseSeconds(jc.Time)}
	if c.Class == "" {
		c.Class = suite
	}
	var msgs []junitResult
	switch {
	case len(jc.Failures) > 0:
		c.Status = StatusFailed
		msgs = append(jc.Failures, jc.Errors...)
	case len(jc.Errors) > 0:
		c.Status = StatusError
		msgs = jc.Errors
	case len(jc.Skipped) > 0:
		c.Status = StatusSkipped
		msgs = jc.Skipped
	default:
		c.Status = StatusPassed
	}
	var parts []string
	for _, r := range msgs {
		if m := r.message(); m != "" && !(c.Status == StatusSkipped && m == "true") {
			// Node writes the value of a test's skip or todo option as the
			// message, and a bare `true` says nothing.
			parts = append(parts, m)
		}
	}
	c.Message = clip(strings.Join(parts, "\n"))
	return c
}

// message joins the message attribute and the text of a result, once when the
// text repeats the attribute, as WriteJUnit's output does.
func (r junitResult) message() string {
	attr, text := strings.TrimSpace(r.Message), strings.TrimSpace(r.Text)
	switch {
	case text == "":
		return attr
	case attr == "" || strings.HasPrefix(text, attr):
		return text
	}
	return attr + "\n" + text
}

// parseSeconds reads a time attribute; some writers group digits with commas.
func parseSeconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	if err != nil {
		return 0
	}
	return seconds(f)
}

type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name      string    `xml:"name,attr"`
	Tests     int       `xml:"tests,attr"`
	Failures  int       `xml:"failures,attr"`
	Errors    int       `xml:"errors,attr"`
	Skipped   int       `xml:"skipped,attr"`
	Time      string    `xml:"time,attr"`
	Timestamp string    `xml:"timestamp,attr,omitempty"`
	Cases     []xmlCase `xml:"testcase"`
	SystemOut string    `xml:"system-out,omitempty"`
}

type xmlCase struct {
	Name      string       `xml:"name,attr"`
	Classname string       `xml:"classname,attr"`
	Time      string       `xml:"time,attr"`
	Failure   *junitResult `xml:"failure"`
	Error     *junitResult `xml:"error"`
	Skipped   *junitResult `xml:"skipped"`
}

// WriteJUnit writes suites as one JUnit XML document with a <testsuites>
// root, in the shape Jenkins, GitLab and GitHub test reporters read. A case
// without a Class gets its suite's name as classname; a suite without a
// Duration gets the sum of its cases'. Characters XML cannot hold, such as the
// escape codes of colored output, are written as U+FFFD.
func WriteJUnit(w io.Writer, suites []Suite) error {
	doc := xmlSuites{}
	var total time.Duration
	for _, s := range suites {
		d := s.Duration
		if d == 0 {
			for _, c := range s.Cases {
				d += c.Duration
			}
		}
		xs := xmlSuite{Name: s.Name, Tests: len(s.Cases), Time: formatSeconds(d), SystemOut: s.SystemOut}
		if !s.Timestamp.IsZero() {
			xs.Timestamp = s.Timestamp.UTC().Format(time.RFC3339)
		}
		for _, c := range s.Cases {
			xc := xmlCase{Name: c.Name, Classname: c.Class, Time: formatSeconds(c.Duration)}
			if xc.Classname == "" {
				xc.Classname = s.Name
			}
			r := &junitResult{Message: firstLine(c.Message), Text: c.Message}
			switch c.Status {
			case StatusFailed:
				xc.Failure = r
				xs.Failures++
			case StatusError:
				xc.Error = r
				xs.Errors++
			case StatusSkipped:
				xc.Skipped = r
				xs.Skipped++
			}
			xs.Cases = append(xs.Cases, xc)
		}
		doc.Tests += xs.Tests
		doc.Failures += xs.Failures
		doc.Errors += xs.Errors
		doc.Skipped += xs.Skipped
		total += d
		doc.Suites = append(doc.Suites, xs)
	}
	doc.Time = formatSeconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
