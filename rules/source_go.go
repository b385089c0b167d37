package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// go_packages_info(dir = ".") describes every Go package at or below dir
// in the calling package, the way go_packages needs it to declare one
// go_test per package. A package's inputs are, as gazelle reads them from
// import statements without running the go command:
//   - its own files (.go including _test.go, cgo sources), testdata/**,
//     and the files its //go:embed directives name;
//   - the non-test files (and embedded files) of every package of the same
//     module (or of a module in the same go.work, or a local replace, or
//     vendor/) that it imports, transitively;
//   - go.mod and go.sum, go.work and go.work.sum, vendor/modules.txt.
//
// Build constraints are not evaluated: every file counts, whichever
// platform it is for. That can only add inputs, never miss one.
//
// Directories named testdata or vendor, or starting with "." or "_", hold no
// packages (as for `go test ./...`), and neither do sub-packages with their
// own SUITES.star (as for glob()).
func goPackagesInfoFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	dir := "."
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dir?", &dir); err != nil {
		return nil, err
	}
	base := p.pkg
	if dir != "." && dir != "" {
		if base, err = p.wsPath(b.Name(), "dir", dir); err != nil {
			return nil, userError(thread, "%v", err)
		}
	}
	baseAbs := filepath.Join(p.ev.root, filepath.FromSlash(base))
	p.ev.reads.Stat(baseAbs)
	if fi, err := os.Stat(baseAbs); err != nil || !fi.IsDir() {
		return nil, userError(thread, "%s: dir: %q is not a folder in package %q", b.Name(), dir, "//"+p.pkg)
	}
	files := p.ev.scan.PackageFiles(base)
	r := newGoResolver(newSourceTree(p.ev))

	dirs := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, ".go") && !ignoredGoName(path.Base(f)) && goPackageDir(path.Dir(f)) {
			d := path.Join(base, path.Dir(f))
			if d == "." {
				d = ""
			}
			dirs[d] = true
		}
	}
	names := map[string]string{} // target name -> dir, to keep names unique
	var out []starlark.Value
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		mod, err := r.module(d)
		if err != nil {
			return nil, userError(thread, "%s: %v", b.Name(), err)
		}
		if mod == nil {
			return nil, userError(thread, "%s: %s: no go.mod in this folder or above it inside the workspace; run `go mod init` or declare the test with go_test()", b.Name(), "//"+d)
		}
		pkg := r.pkg(d)
		if len(pkg.testGo) == 0 {
			continue // `go test` reports "no test files" and neither passes nor fails
		}
		inputs := r.inputs(d, mod)
		rels := make([]string, len(inputs))
		for i, in := range inputs {
			rels[i] = p.srcPath(in)
		}

		// go test runs in the calling package unless the module root lies
		// below it, where it must run from inside that module.
		chdir, from := "", p.pkg
		if mod.dir != p.pkg && strings.HasPrefix(mod.dir+"/", p.pkg+"/") || p.pkg == "" && mod.dir != "" {
			chdir, from = relTo(p.pkg, mod.dir), mod.dir
		}
		goPkg := "./" + relTo(from, d)
		if goPkg == "./." {
			goPkg = "."
		}
		rel := relTo(p.pkg, d)
		name := rel
		if rel == "." {
			name = path.Base(mod.importPath(d))
		}
		name = targetName(name)
		if prev, ok := names[name]; ok && prev != d {
			name = targetName(strings.ReplaceAll(rel, "/", "_")) + "_go"
		}
		names[name] = d

		out = append(out, starlarkstruct.FromStringDict(starlark.String("go_package"), starlark.StringDict{
			"name":        starlark.String(name),
			"dir":         starlark.String(rel),
			"pkg":         starlark.String(goPkg),
			"chdir":       starlark.String(chdir),
			"import_path": starlark.String(mod.importPath(d)),
			"module":      starlark.String(mod.path),
			"inputs":      stringList(rels),
		}))
	}
	return starlark.NewList(out), nil
}

