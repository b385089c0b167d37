// Package label parses labels, which name one target ("//pkg:name"), and
// target patterns, which select many ("//pkg/...", "//pkg:all", "-//pkg:name"),
// with Bazel's spelling and semantics. It knows nothing of the file system:
// relative forms are resolved against a package path the caller supplies.
package label

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest target name or package path accepted, in bytes.
const MaxNameLen = 1024

// Label names one target: Pkg is the package's workspace-relative slash path,
// "" for the root package, and Name the target's name inside it.
type Label struct {
	Pkg, Name string
}

// String returns the canonical form "//pkg:name", or "//:name" in the root package.
func (l Label) String() string { return "//" + l.Pkg + ":" + l.Name }

// Less orders labels by package, then by name.
func Less(a, b Label) bool {
	if a.Pkg != b.Pkg {
		return a.Pkg < b.Pkg
	}
	return a.Name < b.Name
}

// Parse parses a label. Absolute labels start with "//"; "//a/b" is short for
// "//a/b:b". Other forms are resolved against cwdPkg: ":c" and "c" name target c
// of cwdPkg (so does "x/c": without a colon, everything is the target name, as
// in a Bazel BUILD file), and "a/b:c" names target c of package cwdPkg/a/b.
func Parse(s, cwdPkg string) (Label, error) {
	l, err := parse(s, cwdPkg)
	if err != nil {
		return Label{}, fmt.Errorf("invalid label %q: %v", s, err)
	}
	return l, nil
}

func parse(s, cwdPkg string) (Label, error) {
	if err := checkWhole(s); err != nil {
		return Label{}, err
	}
	pkg, name, hasColon := strings.Cut(s, ":")
	if abs, ok := strings.CutPrefix(pkg, "//"); ok {
		if err := checkPkg(abs); err != nil {
			return Label{}, err
		}
		if !hasColon {
			if abs == "" {
				return Label{}, fmt.Errorf(`the root package has no default target; name one, as in "//:name"`)
			}
			name = abs[strings.LastIndex(abs, "/")+1:]
		}
		if err := checkName(name, "//"+abs); err != nil {
			return Label{}, err
		}
		return Label{Pkg: abs, Name: name}, nil
	}
	if err := checkPkg(cwdPkg); err != nil {
		return Label{}, fmt.Errorf("current package %q: %v", cwdPkg, err)
	}
	if !hasColon {
		// Everything is the target name, relative to the current package.
		if err := checkName(pkg, "//"+cwdPkg); err != nil {
			return Label{}, err
		}
		return Label{Pkg: cwdPkg, Name: pkg}, nil
	}
	if err := checkPkg(pkg); err != nil {
		return Label{}, err
	}
	full := join(cwdPkg, pkg)
	if err := checkName(name, "//"+full); err != nil {
		return Label{}, err
	}
	return Label{Pkg: full, Name: name}, nil
}

// join joins two package paths, either of which may be the root "".
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "/" + b
}

// checkWhole rejects what is wrong wherever it appears in a label or pattern.
func checkWhole(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case strings.HasPrefix(s, "@"):
		return fmt.Errorf(`external repositories are not supported; name targets of this workspace, as in "//pkg:name"`)
	case !utf8.ValidString(s):
		return fmt.Errorf("not valid UTF-8")
	case strings.ContainsRune(s, 0):
		return fmt.Errorf("must not contain a NUL byte")
	case strings.IndexFunc(s, unicode.IsSpace) >= 0:
		return fmt.Errorf("must not contain whitespace (%q)", s[strings.IndexFunc(s, unicode.IsSpace)])
	case strings.Count(s, ":") > 1:
		return fmt.Errorf(`more than one ":"; write "//pkg:name"`)
	}
	return nil
}

// checkPkg checks a package path: "" (the root) or slash-separated components.
func checkPkg(pkg string) error {
	if pkg == "" {
		return nil
	}
	if len(pkg) > MaxNameLen {
		return fmt.Errorf("package path is %d bytes long, more than the limit of %d", len(pkg), MaxNameLen)
	}
	if strings.HasPrefix(pkg, "/") {
		return fmt.Errorf(`package path must not start with "/" after "//" (labels are relative to the workspace root, as in "//a/b:c")`)
	}
	if strings.HasSuffix(pkg, "/") {
		return fmt.Errorf(`package path must not end with "/"; write "//%s"`, strings.TrimRight(pkg, "/"))
	}
	for _, c := range strings.Split(pkg, "/") {
		switch c {
		case "":
			return fmt.Errorf(`package path must not contain "//"; separate directories with one "/"`)
		case ".":
			return fmt.Errorf(`package path must not contain "." (write the path without it)`)
		case "..":
			return fmt.Errorf(`package path must not contain ".." (labels name packages inside the workspace)`)
		case "...":
			return fmt.Errorf(`package path must not contain "..." (it is a wildcard of target patterns, as in "//pkg/...", and names no package)`)
		}
		if err := checkChars(c, "package path"); err != nil {
			return err
		}
	}
	return nil
}

// checkName checks a target name of package pkg (in "//pkg" form, for messages).
func checkName(name, pkg string) error {
	if name == "" {
		return fmt.Errorf("target name must not be empty; write %s:name", pkg)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("target name is %d bytes long, more than the limit of %d", len(name), MaxNameLen)
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf(`target name must not start or end with "/"`)
	}
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "":
			return fmt.Errorf(`target name must not contain "//"`)
		case ".", "..":
			return fmt.Errorf(`target name must not contain a %q path component`, c)
		}
		if err := checkChars(c, "target name"); err != nil {
			return err
		}
	}
	return nil
}

const punctuation = ".-_+@=,~"

func checkChars(s, what string) error {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(punctuation, r) {
			continue
		}
		return fmt.Errorf("%s must not contain %q (allowed: letters, digits, \"/\" and %q)", what, r, punctuation)
	}
	return nil
}
