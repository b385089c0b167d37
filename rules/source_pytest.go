package rules

import (
	"regexp"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/markexpr"
)

// pytestBuiltinMarks are marks pytest (and pytest-timeout) give a meaning
// of their own; they are not user marks, need no registration, and do not
// take part in selection.
var pytestBuiltinMarks = map[string]bool{
	"parametrize": true, "skip": true, "skipif": true, "xfail": true,
	"usefixtures": true, "filterwarnings": true, "timeout": true,
}

// pyTestCase is one test pytest would collect from a file, with the user
// marks it carries.
type pyTestCase struct {
	name  string // "test_x" or "TestA::test_y"
	line  int
	marks []string
}

// pyMarkUse is where a user mark is written in a file.
type pyMarkUse struct {
	name      string
	line, col int
}

var (
	pyDefRe       = regexp.MustCompile(`^(?:async\s+)?def\s+(\w+)`)
	pyClassRe     = regexp.MustCompile(`^class\s+(\w+)\s*(?:\((.*)\))?\s*:`)
	pyPytestmark  = regexp.MustCompile(`^pytestmark\s*(?::[^=]*)?=\s*(.+)$`)
	pyMarkRe      = regexp.MustCompile(`(?:^|[^\w.])(?:pytest\s*\.\s*)?mark\s*\.\s*(\w+)`)
	pyMarkAliasRe = regexp.MustCompile(`^(\w+)\s*=\s*(?:pytest\s*\.\s*)?mark\s*\.\s*(\w+)\s*$`)
	pyDecoNameRe  = regexp.MustCompile(`^(\w+)\b`)
)

// readPytestMarks reads the tests of a pytest file and their user marks,
// statically: `@pytest.mark.X` (or `@mark.X`, or an alias `slow =
// pytest.mark.slow` used as `@slow`) on test functions and on Test*
// classes (whose marks apply to their methods), `pytestmark = ...` at
// module and class level, and `marks=` of pytest.param inside
// parametrize, each param adding a case with its marks. uses lists every
// user mark written, for checking that it is registered.
//
// A file whose tests cannot be found (no test_* function, no Test* or
// TestCase class) gets one case with the module's marks, so it is selected
// as if it had an unmarked test: when unsure, run the file and let pytest
// deselect.
func readPytestMarks(src []byte) (cases []pyTestCase, uses []pyMarkUse) {
	type scope struct {
		indent  int
		name    string
		class   bool
		collect bool // a class whose methods pytest collects
		marks   []string
	}
	type pending struct {
		name    string
		line    int
		classes []*scope
		marks   []string
		params  [][]string
	}
	var (
		stack       []*scope
		decorators  []pyLine
		moduleMarks []string
		tests       []*pending
		aliases     = map[string]string{}
	)
	userMarks := func(l pyLine, code string) []string {
		var out []string
		for _, m := range pyMarkRe.FindAllStringSubmatchIndex(code, -1) {
			name := code[m[2]:m[3]]
			if pytestBuiltinMarks[name] {
				continue
			}
			out = append(out, name)
			uses = append(uses, pyMarkUse{name, l.line, l.col})
		}
		return out
	}
	for _, l := range scanPython(src) {
		for len(stack) > 0 && stack[len(stack)-1].indent >= l.indent {
			stack = stack[:len(stack)-1]
		}
		code := l.code
		if strings.HasPrefix(code, "@") {
			decorators = append(decorators, l)
			continue
		}
		decos := decorators
		decorators = nil
		var decoMarks []string
		var params [][]string
		for _, d := range decos {
			dc := strings.TrimSpace(d.code[1:])
			if m := pyDecoNameRe.FindStringSubmatch(dc); m != nil && aliases[m[1]] != "" && !strings.HasPrefix(dc, m[1]+".") {
				decoMarks = append(decoMarks, aliases[m[1]])
				uses = append(uses, pyMarkUse{aliases[m[1]], d.line, d.col})
				continue
			}
			if strings.Contains(dc, "parametrize") {
				// each pytest.param(..., marks=...) is a case with those marks
				segs := strings.Split(dc, "param(")
				for _, seg := range segs[1:] {
					if pm := userMarks(d, seg); len(pm) > 0 {
						params = append(params, pm)
					}
				}
				continue
			}
			if m := pyMarkRe.FindStringSubmatch(dc); m != nil && strings.HasPrefix(dc, strings.TrimLeft(m[0], " ")) {
				decoMarks = append(decoMarks, userMarks(d, dc)...)
			}
		}
		allCollect := true
		var classes []*scope
		for _, s := range stack {
			allCollect = allCollect && s.class && s.collect
			if s.class {
				classes = append(classes, s)
			}
		}
		if m := pyClassRe.FindStringSubmatch(code); m != nil {
			collect := strings.HasPrefix(m[1], "Test") || strings.Contains(m[2], "TestCase")
			stack = append(stack, &scope{indent: l.indent, name: m[1], class: true, collect: collect && allCollect, marks: decoMarks})
			continue
		}
		if m := pyDefRe.FindStringSubmatch(code); m != nil {
			if strings.HasPrefix(m[1], "test") && allCollect {
				tests = append(tests, &pending{name: m[1], line: l.line, classes: classes, marks: decoMarks, params: params})
			}
			stack = append(stack, &scope{indent: l.indent})
			continue
		}
		if m := pyPytestmark.FindStringSubmatch(code); m != nil {
			marks := userMarks(l, m[1])
			for alias, mark := range aliases {
				if regexp.MustCompile(`\b` + regexp.QuoteMeta(alias) + `\b`).MatchString(m[1]) {
					marks = append(marks, mark)
				}
			}
			switch {
			case len(stack) == 0:
				moduleMarks = append(moduleMarks, marks...)
			case stack[len(stack)-1].class:
				stack[len(stack)-1].marks = append(stack[len(stack)-1].marks, marks...)
			}
			continue
		}
		if m := pyMarkAliasRe.FindStringSubmatch(code); m != nil && len(stack) == 0 && !pytestBuiltinMarks[m[2]] {
			aliases[m[1]] = m[2]
			uses = append(uses, pyMarkUse{m[2], l.line, l.col})
		}
	}
	for _, t := range tests {
		name := t.name
		base := append([]string(nil), moduleMarks...)
		for i := len(t.classes) - 1; i >= 0; i-- {
			base = append(base, t.classes[i].marks...)
			name = t.classes[i].name + "::" + name
		}
		base = append(base, t.marks...)
		cases = append(cases, pyTestCase{name: name, line: t.line, marks: sortedSet(base)})
		for _, pm := range t.params {
			cases = append(cases, pyTestCase{name: name, line: t.line, marks: sortedSet(append(append([]string(nil), base...), pm...))})
		}
	}
	if len(cases) == 0 {
		cases = []pyTestCase{{marks: sortedSet(moduleMarks)}}
	}
	return cases, uses
}

