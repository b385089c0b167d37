package python

import (
	"reflect"
	"testing"
)

// The files below are written the way real projects write them; each
// answer is what pytest itself reads from them.
func TestPytestConfig(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		none            bool // the file does not configure pytest
		markExpr        string
		markers         []Marker
		pythonpath      []string
	}{
		{name: "pyproject with escaped quotes", file: "pyproject.toml", src: `
[project]
name = "demo"

[tool.pytest.ini_options]
addopts = "-ra --strict-markers -m 'not stress and not property'"
pythonpath = ["src", "tests/helpers"]
markers = [
    "stress: high-iteration stress tests for race conditions (deselect with '-m \"not stress\"')",
    "property(max_examples): hypothesis property tests",
]
`, markExpr: "not stress and not property",
			markers:    []Marker{{"stress", `high-iteration stress tests for race conditions (deselect with '-m "not stress"')`}, {"property", "hypothesis property tests"}},
			pythonpath: []string{"src", "tests/helpers"}},
		{name: "pyproject addopts as a list", file: "pyproject.toml", src: `
[tool.pytest.ini_options]
addopts = ["-m", "not slow", "--tb=short"]
`, markExpr: "not slow"},
		{name: "pyproject of another tool", file: "pyproject.toml", src: "[tool.black]\nline-length = 100\n", none: true},
		{name: "pytest.ini continuation lines", file: "pytest.ini", src: `
# comment
[pytest]
addopts =
    -v
    -m "not e2e"
markers =
    e2e: end to end (deselect with '-m "not e2e"')
    ; a comment inside
    slow
pythonpath = src lib
`, markExpr: "not e2e", markers: []Marker{{"e2e", `end to end (deselect with '-m "not e2e"')`}, {"slow", ""}}, pythonpath: []string{"src", "lib"}},
		{name: "empty pytest.ini", file: "pytest.ini", src: "", markExpr: ""},
		{name: "setup.cfg", file: "setup.cfg", src: "[metadata]\nname = x\n[tool:pytest]\naddopts = -mslow\n", markExpr: "slow"},
		{name: "setup.cfg without pytest", file: "setup.cfg", src: "[metadata]\nname = x\n", none: true},
		{name: "tox.ini last -m wins", file: "tox.ini", src: "[tox]\nenvlist = py3\n[pytest]\naddopts = -m a -m \"b or c\"\n", markExpr: "b or c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParsePytestConfig(tc.file, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if tc.none {
				if c != nil {
					t.Fatalf("got a pytest configuration %v, want none", c.Options)
				}
				return
			}
			if c == nil {
				t.Fatal("got no pytest configuration")
			}
			expr, err := c.MarkExpr()
			if err != nil || expr != tc.markExpr {
				t.Errorf("MarkExpr() = %q, %v; want %q", expr, err, tc.markExpr)
			}
			if got := c.Markers(); !reflect.DeepEqual(got, tc.markers) {
				t.Errorf("Markers() = %q\nwant %q", got, tc.markers)
			}
			if got, _ := c.Args("pythonpath"); !reflect.DeepEqual(got, tc.pythonpath) {
				t.Errorf("pythonpath = %q, want %q", got, tc.pythonpath)
			}
		})
	}
}

func TestShlexSplit(t *testing.T) {
	for in, want := range map[string][]string{
		`-m 'not slow' -v`:       {"-m", "not slow", "-v"},
		`-m "a \"b\" \c"`:        {"-m", `a "b" \c`},
		`--x=a\ b  y`:            {"--x=a b", "y"},
		"-p no:warnings\n  -q  ": {"-p", "no:warnings", "-q"},
		`''`:                     {""},
	} {
		got, err := ShlexSplit(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ShlexSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ShlexSplit(`-m "open`); err == nil {
		t.Error("an unclosed quote was accepted")
	}
}

func TestPackageRoots(t *testing.T) {
	for _, tc := range []struct {
		file, src string
		want      []string
	}{
		{"pyproject.toml", "[tool.setuptools]\npackage-dir = {\"\" = \"src\"}\n", []string{"src"}},
		{"pyproject.toml", "[tool.setuptools.packages.find]\nwhere = [\"lib\"]\n", []string{"lib"}},
		{"pyproject.toml", "[tool.hatch.build.targets.wheel]\npackages = [\"src/demo\"]\n", []string{"src"}},
		{"pyproject.toml", "[tool.poetry]\npackages = [{ include = \"demo\", from = \"src\" }]\n", []string{"src"}},
		{"pyproject.toml", "[tool.setuptools]\npackage-dir = {\"demo\" = \"code/demo\"}\n", []string{"code"}},
		{"setup.cfg", "[options]\npackage_dir =\n    =src\n[options.packages.find]\nwhere = src\n", []string{"src"}},
		{"setup.py", "setup(name='x', package_dir={'': 'lib'}, packages=find_packages(where='lib'))\n", []string{"lib"}},
		{"pyproject.toml", "[tool.setuptools]\npackage-dir = {\"\" = \"../outside\"}\n", nil},
	} {
		if got := PackageRoots(tc.file, []byte(tc.src)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PackageRoots(%s, %q) = %q, want %q", tc.file, tc.src, got, tc.want)
		}
	}
}
