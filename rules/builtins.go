package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/markexpr"
	"github.com/suite-run/suite/internal/workspace"
)

// builtins are predeclared in every .star file; each checks from its
// thread's locals whether it may be called there.
var builtins = merge(coreBuiltins, sourceBuiltins)

var coreBuiltins = starlark.StringDict{
	"workspace": starlark.NewBuiltin("workspace", workspaceFn),
	"mark":      starlark.NewBuiltin("mark", markFn),
	"test":      starlark.NewBuiltin("test", testFn),
	"files":     starlark.NewBuiltin("files", filesFn),
	"suite":     starlark.NewBuiltin("suite", suiteFn),
	"glob":      starlark.NewBuiltin("glob", globFn),
}

const localWorkspace = "suite.workspace" // *wsState while evaluating WORKSPACE

type wsState struct {
	ev       *evaluator
	g        *Graph
	declared bool
	errs     ErrorList
}

// pkgState collects the targets of one SUITES.star.
type pkgState struct {
	ev    *evaluator
	pkg   string
	file  string
	names map[string]syntax.Position // target and suite names in use

	files   []workspace.Entry // package files, listed on the first glob()
	warned  map[string]bool   // reports a glob matched, warned about once
	globbed map[string]bool   // workspace-relative paths glob() returned: known to exist
	tests   []*Test
	groups  []*Group
	suites  []*Suite
	errs    ErrorList
	empty   []*Error // warnings about glob() calls: matched nothing, or matched a report suite wrote
	// pyClosers memoize Python import closures by their roots, so the
	// pytest built-ins a rule calls in turn read each file once.
	pyClosers map[string]*pyCloser
}

func merge(dicts ...starlark.StringDict) starlark.StringDict {
	out := starlark.StringDict{}
	for _, d := range dicts {
		for k, v := range d {
			out[k] = v
		}
	}
	return out
}

func callPos(thread *starlark.Thread) syntax.Position { return thread.CallFrame(1).Pos }

func wsOnly(thread *starlark.Thread, fn string) (*wsState, error) {
	ws, _ := thread.Local(localWorkspace).(*wsState)
	if ws == nil {
		return nil, fmt.Errorf("%s: may only be called in the WORKSPACE file", fn)
	}
	return ws, nil
}

// pkgTreeNoArgs is the start of a source built-in that takes no
// arguments: the calling package and a view of the workspace's files.
func pkgTreeNoArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*pkgState, *sourceTree, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, nil, err
	}
	return p, newSourceTree(p.ev), nil
}

func pkgOnly(thread *starlark.Thread, fn string) (*pkgState, error) {
	p, _ := thread.Local(localPkg).(*pkgState)
	if p == nil {
		if thread.Local(localWorkspace) != nil {
			return nil, fmt.Errorf("%s: may not be called in WORKSPACE; declare targets in a SUITES.star", fn)
		}
		return nil, fmt.Errorf("%s: may not be called at the top level of a loaded file; call it from a function (a macro) that a SUITES.star calls", fn)
	}
	return p, nil
}

func workspaceFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ws, err := wsOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	if ws.declared {
		return nil, fmt.Errorf("workspace: called twice; WORKSPACE declares its options once")
	}
	ws.declared = true
	a, err := attrs(b.Name(), args, kwargs, "name?", "default_timeout?", "jobs?", "env_passthrough?",
		"cache_dir?", "remote_cache?", "remote_upload?", "network?", "ignore?", "remote_exec_properties?",
		"sandbox_writable?", "sandbox_readable?", "sandbox_hide?", "environment_fingerprint?", "inputs?", "quarantine?")
	if err != nil {
		return nil, err
	}
	c := &ws.g.Config
	fn := b.Name()
	if v, ok := a["name"]; ok {
		if c.Name, err = wantString(fn, "name", v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["default_timeout"]; ok {
		if c.DefaultTimeout, err = wantDuration(fn, "default_timeout", v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["jobs"]; ok {
		if c.Jobs, err = wantJobs(fn, "jobs", v); err != nil {
			return nil, err
		}
	}
	if v, ok := a["env_passthrough"]; ok {
		if c.EnvPassthrough, err = wantStrings(fn, "env_passthrough", v); err != nil {
			return nil, err
		}
		for _, name := range c.EnvPassthrough {
			if name == "" || strings.ContainsAny(name, "=\x00") {
				return nil, fmt.Errorf("%s: env_passthrough: %q is not an environment variable name", fn, name)
			}
		}
	}
	if c.CacheDir, err = wantString(fn, "cache_dir", a["cache_dir"]); err != nil {
		return nil, err
	}
	if c.RemoteCache, err = wantString(fn, "remote_cache", a["remote_cache"]); err != nil {
		return nil, err
	}
	if c.RemoteCache != "" && !hasAnyPrefix(c.RemoteCache, "http://", "https://", "grpc://", "grpcs://") {
		return nil, fmt.Errorf("%s: remote_cache: %q must start with http://, https://, grpc:// or grpcs://", fn, c.RemoteCache)
	}
	if c.RemoteUpload, err = wantBool(fn, "remote_upload", a["remote_upload"], false); err != nil {
		return nil, err
	}
	if v, ok := a["network"]; ok {
		if c.Network, err = wantOneOf(fn, "network", v, "isolated", "host"); err != nil {
			return nil, err
		}
	}
	if v, ok := a["ignore"]; ok {
		if c.Ignore, err = wantStrings(fn, "ignore", v); err != nil {
			return nil, err
		}
		for _, e := range c.Ignore {
			if err := workspace.CheckIgnore(e); err != nil {
				return nil, fmt.Errorf("%s: %v", fn, err)
			}
		}
	}
	if c.RemoteExecProperties, err = wantStringDict(fn, "remote_exec_properties", a["remote_exec_properties"]); err != nil {
		return nil, err
	}
	if v, ok := a["quarantine"]; ok {
		c.QuarantinePos = callPos(thread)
		if c.Quarantine, err = wantStrings(fn, "quarantine", v); err != nil {
			return nil, err
		}
		for i, l := range c.Quarantine {
			if !strings.HasPrefix(l, "//") {
				return nil, fmt.Errorf("%s: quarantine: %q is not an absolute label; want one such as \"//pkg:name\"", fn, l)
			}
			lb, err := label.Parse(l, "")
			if err != nil {
				return nil, fmt.Errorf("%s: quarantine: %v", fn, err)
			}
			c.Quarantine[i] = lb.String() // "//pkg" names "//pkg:pkg", as everywhere
		}
	}
	for attr, dst := range map[string]*[]string{"sandbox_writable": &c.SandboxWritable, "sandbox_readable": &c.SandboxReadable, "sandbox_hide": &c.SandboxHide} {
		v, ok := a[attr]
		if !ok {
			continue
		}
		if *dst, err = wantStrings(fn, attr, v); err != nil {
			return nil, err
		}
		for _, p := range *dst {
			if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "~/") {
				return nil, fmt.Errorf("%s: %s: %q is neither an absolute path nor one under ~/ (the user's home)", fn, attr, p)
			}
		}
	}
	if v, ok := a["environment_fingerprint"]; ok {
		if c.EnvironmentFingerprint, err = wantOneOf(fn, "environment_fingerprint", v, "installed", "files"); err != nil {
			return nil, err
		}
	}
	if v, ok := a["inputs"]; ok {
		if c.InputMode, err = wantOneOf(fn, "inputs", v, InputsDeclared, InputsTraced); err != nil {
			return nil, err
		}
	}
	return starlark.None, nil
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func markFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	ws, err := wsOnly(thread, b.Name())
	if err != nil {
		return nil, fmt.Errorf("%v (marks are registered centrally)", err)
	}
	var name, doc string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "doc?", &doc); err != nil {
		return nil, err
	}
	if !validMarkName(name) {
		return nil, fmt.Errorf("mark: %q is not a valid mark name, want an identifier such as \"slow\" or \"needs_db\"", name)
	}
	if m := ws.ev.marks[name]; m != nil {
		return nil, fmt.Errorf("mark: %q is already registered at %s", name, m.Pos)
	}
	m := &Mark{Name: name, Doc: doc, Pos: callPos(thread)}
	ws.ev.marks[name] = m
	ws.ev.markNames = append(ws.ev.markNames, name)
	ws.g.Marks = append(ws.g.Marks, m)
	return starlark.None, nil
}

func validMarkName(s string) bool {
	if s == "" || s == "and" || s == "or" || s == "not" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// checkMarks reports an unregistered mark with the nearest registered one.
func (ev *evaluator) checkMark(fn, name string) error {
	if ev.marks[name] != nil {
		return nil
	}
	hint := didYouMean(name, ev.markNames)
	if hint == "" {
		hint = " (register it in WORKSPACE with mark(\"" + name + "\", doc = \"...\"))"
	}
	return fmt.Errorf("%s: unknown mark %q%s", fn, name, hint)
}

func (p *pkgState) claim(thread *starlark.Thread, fn, name string) (label.Label, error) {
	l, err := label.Parse(":"+name, p.pkg)
	if err != nil || name == "" || strings.HasPrefix(name, ":") {
		return l, fmt.Errorf("%s: name %q is not a valid target name, want letters, digits and -_./+ (no ':' or '..', at most %d bytes)", fn, clip(name), label.MaxNameLen)
	}
	if prev, ok := p.names[name]; ok {
		return l, fmt.Errorf("%s: %q is already defined in this package at %s; target names must be unique", fn, name, prev)
	}
	p.names[name] = callPos(thread)
	return l, nil
}

// resolveSrcs turns srcs as written (package-relative, or "//"-rooted) into
// workspace-relative paths of existing files.
func (p *pkgState) resolveSrcs(fn string, srcs []string) ([]string, error) {
	out := make([]string, 0, len(srcs))
	for _, s := range srcs {
		rel, rooted := strings.CutPrefix(s, "//")
		if !rooted {
			rel = path.Join(p.pkg, s)
		}
		if p.globbed[rel] {
			// glob() only returns files it found inside the workspace.
			out = append(out, rel)
			continue
		}
		if !rooted {
			// The raw form, before path.Join cleans a ".." away.
			if err := workspace.CheckRel(s); err != nil {
				return nil, fmt.Errorf("%s: srcs: %v", fn, err)
			}
		}
		switch {
		case workspace.InOutputDir(rel):
			return nil, fmt.Errorf("%s: srcs: %q is in %s, suite's own output folder, which is never an input", fn, s, workspace.OutputDir)
		case p.ev.scan.IsReport(rel):
			return nil, fmt.Errorf("%s: srcs: %q is a file suite writes (a run's --json, --junit or --profile report, or the durations file), which is never an input", fn, s)
		}
		fi, err := workspace.StatInput(p.ev.root, rel)
		if err == nil && fi.IsDir() {
			// A symlink to a folder is an input of its own: it brings the
			// folder's files (see workspace.Scan.Inputs).
			if li, lerr := os.Lstat(filepath.Join(p.ev.root, filepath.FromSlash(rel))); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
				out = append(out, rel)
				continue
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: srcs: %q does not exist (paths are relative to the package %q; use glob() for optional files)", fn, s, "//"+p.pkg)
		case err != nil:
			return nil, fmt.Errorf("%s: srcs: %v", fn, err)
		case fi.IsDir():
			return nil, fmt.Errorf("%s: srcs: %q is a directory, want files (use glob([%q]))", fn, s, strings.TrimSuffix(s, "/")+"/**")
		}
		out = append(out, rel)
	}
	sort.Strings(out)
	return dedup(out), nil
}

func dedup(xs []string) []string {
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func (p *pkgState) resolveDeps(fn string, deps []string) ([]label.Label, error) {
	out := make([]label.Label, 0, len(deps))
	for _, d := range deps {
		l, err := label.Parse(d, p.pkg)
		if err != nil {
			return nil, fmt.Errorf("%s: deps: %v", fn, err)
		}
		out = append(out, l)
	}
	return out, nil
}

var testAttrs = []string{"name", "cmd", "srcs?", "deps?", "env?", "marks?", "timeout?", "size?",
	"attempts?", "shards?", "tools?", "exclusive?", "cpus?", "network?", "sandbox?", "inputs?", "cache?", "skip_exit_codes?", "case_marks?",
	"environments?"}

func testFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	a, err := attrs(b.Name(), args, kwargs, testAttrs...)
	if err != nil {
		return nil, err
	}
	name, err := wantString("test", "name", a["name"])
	if err != nil {
		return nil, err
	}
	fn := fmt.Sprintf("test %q", name)
	t := &Test{Pos: callPos(thread)}
	if t.Label, err = p.claim(thread, "test", name); err != nil {
		return nil, err
	}
	switch cmd := a["cmd"].(type) {
	case starlark.String:
		if cmd == "" {
			return nil, fmt.Errorf("%s: cmd: empty command", fn)
		}
		t.Cmd = []string{"/bin/sh", "-c", string(cmd)}
	default:
		if t.Cmd, err = wantStrings(fn, "cmd", cmd); err != nil {
			return nil, fmt.Errorf("%v or a shell command string", err)
		}
		if len(t.Cmd) == 0 || t.Cmd[0] == "" {
			return nil, fmt.Errorf("%s: cmd: empty argv, want e.g. [\"python3\", \"-m\", \"unittest\"]", fn)
		}
	}
	srcs, err := wantStrings(fn, "srcs", a["srcs"])
	if err != nil {
		return nil, err
	}
	if t.Srcs, err = p.resolveSrcs(fn, srcs); err != nil {
		return nil, err
	}
	deps, err := wantStrings(fn, "deps", a["deps"])
	if err != nil {
		return nil, err
	}
	if t.Deps, err = p.resolveDeps(fn, deps); err != nil {
		return nil, err
	}
	if t.Env, err = wantStringDict(fn, "env", a["env"]); err != nil {
		return nil, err
	}
	for k := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("%s: env: %q is not an environment variable name", fn, k)
		}
	}
	if t.Marks, err = wantStrings(fn, "marks", a["marks"]); err != nil {
		return nil, err
	}
	for _, m := range t.Marks {
		if err := p.ev.checkMark(fn, m); err != nil {
			return nil, err
		}
	}
	if t.CaseMarks, err = caseMarks(p, fn, t.Marks, a["case_marks"]); err != nil {
		return nil, err
	}
	for _, cm := range t.CaseMarks {
		t.Marks = append(t.Marks, cm...)
	}
	sort.Strings(t.Marks)
	t.Marks = dedup(t.Marks)
	if t.Timeout, err = wantDuration(fn, "timeout", a["timeout"]); err != nil {
		return nil, err
	}
	if t.Size, err = wantOneOf(fn, "size", a["size"], "small", "medium", "large", "enormous"); err != nil {
		return nil, err
	}
	if t.Timeout > 0 && t.Size != "" {
		return nil, fmt.Errorf("%s: set timeout or size, not both (size only implies a timeout)", fn)
	}
	if t.Attempts, err = wantInt(fn, "attempts", a["attempts"], 1, 1, 100); err != nil {
		return nil, err
	}
	if t.Shards, err = wantInt(fn, "shards", a["shards"], 1, 1, 1000); err != nil {
		return nil, err
	}
	if t.Tools, err = wantStrings(fn, "tools", a["tools"]); err != nil {
		return nil, err
	}
	if t.Exclusive, err = wantBool(fn, "exclusive", a["exclusive"], false); err != nil {
		return nil, err
	}
	if t.CPUs, err = wantInt(fn, "cpus", a["cpus"], 1, 1, 4096); err != nil {
		return nil, err
	}
	if t.Network, err = wantOneOf(fn, "network", a["network"], "isolated", "host"); err != nil {
		return nil, err
	}
	if t.Sandbox, err = wantOneOf(fn, "sandbox", a["sandbox"], "strict", "relaxed"); err != nil {
		return nil, err
	}
	if t.InputMode, err = wantOneOf(fn, "inputs", a["inputs"], InputsDeclared, InputsTraced); err != nil {
		return nil, err
	}
	if t.Cache, err = wantBool(fn, "cache", a["cache"], true); err != nil {
		return nil, err
	}
	if v := a["skip_exit_codes"]; v != nil && v != starlark.None {
		list, ok := v.(*starlark.List)
		if !ok {
			return nil, fmt.Errorf("%s: skip_exit_codes: got %s, want list of int", fn, v.Type())
		}
		for i := 0; i < list.Len(); i++ {
			n, err := wantInt(fn, "skip_exit_codes", list.Index(i), 0, 1, 255)
			if err != nil {
				return nil, err
			}
			t.SkipExitCodes = append(t.SkipExitCodes, n)
		}
	}
	envs, err := wantStrings(fn, "environments", a["environments"])
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		env, err := p.environment(fn, e)
		if err != nil {
			return nil, err
		}
		t.Environments = append(t.Environments, env)
	}
	p.tests = append(p.tests, t)
	return starlark.None, nil
}

