package rules

import "fmt"

// Lint returns suite's own warnings about an evaluated workspace: globs
// that matched nothing, suites that select no test, and quarantined
// labels that name no test (a typo would leave a flaky test failing runs).
func (g *Graph) Lint() []*Error {
	out := append([]*Error(nil), g.globWarnings...)
	declared := map[string]bool{}
	for _, t := range g.Tests {
		declared[t.Label.String()] = true
	}
	for _, l := range g.Config.Quarantine {
		if !declared[l] {
			out = append(out, &Error{Pos: g.Config.QuarantinePos, Msg: fmt.Sprintf("workspace: quarantine names %s, which no test declares", l)})
		}
	}
	for _, s := range g.Suites {
		if len(g.Select(SuiteQuery(s))) == 0 {
			out = append(out, &Error{Pos: s.Pos, Msg: fmt.Sprintf("suite %q selects no test (marks %q, targets %v)", s.Name, s.Marks.String(), s.Targets)})
		}
	}
	ErrorList(out).sort()
	return out
}