// relTo returns target relative to the workspace folder from ("." for
// itself); target lies at or below from.
func relTo(from, target string) string {
	if from == target {
		return "."
	}
	if from == "" {
		return target
	}
	return strings.TrimPrefix(target, from+"/")
}

// targetName makes a folder path a valid target name.
func targetName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '/' || r == '.' || r == '-' || r == '_' || r == '+' || r == '@' || r == '=' || r == ',' || r == '~' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// goPackageDir reports whether a package-relative folder can hold a Go
// package that `go test ./...` would visit.
func goPackageDir(rel string) bool {
	if rel == "." {
		return true
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "testdata" || c == "vendor" || strings.HasPrefix(c, ".") || strings.HasPrefix(c, "_") {
			return false
		}
	}
	return true
}

// ignoredGoName is a file the go command skips.
func ignoredGoName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// goSourceExts are the non-Go files the go command compiles into a package.
var goSourceExts = map[string]bool{
	".c": true, ".h": true, ".s": true, ".S": true, ".cc": true, ".cpp": true, ".cxx": true,
	".hh": true, ".hpp": true, ".hxx": true, ".m": true, ".f": true, ".F": true, ".for": true,
	".f90": true, ".syso": true, ".swig": true, ".swigcxx": true,
}

// goModule is a module whose packages are read from the workspace.
type goModule struct {
	dir  string // workspace-relative
	path string // module path
	// files the go command reads to build in this module: go.mod, go.sum,
	// go.work and the go.mod of every module it uses, vendor/modules.txt.
	files []string
	// local modules an import may resolve to: this one, go.work uses and
	// replacements by a folder inside the workspace, longest path first.
	local  []*goModule
	vendor bool
}

func (m *goModule) importPath(dir string) string {
	if dir == m.dir {
		return m.path
	}
	return m.path + "/" + relTo(m.dir, dir)
}

type goPkgFiles struct {
	files, testFiles     []string // workspace-relative; testFiles: _test.go, testdata, test embeds
	imports, testImports []string
	testGo               []string
}

type goResolver struct {
	tree  *sourceTree
	modOf map[string]*goModule // folder -> nearest module (nil: none)
	modAt map[string]*goModule // module folder -> parsed module
	pkgs  map[string]*goPkgFiles
}

func newGoResolver(t *sourceTree) *goResolver {
	return &goResolver{tree: t, modOf: map[string]*goModule{}, modAt: map[string]*goModule{}, pkgs: map[string]*goPkgFiles{}}
}

// module returns the module of the nearest go.mod at or above dir, inside
// the workspace.
func (r *goResolver) module(dir string) (*goModule, error) {
	if m, ok := r.modOf[dir]; ok {
		return m, nil
	}
	var m *goModule
	var err error
	if r.tree.isFile(path.Join(dir, "go.mod")) {
		m, err = r.parseModule(dir, true)
	} else if dir != "" {
		parent := path.Dir(dir)
		if parent == "." {
			parent = ""
		}
		m, err = r.module(parent)
	}
	r.modOf[dir] = m
	return m, err
}

