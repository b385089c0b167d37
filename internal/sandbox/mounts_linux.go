//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/suite-run/suite/internal/sandbox/pid1"
)

// mount is one step of the view the init builds (see pid1.Arity).
type mount struct {
	op       string
	src, dst string
	mode     string // of a tmpfs
}

// mountPlan is what the init does to the file system before it starts the
// test, and the test's cwd once it has.
type mountPlan struct {
	mounts []mount
	cwd    string
}

// args is the plan as the init's argv expects it.
func (p mountPlan) args() []string {
	out := []string{}
	for _, m := range p.mounts {
		out = append(out, m.op)
		switch m.op {
		case pid1.OpTmpfs:
			out = append(out, m.dst, m.mode)
		case pid1.OpBind, pid1.OpBindReadOnly:
			out = append(out, m.src, m.dst)
		case pid1.OpSeal, pid1.OpTrace:
			out = append(out, m.dst)
		}
	}
	return append(out, pid1.PlanEnd)
}

// under reports whether p is dir or lies beneath it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// planMounts decides the test's view of the file system (README.md, "What
// a test can touch"):
//
//  1. everything read-only, in one call;
//  2. empty tmpfs over what is private or hidden: /tmp, /dev/shm, the
//     real home (strict), each hidden directory; an empty file over each
//     hidden file;
//  3. binds, at the same absolute path, of what must show through: the
//     action's scratch folder (writable), the exec root at the workspace's
//     path (writable; in relaxed mode the real workspace, read-only),
//     writable caches, read-only environments and PATH folders that a
//     tmpfs or the exec root would hide;
//  4. the home and hidden-directory tmpfs made read-only, once the mount
//     points the binds needed exist in them.
//
// Steps 2 and 3 run in the order of their targets, so a parent is mounted
// before what lies beneath it, whatever its kind: the workspace under
// /tmp (as in tests) or under home is bound after the tmpfs that hides
// its parent, and an environment inside the workspace after the exec root.
// The number of mounts is kept small: a path is bound only when something
// would otherwise hide it.
func (s *Spec) planMounts(l layout, testPath string) mountPlan {
	var steps []mount
	var hiding []string // targets of the tmpfs that hide what was there
	tmpfs := func(dst, mode string) {
		steps = append(steps, mount{op: pid1.OpTmpfs, dst: dst, mode: mode})
		hiding = append(hiding, dst)
	}
	tmpfs("/tmp", "1777")
	if isDir("/dev/shm") {
		tmpfs("/dev/shm", "1777")
	}
	var seals []string
	home := filepath.Clean(s.Home)
	if !s.Relaxed && s.Home != "" && home != "/" && isDir(home) && home != s.Workspace {
		seals = append(seals, home)
		tmpfs(home, "755")
	}
	// shown are the binds of host paths: what lies beneath them is visible.
	var shown []string
	// hidden reports whether the host's p is out of the test's sight: the
	// deepest mount over it is a tmpfs or the exec root (which holds only
	// declared inputs), rather than a bind of the host's own files.
	hidden := func(p string) bool {
		deepest, hides := "", false
		consider := func(dst string, hiding bool) {
			if under(p, dst) && len(dst) >= len(deepest) {
				deepest, hides = dst, hiding
			}
		}
		for _, h := range hiding {
			consider(h, true)
		}
		if !s.showsWorkspace() {
			consider(s.Workspace, true)
		}
		for _, d := range shown {
			consider(d, false)
		}
		return hides
	}

	// What shows through.
	bind := func(op, src, dst string) {
		steps = append(steps, mount{op: op, src: src, dst: dst})
		shown = append(shown, dst)
	}
	bind(pid1.OpBind, s.ScratchDir, s.ScratchDir)
	cwd := filepath.Join(s.Workspace, s.Package)
	if !s.showsWorkspace() {
		// Not in shown: what it shows is the exec root, not the host's
		// files at that path.
		steps = append(steps, mount{op: pid1.OpBind, src: l.execRoot, dst: s.Workspace})
	} else {
		shownReadOnly := []string{s.Workspace}
		if s.Relaxed {
			shownReadOnly = append(shownReadOnly, home)
		}
		for _, p := range shownReadOnly {
			if p != "" && p != "/" && p != "." && hidden(p) && isDir(p) && !slices.Contains(shown, p) {
				bind(pid1.OpBindReadOnly, p, p)
			}
		}
	}
	for _, p := range s.WritablePaths {
		// A cache that does not exist yet (Go's, on a fresh machine) is
		// made, as the tool would have made it, since the test could not.
		if exists(p) || os.MkdirAll(p, 0o755) == nil {
			bind(pid1.OpBind, p, p)
		}
	}
	readable := slices.Clone(s.ReadOnlyPaths)
	// The test's tools: a PATH folder under /tmp or home would vanish, and
	// the PATH is part of what the test declares. Under home, the whole
	// installation it belongs to shows (~/.pyenv for ~/.pyenv/shims,
	// ~/.nvm for ~/.nvm/versions/node/v20/bin): a version manager's shim
	// runs an interpreter from elsewhere in it. So do the roots that
	// version managers name in their variables.
	for _, dir := range filepath.SplitList(s.Env["PATH"]) {
		if filepath.IsAbs(dir) && !under(dir, s.Workspace) {
			readable = append(readable, installRoot(filepath.Clean(dir), home))
		}
	}
	for _, v := range versionManagerVars {
		if dir := s.Env[v]; filepath.IsAbs(dir) {
			readable = append(readable, filepath.Clean(dir))
		}
	}
	// The program itself, wherever it was found.
	if testPath != "" && !under(testPath, s.ScratchDir) {
		readable = append(readable, testPath)
	}
	for _, p := range readable {
		p = filepath.Clean(p)
		if hidden(p) && exists(p) && !slices.Contains(shown, p) {
			bind(pid1.OpBindReadOnly, p, p)
		}
	}

	// What stays hidden although its parent shows: a hidden path under
	// a tmpfs and under nothing shown is hidden already.
	for _, p := range s.HidePaths {
		p = filepath.Clean(p)
		info, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if hidden(p) {
			continue
		}
		if info.IsDir() {
			steps = append(steps, mount{op: pid1.OpTmpfs, dst: p, mode: "555"})
			seals = append(seals, p)
		} else {
			if !exists(l.hiddenFile) {
				_ = os.WriteFile(l.hiddenFile, nil, 0o444)
			}
			steps = append(steps, mount{op: pid1.OpBindReadOnly, src: l.hiddenFile, dst: p})
		}
	}

	// A parent before its children; at one target, a tmpfs before a bind.
	slices.SortStableFunc(steps, func(a, b mount) int {
		if c := strings.Compare(a.dst, b.dst); c != 0 {
			return c
		}
		return boolInt(a.op != pid1.OpTmpfs) - boolInt(b.op != pid1.OpTmpfs)
	})
	plan := mountPlan{cwd: cwd, mounts: []mount{{op: pid1.OpReadOnly}}}
	plan.mounts = append(plan.mounts, steps...)
	for _, p := range seals {
		if !slices.Contains(shown, p) {
			plan.mounts = append(plan.mounts, mount{op: pid1.OpSeal, dst: p})
		}
	}
	return plan
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isDir(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.IsDir()
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// linkReadOnlyPaths is the fallback for ReadOnlyPaths without a mount
// namespace: one that lies inside the workspace gets a symlink at its
// place in the exec root, so the test finds it at its relative path.
// Elsewhere the host's file system is visible anyway.
func (s *Spec) linkReadOnlyPaths(l layout) error {
	for _, p := range s.ReadOnlyPaths {
		rel, err := filepath.Rel(s.Workspace, filepath.Clean(p))
		if err != nil || !filepath.IsLocal(rel) || !exists(p) {
			continue
		}
		dst := filepath.Join(l.execRoot, rel)
		if _, err := os.Lstat(dst); err == nil {
			continue // declared inputs inside it were copied
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(p, dst); err != nil {
			return err
		}
	}
	return nil
}

// versionManagerVars name the roots of interpreters' version managers,
// which the test reaches through shims on its PATH.
var versionManagerVars = []string{"PYENV_ROOT", "ASDF_DIR", "ASDF_DATA_DIR", "NVM_DIR", "VOLTA_HOME", "RBENV_ROOT", "GOENV_ROOT", "SDKMAN_DIR"}

// installRoot is dir's first folder below home (~/.pyenv for
// ~/.pyenv/shims), or dir itself when it is not under home.
func installRoot(dir, home string) string {
	if home == "" || home == "/" || home == "." || !under(dir, home) || dir == home {
		return dir
	}
	first, _, _ := strings.Cut(dir[len(home)+1:], "/")
	return filepath.Join(home, first)
}
