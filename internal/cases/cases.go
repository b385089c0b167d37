// Package cases reads the individual test cases inside one test action's
// result from what the test runner wrote — JUnit XML or a `go test -json`
// stream — and writes cases back out as JUnit XML. A test that wrote neither
// gets one case synthesized from its exit status.
package cases

import (
	"time"
	"unicode/utf8"
)

// Status is the outcome of one test case.
type Status string

const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusError   Status = "error" // the case could not run or did not finish: a crash, a setup error, a build failure
)

// MaxMessage bounds Case.Message, in bytes. A longer message keeps its first
// line, which usually says what went wrong, and its end, which usually says where.
const MaxMessage = 4 << 10

// Case is one test case.
type Case struct {
	Name  string // as the runner names it; Go subtests as "TestX/sub"
	Class string // JUnit classname; the package for Go tests
	// Status is the case's outcome.
	Status   Status
	Duration time.Duration
	// Message says why a case failed or was skipped: the runner's message and
	// the case's output, at most MaxMessage bytes. Empty for passed cases.
	Message string
}

// Suite is a named group of cases, a <testsuite> of JUnit XML.
type Suite struct {
	Name      string
	Cases     []Case
	Duration  time.Duration
	Timestamp time.Time // when the suite started; omitted when zero
	SystemOut string    // the suite's output, written as <system-out>
}

// Synthesize returns the single case of a test that reported no cases of its
// own, from its exit status; logTail, the end of its log, becomes the message
// of a case that did not pass.
func Synthesize(name string, status Status, d time.Duration, logTail string) []Case {
	c := Case{Name: name, Status: status, Duration: d}
	if status != StatusPassed {
		c.Message = clip(logTail)
	}
	return []Case{c}
}

// StatusFailed returns the cases that failed or ended in error, in order.
func Failed(cs []Case) []Case {
	var out []Case
	for _, c := range cs {
		if c.Status == StatusFailed || c.Status == StatusError {
			out = append(out, c)
		}
	}
	return out
}

// seconds converts a duration in seconds, as JUnit and test2json write it.
func seconds(s float64) time.Duration {
	if !(s > 0) || s > 1e9 { // also rejects NaN
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

// clipped accumulates text and keeps, within MaxMessage bytes, its first line
// and as much of its end as fits.
type clipped struct {
	head     []byte // the first line, at most maxHead bytes
	headDone bool
	tail     []byte // the last bytes written, at least MaxMessage of them once there are that many
	total    int
}

const maxHead = 512

func (c *clipped) WriteString(s string) {
	c.total += len(s)
	if !c.headDone {
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' || len(c.head) == maxHead {
				c.headDone = true
				break
			}
			c.head = append(c.head, s[i])
		}
	}
	c.tail = append(c.tail, s...)
	if len(c.tail) > 2*MaxMessage {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-MaxMessage:]...)
	}
}

func (c *clipped) String() string {
	if c.total <= MaxMessage {
		return string(c.tail)
	}
	head := validPrefix(c.head)
	const marker = "\n[...]\n"
	keep := MaxMessage - len(head) - len(marker)
	return string(head) + marker + string(validSuffix(c.tail[len(c.tail)-keep:]))
}

// clip bounds a whole message the way clipped does.
func clip(s string) string {
	var c clipped
	c.WriteString(s)
	return c.String()
}

// validPrefix drops a character cut in two at the end of b.
func validPrefix(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// validSuffix drops the continuation bytes of a character cut in two at the start of b.
func validSuffix(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	return b
}
