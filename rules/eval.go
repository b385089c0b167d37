// Package rules is the suite rule language: the Starlark built-ins
// (workspace, mark, test, files, suite, glob), load() of workspace and
// standard .star files, and the evaluation of a whole workspace into a Graph.
//
// Evaluation is hermetic (no clock, environment or file access beyond
// glob() and load()) and bounded by a step limit per file.
package rules

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/par"
	"github.com/suite-run/suite/internal/workspace"
)

//go:embed *.star
var stdRules embed.FS

// StdRulesPrefix is how a SUITES.star loads a standard rule file.
const StdRulesPrefix = "@suite//rules:"

// MaxSteps bounds the Starlark computation of one file, so a runaway loop
// stops with a positioned error instead of hanging the tool. Evaluating a
// package of a few hundred targets takes well under a million steps.
const MaxSteps = 20_000_000

var fileOptions = &syntax.FileOptions{Set: true, TopLevelControl: true, GlobalReassign: false}

// Error is one problem in a user's file, printed as "file:line:col: msg".
type Error struct {
	Pos       syntax.Position
	Msg       string
	Backtrace string // the Starlark call stack, when deeper than the call site
}

func (e *Error) Error() string {
	if !e.Pos.IsValid() {
		return e.Msg
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// ErrorList is every problem found while evaluating a workspace, sorted by position.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename() != b.Filename() {
			return a.Filename() < b.Filename()
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// positioned turns any error from Starlark into *Error at the most precise
// position known: the syntax or resolve error's own, or the innermost Starlark
// frame of an evaluation error (the call site of a failing built-in).
func positioned(err error, file string) *Error {
	var se syntax.Error
	if errors.As(err, &se) {
		return &Error{Pos: se.Pos, Msg: se.Msg}
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) && len(rl) > 0 {
		return &Error{Pos: rl[0].Pos, Msg: rl[0].Msg}
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		var inner *Error
		if errors.As(ee.Unwrap(), &inner) && inner.Pos.IsValid() {
			return inner // an error already positioned, e.g. from a nested load
		}
		e := &Error{Msg: ee.Msg}
		if strings.Contains(e.Msg, "too many steps") {
			e.Msg = fmt.Sprintf("evaluation stopped after %d steps: a loop that never ends, or far more work than a SUITES.star needs", MaxSteps)
		}
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			// The innermost frame in the user's own files: a mistake passed
			// through a standard rule is reported where the rule was called.
			if p := ee.CallStack[i].Pos; p.IsValid() && p.Filename() != "<builtin>" && !strings.HasPrefix(p.Filename(), "@") {
				e.Pos = p
				break
			}
		}
		if len(ee.CallStack) > 2 {
			e.Backtrace = ee.Backtrace()
		}
		return e
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Pos: syntax.MakePosition(&file, 1, 1), Msg: err.Error()}
}

// evaluator holds what every file's evaluation shares: the workspace root,
// the registered marks, and the cache of loaded modules.
type evaluator struct {
	root      string
	ignorer   *workspace.Ignorer
	scan      *workspace.Scan  // every package and file, read once
	reads     *workspace.Reads // what evaluation read, for the graph cache; nil: no record
	marks     map[string]*Mark
	markNames []string

	// loadMu is held by a package's outermost load() for the whole tree of
	// loads beneath it, so modules are evaluated one at a time: cycles are
	// then always seen on one goroutine's load stack, never as a deadlock
	// between two goroutines. Loaded files are few and small, so this costs
	// nothing measurable; finished modules are shared by all packages.
	loadMu  sync.Mutex
	modules map[string]*module
}

type module struct {
	globals starlark.StringDict
	err     error
}

const (
	localPkg       = "suite.pkg"       // *pkgState of the SUITES.star being evaluated
	localLoadStack = "suite.loadstack" // []string of modules being loaded, outermost first
	localLocked    = "suite.locked"    // bool: this thread holds loadMu
)

// Load evaluates the workspace at root: WORKSPACE first, then every
// package, in parallel. Problems in user files come back as ErrorList.
func Load(root string) (*Graph, error) {
	return load(root, nil)
}

// load is Load, recording what it reads in reads (which may be nil).
func load(root string, reads *workspace.Reads) (*Graph, error) {
	ev := &evaluator{root: root, modules: map[string]*module{}, marks: map[string]*Mark{}, reads: reads}
	g := &Graph{Root: root, Config: DefaultConfig()}
	if errs := ev.evalWorkspace(g); len(errs) > 0 {
		return nil, errs
	}
	ev.ignorer = workspace.NewIgnorer(g.Config.Ignore)
	var err error
	if ev.scan, err = workspace.ScanWorkspace(root, ev.ignorer, reads); err != nil {
		return nil, err
	}
	pkgs := ev.scan.Packages

	results := make([]*pkgState, len(pkgs))
	par.Each(len(pkgs), func(i int) { results[i] = ev.evalPackage(pkgs[i]) })

	var errs ErrorList
	for _, p := range results {
		errs = append(errs, p.errs...)
		g.Tests = append(g.Tests, p.tests...)
		g.Groups = append(g.Groups, p.groups...)
		g.Suites = append(g.Suites, p.suites...)
		g.globWarnings = append(g.globWarnings, p.empty...)
	}
	errs = append(errs, g.link(ev.scan.Inputs)...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return g, nil
}

func (ev *evaluator) evalWorkspace(g *Graph) ErrorList {
	file := workspace.RootFile(ev.root)
	if file == "" {
		file = workspace.WorkspaceFile
	}
	src, err := ev.readFile(file)
	if err != nil {
		return ErrorList{{Msg: err.Error()}}
	}
	ws := &wsState{g: g, ev: ev}
	thread := ev.newThread(file)
	thread.SetLocal(localWorkspace, ws)
	if _, err := starlark.ExecFileOptions(fileOptions, thread, file, src, builtins); err != nil {
		e := positioned(err, file)
		if file == workspace.WorkspaceFile && workspace.IsBazelRoot(ev.root) {
			e.Msg += " (this WORKSPACE is Bazel's: put suite's options in " + workspace.SuiteWorkspaceFile +
				" beside it, which suite reads first and Bazel ignores; `suite init` writes one)"
		}
		return ErrorList{e}
	}
	return ws.errs
}

// readFile reads a workspace file, recording that it did.
func (ev *evaluator) readFile(rel string) ([]byte, error) {
	abs := filepath.Join(ev.root, filepath.FromSlash(rel))
	ev.reads.Stat(abs)
	return os.ReadFile(abs)
}

func (ev *evaluator) newThread(name string) *starlark.Thread {
	t := &starlark.Thread{Name: name, Load: ev.load}
	t.SetMaxExecutionSteps(MaxSteps)
	return t
}

func (ev *evaluator) evalPackage(pkg string) *pkgState {
	file := path.Join(pkg, workspace.PackageFile)
	p := &pkgState{ev: ev, pkg: pkg, file: file, names: map[string]syntax.Position{}}
	src, err := ev.readFile(file)
	if err != nil {
		p.errs = append(p.errs, &Error{Pos: syntax.MakePosition(&file, 1, 1), Msg: err.Error()})
		return p
	}
	thread := ev.newThread(file)
	thread.SetLocal(localPkg, p)
	if _, err := starlark.ExecFileOptions(fileOptions, thread, file, src, builtins); err != nil {
		p.errs = append(p.errs, positioned(err, file))
	}
	return p
}

// load resolves a load() module name to a file, evaluates it once per
// workspace evaluation, and returns its globals.
func (ev *evaluator) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	file, src, err := ev.resolveLoad(thread.CallFrame(0).Pos.Filename(), name)
	if err != nil {
		return nil, err
	}
	if locked, _ := thread.Local(localLocked).(bool); !locked {
		ev.loadMu.Lock()
		defer ev.loadMu.Unlock()
	}
	stack, _ := thread.Local(localLoadStack).([]string)
	for i, f := range stack {
		if f == file {
			return nil, fmt.Errorf("load cycle: %s -> %s; break it by moving the shared definitions into a third file", strings.Join(stack[i:], " -> "), file)
		}
	}
	if m, ok := ev.modules[file]; ok {
		return m.globals, m.err
	}
	mt := ev.newThread(file)
	mt.SetLocal(localLoadStack, append(append([]string(nil), stack...), file))
	mt.SetLocal(localLocked, true)
	globals, err := starlark.ExecFileOptions(fileOptions, mt, file, src, builtins)
	if err != nil {
		err = positioned(err, file)
	}
	ev.modules[file] = &module{globals, err}
	return globals, err
}

// resolveLoad maps "@suite//rules:x.star", "//pkg:x.star" and ":x.star" (next
// to the loading file) to a display name and the file's content.
func (ev *evaluator) resolveLoad(from, name string) (string, []byte, error) {
	if rest, ok := strings.CutPrefix(name, StdRulesPrefix); ok {
		src, err := stdRules.ReadFile(rest)
		if err != nil || strings.Contains(rest, "/") {
			entries, _ := stdRules.ReadDir(".")
			var have []string
			for _, e := range entries {
				have = append(have, StdRulesPrefix+e.Name())
			}
			return "", nil, fmt.Errorf("load: no standard rule file %q; have %s%s", name, strings.Join(have, ", "), didYouMean(name, have))
		}
		return name, src, nil
	}
	if strings.HasPrefix(name, "@") {
		return "", nil, fmt.Errorf("load: unknown repository in %q: only %q (the standard rules) and workspace files (//pkg:file.star) can be loaded", name, StdRulesPrefix)
	}
	var l label.Label
	var err error
	if strings.HasPrefix(name, ":") && !strings.HasPrefix(from, "@") {
		l, err = label.Parse(name, path.Dir(from))
		if path.Dir(from) == "." {
			l, err = label.Parse(name, "")
		}
	} else {
		l, err = label.Parse(name, "")
	}
	if err != nil || !strings.HasPrefix(name, "//") && !strings.HasPrefix(name, ":") {
		return "", nil, fmt.Errorf("load: %q is not a loadable label, want \"//path/to/pkg:file.star\" or \"@suite//rules:name.star\"", name)
	}
	if !strings.HasSuffix(l.Name, ".star") {
		return "", nil, fmt.Errorf("load: %q does not name a .star file", name)
	}
	rel := path.Join(l.Pkg, l.Name)
	if err := workspace.CheckPath(ev.root, rel); err != nil {
		return "", nil, fmt.Errorf("load: %v", err)
	}
	src, err := ev.readFile(rel)
	if err != nil {
		if os.IsNotExist(err) {
			return "", nil, fmt.Errorf("load: %s does not exist (%s is read relative to the workspace root)", rel, name)
		}
		return "", nil, fmt.Errorf("load: %v", err)
	}
	return rel, src, nil
}
