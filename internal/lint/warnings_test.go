package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/warn"
)

func TestWarningsFindings(t *testing.T) {
	for _, tc := range []struct {
		name, path, src string
		want            []string // "line:col: category"
	}{
		{
			name: "unused variable in a macro",
			path: "tools/rules/defs.star",
			src: `"""Macros."""

def service_tests(name, srcs):
    """Declares the tests of one service.

    Args:
      name: prefix of the test names
      srcs: the test sources
    """
    unused = len(srcs)
    test(name = name, srcs = srcs, cmd = ["./run.sh"])
`,
			want: []string{"10:5: unused-variable"},
		},
		{
			name: "two tests of one name",
			path: "services/api/SUITES.star",
			src: `test(
    name = "login",
    cmd = ["./login.sh"],
)

test(
    name = "login",
    cmd = ["./login_v2.sh"],
)
`,
			want: []string{"7:12: duplicated-name"},
		},
		{
			name: "unused load and glob without wildcard",
			path: "SUITES.star",
			src: `load("//tools:defs.star", "service_tests")

test(
    name = "a",
    srcs = glob(["a_test.py"]),
    cmd = ["python3", "a_test.py"],
)
`,
			want: []string{"1:28: load", "5:18: constant-glob"},
		},
		{
			name: "disabled by comment",
			path: "tools/rules/defs.star",
			src: `"""Macros."""

def f():
    """Does nothing."""
    x = 1  # buildifier: disable=unused-variable
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			findings, err := Warnings(tc.path, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, fmtPos(f))
				if f.Path != tc.path || f.Message == "" || !strings.HasPrefix(f.URL, "https://") {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got findings %q, want %q\n%v", got, tc.want, findings)
			}
		})
	}
}

func fmtPos(f Finding) string {
	return fmt.Sprintf("%d:%d: %s", f.Line, f.Col, f.Category)
}

// TestWarningsCleanFiles: the files a user is shown as examples give no findings, including
// constructs buildifier would flag only because of Bazel conventions: mark()'s positional
// name in WORKSPACE, **kwargs in a SUITES.star, a macro whose first argument is not "name".
func TestWarningsCleanFiles(t *testing.T) {
	for path, src := range map[string]string{
		"WORKSPACE": `workspace(
    name = "acme",
    default_timeout = "300s",
    jobs = "auto",
)

mark(
    "smoke",
    doc = "critical path — run before deployment",
)
`,
		"services/api/SUITES.star": `load("//tools/rules:defs.star", "service_tests")

COMMON = {
    "timeout": "30s",
    "marks": ["unit"],
}

files(
    name = "common",
    srcs = glob(["lib/**/*.py"]),
)

test(
    name = "login",
    srcs = glob(["*.py"]),
    cmd = [
        "python3",
        "-m",
        "unittest",
        "test_login.py",
    ],
    deps = [":common"],
    **COMMON
)

service_tests(
    name = "api",
    srcs = glob(["*_test.go"]),
)
`,
		"tools/rules/defs.star": `"""Macros shared by the services' SUITES.star files."""

def service_tests(name, srcs):
    """Declares the unit and e2e tests of one service.

    Args:
      name: prefix of the test names
      srcs: the test sources
    """
    for kind in ["unit", "e2e"]:
        test(
            name = name + "_" + kind,
            srcs = srcs,
            cmd = ["./run.sh", kind],
            marks = [kind],
        )

def smoke_of(suite_names):
    """Returns the smoke suite names of the given suites.

    Args:
      suite_names: names of suites

    Returns:
      the names with "_smoke" appended
    """
    return [n + "_smoke" for n in suite_names]
`,
	} {
		findings, err := Warnings(path, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 0 {
			t.Errorf("Warnings(%s) = %v, want none", path, findings)
		}
		// Clean files are formatted files, too.
		if got, err := Format(path, []byte(src)); err != nil || string(got) != src {
			t.Errorf("Format(%s) changes the example:\n%s", path, Diff(path, []byte(src), got))
		}
	}
}

// TestBazelOnlyWarningsExist: the categories left out must be buildtools' names; after a
// buildtools upgrade renames one, this says so instead of silently letting it through.
func TestBazelOnlyWarningsExist(t *testing.T) {
	for category := range bazelOnlyWarnings {
		if !slices.Contains(warn.AllWarnings, category) {
			t.Errorf("bazelOnlyWarnings names %q, which buildtools does not have", category)
		}
	}
	for _, category := range suiteWarnings() {
		if isBazelOnly(category) {
			t.Errorf("suiteWarnings runs %q", category)
		}
	}
}
