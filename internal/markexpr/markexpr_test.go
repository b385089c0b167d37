package markexpr

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// holds returns a match function true for exactly the given identifiers.
func holds(marked ...string) func(string) bool {
	return func(id string) bool { return slices.Contains(marked, id) }
}

func TestEval(t *testing.T) {
	tests := []struct {
		expr   string
		marked []string
		want   bool
	}{
		{"", nil, true},
		{" \t ", nil, true},
		{"slow", []string{"slow"}, true},
		{"slow", []string{"fast"}, false},
		{"not slow", nil, true},
		{"not slow", []string{"slow"}, false},
		{"not slow and not e2e", []string{"unit"}, true},
		{"not slow and not e2e", []string{"e2e"}, false},
		{"smoke or slow", []string{"slow"}, true},
		{"smoke or slow", nil, false},
		// 'and' binds tighter than 'or': a or (b and c).
		{"a or b and c", []string{"b"}, false},
		{"a or b and c", []string{"a"}, true},
		{"a or b and c", []string{"b", "c"}, true},
		{"(a or b) and c", []string{"a"}, false},
		{"(a or b) and c", []string{"a", "c"}, true},
		// 'not' binds tighter than 'and': (not a) and b.
		{"not a and b", []string{"b"}, true},
		{"not a and b", []string{"a", "b"}, false},
		{"not (a and b)", []string{"a"}, true},
		{"not not a", []string{"a"}, true},
		{"a and(b)", []string{"a", "b"}, true},
		{"((((a))))", []string{"a"}, true},
		// Identifier characters pytest accepts.
		{"py:3.11", []string{"py:3.11"}, true},
		{"x[1] and a/b and a\\b and a-b+c and 1a and éclair", []string{"x[1]", "a/b", "a\\b", "a-b+c", "1a", "éclair"}, true},
		// Words that merely start with a keyword, or look like literals, are identifiers.
		{"andy or notx or or_ or True", []string{"True"}, true},
		{"False", nil, false},
		{"True", nil, false},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := e.Eval(holds(tt.marked...)); got != tt.want {
			t.Errorf("Parse(%q).Eval(true: %q) = %v, want %v", tt.expr, tt.marked, got, tt.want)
		}
		if e.String() != tt.expr {
			t.Errorf("Parse(%q).String() = %q", tt.expr, e.String())
		}
	}
}

