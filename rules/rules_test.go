package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/suite-run/suite/internal/markexpr"
)

// TestRuleScripts runs the rule scripts in testdata/*.star. Each file is
// one or more chunks separated by lines "---". A chunk is a txtar archive:
// its comment section is the root SUITES.star, and "-- path --" sections
// add files (other packages, Python or Go sources, a WORKSPACE replacing the
// default one, which registers the marks unit, integration, api, e2e,
// smoke, regression and slow).
//
// In the SUITES.star part:
//
//	### "regexp"              evaluation fails with an error on this line
//	                          matching regexp (all such lines must fail);
//	                          also in the chunk's other files
//	# want: LABEL k=v ...     LABEL is a test with these properties:
//	                          marks=a,b  exact marks ("" for none)
//	                          inputs=x,y exact inputs (workspace-relative)
//	                          inputs+=x,y  has these inputs
//	                          inputs-=x,y  has none of these
//	                          cmd~=REGEXP  argv joined by spaces matches
//	                          env=K:V    the environment sets K to V ("" unset)
//	                          cases=a+b|c|  exact case mark sets ("|" between)
//	# tests: LABEL ...        exactly these tests exist ("-" for none)
//	# select: EXPR => LABEL ...  the mark expression selects exactly these
//
// Values may be in double quotes to hold spaces (no escapes).
func TestRuleScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule scripts: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, chunk := range splitChunks(string(data)) {
			t.Run(filepath.Base(file)+"#"+strconv.Itoa(i+1)+"@"+strconv.Itoa(chunk.line), func(t *testing.T) {
				runChunk(t, chunk.text)
			})
		}
	}
}

type chunk struct {
	text string
	line int // in the .star file, for finding a failing chunk
}

func splitChunks(s string) []chunk {
	var out []chunk
	var cur []string
	start := 1
	for i, l := range strings.Split(s, "\n") {
		if l == "---" {
			out = append(out, chunk{strings.Join(cur, "\n") + "\n", start})
			cur, start = nil, i+2
			continue
		}
		cur = append(cur, l)
	}
	return append(out, chunk{strings.Join(cur, "\n"), start})
}

const defaultWorkspace = `workspace(name = "t")
mark("unit")
mark("integration")
mark("api")
mark("e2e")
mark("smoke")
mark("regression")
mark("slow")
`

var wantErrRe = regexp.MustCompile(`###\s*(".*")\s*$`)

func runChunk(t *testing.T, text string) {
	ar := txtar.Parse([]byte(text))
	root := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("WORKSPACE", defaultWorkspace)
	write("SUITES.star", string(ar.Comment))
	for _, f := range ar.Files {
		write(f.Name, string(f.Data))
	}

	// expected errors, by "file:line"
	wantErrs := map[string]*regexp.Regexp{}
	var wants []string
	sources := map[string]string{"SUITES.star": string(ar.Comment)}
	for _, f := range ar.Files {
		sources[f.Name] = string(f.Data)
	}
	for name, src := range sources {
		for i, line := range strings.Split(src, "\n") {
			if m := wantErrRe.FindStringSubmatch(line); m != nil {
				wantErrs[name+":"+strconv.Itoa(i+1)] = regexp.MustCompile(m[1][1 : len(m[1])-1])
			}
		}
	}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "# want:") || strings.HasPrefix(s, "# tests:") || strings.HasPrefix(s, "# select:") {
			wants = append(wants, s)
		}
	}

	g, err := Load(root)
	if len(wantErrs) > 0 {
		if err == nil {
			t.Fatalf("evaluation succeeded, want errors at lines %v", keysOf(wantErrs))
		}
		list, ok := err.(ErrorList)
		if !ok {
			t.Fatalf("got %T %v, want ErrorList", err, err)
		}
		for at, re := range wantErrs {
			found := false
			for _, e := range list {
				if e.Pos.Filename()+":"+strconv.Itoa(int(e.Pos.Line)) == at && re.MatchString(e.Msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want an error at %s matching %q; got:\n%v", at, re, err)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("evaluation failed:\n%v", err)
	}
	for _, w := range wants {
		checkWant(t, g, w)
	}
}

func keysOf(m map[string]*regexp.Regexp) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fields splits on spaces, keeping Go-quoted strings (also after "k=") whole.
func fields(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		i := strings.IndexByte(s, '"')
		sp := strings.IndexByte(s, ' ')
		if i >= 0 && (sp < 0 || i < sp) {
			if end := strings.IndexByte(s[i+1:], '"'); end >= 0 {
				out = append(out, s[:i]+s[i+1:i+1+end])
				s = s[i+2+end:]
				continue
			}
		}
		if sp < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:sp])
		s = s[sp:]
	}
	return out
}

