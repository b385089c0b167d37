package label

import (
	"fmt"
	"strings"
)

type patternKind int

const (
	kindTarget    patternKind = iota // one target: //pkg:name
	kindPackage                      // every target of one package: //pkg:all
	kindRecursive                    // every target of a package and the packages below: //pkg/...
)

// Pattern selects targets, as a Bazel target pattern does. The zero Pattern
// names the target //: with an empty name and so matches nothing real.
type Pattern struct {
	kind     patternKind
	pkg      string
	name     string // kindTarget only
	negative bool
}

// ParsePattern parses a target pattern:
//
//	//...          every target of the workspace
//	//pkg/...      every target of pkg and of the packages below it
//	//pkg:all      every target of pkg (also //pkg:*, //pkg:all-targets)
//	//pkg:name     one target; //pkg is short for //pkg:pkg
//
// Forms without a leading "//" ("...", "pkg/...", ":all", ":name", "pkg:name",
// "name") are resolved against cwdPkg as labels are (see Parse). A leading "-"
// makes the pattern negative: in a Set it removes what it matches.
//
// As in Bazel, "all" and "*" after a colon are wildcards, even if a target of
// that name exists.
func ParsePattern(s, cwdPkg string) (Pattern, error) {
	p, err := parsePattern(s, cwdPkg)
	if err != nil {
		return Pattern{}, fmt.Errorf("invalid target pattern %q: %v", s, err)
	}
	return p, nil
}

func parsePattern(s, cwdPkg string) (Pattern, error) {
	body, negative := strings.CutPrefix(s, "-")
	if err := checkWhole(body); err != nil {
		return Pattern{}, err
	}
	pkg, name, hasColon := strings.Cut(body, ":")
	// "//pkg/...:all" and "//pkg/...:*" mean "//pkg/...", as in Bazel.
	if hasColon && isWildcardName(name) && (pkg == "..." || strings.HasSuffix(pkg, "/...")) {
		hasColon = false
	}
	if !hasColon && (pkg == "..." || strings.HasSuffix(pkg, "/...")) {
		// Parse the package part with a placeholder in place of "...", so that
		// it is checked as any package path is, then drop the placeholder.
		l, err := parse(strings.TrimSuffix(pkg, "...")+"x:x", cwdPkg)
		if err != nil {
			return Pattern{}, err
		}
		under := strings.TrimSuffix(strings.TrimSuffix(l.Pkg, "x"), "/")
		return Pattern{kind: kindRecursive, pkg: under, negative: negative}, nil
	}
	if hasColon && isWildcardName(name) {
		// Parse the package part by giving it a name that is surely valid.
		l, err := parse(pkg+":x", cwdPkg)
		if err != nil {
			return Pattern{}, err
		}
		return Pattern{kind: kindPackage, pkg: l.Pkg, negative: negative}, nil
	}
	l, err := parse(body, cwdPkg)
	if err != nil {
		return Pattern{}, err
	}
	return Pattern{kind: kindTarget, pkg: l.Pkg, name: l.Name, negative: negative}, nil
}

func isWildcardName(name string) bool {
	return name == "all" || name == "*" || name == "all-targets"
}

// Matches reports whether l lies in the set of targets p names, whether p is
// negative or not.
func (p Pattern) Matches(l Label) bool {
	switch p.kind {
	case kindTarget:
		return l.Pkg == p.pkg && l.Name == p.name
	case kindPackage:
		return l.Pkg == p.pkg
	default:
		return p.pkg == "" || l.Pkg == p.pkg || strings.HasPrefix(l.Pkg, p.pkg+"/")
	}
}

// Negative reports whether p was written with a leading "-".
func (p Pattern) Negative() bool { return p.negative }

// String returns the canonical absolute form, such as "//pkg/...", "//:all"
// or "-//pkg:name".
func (p Pattern) String() string {
	var s string
	switch p.kind {
	case kindTarget:
		s = Label{Pkg: p.pkg, Name: p.name}.String()
	case kindPackage:
		s = "//" + p.pkg + ":all"
	default:
		s = "//" + join(p.pkg, "...")
	}
	if p.negative {
		return "-" + s
	}
	return s
}

// Root returns the package path under which every match lies: a walk of the
// workspace for p's targets can start in that directory.
func (p Pattern) Root() string { return p.pkg }

// Set is an ordered list of patterns. A label is in the set when the last
// pattern that matches it is positive, as on Bazel's command line
// ("//... -//slow/..." is everything but //slow/...). An empty Set matches nothing.
type Set []Pattern

// ParseSet parses each pattern in order, resolving relative ones against cwdPkg.
func ParseSet(patterns []string, cwdPkg string) (Set, error) {
	set := make(Set, 0, len(patterns))
	for _, s := range patterns {
		p, err := ParsePattern(s, cwdPkg)
		if err != nil {
			return nil, err
		}
		set = append(set, p)
	}
	return set, nil
}

// Matches reports whether l is in the set.
func (s Set) Matches(l Label) bool {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Matches(l) {
			return !s[i].negative
		}
	}
	return false
}