func sortedSet(xs []string) []string {
	out := append([]string{}, xs...)
	sort.Strings(out)
	return dedup(out)
}

// pytest_file_marks(path, select = "") returns the tests of a pytest file
// as a list of struct(name, line, marks), marks being each test's user
// marks; see readPytestMarks for what is read. select is the project's own
// mark expression: only the tests it selects are returned (see
// selectCases). A mark not registered in WORKSPACE is an
// error naming the file, line and the nearest registered mark, as for
// test(marks = ...).
func pytestFileMarksFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var file, selectExpr string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &file, "select?", &selectExpr); err != nil {
		return nil, err
	}
	rel, err := p.wsPath(b.Name(), "path", file)
	if err != nil {
		return nil, userError(thread, "%v", err)
	}
	t := newSourceTree(p.ev)
	if !t.isFile(rel) {
		return nil, userError(thread, "%s: %q does not exist (paths are relative to the package %q)", b.Name(), file, "//"+p.pkg)
	}
	src, err := t.read(rel)
	if err != nil {
		return nil, userError(thread, "%s: %v", b.Name(), err)
	}
	cases, uses := readPytestMarks(src)
	for _, u := range uses {
		if err := p.ev.checkMark("", u.name); err != nil {
			pos := syntax.MakePosition(&rel, int32(u.line), int32(u.col))
			msg := strings.TrimPrefix(err.Error(), ": ")
			return nil, userError(thread, "%s: %s: %s, used in this pytest file; register it in WORKSPACE or fix the name", b.Name(), pos, msg)
		}
	}
	cases = selectCases(cases, selectExpr)
	out := make([]starlark.Value, len(cases))
	for i, c := range cases {
		out[i] = starlarkstruct.FromStringDict(starlark.String("pytest_case"), starlark.StringDict{
			"name":  starlark.String(c.name),
			"line":  starlark.MakeInt(c.line),
			"marks": stringList(c.marks),
		})
	}
	return starlark.NewList(out), nil
}

// selectCases keeps the cases the project's own mark expression (its
// addopts -m) selects: pytest deselects the others whatever suite asks,
// so they must not make suite select the file. When it selects none, or
// cannot be read here (pytest's newer grammar, marks with arguments), every
// case is kept and pytest decides at run time: a file is never dropped on
// the strength of a static reading.
func selectCases(cases []pyTestCase, expr string) []pyTestCase {
	if strings.TrimSpace(expr) == "" {
		return cases
	}
	e, err := markexpr.Parse(expr)
	if err != nil {
		return cases
	}
	var kept []pyTestCase
	for _, c := range cases {
		if e.Eval(func(name string) bool { return contains(c.marks, name) }) {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return cases
	}
	return kept
}

// PytestMarksUsed returns the user marks a pytest file writes (as
// pytest_file_marks reads them), sorted: what `suite init` registers.
func PytestMarksUsed(src []byte) []string {
	_, uses := readPytestMarks(src)
	var names []string
	for _, u := range uses {
		names = append(names, u.name)
	}
	return sortedSet(names)
}

// ValidMarkName reports whether s can be registered with mark().
func ValidMarkName(s string) bool { return validMarkName(s) }
