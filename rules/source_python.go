package rules

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// pyLine is one logical line of Python source: physical lines joined where
// brackets or a backslash continue them, comments removed, and each string
// literal replaced by a placeholder "#N" whose text is strs[N]. Matching
// code against the placeholders never finds words inside strings or
// docstrings.
type pyLine struct {
	line, col int // of the first non-blank character, 1-based
	indent    int // columns of leading whitespace (a tab counts 8)
	code      string
	strs      []string
}

// scanPython splits source into logical lines. It is a tokenizer reduced to
// what the readers here need; it never fails, and an unterminated string or
// bracket simply runs to the end of the file.
func scanPython(src []byte) []pyLine {
	var out []pyLine
	var cur *pyLine
	var code strings.Builder
	depth := 0
	lineNo, col := 1, 0
	atLineStart := true
	indent := 0
	n := len(src)
	flush := func() {
		if cur != nil {
			cur.code = strings.TrimSpace(code.String())
			if cur.code != "" {
				out = append(out, *cur)
			}
		}
		cur = nil
		code.Reset()
		depth = 0
	}
	for i := 0; i < n; i++ {
		c := src[i]
		if atLineStart {
			if c == ' ' {
				indent++
				col++
				continue
			}
			if c == '\t' {
				indent = (indent/8 + 1) * 8
				col++
				continue
			}
			atLineStart = false
		}
		switch {
		case c == '\n':
			lineNo++
			col = 0
			if depth == 0 {
				flush()
				atLineStart, indent = true, 0
			} else {
				code.WriteByte(' ')
			}
			continue
		case c == '\\' && i+1 < n && (src[i+1] == '\n' || src[i+1] == '\r' && i+2 < n && src[i+2] == '\n'):
			// explicit line joining
			if src[i+1] == '\r' {
				i++
			}
			i++
			lineNo++
			col = 0
			code.WriteByte(' ')
			continue
		case c == '#':
			for i+1 < n && src[i+1] != '\n' {
				i++
			}
			continue
		case c == '\r':
			continue
		}
		if cur == nil {
			cur = &pyLine{line: lineNo, col: col + 1, indent: indent}
		}
		switch c {
		case '"', '\'':
			quote := string(c)
			triple := i+2 < n && src[i+1] == c && src[i+2] == c
			if triple {
				quote = strings.Repeat(quote, 3)
			}
			j := i + len(quote)
			var lit strings.Builder
			for j < n {
				if src[j] == '\\' && j+1 < n {
					if src[j+1] == '\n' {
						lineNo++
					}
					lit.WriteByte(src[j])
					lit.WriteByte(src[j+1])
					j += 2
					continue
				}
				if strings.HasPrefix(string(src[j:min(n, j+len(quote))]), quote) {
					break
				}
				if src[j] == '\n' {
					lineNo++
					if !triple {
						break // unterminated: end the string at the line's end
					}
				}
				lit.WriteByte(src[j])
				j++
			}
			code.WriteString("\"#" + strconv.Itoa(len(cur.strs)) + "\"")
			cur.strs = append(cur.strs, lit.String())
			if j < n && src[j] == '\n' {
				i = j - 1 // let the newline end the logical line
				lineNo--
			} else {
				i = j + len(quote) - 1
			}
			col = 0
			continue
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
		code.WriteByte(c)
		col++
	}
	flush()
	return out
}

// str returns the text of the string placeholder s ("#N"), if it is one.
func (l *pyLine) str(s string) (string, bool) {
	s = strings.Trim(s, "\"")
	k, ok := strings.CutPrefix(s, "#")
	if !ok {
		return "", false
	}
	i, err := strconv.Atoi(k)
	if err != nil || i < 0 || i >= len(l.strs) {
		return "", false
	}
	return l.strs[i], true
}

var (
	pyImportRe     = regexp.MustCompile(`^import\s+(.+)$`)
	pyFromImportRe = regexp.MustCompile(`^from\s+(\.*)\s*([\w.]*)\s+import\s+(.+)$`)
	pyImportModRe  = regexp.MustCompile(`\b(?:import_module|__import__)\s*\(\s*("#\d+")?`)
	pyPluginsRe    = regexp.MustCompile(`^pytest_plugins\s*(?::[^=]*)?=\s*(.+)$`)
	pyStrRe        = regexp.MustCompile(`"#\d+"`)
	pyIdentRe      = regexp.MustCompile(`^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$`)
	pyDottedRe     = regexp.MustCompile(`(?:^|[^\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)`)
)

// pyImport is one module an import statement may load. Level > 0 is a
// relative import (from . import x); names are the imported names, which
// may be submodules.
type pyImport struct {
	level  int
	module string
	names  []string
	star   bool
}

// pyImports is what a Python file's imports say.
type pyImports struct {
	imports []pyImport
	// dynamic is set when the file imports by a computed name, so its
	// imports cannot be read.
	dynamic bool
	// scripts are string literals ending in ".py": files a test may run.
	scripts []string
	// dotted are names such as click._termui_impl.isatty that the code
	// (or a string naming a patch target) reaches through attributes:
	// those with a submodule in them work only once the submodule has
	// been imported, by this file or by another one before it.
	dotted []string
}

// readPyImports reads every import statement of a Python file, wherever it
// stands (functions, try blocks, if TYPE_CHECKING): more inputs, never fewer.
func readPyImports(src []byte) pyImports {
	var out pyImports
	for _, l := range scanPython(src) {
		for _, stmt := range strings.Split(l.code, ";") {
			stmt = strings.TrimSpace(stmt)
			if m := pyImportRe.FindStringSubmatch(stmt); m != nil {
				for _, part := range strings.Split(m[1], ",") {
					name := strings.Fields(strings.TrimSpace(part))
					if len(name) > 0 && pyIdentRe.MatchString(name[0]) {
						out.imports = append(out.imports, pyImport{module: name[0]})
					}
				}
				continue
			}
			if m := pyFromImportRe.FindStringSubmatch(stmt); m != nil {
				imp := pyImport{level: len(m[1]), module: m[2]}
				names := strings.Trim(strings.TrimSpace(m[3]), "()")
				for _, part := range strings.Split(names, ",") {
					f := strings.Fields(part)
					switch {
					case len(f) == 0:
					case f[0] == "*":
						imp.star = true
					case pyIdentRe.MatchString(f[0]):
						imp.names = append(imp.names, f[0])
					}
				}
				out.imports = append(out.imports, imp)
				continue
			}
			if m := pyPluginsRe.FindStringSubmatch(stmt); m != nil {
				for _, s := range pyStrRe.FindAllString(m[1], -1) {
					if mod, ok := l.str(s); ok && pyIdentRe.MatchString(mod) {
						out.imports = append(out.imports, pyImport{module: mod})
					}
				}
			}
		}
		for _, m := range pyImportModRe.FindAllStringSubmatch(l.code, -1) {
			mod, ok := l.str(m[1])
			if ok && pyIdentRe.MatchString(mod) {
				out.imports = append(out.imports, pyImport{module: mod})
			} else if ok && strings.HasPrefix(mod, ".") {
				out.dynamic = true // relative to a package argument we do not follow
			} else {
				out.dynamic = true
			}
		}
		for _, s := range l.strs {
			if strings.HasSuffix(s, ".py") && !strings.ContainsAny(s, " \n\t{}*") {
				out.scripts = append(out.scripts, s)
			}
			if strings.Contains(s, ".") && pyIdentRe.MatchString(s) {
				out.dotted = append(out.dotted, s)
			}
		}
		if !strings.HasPrefix(l.code, "import ") && !strings.HasPrefix(l.code, "from ") {
			for _, m := range pyDottedRe.FindAllStringSubmatch(l.code, -1) {
				out.dotted = append(out.dotted, m[1])
			}
		}
	}
	return out
}

// pyConfigFiles are read by pytest (rootdir and ini options) or by version
// managers (which interpreter a shim runs); they are inputs of every pytest
// file below them.
var pyConfigFiles = []string{"pytest.ini", ".pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", ".python-version", ".tool-versions"}

// py_test_inputs(srcs, roots = None) returns, for each test file in srcs, the
// workspace files it needs besides itself, as a dict from the file (as
// given) to a sorted list of paths:
//   - the Python modules it imports, transitively, found as Python finds
//     them: on the test file's own rootdir-relative base folder (the first
//     folder above it without __init__.py, where pytest's default "prepend"
//     import mode puts it), then on roots; imports that resolve nowhere in
//     the workspace are the standard library or installed packages;
//   - every __init__.py of the packages along the way;
//   - conftest.py files in its folder and every folder above it, with their
//     own imports; and pytest's configuration files (pytest.ini,
//     pyproject.toml, setup.cfg, tox.ini) and version-manager files
//     (.python-version, .tool-versions) from those folders;
//   - .py files named by string literals (scripts a test runs).
//
// Where a file imports by computed name (importlib.import_module(name)),
// its imports cannot be read, and every .py file of the roots is included.
// roots default to the package folder, its src/ folder when there is one,
// the pythonpath option of the configuration pytest uses, and the package
// folders of the project's build configuration (see pytest_config).
func pyTestInputsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, srcs, c, err := pySrcsArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	d := starlark.NewDict(len(srcs))
	for _, s := range srcs {
		rel, err := p.wsPath(b.Name(), "srcs", s)
		if err != nil {
			return nil, userError(thread, "%v", err)
		}
		if !c.tree.isFile(rel) {
			return nil, userError(thread, "%s: srcs: %q does not exist", b.Name(), s)
		}
		var out []string
		for _, f := range c.inputs(rel) {
			if f != rel {
				out = append(out, p.srcPath(f))
			}
		}
		if err := d.SetKey(starlark.String(s), stringList(out)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// pySrcsArgs unpacks the arguments the Python built-ins share, srcs and
// roots, and returns the package's import closer for those roots.
func pySrcsArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*pkgState, []string, *pyCloser, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, nil, nil, err
	}
	var srcsV, rootsV starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "srcs", &srcsV, "roots?", &rootsV); err != nil {
		return nil, nil, nil, err
	}
	srcs, err := wantStrings(b.Name(), "srcs", srcsV)
	if err != nil {
		return nil, nil, nil, err
	}
	t := newSourceTree(p.ev)
	roots, err := pyRootsArg(p, b.Name(), rootsV, t)
	if err != nil {
		return nil, nil, nil, userError(thread, "%v", err)
	}
	return p, srcs, p.pyCloser(t, roots), nil
}

