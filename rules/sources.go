package rules

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/workspace"
)

// sourceBuiltins read workspace sources for the standard rules (Go
// imports, pytest marks). They are the only built-ins besides glob() and
// load() that read files, and they read only inside the workspace.
//
// Each one is called from a package's evaluation (directly or from a macro)
// and returns paths the way srcs takes them: relative to the calling
// package when the file lies inside it, "//"-rooted otherwise.
var sourceBuiltins = starlark.StringDict{
	"go_packages_info":      starlark.NewBuiltin("go_packages_info", goPackagesInfoFn),
	"pytest_file_marks":     starlark.NewBuiltin("pytest_file_marks", pytestFileMarksFn),
	"py_test_inputs":        starlark.NewBuiltin("py_test_inputs", pyTestInputsFn),
	"pytest_config":         starlark.NewBuiltin("pytest_config", pytestConfigFn),
	"pytest_collect":        starlark.NewBuiltin("pytest_collect", pytestCollectFn),
	"pytest_shared_imports": starlark.NewBuiltin("pytest_shared_imports", pytestSharedImportsFn),
	"python_venv":           starlark.NewBuiltin("python_venv", pythonVenvFn),
	"node_workspace":        starlark.NewBuiltin("node_workspace", nodeWorkspaceFn),
}

// userPos is where a source built-in's error is reported: the innermost
// call site in a workspace file, so a mistake found by a standard rule
// (an unknown mark in a pytest file, say) points at the user's SUITES.star
// line rather than at the embedded rule.
func userPos(thread *starlark.Thread) syntax.Position {
	stack := thread.CallStack()
	for i := len(stack) - 1; i >= 0; i-- {
		p := stack[i].Pos
		if p.IsValid() && p.Filename() != "<builtin>" && !strings.HasPrefix(p.Filename(), "@") {
			return p
		}
	}
	return callPos(thread)
}

func userError(thread *starlark.Thread, format string, args ...any) error {
	return &Error{Pos: userPos(thread), Msg: fmt.Sprintf(format, args...)}
}

// srcPath turns a workspace-relative path into the form srcs takes from
// package pkg, and records that the file exists so test() need not stat it.
func (p *pkgState) srcPath(rel string) string {
	if p.globbed == nil {
		p.globbed = map[string]bool{}
	}
	p.globbed[rel] = true
	if p.pkg == "" {
		return rel
	}
	if r, ok := strings.CutPrefix(rel, p.pkg+"/"); ok {
		return r
	}
	return "//" + rel
}

// wsPath resolves a path as a user writes it in a package (relative to it,
// or "//"-rooted) to a checked workspace-relative path.
func (p *pkgState) wsPath(fn, attr, s string) (string, error) {
	rel := strings.TrimPrefix(s, "//")
	if !strings.HasPrefix(s, "//") {
		if s == "" {
			return "", fmt.Errorf("%s: %s: empty path", fn, attr)
		}
		if err := workspace.CheckPath(p.ev.root, s); err != nil {
			return "", fmt.Errorf("%s: %s: %v", fn, attr, err)
		}
		rel = path.Join(p.pkg, s)
	}
	rel = path.Clean(rel)
	if rel == "." {
		return "", nil
	}
	if err := workspace.CheckPath(p.ev.root, rel); err != nil {
		return "", fmt.Errorf("%s: %s: %v", fn, attr, err)
	}
	return rel, nil
}

// sourceTree reads directories and files inside the workspace for the
// source built-ins, refusing anything a symlink leads outside of. It is
// created per call, so its memo never outlives one evaluation.
type sourceTree struct {
	root  string
	ig    *workspace.Ignorer
	reads *workspace.Reads
	dirs  map[string][]dirEntry // workspace-relative dir -> entries
}

type dirEntry struct {
	name  string
	isDir bool
}

func newSourceTree(ev *evaluator) *sourceTree {
	return &sourceTree{root: ev.root, ig: ev.ignorer, reads: ev.reads, dirs: map[string][]dirEntry{}}
}

func (t *sourceTree) abs(rel string) string {
	return filepath.Join(t.root, filepath.FromSlash(rel))
}

// list returns the entries of a workspace-relative directory, sorted, with
// symlinks resolved and those leading outside the workspace left out.
// Ignored folders are left out as well.
func (t *sourceTree) list(dir string) []dirEntry {
	if es, ok := t.dirs[dir]; ok {
		return es
	}
	var out []dirEntry
	t.reads.Stat(t.abs(dir))
	entries, _ := os.ReadDir(t.abs(dir))
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if t.ig != nil && t.ig.Ignored(rel) {
				continue
			}
			real, err := filepath.EvalSymlinks(t.abs(rel))
			t.reads.Link(t.abs(rel), real)
			if err != nil || !workspace.Inside(t.root, real) {
				continue
			}
			t.reads.Stat(real)
			fi, err := os.Stat(real)
			if err != nil {
				continue
			}
			isDir = fi.IsDir()
		} else if !isDir && !e.Type().IsRegular() {
			continue
		}
		if isDir && (t.ig != nil && t.ig.Ignored(rel) || e.Name() == workspace.OutputDir) {
			continue
		}
		out = append(out, dirEntry{e.Name(), isDir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	t.dirs[dir] = out
	return out
}

func (t *sourceTree) isFile(rel string) bool {
	dir, name := path.Split(rel)
	for _, e := range t.list(strings.TrimSuffix(dir, "/")) {
		if e.name == name {
			return !e.isDir
		}
	}
	return false
}

func (t *sourceTree) isDir(rel string) bool {
	if rel == "" || rel == "." {
		return true
	}
	dir, name := path.Split(rel)
	for _, e := range t.list(strings.TrimSuffix(dir, "/")) {
		if e.name == name {
			return e.isDir
		}
	}
	return false
}

// walk returns every file below dir (workspace-relative paths), descending
// into folders for which descend says yes.
func (t *sourceTree) walk(dir string, descend func(rel string) bool) []string {
	var out []string
	for _, e := range t.list(dir) {
		rel := path.Join(dir, e.name)
		if !e.isDir {
			out = append(out, rel)
		} else if descend == nil || descend(rel) {
			out = append(out, t.walk(rel, descend)...)
		}
	}
	return out
}

func (t *sourceTree) read(rel string) ([]byte, error) {
	t.reads.Stat(t.abs(rel))
	return os.ReadFile(t.abs(rel))
}

// ancestors returns dir and each folder above it up to the workspace root
// (""), innermost first.
func ancestors(dir string) []string {
	out := []string{dir}
	for dir != "" {
		dir = path.Dir(dir)
		if dir == "." {
			dir = ""
		}
		out = append(out, dir)
	}
	return out
}

func stringList(xs []string) *starlark.List {
	vals := make([]starlark.Value, len(xs))
	for i, x := range xs {
		vals[i] = starlark.String(x)
	}
	return starlark.NewList(vals)
}
