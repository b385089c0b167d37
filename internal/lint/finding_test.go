package lint

import "testing"

func TestFindingString(t *testing.T) {
	f := Finding{Path: "a/SUITES.star", Line: 3, Col: 5, Category: "load", Message: `Loaded symbol "x" is unused.`, URL: "https://example.com/w#load"}
	want := `a/SUITES.star:3:5: load: Loaded symbol "x" is unused. (https://example.com/w#load)`
	if got := f.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
