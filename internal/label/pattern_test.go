package label

import (
	"testing"
)

var (
	root     = Label{"", "top"}
	a        = Label{"a", "a"}
	aX       = Label{"a", "x"}
	aB       = Label{"a/b", "b"}
	aBY      = Label{"a/b", "y"}
	ab       = Label{"ab", "x"} // shares a prefix with "a" but is not below it
	allTests = []Label{root, a, aX, aB, aBY, ab}
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in, cwd   string
		canonical string
		root      string
		matches   []Label
	}{
		{"//...", "a", "//...", "", allTests},
		{"//a/...", "", "//a/...", "a", []Label{a, aX, aB, aBY}},
		{"//a/...:all", "", "//a/...", "a", []Label{a, aX, aB, aBY}},
		{"//a/...:*", "", "//a/...", "a", []Label{a, aX, aB, aBY}},
		{"//a:all", "", "//a:all", "a", []Label{a, aX}},
		{"//a:*", "", "//a:all", "a", []Label{a, aX}},
		{"//a:all-targets", "", "//a:all", "a", []Label{a, aX}},
		{"//:all", "a", "//:all", "", []Label{root}},
		{"//a:x", "", "//a:x", "a", []Label{aX}},
		{"//a", "", "//a:a", "a", []Label{a}},
		{"//a/b", "", "//a/b:b", "a/b", []Label{aB}},
		// Relative forms.
		{"...", "", "//...", "", allTests},
		{"...", "a", "//a/...", "a", []Label{a, aX, aB, aBY}},
		{"b/...", "a", "//a/b/...", "a/b", []Label{aB, aBY}},
		{":all", "a", "//a:all", "a", []Label{a, aX}},
		{":*", "", "//:all", "", []Label{root}},
		{"b:all", "a", "//a/b:all", "a/b", []Label{aB, aBY}},
		{":x", "a", "//a:x", "a", []Label{aX}},
		{"x", "a", "//a:x", "a", []Label{aX}},
		{"b:y", "a", "//a/b:y", "a/b", []Label{aBY}},
		// Negative patterns match the same targets; the sign matters in a Set.
		{"-//a/...", "", "-//a/...", "a", []Label{a, aX, aB, aBY}},
		{"-:x", "a", "-//a:x", "a", []Label{aX}},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.in, tt.cwd)
		if err != nil {
			t.Errorf("ParsePattern(%q, %q): %v", tt.in, tt.cwd, err)
			continue
		}
		if got := p.String(); got != tt.canonical {
			t.Errorf("ParsePattern(%q, %q).String() = %q, want %q", tt.in, tt.cwd, got, tt.canonical)
		}
		if got := p.Root(); got != tt.root {
			t.Errorf("ParsePattern(%q, %q).Root() = %q, want %q", tt.in, tt.cwd, got, tt.root)
		}
		if got, want := p.Negative(), tt.in[0] == '-'; got != want {
			t.Errorf("ParsePattern(%q, %q).Negative() = %v, want %v", tt.in, tt.cwd, got, want)
		}
		for _, l := range allTests {
			want := false
			for _, m := range tt.matches {
				want = want || m == l
			}
			if got := p.Matches(l); got != want {
				t.Errorf("ParsePattern(%q, %q).Matches(%s) = %v, want %v", tt.in, tt.cwd, l, got, want)
			}
		}
		// The canonical form means the same from anywhere.
		again, err := ParsePattern(p.String(), "some/where/else")
		if err != nil || again != p {
			t.Errorf("ParsePattern(%q) = %v, %v; want it to equal ParsePattern(%q, %q)", p.String(), again, err, tt.in, tt.cwd)
		}
	}
}

func TestParsePatternErrors(t *testing.T) {
	tests := []struct {
		in, cwd string
		want    string
	}{
		{"", "", `invalid target pattern "": empty`},
		{"-", "", `invalid target pattern "-": empty`},
		{"//../...", "", `invalid target pattern "//../...": package path must not contain ".." (labels name packages inside the workspace)`},
		{"../...", "a", `package path must not contain ".."`},
		{"//a/.../b", "", `must not contain "..." (it is a wildcard`},
		{"//...:x", "", `must not contain "..." (it is a wildcard`},
		{"//a:", "", `target name must not be empty`},
		{"//a:all:b", "", `more than one ":"`},
		{"//a b/...", "", `must not contain whitespace`},
		{"///...", "", `package path must not start with "/"`},
		{"/...", "", `package path must not start with "/"`},
		{"//a//...", "", `package path must not contain "//"`},
		{"//a/./...", "", `package path must not contain "."`},
		{"@r//...", "", `external repositories are not supported`},
		{"...", "a/../b", `current package "a/../b"`},
	}
	for _, tt := range tests {
		_, err := ParsePattern(tt.in, tt.cwd)
		if err == nil {
			t.Errorf("ParsePattern(%q, %q) succeeded, want error %q", tt.in, tt.cwd, tt.want)
			continue
		}
		if !errorMatches(err.Error(), tt.want) {
			t.Errorf("ParsePattern(%q, %q) error:\n got %s\nwant %s", tt.in, tt.cwd, err, tt.want)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		patterns []string
		cwd      string
		matches  []Label
	}{
		{nil, "", nil},
		{[]string{"//..."}, "", allTests},
		{[]string{"//...", "-//a/..."}, "", []Label{root, ab}},
		// The last matching pattern decides: a later positive pattern adds back.
		{[]string{"//...", "-//a/...", "//a/b:y"}, "", []Label{root, ab, aBY}},
		// A negative pattern first removes nothing: nothing was selected yet.
		{[]string{"-//a:x", "//a:all"}, "", []Label{a, aX}},
		{[]string{"-//..."}, "", nil},
		{[]string{"...", "-:x"}, "a", []Label{a, aB, aBY}},
	}
	for _, tt := range tests {
		set, err := ParseSet(tt.patterns, tt.cwd)
		if err != nil {
			t.Errorf("ParseSet(%q): %v", tt.patterns, err)
			continue
		}
		for _, l := range allTests {
			want := false
			for _, m := range tt.matches {
				want = want || m == l
			}
			if got := set.Matches(l); got != want {
				t.Errorf("ParseSet(%q, %q).Matches(%s) = %v, want %v", tt.patterns, tt.cwd, l, got, want)
			}
		}
	}
	if _, err := ParseSet([]string{"//...", "//a/../b"}, ""); err == nil {
		t.Error(`ParseSet with an invalid second pattern succeeded, want an error`)
	}
}
