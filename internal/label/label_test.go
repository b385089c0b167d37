package label

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, cwd string
		want    Label
	}{
		{"//a/b:c", "", Label{"a/b", "c"}},
		{"//a/b:c", "x/y", Label{"a/b", "c"}},
		{"//a/b", "", Label{"a/b", "b"}},
		{"//a", "x", Label{"a", "a"}},
		{"//:c", "x", Label{"", "c"}},
		{":c", "x/y", Label{"x/y", "c"}},
		{"c", "x/y", Label{"x/y", "c"}},
		{":c", "", Label{"", "c"}},
		{"a/b:c", "x", Label{"x/a/b", "c"}},
		{"a/b:c", "", Label{"a/b", "c"}},
		// Without a colon, a relative label is all target name.
		{"unit/tests/test_x.py", "svc", Label{"svc", "unit/tests/test_x.py"}},
		{"//svc:unit/tests/test_x.py", "", Label{"svc", "unit/tests/test_x.py"}},
		{"//a-b/c_d.e:n+1@x=y,z~", "", Label{"a-b/c_d.e", "n+1@x=y,z~"}},
		{"//données:tést", "", Label{"données", "tést"}},
		{"//a:...", "", Label{"a", "..."}},
		{"//a:.hidden", "", Label{"a", ".hidden"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.cwd)
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tt.in, tt.cwd, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q, %q) = %#v, want %#v", tt.in, tt.cwd, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, cwd string
		want    string // the whole error text when it starts with "invalid ", else a part of it
	}{
		{"//a/../b:c", "", `invalid label "//a/../b:c": package path must not contain ".." (labels name packages inside the workspace)`},
		{"../b:c", "a", `must not contain ".."`},
		{"", "", `invalid label "": empty`},
		{"//", "", `invalid label "//": the root package has no default target; name one, as in "//:name"`},
		{"//a/b:", "", `invalid label "//a/b:": target name must not be empty; write //a/b:name`},
		{":", "x", `target name must not be empty; write //x:name`},
		{"//a:b:c", "", `more than one ":"`},
		{"///a:b", "", `package path must not start with "/"`},
		{"//a/:b", "", `package path must not end with "/"; write "//a"`},
		{"//a//b:c", "", `package path must not contain "//"`},
		{"//a/./b:c", "", `package path must not contain "."`},
		{"//a/...:c", "", `must not contain "..." (it is a wildcard`},
		{"//a:../b", "", `target name must not contain a ".." path component`},
		{"//a:b/./c", "", `target name must not contain a "." path component`},
		{"//a:/b", "", `target name must not start or end with "/"`},
		{"//a:b/", "", `target name must not start or end with "/"`},
		{"//a:b//c", "", `target name must not contain "//"`},
		{"//a:b c", "", `invalid label "//a:b c": must not contain whitespace (' ')`},
		{" //a:b", "", `must not contain whitespace`},
		{"//a:b\n", "", `must not contain whitespace ('\n')`},
		{"//a:b\x00", "", `invalid label "//a:b\x00": must not contain a NUL byte`},
		{"//a:b$", "", `target name must not contain '$' (allowed: letters, digits, "/" and ".-_+@=,~")`},
		{"//a b:c", "", `must not contain whitespace`},
		{"//a:b\u00a0", "", `must not contain whitespace`},
		{"//a:é\xff", "", `invalid label "//a:é\xff": not valid UTF-8`},
		{"//a:" + strings.Repeat("n", MaxNameLen+1), "", `target name is 1025 bytes long, more than the limit of 1024`},
		{"@repo//a:b", "", `external repositories are not supported`},
		{"c", "a/../b", `label "c": current package "a/../b": package path must not contain ".."`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, tt.cwd)
		if err == nil {
			t.Errorf("Parse(%q, %q) succeeded, want error %q", tt.in, tt.cwd, tt.want)
			continue
		}
		if !errorMatches(err.Error(), tt.want) {
			t.Errorf("Parse(%q, %q) error:\n got %s\nwant %s", tt.in, tt.cwd, err, tt.want)
		}
	}
	// A name of exactly the limit is fine.
	if _, err := Parse("//a:"+strings.Repeat("n", MaxNameLen), ""); err != nil {
		t.Errorf("Parse(name of %d bytes): %v", MaxNameLen, err)
	}
}

func errorMatches(got, want string) bool {
	if strings.HasPrefix(want, "invalid ") {
		return got == want
	}
	return strings.Contains(got, want)
}

func TestLabelString(t *testing.T) {
	for _, tt := range []struct {
		l    Label
		want string
	}{
		{Label{"a/b", "c"}, "//a/b:c"},
		{Label{"", "c"}, "//:c"},
		{Label{"a", "x/y.py"}, "//a:x/y.py"},
	} {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.l, got, tt.want)
		}
		back, err := Parse(tt.want, "elsewhere")
		if err != nil || back != tt.l {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tt.want, back, err, tt.l)
		}
	}
}

func TestLess(t *testing.T) {
	labels := []Label{{"b", "a"}, {"a/b", "a"}, {"a", "z"}, {"", "x"}, {"a", "b"}}
	slices.SortFunc(labels, func(a, b Label) int {
		switch {
		case Less(a, b):
			return -1
		case Less(b, a):
			return 1
		}
		return 0
	})
	want := []Label{{"", "x"}, {"a", "b"}, {"a", "z"}, {"a/b", "a"}, {"b", "a"}}
	if !slices.Equal(labels, want) {
		t.Errorf("sorted = %v, want %v", labels, want)
	}
}