// pyRootsArg reads the roots argument of the Python built-ins: folders
// relative to the package, or defaultPyRoots when it is None.
func pyRootsArg(p *pkgState, fn string, v starlark.Value, t *sourceTree) ([]string, error) {
	if v == nil || v == starlark.None {
		return defaultPyRoots(t, p.pkg), nil
	}
	rs, err := wantStrings(fn, "roots", v)
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, r := range rs {
		rel := p.pkg
		if r != "." {
			if rel, err = p.wsPath(fn, "roots", r); err != nil {
				return nil, err
			}
		}
		roots = append(roots, rel)
	}
	return roots, nil
}

// defaultPyRoots are the package folder, its src/ folder, and the folders
// that hold the project's own code (see pyProjects.at).
func defaultPyRoots(t *sourceTree, pkg string) []string {
	roots := []string{pkg}
	if src := path.Join(pkg, "src"); t.isDir(src) {
		roots = append(roots, src)
	}
	if proj, err := newPyProjects(t, pkg).at(pkg); err == nil {
		for _, d := range proj.importDirs {
			if !slices.Contains(roots, d) {
				roots = append(roots, d)
			}
		}
	}
	return roots
}

// pyCloser returns the package's closer for these roots, made on first use.
func (p *pkgState) pyCloser(t *sourceTree, roots []string) *pyCloser {
	key := strings.Join(roots, "\x00")
	if c := p.pyClosers[key]; c != nil {
		return c
	}
	if p.pyClosers == nil {
		p.pyClosers = map[string]*pyCloser{}
	}
	c := &pyCloser{tree: t, roots: roots, pkg: p.pkg, parsed: map[string]pyImports{},
		closures: map[string][]string{}, unresolved: map[string][]string{}, searched: map[string][]string{}}
	p.pyClosers[key] = c
	return c
}

