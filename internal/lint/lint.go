// Package lint formats and checks the Starlark files a suite user writes — WORKSPACE,
// SUITES.star and macro files (*.star) — with bazelbuild/buildtools, so that `suite fmt`
// produces byte for byte what buildifier produces, and `suite lint` reports buildifier's
// warnings where they make sense for suite.
package lint

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// dialect is the buildtools file type a suite file is parsed, formatted and linted as.
type dialect struct {
	parse func(filename string, data []byte) (*build.File, error)
	// buildifierType is the value of buildifier's --type flag that selects the same dialect.
	buildifierType string
}

var (
	// WORKSPACE is the one name buildtools recognises by itself, and buildifier formats it as
	// a WORKSPACE file: BUILD layout and rewrites, except that load statements stay where they
	// are. Parsing it with ParseBuild instead would hoist loads to the top, and `suite fmt`
	// and buildifier would disagree about the same file.
	workspaceDialect = dialect{build.ParseWorkspace, "workspace"}
	// SUITES.star plays the role of a BUILD file, but build.Parse does not recognise the name
	// (it would pick the generic Starlark dialect), so it is chosen explicitly: top-level calls
	// get BUILD layout, "name" first and the other arguments sorted, srcs/deps lists sorted,
	// labels like "//a/b:b" shortened to "//a/b".
	suitesDialect = dialect{build.ParseBuild, "build"}
	// Other .star files hold macros and constants, the role of .bzl files. build.Parse would
	// treat them as generic Starlark; the .bzl dialect differs from that only in sorting
	// visibility() arguments when formatting, and enables the .bzl warnings (docstrings).
	macrosDialect = dialect{build.ParseBzl, "bzl"}
)

// dialectOf returns the dialect a file is formatted as, judging by its name only.
func dialectOf(path string) (dialect, bool) {
	base := filepath.Base(filepath.ToSlash(path))
	switch {
	case base == "WORKSPACE" || base == "WORKSPACE.suite":
		return workspaceDialect, true
	case base == "SUITES.star":
		return suitesDialect, true
	case strings.HasSuffix(base, ".star"):
		return macrosDialect, true
	}
	return dialect{}, false
}

// IsSuiteFile reports whether path names a file `suite fmt` and `suite lint` handle:
// WORKSPACE, SUITES.star or any other *.star file.
func IsSuiteFile(path string) bool {
	_, ok := dialectOf(path)
	return ok
}

// parse parses src in the dialect its path calls for. Parse errors read
// "path:line:col: message".
func parse(path string, src []byte) (*build.File, error) {
	d, ok := dialectOf(path)
	if !ok {
		return nil, fmt.Errorf("%s: not a suite file (want WORKSPACE, WORKSPACE.suite, SUITES.star or a .star file)", path)
	}
	return d.parse(path, src)
}

// Format returns src laid out as buildifier lays out that kind of file, with the rewrites
// buildifier applies by default (argument and list sorting, load statement sorting, label
// shortening in BUILD-like files); like buildifier without --lint=fix, it applies no lint
// fixes. Formatting a formatted file returns it unchanged.
func Format(path string, src []byte) ([]byte, error) {
	f, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	// buildifier (buildifier.go, processFile) does exactly this after parsing: build.Format,
	// which runs the default rewrites for f.Type and prints.
	return build.Format(f), nil
}
