package rules

import (
	"strings"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/markexpr"
)

// Query says which tests a command works on. Every part that is set must
// select a test for it to be chosen.
type Query struct {
	Suite    *Suite         // its targets and marks, when a suite is named
	Patterns label.Set      // target patterns from the command line; nil: no restriction
	Marks    *markexpr.Expr // -m, ANDed with the suite's marks
	Keywords *markexpr.Expr // -k
}

// Select returns the tests the query chooses, in label order.
func (g *Graph) Select(q Query) []*Test {
	var out []*Test
	for _, t := range g.Tests {
		if q.Suite != nil && !(q.Suite.Select.Matches(t.Label) && hasMarks(q.Suite.Marks, t)) {
			continue
		}
		if q.Patterns != nil && !q.Patterns.Matches(t.Label) {
			continue
		}
		if !hasMarks(q.Marks, t) || !matchesKeywords(q.Keywords, t) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func hasMarks(e *markexpr.Expr, t *Test) bool {
	if e == nil {
		return true
	}
	if len(t.CaseMarks) > 0 {
		for _, marks := range t.CaseMarks {
			if e.Eval(func(name string) bool { return contains(marks, name) }) {
				return true
			}
		}
		return false
	}
	return e.Eval(func(name string) bool { return contains(t.Marks, name) })
}

// matchesKeywords is pytest's -k: a word matches when it is a
// case-insensitive substring of the test's label or equals one of its marks.
func matchesKeywords(e *markexpr.Expr, t *Test) bool {
	if e == nil {
		return true
	}
	name := strings.ToLower(t.Label.String())
	return e.Eval(func(word string) bool {
		return strings.Contains(name, strings.ToLower(word)) || contains(t.Marks, word)
	})
}

// SuiteQuery selects the tests of one suite.
func SuiteQuery(s *Suite) Query { return Query{Suite: s} }
