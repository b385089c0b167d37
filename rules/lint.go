package rules

import "fmt"

// Lint returns suite's own warnings about an evaluated workspace: globs
// that matched nothing, and suites that select no test.
func (g *Graph) Lint() []*Error {
	out := append([]*Error(nil), g.globWarnings...)
	for _, s := range g.Suites {
		if len(g.Select(SuiteQuery(s))) == 0 {
			out = append(out, &Error{Pos: s.Pos, Msg: fmt.Sprintf("suite %q selects no test (marks %q, targets %v)", s.Name, s.Marks.String(), s.Targets)})
		}
	}
	ErrorList(out).sort()
	return out
}