// parseModule reads dir/go.mod; main says whether dir is the module go test
// runs in (whose go.work and vendor folder then count).
func (r *goResolver) parseModule(dir string, main bool) (*goModule, error) {
	if m, ok := r.modAt[dir]; ok && (!main || m.local != nil) {
		return m, nil
	}
	gomod := path.Join(dir, "go.mod")
	src, err := r.tree.read(gomod)
	if err != nil {
		return nil, err
	}
	m := &goModule{dir: dir, files: []string{gomod}}
	if r.tree.isFile(path.Join(dir, "go.sum")) {
		m.files = append(m.files, path.Join(dir, "go.sum"))
	}
	replaces := modDirectives(src, "replace")
	m.path = GoModulePath(src)
	if m.path == "" {
		return nil, fmt.Errorf("%s: no module directive", gomod)
	}
	r.modAt[dir] = m
	if !main {
		return m, nil
	}
	m.local = []*goModule{m}
	addLocal := func(d string) {
		if d == dir || !r.tree.isFile(path.Join(d, "go.mod")) {
			return
		}
		if lm, err := r.parseModule(d, false); err == nil {
			m.local = append(m.local, lm)
			m.files = append(m.files, lm.files...)
		}
	}
	work := ""
	for _, a := range ancestors(dir) {
		if r.tree.isFile(path.Join(a, "go.work")) {
			work = path.Join(a, "go.work")
			break
		}
	}
	if work != "" {
		wsrc, err := r.tree.read(work)
		if err != nil {
			return nil, err
		}
		m.files = append(m.files, work)
		if r.tree.isFile(work + ".sum") {
			m.files = append(m.files, work+".sum")
		}
		for _, u := range modDirectives(wsrc, "use") {
			if d, ok := localDir(path.Dir(work), unquoteMod(strings.Fields(u)[0])); ok {
				addLocal(d)
			}
		}
		replaces = append(replaces, modDirectives(wsrc, "replace")...)
	} else if r.tree.isFile(path.Join(dir, "vendor", "modules.txt")) {
		m.vendor = true
		m.files = append(m.files, path.Join(dir, "vendor", "modules.txt"))
	}
	for _, rp := range replaces {
		if _, target, ok := strings.Cut(rp, "=>"); ok {
			f := strings.Fields(target)
			if len(f) == 1 { // a folder; a module version has two fields
				if d, ok := localDir(dir, unquoteMod(f[0])); ok {
					addLocal(d)
				}
			}
		}
	}
	sort.SliceStable(m.local, func(i, j int) bool { return len(m.local[i].path) > len(m.local[j].path) })
	sort.Strings(m.files)
	m.files = dedup(m.files)
	return m, nil
}

// localDir resolves a folder written in go.mod or go.work, relative to
// base, to a workspace-relative folder; ok is false for paths that are not
// folders (module paths) or that lead outside the workspace.
func localDir(base, p string) (string, bool) {
	if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") && p != "." && p != ".." {
		return "", false
	}
	d := path.Join(base, p)
	if d == ".." || strings.HasPrefix(d, "../") {
		return "", false
	}
	if d == "." {
		d = ""
	}
	return d, true
}

// GoModulePath returns the path of a go.mod's module directive, "" when
// it has none.
func GoModulePath(gomod []byte) string {
	path := ""
	for _, mp := range modDirectives(gomod, "module") {
		path = unquoteMod(strings.Fields(mp)[0])
	}
	return path
}

func unquoteMod(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// modDirectives returns the arguments of every verb directive in a go.mod or
// go.work file, from single lines and ( ) blocks, without comments.
func modDirectives(src []byte, verb string) []string {
	var out []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case inBlock && line == ")":
			inBlock = false
		case inBlock:
			if line != "" {
				out = append(out, line)
			}
		case strings.HasPrefix(line, verb+" ") || strings.HasPrefix(line, verb+"\t") || strings.HasPrefix(line, verb+"("):
			rest := strings.TrimSpace(line[len(verb):])
			if rest == "(" {
				inBlock = true
			} else if rest != "" {
				out = append(out, rest)
			}
		}
	}
	return out
}

// pkg reads the files of the Go package in dir.
func (r *goResolver) pkg(dir string) *goPkgFiles {
	if p, ok := r.pkgs[dir]; ok {
		return p
	}
	p := &goPkgFiles{}
	r.pkgs[dir] = p
	var embeds, testEmbeds []string
	fset := token.NewFileSet()
	for _, e := range r.tree.list(dir) {
		rel := path.Join(dir, e.name)
		if e.isDir {
			if e.name == "testdata" {
				p.testFiles = append(p.testFiles, r.tree.walk(rel, nil)...)
			}
			continue
		}
		if ignoredGoName(e.name) {
			continue
		}
		ext := path.Ext(e.name)
		if ext != ".go" {
			if goSourceExts[ext] {
				p.files = append(p.files, rel)
			}
			continue
		}
		test := strings.HasSuffix(e.name, "_test.go")
		src, err := r.tree.read(rel)
		if err != nil {
			continue
		}
		var imports []string
		// A file that does not parse still counts, with the imports read
		// before the error: the test fails to build either way.
		f, _ := parser.ParseFile(fset, rel, src, parser.ImportsOnly)
		if f != nil {
			for _, is := range f.Imports {
				if ip, err := strconv.Unquote(is.Path.Value); err == nil && ip != "C" {
					imports = append(imports, ip)
				}
			}
		}
		if test {
			p.testFiles = append(p.testFiles, rel)
			p.testGo = append(p.testGo, rel)
			p.testImports = append(p.testImports, imports...)
			testEmbeds = append(testEmbeds, embedPatterns(src)...)
		} else {
			p.files = append(p.files, rel)
			p.imports = append(p.imports, imports...)
			embeds = append(embeds, embedPatterns(src)...)
		}
	}
	p.files = append(p.files, r.embedded(dir, embeds)...)
	p.testFiles = append(p.testFiles, r.embedded(dir, testEmbeds)...)
	return p
}

