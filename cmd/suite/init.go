package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/internal/lang/node"
	"github.com/suite-run/suite/internal/lang/python"
	"github.com/suite-run/suite/internal/lint"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

func newInitCmd(g *globalFlags) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write WORKSPACE and SUITES.star files for an existing repository",
		Long: `Look at an existing repository and declare its tests with the standard rules:
go_packages() next to each go.mod, pytest_files() at each Python project root
(pytest.ini, pyproject.toml, setup.cfg, tox.ini or setup.py; else the top;
it runs the project's .venv or venv when there is one), npm_packages() for
each JavaScript workspace (npm, pnpm, yarn) and each package whose test script
runs jest, vitest, mocha or another runner, node_test() for other package.json
folders whose tests use node:test, sh_test() for each *_test.sh. WORKSPACE registers the marks found in pytest files and
configuration plus unit, integration, api, e2e, smoke, regression and slow;
the top SUITES.star declares the suites smoke, regression (not e2e) and
nightly (everything). Existing files are kept unless --force is given.
Everything written is printed.

In a Bazel repository (MODULE.bazel, REPO.bazel, WORKSPACE.bazel, or a
WORKSPACE that is Bazel's) the options go to WORKSPACE.suite, which suite
reads first and Bazel ignores; Bazel's files are never touched. The workspace
is named as the repository names itself (module(name or repo_name) in
MODULE.bazel, workspace(name) in WORKSPACE), else as Gazelle names its Go
module (github.com/foo/bar -> com_github_foo_bar), else after its folder:
that name is TEST_WORKSPACE, which code written for Bazel expects.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := g.dir
			if dir == "" {
				dir = "."
			}
			if len(args) == 1 {
				if filepath.IsAbs(args[0]) {
					dir = args[0]
				} else {
					dir = filepath.Join(dir, args[0])
				}
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return invalid("init: %s is not a directory", dir)
			}
			return initRepo(cmd.OutOrStdout(), dir, force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing WORKSPACE and SUITES.star files")
	return cmd
}

// standardMarks are registered by every `suite init`.
var standardMarks = []struct{ name, doc string }{
	{"unit", "fast, isolated tests of one unit"},
	{"integration", "several units together, real files and processes"},
	{"api", "exercises a public API end to end"},
	{"e2e", "the whole system from the outside; excluded from regression"},
	{"smoke", "critical path: run before deployment"},
	{"regression", "guards a bug that was fixed once"},
	{"slow", "takes long; excluded from fast runs"},
}

// repoScan is what init found in a repository; folders are slash paths
// relative to its top ("" for the top itself).
type repoScan struct {
	goModules []string
	pyRoots   map[string]bool
	pyTests   []string
	nodeRoots map[string]bool
	nodeTests []string
	nodeDeps  map[string]bool // package.json folders with dependencies
	// jsPackages are package.json folders with a test script that is not
	// node --test, and jsWorkspaces those whose package.json (or
	// pnpm-workspace.yaml) names workspace packages.
	jsPackages   map[string]bool
	jsWorkspaces map[string]bool
	shTests      []string
	marks        map[string]string // mark -> doc ("" when only used)
	top          string
	pyFiles      []string // every .py file but conftest.py
	// pyTestFiles are the python_files patterns of a Python project root's
	// pytest configuration, where it sets them.
	pyTestFiles map[string][]string
	ignoreSeen  map[string]bool
}

var (
	addIniMarkerRe   = regexp.MustCompile(`addinivalue_line\(\s*["']markers["']\s*,\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')`)
	nodeTestImportRe = regexp.MustCompile(`['"]node:test['"]`)
)

// pyProjectFiles mark a Python project root, where pytest finds its rootdir.
var pyProjectFiles = []string{"pytest.ini", ".pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "setup.py"}

// skipDir says which folders init never looks into: version control,
// dependencies, environments, caches and test fixtures.
func skipDir(name string) bool {
	switch name {
	case "node_modules", "__pycache__", "venv", "site-packages", "vendor", "testdata", workspace.OutputDir:
		return true
	}
	return strings.HasPrefix(name, ".")
}

func scanRepo(top string) (*repoScan, error) {
	s := &repoScan{pyRoots: map[string]bool{}, nodeRoots: map[string]bool{}, nodeDeps: map[string]bool{},
		jsPackages: map[string]bool{}, jsWorkspaces: map[string]bool{},
		marks: map[string]string{}, ignoreSeen: map[string]bool{}, top: top, pyTestFiles: map[string][]string{}}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(strings.TrimPrefix(p, top), string(filepath.Separator)))
		name := d.Name()
		if d.IsDir() {
			if rel != "" && skipDir(name) {
				if name == ".venv" || name == "venv" || name == ".tox" {
					s.ignoreSeen[name] = true
				}
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		dir := path.Dir(rel)
		if dir == "." {
			dir = ""
		}
		switch {
		case name == "go.mod":
			if !strings.Contains("/"+rel, "/_") {
				s.goModules = append(s.goModules, dir)
			}
		case slices.Contains(pyProjectFiles, name):
			s.pyRoots[dir] = true
			s.readMarkers(p, name)
		case name == "conftest.py":
			if src, err := os.ReadFile(p); err == nil {
				for _, m := range addIniMarkerRe.FindAllStringSubmatch(string(src), -1) {
					s.addMarker(pyStringValue(m[1]))
				}
			}
		case strings.HasSuffix(name, ".py"):
			// Which are tests depends on python_files of the project's
			// configuration, which the walk may not have met yet.
			s.pyFiles = append(s.pyFiles, rel)
		case name == "package.json":
			if src, err := os.ReadFile(p); err == nil {
				var pj struct {
					Scripts         map[string]string `json:"scripts"`
					Dependencies    map[string]any    `json:"dependencies"`
					DevDependencies map[string]any    `json:"devDependencies"`
					Workspaces      any               `json:"workspaces"`
				}
				if json.Unmarshal(src, &pj) == nil {
					test := pj.Scripts["test"]
					switch {
					case strings.Contains(test, "node --test"):
						s.nodeRoots[dir] = true
					case test != "" && !strings.Contains(test, "no test specified"):
						s.jsPackages[dir] = true
					}
					if pj.Workspaces != nil {
						s.jsWorkspaces[dir] = true
					}
					if len(pj.Dependencies)+len(pj.DevDependencies) > 0 {
						s.nodeDeps[dir] = true
					}
				}
			}
		case isNodeTestName(name) || strings.Contains("/"+dir+"/", "/test/") && isJS(name):
			if src, err := os.ReadFile(p); err == nil && nodeTestImportRe.Match(src) {
				s.nodeTests = append(s.nodeTests, rel)
			}
		case name == "pnpm-workspace.yaml":
			s.jsWorkspaces[dir] = true
		case strings.HasSuffix(name, "_test.sh"):
			s.shTests = append(s.shTests, rel)
		}
		return nil
	})
	s.findPyTests()
	return s, err
}

// osFiles reads a repository for node.ReadWorkspace.
type osFiles string

func (top osFiles) abs(rel string) string { return filepath.Join(string(top), filepath.FromSlash(rel)) }

func (top osFiles) ReadFile(rel string) ([]byte, error) { return os.ReadFile(top.abs(rel)) }

func (top osFiles) IsFile(rel string) bool {
	fi, err := os.Stat(top.abs(rel))
	return err == nil && fi.Mode().IsRegular()
}

func (top osFiles) Dirs(rel string) []string {
	entries, _ := os.ReadDir(top.abs(rel))
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func isJS(name string) bool {
	return strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".mjs") || strings.HasSuffix(name, ".cjs")
}

// isNodeTestName follows the names `node --test` looks for.
func isNodeTestName(name string) bool {
	if !isJS(name) {
		return false
	}
	base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".js"), ".mjs"), ".cjs")
	return base == "test" || strings.HasPrefix(base, "test-") || strings.HasSuffix(base, ".test") ||
		strings.HasSuffix(base, "-test") || strings.HasSuffix(base, "_test")
}

