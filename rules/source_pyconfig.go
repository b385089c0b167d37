package rules

import (
	"path"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/suite-run/suite/internal/lang/python"
)

// pyProject is what pytest and the build configuration say about the
// tests of one folder: the configuration file pytest takes its options
// from, the mark expression its addopts give, and the folders that hold
// the project's own importable code.
type pyProject struct {
	inifile  string // workspace-relative; "" when pytest finds none
	markExpr string // addopts' -m, "" when none
	// importDirs are workspace-relative folders on which the project's
	// own packages are found, in the order they go on sys.path: the
	// pythonpath option, then the build configuration's package folders,
	// then src/, then the project folder for a flat layout.
	importDirs []string
}

// pyProjects finds and memoizes the project of each folder.
type pyProjects struct {
	tree *sourceTree
	pkg  string // the package whose rule asks: the project folder when nothing else says
	memo map[string]*pyProject
}

func newPyProjects(t *sourceTree, pkg string) *pyProjects {
	return &pyProjects{tree: t, pkg: pkg, memo: map[string]*pyProject{}}
}

// at returns the project of the tests in dir: the first folder, going up,
// with a file that configures pytest, as pytest chooses its inifile and
// rootdir. Without one, the project folder is the nearest folder with a
// build file (pyproject.toml, setup.cfg, setup.py), else the package's.
func (ps *pyProjects) at(dir string) (*pyProject, error) {
	if p, ok := ps.memo[dir]; ok {
		return p, nil
	}
	t := ps.tree
	p := &pyProject{}
	projectDir := ps.pkg
	var cfg *python.PytestConfig
search:
	for _, a := range ancestors(dir) {
		for _, name := range python.PytestConfigFiles {
			f := path.Join(a, name)
			if !t.isFile(f) {
				continue
			}
			src, err := t.read(f)
			if err != nil {
				return nil, err
			}
			c, err := python.ParsePytestConfig(f, src)
			if err != nil {
				return nil, err
			}
			if c != nil {
				cfg, p.inifile, projectDir = c, f, a
				break search
			}
		}
	}
	if cfg == nil {
		// as pytest finds its rootdir without a configuration file: the
		// nearest folder with a build file
		for _, a := range ancestors(dir) {
			if t.isFile(path.Join(a, "setup.py")) || t.isFile(path.Join(a, "setup.cfg")) || t.isFile(path.Join(a, "pyproject.toml")) {
				projectDir = a
				break
			}
		}
	}
	var dirs []string
	add := func(d string) {
		if d, ok := localDir(projectDir, "./"+d); ok && d != "" && t.isDir(d) && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	if cfg != nil {
		expr, err := cfg.MarkExpr()
		if err != nil {
			return nil, err
		}
		p.markExpr = expr
		pp, err := cfg.Args("pythonpath")
		if err != nil {
			return nil, err
		}
		for _, d := range pp {
			add(d)
		}
	}
	hasBuildFile := false
	for _, name := range []string{"pyproject.toml", "setup.cfg", "setup.py"} {
		f := path.Join(projectDir, name)
		if !t.isFile(f) {
			continue
		}
		hasBuildFile = true
		if src, err := t.read(f); err == nil {
			for _, d := range python.PackageRoots(name, src) {
				add(d)
			}
		}
	}
	if src := path.Join(projectDir, "src"); t.isDir(src) && holdsPythonPackage(t, src) {
		add("src")
	}
	// A flat layout: the project's packages sit next to its build file,
	// where an editable install would find them.
	if hasBuildFile && len(dirs) == 0 && holdsPythonPackage(t, projectDir) {
		dirs = append(dirs, projectDir)
	}
	p.importDirs = dirs
	ps.memo[dir] = p
	return p, nil
}

// notCodeDirs are top-level folders of a project that hold no importable
// code of its own.
var notCodeDirs = map[string]bool{"test": true, "tests": true, "testing": true, "docs": true, "doc": true, "examples": true, "benchmarks": true, "scripts": true}

// holdsPythonPackage reports whether dir holds a Python package of the
// project's own (a folder with __init__.py that is not tests or docs) or,
// for src/, a top-level module.
func holdsPythonPackage(t *sourceTree, dir string) bool {
	for _, e := range t.list(dir) {
		if e.isDir && !notCodeDirs[e.name] && pyDescend(path.Join(dir, e.name)) && t.isFile(path.Join(dir, e.name, "__init__.py")) {
			return true
		}
		if !e.isDir && path.Base(dir) == "src" && strings.HasSuffix(e.name, ".py") {
			return true
		}
	}
	return false
}

// pytest_config(srcs) returns, for each test file in srcs, what pytest's
// configuration and the project's layout say about running it, as a dict
// from the file (as given) to struct(inifile, marks, pythonpath):
//   - inifile: the configuration file pytest takes its options from (the
//     first of pytest.ini, .pytest.ini, pyproject.toml with
//     [tool.pytest.ini_options], tox.ini with [pytest], setup.cfg with
//     [tool:pytest], in the file's folder or the nearest above it), as
//     srcs takes paths; "" when there is none;
//   - marks: the mark expression its addopts give with -m, "" when none;
//   - pythonpath: the folders holding the project's own code, relative to
//     this package, for PYTHONPATH: the pythonpath option, setuptools'
//     package-dir and packages.find where (pyproject.toml, setup.cfg,
//     literal setup.py arguments), hatch's and poetry's package folders,
//     src/ when it holds Python packages, and, for a flat layout, the
//     project folder. They come before site-packages on sys.path, so the
//     project's code is imported, never an installed copy.
//
// A configuration file pytest could not read is an error.
func pytestConfigFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var srcsV starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "srcs", &srcsV); err != nil {
		return nil, err
	}
	srcs, err := wantStrings(b.Name(), "srcs", srcsV)
	if err != nil {
		return nil, err
	}
	projects := newPyProjects(newSourceTree(p.ev), p.pkg)
	d := starlark.NewDict(len(srcs))
	for _, s := range srcs {
		rel, err := p.wsPath(b.Name(), "srcs", s)
		if err != nil {
			return nil, userError(thread, "%v", err)
		}
		dir := path.Dir(rel)
		if dir == "." {
			dir = ""
		}
		proj, err := projects.at(dir)
		if err != nil {
			return nil, userError(thread, "%s: %v", b.Name(), err)
		}
		inifile := ""
		if proj.inifile != "" {
			inifile = p.srcPath(proj.inifile)
		}
		var pp []string
		for _, d := range proj.importDirs {
			pp = append(pp, relDir(p.pkg, d))
		}
		v := starlarkstruct.FromStringDict(starlark.String("pytest_config"), starlark.StringDict{
			"inifile":    starlark.String(inifile),
			"marks":      starlark.String(proj.markExpr),
			"pythonpath": stringList(pp),
		})
		if err := d.SetKey(starlark.String(s), v); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// relDir is the workspace folder d relative to the folder from ("" is the
// workspace root), with ".." where d is not below it.
func relDir(from, d string) string {
	split := func(p string) []string {
		if p == "" {
			return nil
		}
		return strings.Split(p, "/")
	}
	f, t := split(from), split(d)
	i := 0
	for i < len(f) && i < len(t) && f[i] == t[i] {
		i++
	}
	var parts []string
	for range f[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// pytestDefaultNorecurse is pytest's default norecursedirs.
var pytestDefaultNorecurse = []string{"*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}"}

// pytest_collect() returns where pytest, run with no arguments from this
// package's folder, looks for test files, as glob patterns relative to
// the package: struct(include, exclude). include joins each testpaths
// entry inside the package (all of it when testpaths is unset or names
// nothing inside it) with each python_files pattern (default test_*.py and
// *_test.py); exclude holds the folders of norecursedirs.
func pytestCollectFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, t, err := pkgTreeNoArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	proj, err := newPyProjects(t, p.pkg).at(p.pkg)
	if err != nil {
		return nil, userError(thread, "%s: %v", b.Name(), err)
	}
	files := []string{"test_*.py", "*_test.py"}
	norecurse := pytestDefaultNorecurse
	var testpaths []string
	if proj.inifile != "" {
		src, err := t.read(proj.inifile)
		if err != nil {
			return nil, userError(thread, "%s: %v", b.Name(), err)
		}
		cfg, err := python.ParsePytestConfig(proj.inifile, src)
		if err != nil || cfg == nil {
			return nil, userError(thread, "%s: %s: %v", b.Name(), proj.inifile, err)
		}
		if v, _ := cfg.Args("python_files"); len(v) > 0 {
			files = v
		}
		if v, _ := cfg.Args("norecursedirs"); len(v) > 0 {
			norecurse = v
		}
		tp, _ := cfg.Args("testpaths")
		rootdir := path.Dir(proj.inifile)
		if rootdir == "." {
			rootdir = ""
		}
		for _, d := range tp {
			ws, ok := localDir(rootdir, "./"+d)
			if !ok {
				continue
			}
			rel := relDir(p.pkg, ws)
			if rel != ".." && !strings.HasPrefix(rel, "../") {
				testpaths = append(testpaths, rel)
			}
		}
	}
	var include, exclude []string
	if len(testpaths) == 0 {
		testpaths = []string{"."}
	}
	for _, tp := range testpaths {
		for _, f := range files {
			switch {
			case tp == ".":
				include = append(include, "**/"+f)
			case strings.HasSuffix(tp, ".py"):
				include = append(include, tp)
			default:
				include = append(include, tp+"/**/"+f)
			}
		}
	}
	for _, d := range norecurse {
		// fnmatch has no braces: "{arch}" is a folder of that name, not
		// doublestar's alternation (which would skip every "arch" folder)
		d = strings.NewReplacer("{", `\{`, "}", `\}`).Replace(d)
		exclude = append(exclude, "**/"+d+"/**")
	}
	return starlarkstruct.FromStringDict(starlark.String("pytest_collect"), starlark.StringDict{
		"include": stringList(slices.Compact(include)),
		"exclude": stringList(exclude),
	}), nil
}