// pyCloser computes import closures, memoizing parsed files across the
// test files of one call.
type pyCloser struct {
	tree     *sourceTree
	roots    []string
	pkg      string
	parsed   map[string]pyImports
	all      []string            // every .py file below the roots, computed on demand
	closures map[string][]string // test file -> its inputs
	// unresolved records, per test file, the absolute imports of its
	// closure found nowhere on its own search path (the standard library,
	// installed packages, or a module only a shared pytest process finds),
	// and the search path itself.
	unresolved map[string][]string
	searched   map[string][]string
}

func (c *pyCloser) imports(rel string) pyImports {
	if im, ok := c.parsed[rel]; ok {
		return im
	}
	src, _ := c.tree.read(rel)
	im := readPyImports(src)
	c.parsed[rel] = im
	return im
}

// baseDir is where pytest's "prepend" import mode puts a file's folder on
// sys.path: the first folder, going up, without an __init__.py.
func (c *pyCloser) baseDir(file string) string {
	d := path.Dir(file)
	if d == "." {
		d = ""
	}
	for d != "" && c.tree.isFile(path.Join(d, "__init__.py")) {
		d = path.Dir(d)
		if d == "." {
			d = ""
		}
	}
	return d
}

func (c *pyCloser) inputs(test string) []string {
	if in, ok := c.closures[test]; ok {
		return in
	}
	set := map[string]bool{}
	search := append([]string{c.baseDir(test)}, c.roots...)
	var queue []string
	add := func(f string) {
		if !set[f] {
			set[f] = true
			if strings.HasSuffix(f, ".py") {
				queue = append(queue, f)
			}
		}
	}
	add(test)
	dir := path.Dir(test)
	if dir == "." {
		dir = ""
	}
	for _, a := range ancestors(dir) {
		for _, cfg := range pyConfigFiles {
			if f := path.Join(a, cfg); c.tree.isFile(f) {
				add(f)
				if cfg == "conftest.py" {
					search = append(search, c.baseDir(f))
				}
			}
		}
	}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		// the packages a module belongs to are imported before it
		for d := path.Dir(f); d != "." && d != "" && c.tree.isFile(path.Join(d, "__init__.py")); d = path.Dir(d) {
			add(path.Join(d, "__init__.py"))
		}
		im := c.imports(f)
		if im.dynamic {
			for _, g := range c.allPy() {
				add(g)
			}
		}
		for _, imp := range im.imports {
			found := c.resolve(f, imp, search)
			for _, g := range found {
				add(g)
			}
			if len(found) == 0 && imp.level == 0 && imp.module != "" {
				c.unresolved[test] = append(c.unresolved[test], imp.module)
			}
		}
		fdir := path.Dir(f)
		for _, s := range im.scripts {
			for _, cand := range []string{path.Join(fdir, s), path.Join(c.pkg, s)} {
				if !strings.HasPrefix(cand, "../") && cand != ".." && c.tree.isFile(cand) {
					add(cand)
				}
			}
		}
	}
	c.searched[test] = search
	c.closures[test] = slices.Sorted(maps.Keys(set))
	return c.closures[test]
}