func TestIdents(t *testing.T) {
	tests := []struct {
		expr string
		want []Ident
	}{
		{"", nil},
		{"not (slow or py:3.11) and slow", []Ident{{"slow", 6}, {"py:3.11", 14}, {"slow", 27}}},
		// Columns count characters, not bytes.
		{"é and b", []Ident{{"é", 1}, {"b", 7}}},
		{"\ta", []Ident{{"a", 2}}},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := e.Idents(); !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q).Idents() = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestIdentsIsACopy(t *testing.T) {
	e, err := Parse("a or b")
	if err != nil {
		t.Fatal(err)
	}
	e.Idents()[0].Name = "changed"
	if got := e.Idents()[0].Name; got != "a" {
		t.Errorf("Idents()[0].Name after a caller changed its copy = %q, want %q", got, "a")
	}
}

func TestSyntaxError(t *testing.T) {
	const wantOperand = "expected not OR left parenthesis OR identifier; got "
	tests := []struct {
		expr string
		col  int
		msg  string
	}{
		// The cases of pytest's own test_mark_expression.py.
		{"(", 2, wantOperand + "end of input"},
		{" (", 3, wantOperand + "end of input"},
		{")", 1, wantOperand + "right parenthesis"},
		{") ", 1, wantOperand + "right parenthesis"},
		{"not", 4, wantOperand + "end of input"},
		{"not not", 8, wantOperand + "end of input"},
		{"(not)", 5, wantOperand + "right parenthesis"},
		{"and", 1, wantOperand + "and"},
		{"ident and", 10, wantOperand + "end of input"},
		{"ident and or", 11, wantOperand + "or"},
		{"ident ident", 7, "expected end of input; got identifier"},
		{"(ident", 7, "expected right parenthesis; got end of input"},
		{"(a b)", 4, "expected right parenthesis; got identifier"},
		{"ident (", 7, "expected end of input; got left parenthesis"},
		{"!", 1, `unexpected character "!"`},
		{"a ! b", 3, `unexpected character "!"`},
		{"é\nb", 2, `unexpected character "\n"`},
		{"a\xffb", 2, `unexpected character "\xff"`},
		{"a=1", 2, `unexpected character "="`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want a *SyntaxError", tt.expr, err)
			continue
		}
		if se.Col != tt.col || se.Msg != tt.msg {
			t.Errorf("Parse(%q) error = col %d: %s\nwant col %d: %s", tt.expr, se.Col, se.Msg, tt.col, tt.msg)
		}
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Parse("slow and")
	if got, want := err.Error(), "col 9: expected not OR left parenthesis OR identifier; got end of input"; got != want {
		t.Errorf("error text = %q, want %q", got, want)
	}
}

func TestDepth(t *testing.T) {
	deepest := strings.Repeat("(", MaxDepth) + "a" + strings.Repeat(")", MaxDepth)
	if e, err := Parse(deepest); err != nil || !e.Eval(holds("a")) {
		t.Errorf("Parse(%d nested parentheses) = %v, want a valid expression", MaxDepth, err)
	}
	for _, expr := range []string{
		strings.Repeat("(", 100000),
		strings.Repeat("(", MaxDepth+1) + "a" + strings.Repeat(")", MaxDepth+1),
		strings.Repeat("not ", 100000) + "a",
	} {
		_, err := Parse(expr)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "nested too deeply") {
			t.Errorf("Parse(%.12q...) error = %v, want nested too deeply", expr, err)
			continue
		}
		wantCol := MaxDepth + 1
		if strings.HasPrefix(expr, "not") {
			wantCol = MaxDepth*4 + 1
		}
		if se.Col != wantCol {
			t.Errorf("Parse(%.12q...) error col = %d, want %d", expr, se.Col, wantCol)
		}
	}
	// A long flat chain is not nesting.
	long := strings.Repeat("a or ", 100000) + "b"
	if e, err := Parse(long); err != nil || !e.Eval(holds("b")) {
		t.Errorf("Parse(100000 terms joined by or) = %v, want a valid expression", err)
	}
}

// canonical prints n fully parenthesized where precedence requires it; the
// fuzz test reparses it to check that the parser built the tree it printed.
func canonical(n *node) string {
	var b strings.Builder
	var walk func(n *node, parens bool)
	walk = func(n *node, parens bool) {
		switch n.op {
		case opIdent:
			b.WriteString(n.ident)
			return
		case opNot:
			b.WriteString("not ")
			walk(n.kids[0], true)
			return
		}
		sep := " and "
		if n.op == opOr {
			sep = " or "
		}
		if parens {
			b.WriteString("(")
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			walk(k, true)
		}
		if parens {
			b.WriteString(")")
		}
	}
	walk(n, false)
	return b.String()
}

// assignments yields truth assignments over names: all of them when there
// are few names, otherwise a fixed pseudo-random sample.
func assignments(names []string) []map[string]bool {
	var out []map[string]bool
	if len(names) <= 10 {
		for bits := 0; bits < 1<<len(names); bits++ {
			m := map[string]bool{}
			for i, n := range names {
				m[n] = bits&(1<<i) != 0
			}
			out = append(out, m)
		}
		return out
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 512 {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = r.IntN(2) == 1
		}
		out = append(out, m)
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "slow", "not slow and not e2e", "a or b and c", "(a or b) and not (c or d)",
		"py:3.11 and x[1]", "((a))", "not not a", "é and b", "(", "a !", "and",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Col < 1 || se.Col > len([]rune(s))+1 {
				t.Fatalf("Parse(%q) error = %v, want a *SyntaxError within the text", s, err)
			}
			return
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(Parse(%q).String()): %v", s, err)
		}
		if !slices.Equal(e.Idents(), again.Idents()) {
			t.Fatalf("idents of %q changed on reparse: %v, then %v", s, e.Idents(), again.Idents())
		}
		var names []string
		for _, id := range e.Idents() {
			if !slices.Contains(names, id.Name) {
				names = append(names, id.Name)
			}
		}
		var printed *Expr
		if e.root != nil {
			c := canonical(e.root)
			if printed, err = Parse(c); err != nil {
				t.Fatalf("Parse(canonical form %q of %q): %v", c, s, err)
			}
		}
		for _, a := range assignments(names) {
			match := func(id string) bool {
				v, ok := a[id]
				if !ok {
					t.Fatalf("Eval of %q asked about %q, which is not among its idents", s, id)
				}
				return v
			}
			want := e.Eval(match)
			if got := again.Eval(match); got != want {
				t.Fatalf("Parse(%q) and its reparse disagree under %v: %v, %v", s, a, want, got)
			}
			if printed != nil {
				if got := printed.Eval(match); got != want {
					t.Fatalf("%q and its canonical form %q disagree under %v: %v, %v", s, printed.String(), a, want, got)
				}
			}
		}
	})
}