// readMarkers registers the markers a pytest configuration file declares,
// read as pytest reads them. A file pytest could not parse gives none:
// init writes what it can, and pytest will name the error itself.
func (s *repoScan) readMarkers(file, name string) {
	src, err := os.ReadFile(file)
	if err != nil {
		return
	}
	cfg, err := python.ParsePytestConfig(name, src)
	if err != nil || cfg == nil {
		return
	}
	for _, m := range cfg.Markers() {
		s.addMarker(m.Name + ": " + m.Doc)
	}
	if pats, _ := cfg.Args("python_files"); len(pats) > 0 {
		dir, _ := filepath.Rel(s.top, filepath.Dir(file))
		if dir = filepath.ToSlash(dir); dir == "." {
			dir = ""
		}
		if _, seen := s.pyTestFiles[dir]; !seen {
			s.pyTestFiles[dir] = pats
		}
	}
}

// defaultPythonFiles is pytest's python_files when the configuration
// sets none.
var defaultPythonFiles = []string{"test_*.py", "*_test.py"}

// findPyTests picks, among the .py files, those pytest collects: their
// name matches python_files of the nearest project root's configuration.
func (s *repoScan) findPyTests() {
	for _, rel := range s.pyFiles {
		pats := defaultPythonFiles
		if p, ok := s.pyTestFiles[nearest(path.Dir(rel), s.pyRoots)]; ok {
			pats = p
		}
		if !slices.ContainsFunc(pats, func(p string) bool { ok, _ := path.Match(p, path.Base(rel)); return ok }) {
			continue
		}
		s.pyTests = append(s.pyTests, rel)
		if src, err := os.ReadFile(filepath.Join(s.top, filepath.FromSlash(rel))); err == nil {
			for _, m := range rules.PytestMarksUsed(src) {
				if _, ok := s.marks[m]; !ok {
					s.marks[m] = ""
				}
			}
		}
	}
}

