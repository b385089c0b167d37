package lint

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bazelbuild/buildtools/build"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/format from Format's output")

// goldenCase is one testdata/format/NNN.<file name>.in file; the file name after the number
// is the name Format sees, and so decides the dialect.
type goldenCase struct {
	in, golden string // paths of the input and the golden file
	name       string // the file name Format is given, e.g. "SUITES.star"
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join("testdata", "format", "*.in"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatal("no testdata/format/*.in files")
	}
	var cases []goldenCase
	for _, in := range ins {
		base := strings.TrimSuffix(filepath.Base(in), ".in")
		_, name, ok := strings.Cut(base, ".")
		if !ok || !IsSuiteFile(name) {
			t.Fatalf("%s: want NNN.<suite file name>.in, e.g. 001.SUITES.star.in", in)
		}
		cases = append(cases, goldenCase{in, strings.TrimSuffix(in, ".in") + ".golden", name})
	}
	return cases
}

func TestFormatGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(filepath.Base(c.in), func(t *testing.T) {
			src, err := os.ReadFile(c.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Format(c.name, src)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(c.golden, got, 0o666); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Format(%s) differs from %s:\n%s", c.name, c.golden, Diff(c.golden, want, got))
			}

			// Formatting is idempotent: a formatted file formats to itself.
			again, err := Format(c.name, want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, want) {
				t.Errorf("formatting %s again changes it:\n%s", c.golden, Diff(c.golden, want, again))
			}
		})
	}
}

// TestFormatMatchesBuildifier checks that Format writes what buildifier writes for the same
// file type. With a buildifier binary on PATH, it runs it; otherwise it repeats what
// buildifier's processFile does in-process (the parser buildifier picks for --type, then
// build.Format), which catches a wrong dialect choice but not a change in buildifier itself.
func TestFormatMatchesBuildifier(t *testing.T) {
	buildifier, lookErr := exec.LookPath("buildifier")
	if lookErr != nil {
		t.Log("buildifier is not on PATH; comparing with buildifier's pipeline in-process")
	}
	for _, c := range goldenCases(t) {
		t.Run(filepath.Base(c.in), func(t *testing.T) {
			src, err := os.ReadFile(c.in)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := dialectOf(c.name)
			var want []byte
			if lookErr == nil {
				// -config=off: a .buildifier.json found upwards from here must not change the result.
				cmd := exec.Command(buildifier, "-config=off", "-type="+d.buildifierType)
				cmd.Stdin = bytes.NewReader(src)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				want, err = cmd.Output()
				if err != nil {
					t.Fatalf("buildifier -type=%s: %v\n%s", d.buildifierType, err, stderr.Bytes())
				}
			} else {
				f, err := buildifierParsers[d.buildifierType](c.name, src)
				if err != nil {
					t.Fatal(err)
				}
				want = build.Format(f)
			}
			got, err := Format(c.name, src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Format(%s) differs from buildifier -type=%s:\n%s", c.name, d.buildifierType, Diff(c.name, want, got))
			}
		})
	}
}

// buildifierParsers is buildifier/utils.GetParser for the -type values suite uses. It is a
// copy because importing buildifier/utils would pull in buildtools/warn.
var buildifierParsers = map[string]func(filename string, data []byte) (*build.File, error){
	"build":     build.ParseBuild,
	"bzl":       build.ParseBzl,
	"workspace": build.ParseWorkspace,
}

// TestSuitesFileIsBuildDialect pins the trap buildtools sets: it does not know the name
// SUITES.star, so build.Parse would format it as generic Starlark. The same text must come
// out as a BUILD file when named SUITES.star, and as a .bzl file under any other .star name.
func TestSuitesFileIsBuildDialect(t *testing.T) {
	src := []byte(`test(cmd = ["./t.sh", "b", "a"], name = "x", srcs = ["b.sh", "a.sh"], deps = ["//x:x"])` + "\n")

	asBuild := `test(
    name = "x",
    srcs = [
        "a.sh",
        "b.sh",
    ],
    cmd = [
        "./t.sh",
        "b",
        "a",
    ],
    deps = ["//x"],
)
`
	asBzl := string(src)

	for _, tc := range []struct{ path, want string }{
		{"SUITES.star", asBuild},
		{"services/api/SUITES.star", asBuild},
		{"tools/rules/defs.star", asBzl},
		{"SUITES.star.star", asBzl},
	} {
		got, err := Format(tc.path, src)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Format(%q):\n%s", tc.path, Diff(tc.path, []byte(tc.want), got))
		}
	}

	// And the goldens 005 (SUITES.star) and 006 (a .star file) start from the same text.
	in5, err5 := os.ReadFile("testdata/format/005.SUITES.star.in")
	in6, err6 := os.ReadFile("testdata/format/006.pinned.star.in")
	if err5 != nil || err6 != nil || !bytes.Equal(in5, in6) {
		t.Errorf("005.SUITES.star.in and 006.pinned.star.in must hold the same text")
	}
}

func TestWorkspaceKeepsLoadsInPlace(t *testing.T) {
	src := []byte("mark(\"smoke\")\n\nload(\"//tools:marks.star\", \"more_marks\")\n\nmore_marks()\n")
	got, err := Format("WORKSPACE", src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src) {
		t.Errorf("Format(WORKSPACE) moved something:\n%s", Diff("WORKSPACE", src, got))
	}
	// In a SUITES.star the load goes to the top.
	got, err = Format("SUITES.star", src)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "load(") {
		t.Errorf("Format(SUITES.star) left the load in place:\n%s", got)
	}
}

func TestParseErrorPosition(t *testing.T) {
	src := []byte("test(\n    name = \"a\",\n    cmd = [\"true\"]],\n)\n")
	wantPrefix := "pkg/SUITES.star:3:20: " // buildtools points just past the stray "]", as buildifier prints it
	_, err := Format("pkg/SUITES.star", src)
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("Format: got error %v, want one starting %q", err, wantPrefix)
	}
	_, err = Warnings("pkg/SUITES.star", src)
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("Warnings: got error %v, want one starting %q", err, wantPrefix)
	}

	positioned := regexp.MustCompile(`^[^:]+:\d+:\d+: \S`)
	for _, tc := range []struct{ path, src string }{
		{"WORKSPACE", "workspace(name = \"acme\"\n"},
		{"tools/defs.star", "def f(:\n    pass\n"},
		{"SUITES.star", "test(name = 'a' 'b' = 1)\n"},
	} {
		if _, err := Format(tc.path, []byte(tc.src)); err == nil || !positioned.MatchString(err.Error()) || !strings.HasPrefix(err.Error(), tc.path+":") {
			t.Errorf("Format(%q, %q): got error %v, want %q:line:col: message", tc.path, tc.src, err, tc.path)
		}
	}
}

func TestIsSuiteFile(t *testing.T) {
	for path, want := range map[string]bool{
		"WORKSPACE":               true,
		"WORKSPACE.suite":         true,
		"a/b/SUITES.star":         true,
		"tools/rules/defs.star":   true,
		"x.star":                  true,
		"BUILD":                   false,
		"WORKSPACE.bazel":         false,
		"a/WORKSPACE.example":     false,
		"defs.bzl":                false,
		"main.go":                 false,
		"SUITES":                  false,
		"star":                    false,
		"services/star/README.md": false,
	} {
		if got := IsSuiteFile(path); got != want {
			t.Errorf("IsSuiteFile(%q) = %v, want %v", path, got, want)
		}
	}
	if _, err := Format("main.go", []byte("package main\n")); err == nil {
		t.Error("Format(main.go) succeeded, want an error naming the file")
	}
}
