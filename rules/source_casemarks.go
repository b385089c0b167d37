package rules

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// caseMarks parses test(case_marks = [[...], ...]): the mark sets of the
// cases inside one test action (the tests of a pytest file). Each set is
// checked like marks and gets the test's own marks added; the test is
// selected when a mark expression matches one of the sets, and its Marks
// become the union (see hasMarks).
func caseMarks(p *pkgState, fn string, marks []string, v starlark.Value) ([][]string, error) {
	if v == nil || v == starlark.None {
		return nil, nil
	}
	list, ok := v.(*starlark.List)
	if !ok {
		return nil, fmt.Errorf("%s: case_marks: got %s, want list of lists of marks", fn, v.Type())
	}
	var out [][]string
	seen := map[string]bool{}
	for i := 0; i < list.Len(); i++ {
		set, err := wantStrings(fn, "case_marks", list.Index(i))
		if err != nil {
			return nil, fmt.Errorf("%v (case_marks is a list of lists of marks)", err)
		}
		for _, m := range set {
			if err := p.ev.checkMark(fn+": case_marks", m); err != nil {
				return nil, err
			}
		}
		set = sortedSet(append(set, marks...))
		if key := strings.Join(set, " "); !seen[key] {
			seen[key] = true
			out = append(out, set)
		}
	}
	return out, nil
}