// resolve returns the files an import loads: the module and its parent
// packages' __init__.py, and imported names that are submodules.
func (c *pyCloser) resolve(from string, imp pyImport, search []string) []string {
	var bases []string
	if imp.level > 0 {
		d := path.Dir(from)
		for i := 1; i < imp.level; i++ {
			d = path.Dir(d)
		}
		if d == "." {
			d = ""
		}
		bases = []string{d}
	} else {
		bases = search
	}
	parts := strings.Split(imp.module, ".")
	if imp.module == "" {
		parts = nil
	}
	for _, base := range bases {
		files, dir, ok := c.findModule(base, parts)
		if !ok {
			continue
		}
		if dir != "" {
			for _, n := range imp.names {
				if sub, _, ok := c.findModule(dir, []string{n}); ok {
					files = append(files, sub...)
				}
			}
			if imp.star {
				for _, e := range c.tree.list(dir) {
					if !e.isDir && strings.HasSuffix(e.name, ".py") {
						files = append(files, path.Join(dir, e.name))
					}
				}
			}
		}
		return files
	}
	return nil
}

// findModule looks for a dotted module below base. It returns the files
// that importing it runs and, for a package, its folder. A module that
// resolves nowhere there gives ok = false: the search goes on.
func (c *pyCloser) findModule(base string, parts []string) (files []string, dir string, ok bool) {
	d := base
	for i, part := range parts {
		pkgDir := path.Join(d, part)
		init := path.Join(pkgDir, "__init__.py")
		if c.tree.isDir(pkgDir) && (c.tree.isFile(init) || c.hasPython(pkgDir)) {
			if c.tree.isFile(init) {
				files = append(files, init)
			}
			d = pkgDir
			continue
		}
		if f := pkgDir + ".py"; c.tree.isFile(f) {
			return append(files, f), "", true // further parts are attributes
		}
		if i == 0 {
			return nil, "", false // not on this sys.path entry
		}
		return files, "", true // an attribute of the package, not a module
	}
	if d == base && len(parts) > 0 {
		return nil, "", false
	}
	if len(parts) == 0 {
		if init := path.Join(d, "__init__.py"); c.tree.isFile(init) {
			files = append(files, init)
		}
	}
	return files, d, true
}