// environment checks an entry of test(environments = ...) and makes its
// path workspace-relative.
func (p *pkgState) environment(fn, e string) (string, error) {
	kind, where, _ := strings.Cut(e, ":")
	switch {
	case kind == "python" && where != "" && (!strings.Contains(where, "/") || path.IsAbs(where)):
		return e, nil
	case kind == "python" && where != "":
		// An interpreter in a virtualenv is a symlink out of the
		// workspace, so only the written path is checked.
		rel, ok := strings.CutPrefix(where, "//")
		if !ok {
			rel = path.Join(p.pkg, where)
		}
		if err := workspace.CheckRel(rel); err != nil {
			return "", fmt.Errorf("%s: environments: %v", fn, err)
		}
		return "python://" + path.Clean(rel), nil
	case kind == "node":
		if where == "" {
			where = "."
		}
		rel, err := p.wsPath(fn, "environments", where)
		if err != nil {
			return "", err
		}
		return "node:" + rel, nil
	}
	return "", fmt.Errorf("%s: environments: %q: want \"python:PROGRAM\" or \"node:FOLDER\"", fn, e)
}

func filesFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	a, err := attrs(b.Name(), args, kwargs, "name", "srcs?", "deps?")
	if err != nil {
		return nil, err
	}
	name, err := wantString("files", "name", a["name"])
	if err != nil {
		return nil, err
	}
	fn := fmt.Sprintf("files %q", name)
	g := &Group{Pos: callPos(thread)}
	if g.Label, err = p.claim(thread, "files", name); err != nil {
		return nil, err
	}
	srcs, err := wantStrings(fn, "srcs", a["srcs"])
	if err != nil {
		return nil, err
	}
	if g.Srcs, err = p.resolveSrcs(fn, srcs); err != nil {
		return nil, err
	}
	deps, err := wantStrings(fn, "deps", a["deps"])
	if err != nil {
		return nil, err
	}
	if g.Deps, err = p.resolveDeps(fn, deps); err != nil {
		return nil, err
	}
	p.groups = append(p.groups, g)
	return starlark.None, nil
}

func suiteFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	a, err := attrs(b.Name(), args, kwargs, "name", "marks?", "targets?", "timeout?", "jobs?", "order?", "budget?", "doc?")
	if err != nil {
		return nil, err
	}
	s := &Suite{Pkg: p.pkg, Pos: callPos(thread)}
	if s.Name, err = wantString("suite", "name", a["name"]); err != nil {
		return nil, err
	}
	if !validMarkName(strings.ReplaceAll(s.Name, "-", "_")) {
		return nil, fmt.Errorf("suite: name %q is not valid, want a word such as \"smoke\" or \"nightly-db\"", s.Name)
	}
	fn := fmt.Sprintf("suite %q", s.Name)
	expr, err := wantString(fn, "marks", a["marks"])
	if err != nil {
		return nil, err
	}
	if s.Marks, err = p.ev.parseMarks(fn+": marks", expr); err != nil {
		return nil, err
	}
	if s.Targets, err = wantStrings(fn, "targets", a["targets"]); err != nil {
		return nil, err
	}
	if _, ok := a["targets"]; !ok {
		s.Targets = []string{"//" + path.Join(p.pkg, "...")}
	}
	if s.Select, err = label.ParseSet(s.Targets, p.pkg); err != nil {
		return nil, fmt.Errorf("%s: targets: %v", fn, err)
	}
	if s.Timeout, err = wantDuration(fn, "timeout", a["timeout"]); err != nil {
		return nil, err
	}
	if s.Jobs, err = wantJobs(fn, "jobs", a["jobs"]); err != nil {
		return nil, err
	}
	if s.Order, err = wantOneOf(fn, "order", a["order"], "duration", "random", "declared"); err != nil {
		return nil, err
	}
	if s.Budget, err = wantDuration(fn, "budget", a["budget"]); err != nil {
		return nil, err
	}
	if s.Doc, err = wantString(fn, "doc", a["doc"]); err != nil {
		return nil, err
	}
	p.suites = append(p.suites, s)
	return starlark.None, nil
}