// embedPatterns returns the patterns of every //go:embed line.
func embedPatterns(src []byte) []string {
	if !bytes.Contains(src, []byte("//go:embed")) {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(src), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "//go:embed")
		if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			continue
		}
		for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
			var pat string
			switch rest[0] {
			case '"', '`':
				end := strings.IndexByte(rest[1:], rest[0])
				if end < 0 {
					pat, rest = rest[1:], ""
					break
				}
				pat, rest = rest[:end+2], rest[end+2:]
				if u, err := strconv.Unquote(pat); err == nil {
					pat = u
				}
			default:
				if i := strings.IndexAny(rest, " \t"); i >= 0 {
					pat, rest = rest[:i], rest[i:]
				} else {
					pat, rest = rest, ""
				}
			}
			out = append(out, strings.TrimPrefix(pat, "all:"))
		}
	}
	return out
}

// embedded returns the files below dir that embed patterns name: a file
// matches when it, or a folder above it, matches a pattern. Files starting
// with "." or "_" count even without "all:", erring on the side of more.
func (r *goResolver) embedded(dir string, patterns []string) []string {
	if len(patterns) == 0 {
		return nil
	}
	var out []string
	for _, f := range r.tree.walk(dir, nil) {
		rel := relTo(dir, f)
	match:
		for _, pat := range patterns {
			for p := rel; p != "." && p != ""; p = path.Dir(p) {
				if ok, _ := path.Match(pat, p); ok {
					out = append(out, f)
					break match
				}
			}
		}
	}
	return out
}

// resolve finds the workspace folder of an import path from module m; ok
// is false for the standard library and modules from the module cache.
func (r *goResolver) resolve(m *goModule, ip string) (dir string, ok bool) {
	for _, lm := range m.local {
		if ip == lm.path {
			return lm.dir, true
		}
		if rest, ok := strings.CutPrefix(ip, lm.path+"/"); ok {
			return path.Join(lm.dir, rest), true
		}
	}
	if m.vendor && strings.Contains(strings.SplitN(ip, "/", 2)[0], ".") {
		if d := path.Join(m.dir, "vendor", ip); r.tree.isDir(d) {
			return d, true
		}
	}
	return "", false
}

// inputs returns the files `go test` reads to test the package in dir.
func (r *goResolver) inputs(dir string, m *goModule) []string {
	p := r.pkg(dir)
	set := map[string]bool{}
	for _, f := range m.files {
		set[f] = true
	}
	for _, f := range p.testFiles {
		set[f] = true
	}
	seen := map[string]bool{}
	var visit func(d string)
	visit = func(d string) {
		if seen[d] {
			return
		}
		seen[d] = true
		dp := r.pkg(d)
		for _, f := range dp.files {
			set[f] = true
		}
		for _, ip := range dp.imports {
			if dd, ok := r.resolve(m, ip); ok {
				visit(dd)
			}
		}
	}
	visit(dir)
	for _, ip := range p.testImports {
		if dd, ok := r.resolve(m, ip); ok {
			visit(dd)
		}
	}
	return slices.Sorted(maps.Keys(set))
}