// hasPython reports whether a folder holds .py files (a namespace package).
func (c *pyCloser) hasPython(dir string) bool {
	for _, e := range c.tree.list(dir) {
		if strings.HasSuffix(e.name, ".py") || e.isDir {
			return true
		}
	}
	return false
}

// allPy is every .py file below the roots: what a file with unreadable
// imports may load.
func (c *pyCloser) allPy() []string {
	if c.all == nil {
		seen := map[string]bool{}
		for _, r := range c.roots {
			for _, f := range c.tree.walk(r, pyDescend) {
				if strings.HasSuffix(f, ".py") {
					seen[f] = true
				}
			}
		}
		// Never nil once listed, even when empty: nil means "not yet".
		c.all = slices.AppendSeq(make([]string, 0, len(seen)), maps.Keys(seen))
		slices.Sort(c.all)
	}
	return c.all
}

// pyDescend skips folders that hold environments and caches, never sources
// of the project.
func pyDescend(rel string) bool {
	b := path.Base(rel)
	return !strings.HasPrefix(b, ".") && b != "__pycache__" && b != "venv" && b != "site-packages" && b != "node_modules"
}

// pytest_shared_imports(srcs, roots = None) returns, for each test file in
// srcs that may pass only in one pytest process with the others, a list of
// struct(module, pattern, note): the note says why, and pattern is the text
// of the error (in pytest's report) that shows the file failed for that
// reason. Two cases are read statically:
//   - an import found nowhere on the file's own search path (see
//     py_test_inputs), but in the folder that pytest's "prepend" import
//     mode puts on sys.path when it collects another test file of srcs;
//   - a submodule of a workspace package used as an attribute
//     (click._termui_impl.isatty, or a patch target string) that the file
//     does not import but another test file of srcs does: one pytest
//     process imports every test file before running any test, so the
//     attribute is there; alone it is not.
//
// Files without such a use are left out of the dict.
func pytestSharedImportsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, srcs, c, err := pySrcsArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	rels := make([]string, len(srcs))
	// the folders pytest puts on sys.path while collecting, and the first
	// test file (in collection order) that puts each there
	firstIn := map[string]string{}
	var bases []string
	for i, s := range srcs {
		rel, err := p.wsPath(b.Name(), "srcs", s)
		if err != nil {
			return nil, userError(thread, "%v", err)
		}
		if !c.tree.isFile(rel) {
			return nil, userError(thread, "%s: srcs: %q does not exist", b.Name(), s)
		}
		rels[i] = rel
	}
	sorted := slices.Clone(rels)
	slices.Sort(sorted)
	for _, rel := range sorted {
		if d := c.baseDir(rel); firstIn[d] == "" {
			firstIn[d] = rel
			bases = append(bases, d)
		}
	}
	note := func(module, pattern, text string) starlark.Value {
		return starlarkstruct.FromStringDict(starlark.String("pytest_shared_import"), starlark.StringDict{
			"module":  starlark.String(module),
			"pattern": starlark.String(pattern),
			"note":    starlark.String(text),
		})
	}
	d := starlark.NewDict(0)
	for i, rel := range rels {
		c.inputs(rel)
		var notes []starlark.Value
		seen := map[string]bool{}
		// a module only another file's folder on sys.path provides
		for _, mod := range c.unresolved[rel] {
			if seen[mod] {
				continue
			}
			seen[mod] = true
			for _, base := range bases {
				if slices.Contains(c.searched[rel], base) {
					continue
				}
				files, dir, ok := c.findModule(base, strings.Split(mod, "."))
				if !ok || len(files) == 0 && dir == "" {
					continue
				}
				where := base
				if where == "" {
					where = "the workspace root"
				} else {
					where += "/"
				}
				notes = append(notes, note(mod, "No module named '"+mod, fmt.Sprintf(
					"%s imports %s, which only %s holds: one pytest process finds it there after collecting %s (prepend import mode puts that folder on sys.path), a run of this file alone does not. The file passes only in a shared process: order-dependent. To make it independent, add that folder to pytest's pythonpath option or import the module by its package.",
					p.srcPath(rel), mod, where, p.srcPath(firstIn[base]))))
				break
			}
		}
		// a submodule reached as an attribute, which exists only once
		// some file has imported the submodule
		own := c.imports(rel)
		for _, ref := range own.dotted {
			mod := c.submoduleIn(c.searched[rel], ref)
			if mod == "" || seen[mod] || importsModule(own, mod) {
				continue
			}
			seen[mod] = true
			for _, other := range sorted {
				if other == rel || !importsModule(c.imports(other), mod) {
					continue
				}
				sub := mod[strings.LastIndex(mod, ".")+1:]
				text := fmt.Sprintf(
					"%s uses %s without importing it: the attribute exists only once the submodule is imported, which %s does. One pytest process imports every test file before it runs any test, so there this file passes; alone it does not. The file passes only in a shared process: order-dependent. To make it independent, import %s in it.",
					p.srcPath(rel), mod, p.srcPath(other), mod)
				notes = append(notes,
					note(mod, "AttributeError: "+sub, text),
					note(mod, "has no attribute '"+sub+"'", text))
				break
			}
		}
		if len(notes) > 0 {
			if err := d.SetKey(starlark.String(srcs[i]), starlark.NewList(notes)); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// submoduleIn returns the longest prefix of a dotted name that is a
// submodule of a package of the workspace (pkg.sub, found on search),
// "" when there is none: the attribute pkg.sub is set only by importing
// it.
func (c *pyCloser) submoduleIn(search []string, dotted string) string {
	parts := strings.Split(dotted, ".")
	found := ""
	for _, base := range search {
		dir := path.Join(base, parts[0])
		if !c.tree.isFile(path.Join(dir, "__init__.py")) {
			continue
		}
		for k := 1; k < len(parts); k++ {
			sub := path.Join(dir, parts[k])
			switch {
			case c.tree.isFile(sub + ".py"):
				return strings.Join(parts[:k+1], ".")
			case c.tree.isFile(path.Join(sub, "__init__.py")):
				found = strings.Join(parts[:k+1], ".")
				dir = sub
				continue
			}
			break
		}
		return found
	}
	return ""
}

// importsModule reports whether a file's own import statements import mod
// (import mod, import mod.sub, from mod import x, from parent import name).
func importsModule(im pyImports, mod string) bool {
	for _, imp := range im.imports {
		if imp.level > 0 {
			continue
		}
		if imp.module == mod || strings.HasPrefix(imp.module, mod+".") {
			return true
		}
		for _, n := range imp.names {
			if imp.module+"."+n == mod {
				return true
			}
		}
	}
	return false
}