// parseMarks parses a mark expression and checks that it names only
// registered marks.
func (ev *evaluator) parseMarks(what, expr string) (*markexpr.Expr, error) {
	return ParseMarkExpr(what, expr, ev.marks, ev.markNames)
}

// ParseMarkExpr parses a mark expression (the -m grammar) whose identifiers
// must be registered marks.
func ParseMarkExpr(what, expr string, marks map[string]*Mark, names []string) (*markexpr.Expr, error) {
	e, err := markexpr.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %q: %v", what, expr, err)
	}
	for _, id := range e.Idents() {
		if marks[id.Name] == nil {
			hint := didYouMean(id.Name, names)
			if hint == "" {
				hint = " (registered marks: " + strings.Join(names, ", ") + ")"
			}
			return nil, fmt.Errorf("%s: %q: col %d: unknown mark %q%s", what, expr, id.Col, id.Name, hint)
		}
	}
	return e, nil
}

func globFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := pkgOnly(thread, b.Name())
	if err != nil {
		return nil, err
	}
	var include, exclude *starlark.List
	allowEmpty := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "include", &include, "exclude?", &exclude, "allow_empty?", &allowEmpty); err != nil {
		return nil, err
	}
	inc, err := wantStrings("glob", "include", include)
	if err != nil {
		return nil, err
	}
	var exc []string
	if exclude != nil {
		if exc, err = wantStrings("glob", "exclude", exclude); err != nil {
			return nil, err
		}
	}
	matches, err := p.glob(thread, inc, exc)
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 && !allowEmpty {
		return nil, fmt.Errorf("glob: %s matched no files in package %q and allow_empty = False", quoteList(inc), "//"+p.pkg)
	}
	if len(matches) == 0 {
		p.empty = append(p.empty, &Error{Pos: callPos(thread), Msg: fmt.Sprintf("glob: %s matches no files in package %q", quoteList(inc), "//"+p.pkg)})
	}
	vals := make([]starlark.Value, len(matches))
	for i, m := range matches {
		vals[i] = starlark.String(m)
	}
	return starlark.NewList(vals), nil
}