// pyStringValue is the value of a one-line Python string literal, quotes
// removed and backslash escapes of quotes and backslashes undone.
func pyStringValue(lit string) string {
	body := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) && strings.ContainsRune(`\\'"`, rune(body[i+1])) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String()
}

// addMarker takes a pytest marker line, "name: doc" or "name(arg): doc".
func (s *repoScan) addMarker(line string) {
	if m, ok := python.ParseMarker(line); ok && rules.ValidMarkName(m.Name) {
		s.marks[m.Name] = m.Doc
	}
}

// initPackage is one SUITES.star init writes.
type initPackage struct {
	dir                        string
	goPackages, pytest, nodeJS bool
	npmPackages                bool
	shTests                    []string
	suites                     bool
}

func initRepo(w io.Writer, dir string, force bool) error {
	top, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	s, err := scanRepo(top)
	if err != nil {
		return err
	}

	pkgs := map[string]*initPackage{"": {dir: "", suites: true}}
	pkgAt := func(d string) *initPackage {
		if pkgs[d] == nil {
			pkgs[d] = &initPackage{dir: d}
		}
		return pkgs[d]
	}
	for _, m := range s.goModules {
		pkgAt(m).goPackages = true
	}
	// A Python project root holds a package only when tests lie below it,
	// and likewise a package.json folder.
	for _, t := range s.pyTests {
		if r := nearest(path.Dir(t), s.pyRoots); r != "" {
			pkgAt(r)
		}
	}
	for _, t := range s.nodeTests {
		if r := nearest(path.Dir(t), s.nodeRoots); r != "" {
			pkgAt(r)
		}
	}
	// A JavaScript workspace, or a package whose test script runs another
	// runner (jest, vitest, mocha), runs its packages' test scripts with
	// npm_packages(); the node:test files inside them are theirs.
	jsRoots, jsCovered := map[string]bool{}, map[string]bool{}
	for _, d := range slices.Sorted(maps.Keys(s.jsWorkspaces)) {
		if jsCovered[d] {
			continue
		}
		ws, err := node.ReadWorkspace(osFiles(top), d)
		if err != nil {
			continue
		}
		jsRoots[d], jsCovered[d] = true, true
		for _, p := range ws.Packages {
			jsCovered[p.Dir] = true
		}
	}
	for _, d := range slices.Sorted(maps.Keys(s.jsPackages)) {
		if !jsCovered[d] {
			jsRoots[d], jsCovered[d] = true, true
		}
	}
	for d := range jsRoots {
		pkgAt(d).npmPackages = true
	}
	owners := map[string]bool{}
	for d := range pkgs {
		owners[d] = true
	}
	for _, t := range s.pyTests {
		pkgAt(nearest(path.Dir(t), owners)).pytest = true
	}
	for _, t := range s.nodeTests {
		// run by the test script of the package it is in (a workspace
		// root's own files are no package's)
		if owner := nearest(path.Dir(t), jsCovered); jsCovered[owner] && !s.jsWorkspaces[owner] {
			continue
		}
		pkgAt(nearest(path.Dir(t), owners)).nodeJS = true
	}
	for _, t := range s.shTests {
		p := pkgAt(nearest(path.Dir(t), owners))
		p.shTests = append(p.shTests, relTo(p.dir, t))
	}

	var notes []string
	write := func(rel string, content string) error {
		p := filepath.Join(top, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil && !force {
			fmt.Fprintf(w, "kept    %s (it exists; --force overwrites it)\n", rel)
			return nil
		}
		out, err := lint.Format(rel, []byte(content))
		if err != nil {
			return fmt.Errorf("init: formatting %s: %v\n%s", rel, err, content)
		}
		if err := os.WriteFile(p, out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote   %s\n", rel)
		return nil
	}

	wsFile := initWorkspaceFile(top)
	if wsFile == workspace.SuiteWorkspaceFile && workspace.IsBazelRoot(top) {
		notes = append(notes, "this is a Bazel repository: suite's options are in "+wsFile+
			", which suite reads first and Bazel ignores; Bazel's files are left as they are")
	}
	ws, wsNotes := workspaceFile(workspaceName(top, s), s)
	notes = append(notes, wsNotes...)
	if err := write(wsFile, ws); err != nil {
		return err
	}
	var dirs []string
	for d := range pkgs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		p := pkgs[d]
		content := p.suitesFile()
		if content == "" {
			continue
		}
		if err := write(path.Join(d, workspace.PackageFile), content); err != nil {
			return err
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note:   %s\n", n)
	}
	if _, err := rules.Load(top); err != nil {
		return err
	}
	fmt.Fprintf(w, "next:   suite run regression   (suite list shows the tests)\n")
	return nil
}

// nearest returns the innermost folder of set at or above dir ("" when the
// top is the only one).
func nearest(dir string, set map[string]bool) string {
	if dir == "." {
		dir = ""
	}
	for d := dir; ; d = path.Dir(d) {
		if d == "." {
			d = ""
		}
		if set[d] {
			return d
		}
		if d == "" {
			return ""
		}
	}
}

func relTo(dir, p string) string {
	if dir == "" {
		return p
	}
	return strings.TrimPrefix(p, dir+"/")
}

// versionManagerVars are the variables interpreter shims need to pick the
// interpreter a user's shell would run, by the PATH entry that shows the
// manager is in use. HOME is replaced in the hermetic environment, so a
// manager that finds its root under HOME must be told where it is.
var versionManagerVars = []struct{ pathPart, name string }{
	{"/.pyenv/shims", "PYENV_VERSION"},
	{"/.asdf/shims", "ASDF_DIR"},
	{"/.asdf/shims", "ASDF_DATA_DIR"},
	{"/mise/shims", "MISE_DATA_DIR"},
	{"/.volta/bin", "VOLTA_HOME"},
}

func workspaceFile(name string, s *repoScan) (string, []string) {
	var b strings.Builder
	var notes []string
	b.WriteString("# Written by `suite init`; see `suite marks` and WORKSPACE.example for every option.\n")
	pass := []string{"PATH"}
	if len(s.goModules) > 0 {
		pass = append(pass, "GOFLAGS")
	}
	pathEnv := os.Getenv("PATH")
	for _, vm := range versionManagerVars {
		if strings.Contains(pathEnv, vm.pathPart) && !slices.Contains(pass, vm.name) {
			pass = append(pass, vm.name)
			if os.Getenv(vm.name) == "" && vm.name != "PYENV_VERSION" {
				notes = append(notes, fmt.Sprintf("%s shims are on PATH: export %s in your shell profile so tests find the interpreter (HOME is private to each test)", strings.Trim(vm.pathPart, "/."), vm.name))
			}
		}
	}
	ignore := slices.Clone(workspace.DefaultIgnore)
	for _, d := range []string{".venv", "venv", ".tox"} {
		if s.ignoreSeen[d] {
			ignore = append(ignore, d)
		}
	}
	fmt.Fprintf(&b, "workspace(\n    name = %s,\n", strconv.Quote(name))
	if len(pass) > 1 {
		b.WriteString("    # GOFLAGS changes what go test builds; version-manager variables let\n")
		b.WriteString("    # interpreter shims (pyenv, asdf) pick the interpreter your shell would\n")
	}
	fmt.Fprintf(&b, "    env_passthrough = %s,\n", starList(pass))
	fmt.Fprintf(&b, "    ignore = %s,\n)\n\n", starList(ignore))
	seen := map[string]bool{}
	for _, m := range standardMarks {
		doc := m.doc
		if d := s.marks[m.name]; d != "" {
			doc = d
		}
		fmt.Fprintf(&b, "mark(%s, doc = %s)\n", strconv.Quote(m.name), strconv.Quote(doc))
		seen[m.name] = true
	}
	var found []string
	for m := range s.marks {
		if !seen[m] {
			found = append(found, m)
		}
	}
	sort.Strings(found)
	for _, m := range found {
		doc := s.marks[m]
		if doc == "" {
			doc = "found in the tests by suite init"
		}
		fmt.Fprintf(&b, "mark(%s, doc = %s)\n", strconv.Quote(m), strconv.Quote(doc))
	}
	return b.String(), notes
}

// initWorkspaceFile says which file holds suite's options at top: the one
// suite already reads there, if it is suite's; else WORKSPACE.suite in a
// Bazel repository, whose WORKSPACE is Bazel's; else WORKSPACE.
func initWorkspaceFile(top string) string {
	switch workspace.RootFile(top) {
	case workspace.SuiteWorkspaceFile:
		return workspace.SuiteWorkspaceFile
	case workspace.WorkspaceFile:
		src, err := os.ReadFile(filepath.Join(top, workspace.WorkspaceFile))
		if err == nil && workspace.IsSuiteWorkspace(src) {
			return workspace.WorkspaceFile
		}
	}
	if workspace.IsBazelRoot(top) {
		return workspace.SuiteWorkspaceFile
	}
	return workspace.WorkspaceFile
}

// workspaceName is the name code written for Bazel expects in
// TEST_WORKSPACE: the name the repository already gives itself in Bazel's
// files; else the repository name Gazelle gives its Go module (for several
// modules, the path they share, read off where each lies: a/b/c at "c"
// means a/b); else the folder's name.
func workspaceName(top string, s *repoScan) string {
	if n := workspace.BazelRepoName(top); n != "" {
		return n
	}
	repoPath := ""
	for _, dir := range s.goModules {
		src, err := os.ReadFile(filepath.Join(top, filepath.FromSlash(dir), "go.mod"))
		if err != nil {
			continue
		}
		mod := rules.GoModulePath(src)
		p, ok := strings.CutSuffix(mod, "/"+dir)
		if dir == "" {
			p, ok = mod, mod != ""
		}
		if !ok || repoPath != "" && p != repoPath {
			repoPath = ""
			break
		}
		repoPath = p
	}
	if repoPath != "" {
		return workspace.GoRepoName(repoPath)
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, filepath.Base(top))
	if strings.Trim(name, "._") == "" {
		return "_main"
	}
	return name
}

func starList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (p *initPackage) suitesFile() string {
	var loads, body []string
	if p.goPackages {
		loads = append(loads, `load("@suite//rules:go.star", "go_packages")`)
		body = append(body, "# one `go test -json` per Go package below, with its in-module imports as inputs\ngo_packages()")
	}
	if p.pytest {
		loads = append(loads, `load("@suite//rules:python.star", "pytest_files")`)
		body = append(body, "# one action per test_*.py / *_test.py file, selected by its tests' marks\npytest_files(name = \"pytest\")")
	}
	if p.nodeJS {
		loads = append(loads, `load("@suite//rules:node.star", "node_test")`)
		body = append(body, `# node --test over the declared files
node_test(
    name = "node",
    srcs = glob(["**/*.js", "**/*.mjs", "**/*.cjs", "**/*.json"]),
)`)
	}
	if p.npmPackages {
		loads = append(loads, `load("@suite//rules:node.star", "npm_packages")`)
		body = append(body, `# each package's test script with its package manager; its own files and
# those of the workspace packages it depends on are the inputs, what it can
# import from node_modules is in the key
npm_packages(name = "npm")`)
	}
	if len(p.shTests) > 0 {
		loads = append(loads, `load("@suite//rules:sh.star", "sh_test")`)
		sort.Strings(p.shTests)
		for _, t := range p.shTests {
			// A script reads what lies beside it and below (testdata/);
			// at the top, that would be the whole repository.
			dir := path.Dir(t)
			pattern := dir + "/**"
			if dir == "." {
				pattern = "*.sh"
			}
			body = append(body, fmt.Sprintf("sh_test(\n    name = %s,\n    src = %s,\n    srcs = glob([%s], exclude = [%s]),\n)",
				strconv.Quote(strings.TrimSuffix(t, ".sh")), strconv.Quote(t), strconv.Quote(pattern), strconv.Quote(t)))
		}
	}
	if p.suites {
		body = append(body, `suite(
    name = "smoke",
    doc = "critical path: run before deployment",
    marks = "smoke",
)

suite(
    name = "regression",
    doc = "everything but end-to-end tests: run on every change",
    marks = "not e2e",
)

suite(
    name = "nightly",
    doc = "every test",
)`)
	}
	if len(loads) == 0 && !p.suites {
		return ""
	}
	return "# Written by `suite init`.\n" + strings.Join(loads, "\n") + "\n\n" + strings.Join(body, "\n\n") + "\n"
}
