package lint

import (
	"strings"

	"github.com/bazelbuild/buildtools/warn"
)

// bazelOnlyWarnings are the categories of buildifier's default set (--lint=warn) that suite
// leaves out because they are about Bazel, not about Starlark: its rule-definition APIs,
// native rules, packages, repositories and label policies, none of which a suite file has.
// A finding from any of them would tell a suite user to do something meaningless.
// Categories whose name starts with "native-" (Bazel's native rules and symbols moving to
// rules_* repositories) are left out as well; see isBazelOnly.
//
// Kept, because they hold for suite files too: general Starlark mistakes (unused-variable,
// uninitialized, unreachable, no-effect, redefined-variable, return-value, integer-division,
// string-iteration, list-append, dict-concatenation, confusing-name, name-conventions, ...),
// unused loads ("load"), two targets of one name in a SUITES.star (duplicated-name),
// glob patterns without a wildcard (constant-glob), print() left behind, and the docstring
// warnings for macro files (module-docstring, function-docstring*), which buildtools applies
// to .star macro files only — never to SUITES.star or WORKSPACE.
var bazelOnlyWarnings = map[string]bool{
	// Label and load policies of a Bazel repository (tables.AllowedSymbolLoadLocations,
	// //internal and //private visibility of .bzl files).
	"allowed-symbol-load-locations": true,
	"bzl-visibility":                true,
	// The attr module of rule() definitions.
	"attr-applicable_licenses": true,
	"attr-cfg":                 true,
	"attr-license":             true,
	"attr-licenses":            true,
	"attr-non-empty":           true,
	"attr-output-default":      true,
	"attr-single-file":         true,
	// Rule implementation functions: ctx, depsets, providers, output groups, FileType.
	"ctx-actions":          true,
	"ctx-args":             true,
	"depset-items":         true,
	"depset-iteration":     true,
	"depset-union":         true,
	"filetype":             true,
	"output-group":         true,
	"overly-nested-depset": true,
	"provider-params":      true,
	"rule-impl-return":     true,
	// Bazel forbids *args/**kwargs in BUILD files; suite's evaluator allows them in SUITES.star.
	"build-args-kwargs": true,
	// $(location) expansion in rule attributes.
	"make-location": true,
	// package(), PACKAGE_NAME and REPOSITORY_NAME.
	"package-name":    true,
	"package-on-top":  true,
	"repository-name": true,
	// Repository rules of a Bazel WORKSPACE.
	"git-repository": true,
	"http-archive":   true,
	// Bazel's macro conventions. They recognise rules by native.* and rule(), which suite
	// files do not use, and suite's own built-ins take a positional argument by design
	// (mark("smoke", doc = ...)).
	"positional-args": true,
	"unnamed-macro":   true,
	// Reads the files a load() names to find deprecated functions; Warnings sees one file.
	"deprecated-function": true,
}

func isBazelOnly(category string) bool {
	return bazelOnlyWarnings[category] || strings.HasPrefix(category, "native-")
}

// suiteWarnings returns the categories Warnings runs: buildifier's default set without the
// Bazel-only ones.
func suiteWarnings() []string {
	var categories []string
	for _, c := range warn.DefaultWarnings {
		if !isBazelOnly(c) {
			categories = append(categories, c)
		}
	}
	return categories
}

// Warnings returns the findings of buildtools' warn package for src, in the dialect its path
// calls for (see Format), ordered by position. It applies the default warning set of
// buildifier --lint=warn without the categories that only make sense for Bazel (see
// bazelOnlyWarnings). A "# buildifier: disable=CATEGORY" comment silences a finding, as it
// does for buildifier.
func Warnings(path string, src []byte) ([]Finding, error) {
	f, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	// No FileReader: the categories that would read other files are left out above.
	found := warn.FileWarnings(f, suiteWarnings(), nil, warn.ModeWarn, nil)
	findings := make([]Finding, 0, len(found))
	for _, w := range found {
		findings = append(findings, Finding{
			Path:     path,
			Line:     w.Start.Line,
			Col:      w.Start.LineRune,
			Category: w.Category,
			Message:  w.Message,
			URL:      w.URL,
		})
	}
	return findings, nil
}