// glob matches doublestar patterns against the package's own files, or,
// for patterns starting with "//", against the workspace from the root.
func (p *pkgState) glob(thread *starlark.Thread, include, exclude []string) ([]string, error) {
	for _, pat := range append(append([]string(nil), include...), exclude...) {
		bare := strings.TrimPrefix(pat, "//")
		if !doublestar.ValidatePattern(bare) || bare == "" {
			return nil, fmt.Errorf("glob: %q is not a valid pattern", pat)
		}
		if strings.HasPrefix(bare, "/") || strings.Contains("/"+bare+"/", "/../") {
			return nil, fmt.Errorf("glob: %q leaves the workspace: patterns are relative to the package, or start with // for the workspace root, and may not use \"..\"", pat)
		}
	}
	set := map[string]bool{}
	// A glob matches files and symlinks by their own path. It does not
	// descend into a symlinked folder (as doublestar's WithNoFollow, and
	// unlike Bazel, whose glob follows links and so can loop or pick up its
	// own output links): the link, as an input, brings its folder's files.
	match := func(pat string, entries []workspace.Entry, prefix string) error {
		for _, e := range entries {
			if !doublestar.MatchUnvalidated(pat, e.Path) {
				continue
			}
			switch {
			case e.Err != nil:
				return e.Err
			case e.Report:
				if !excluded(prefix+e.Path, exclude) {
					p.reportHit(thread, pat, e.Path, prefix)
				}
			default:
				set[prefix+e.Path] = true
			}
		}
		return nil
	}
	for _, pat := range include {
		if rooted, ok := strings.CutPrefix(pat, "//"); ok {
			base, _ := doublestar.SplitPattern(rooted)
			if base == "." {
				base = ""
			}
			if err := match(rooted, p.ev.scan.TreeEntries(base), "//"); err != nil {
				return nil, fmt.Errorf("glob: %v", err)
			}
			p.outputDirHit(thread, pat, rooted, "")
			continue
		}
		if err := match(pat, p.packageEntries(), ""); err != nil {
			return nil, fmt.Errorf("glob: %v", err)
		}
		p.outputDirHit(thread, pat, pat, p.pkg)
	}
	var out []string
	for m := range set {
		if !excluded(m, exclude) {
			out = append(out, m)
			if p.globbed == nil {
				p.globbed = map[string]bool{}
			}
			if r, ok := strings.CutPrefix(m, "//"); ok {
				p.globbed[r] = true
			} else {
				p.globbed[path.Join(p.pkg, m)] = true
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func excluded(m string, exclude []string) bool {
	rooted := strings.HasPrefix(m, "//")
	for _, pat := range exclude {
		if strings.HasPrefix(pat, "//") != rooted {
			continue
		}
		if doublestar.MatchUnvalidated(strings.TrimPrefix(pat, "//"), strings.TrimPrefix(m, "//")) {
			return true
		}
	}
	return false
}

func (p *pkgState) packageEntries() []workspace.Entry {
	if p.files == nil {
		p.files = p.ev.scan.PackageEntries(p.pkg)
		if p.files == nil {
			p.files = []workspace.Entry{}
		}
	}
	return p.files
}

// reportHit warns that a glob matched a file suite wrote into the tree (a
// run's report, the durations file): it is left out, as every run would
// otherwise change an input of the next.
func (p *pkgState) reportHit(thread *starlark.Thread, pat, file, prefix string) {
	if !p.warned[file] {
		if p.warned == nil {
			p.warned = map[string]bool{}
		}
		p.warned[file] = true
		p.empty = append(p.empty, &Error{Pos: callPos(thread), Msg: fmt.Sprintf(
			"glob: %q matches %s, a file suite writes (a run's --json, --junit or --profile report, or the durations file); suite's own output is never an input, so it is left out (write reports outside the package, or exclude them)", pat, prefix+file)})
	}
}

// outputDirHit warns about a pattern that names suite's output folder:
// nothing in it is ever matched.
func (p *pkgState) outputDirHit(thread *starlark.Thread, pat, bare, pkg string) {
	base, _ := doublestar.SplitPattern(bare)
	if workspace.InOutputDir(path.Join(pkg, base)) {
		p.empty = append(p.empty, &Error{Pos: callPos(thread), Msg: fmt.Sprintf(
			"glob: %q names %s, suite's own output folder, which is never an input", pat, workspace.OutputDir)})
	}
}

// clip shortens a user's string for an error message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:40] + "…" + s[len(s)-10:]
	}
	return s
}