func list(v string) []string {
	if v == "" || v == "-" {
		return nil
	}
	out := strings.Split(v, ",")
	sort.Strings(out)
	return out
}

func checkWant(t *testing.T, g *Graph, w string) {
	t.Helper()
	labels := func() []string {
		var out []string
		for _, tt := range g.Tests {
			out = append(out, tt.Label.String())
		}
		return out
	}
	switch {
	case strings.HasPrefix(w, "# tests:"):
		want := strings.Join(list(strings.Join(fields(strings.TrimPrefix(w, "# tests:")), ",")), " ")
		if got := strings.Join(labels(), " "); got != want {
			t.Errorf("%s\n got tests: %s", w, got)
		}
		return
	case strings.HasPrefix(w, "# select:"):
		expr, sel, ok := strings.Cut(strings.TrimPrefix(w, "# select:"), "=>")
		if !ok {
			t.Fatalf("%s: want EXPR => LABELS", w)
		}
		e, err := markexpr.Parse(strings.Trim(strings.TrimSpace(expr), `"`))
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		var got []string
		for _, tt := range g.Select(Query{Marks: e}) {
			got = append(got, tt.Label.String())
		}
		want := list(strings.Join(fields(sel), ","))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s\n got: %s", w, strings.Join(got, " "))
		}
		return
	}
	f := fields(strings.TrimPrefix(w, "# want:"))
	var test *Test
	for _, tt := range g.Tests {
		if tt.Label.String() == f[0] {
			test = tt
		}
	}
	if test == nil {
		t.Errorf("%s\n no test %s; have %v", w, f[0], labels())
		return
	}
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "marks":
			if got, want := strings.Join(test.Marks, ","), strings.Join(list(v), ","); got != want {
				t.Errorf("%s\n got marks=%s", w, got)
			}
		case "inputs":
			if got, want := strings.Join(test.Inputs, ","), strings.Join(list(v), ","); got != want {
				t.Errorf("%s\n got inputs=%s", w, got)
			}
		case "inputs+":
			for _, in := range list(v) {
				if !contains(test.Inputs, in) {
					t.Errorf("%s\n missing input %s; got inputs=%s", w, in, strings.Join(test.Inputs, ","))
				}
			}
		case "inputs-":
			for _, in := range list(v) {
				if contains(test.Inputs, in) {
					t.Errorf("%s\n unwanted input %s", w, in)
				}
			}
		case "cmd~":
			if got := strings.Join(test.Cmd, " "); !regexp.MustCompile(v).MatchString(got) {
				t.Errorf("%s\n got cmd=%q", w, got)
			}
		case "env":
			name, want, _ := strings.Cut(v, ":")
			if got := test.Env[name]; got != want {
				t.Errorf("%s\n got env %s=%q", w, name, got)
			}
		case "cases":
			var sets []string
			for _, cm := range test.CaseMarks {
				sets = append(sets, strings.Join(cm, "+"))
			}
			if got := strings.Join(sets, "|"); got != v {
				t.Errorf("%s\n got cases=%s", w, got)
			}
		default:
			t.Fatalf("%s: unknown key %q", w, k)
		}
	}
}
