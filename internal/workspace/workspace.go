// Package workspace finds the root of a monorepo, discovers its packages
// (directories holding a SUITES.star) and lists the files a package owns,
// refusing any path that would lead outside the workspace.
package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// File names with a meaning to suite.
const (
	// WorkspaceFile marks the root of a workspace and holds its options.
	WorkspaceFile = "WORKSPACE"
	// SuiteWorkspaceFile is WorkspaceFile under the name a Bazel
	// repository leaves to suite (Bazel reads WORKSPACE as its own); where
	// both exist, suite reads this one (see bazel.go).
	SuiteWorkspaceFile = "WORKSPACE.suite"
	PackageFile        = "SUITES.star"
	// OutputDir holds logs and per-run state inside the workspace; it is
	// never scanned for packages or matched by globs.
	OutputDir = ".suite"
	// DurationsFile, at the root, is what `suite durations` writes for CI
	// shards to split by. It is kept in version control, yet, being suite's
	// own output, never an input.
	DurationsFile = ".suite-durations.json"
)

// DefaultIgnore are the folders never scanned when WORKSPACE names none.
// bazel-* are the links Bazel leaves at a repository's root (bazel-bin,
// bazel-out, bazel-testlogs, bazel-<name>), which lead into its output
// base, outside the workspace: a glob that met them would be an error.
var DefaultIgnore = []string{".git", "node_modules", "bazel-*"}

// ErrNoWorkspace is returned when no WORKSPACE file is found above a directory.
var ErrNoWorkspace = errors.New("no WORKSPACE.suite or WORKSPACE file found in this directory or any parent (run `suite init` to create one)")

// FindRoot returns the nearest directory at or above dir holding a
// WORKSPACE.suite or WORKSPACE file, as an absolute, symlink-free path.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", err
	}
	for d := abs; ; {
		if RootFile(d) != "" {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", ErrNoWorkspace
		}
		d = parent
	}
}

// RootFile returns the name of the file holding the options of the
// workspace rooted at root: SuiteWorkspaceFile when it exists, else
// WorkspaceFile, else "" (root is no workspace root).
func RootFile(root string) string {
	for _, name := range []string{SuiteWorkspaceFile, WorkspaceFile} {
		if fi, err := os.Stat(filepath.Join(root, name)); err == nil && fi.Mode().IsRegular() {
			return name
		}
	}
	return ""
}

// RelPackage returns dir as a slash-separated path relative to root, the
// package path of the current directory. It is an error for dir to lie
// outside root.
func RelPackage(root, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the workspace %s", dir, root)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

// Ignorer decides which folders (and symlinks) are never scanned. An entry
// without a slash matches an entry of that name anywhere, and may be a
// pattern (path.Match: "bazel-*"); one with a slash matches that
// workspace-relative path.
type Ignorer struct {
	names    map[string]bool
	patterns []string
	paths    map[string]bool
}

// NewIgnorer builds an Ignorer from WORKSPACE's ignore list. The output
// folder is always ignored.
func NewIgnorer(entries []string) *Ignorer {
	ig := &Ignorer{names: map[string]bool{OutputDir: true}, paths: map[string]bool{}}
	for _, e := range entries {
		e = strings.Trim(path.Clean(e), "/")
		switch {
		case strings.Contains(e, "/"):
			ig.paths[e] = true
		case strings.ContainsAny(e, "*?["):
			ig.patterns = append(ig.patterns, e)
		default:
			ig.names[e] = true
		}
	}
	return ig
}

// Ignored reports whether the folder or symlink at the workspace-relative
// path rel is skipped.
func (ig *Ignorer) Ignored(rel string) bool {
	base := path.Base(rel)
	if ig.names[base] || ig.paths[rel] {
		return true
	}
	for _, p := range ig.patterns {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// CheckIgnore validates one entry of WORKSPACE's ignore list.
func CheckIgnore(entry string) error {
	if _, err := path.Match(entry, ""); err != nil {
		return fmt.Errorf("ignore: %q is not a valid pattern", entry)
	}
	return nil
}

// Inside reports whether the absolute path p lies within root.
func Inside(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// CheckPath validates a workspace-relative slash path written by a user:
// it must be relative, clean of ".." and NUL, and, if it exists, must not
// resolve through a symlink to a place outside the workspace.
func CheckPath(root, rel string) error {
	if err := CheckRel(rel); err != nil {
		return err
	}
	abs := filepath.Join(root, filepath.FromSlash(rel))
	if real, err := filepath.EvalSymlinks(abs); err == nil && !Inside(root, real) {
		return fmt.Errorf("path %q resolves through a symlink to %s, outside the workspace", rel, real)
	}
	return nil
}

// CheckRel checks a user-written relative path without touching the file
// system: not empty, not absolute, no NUL, no "..".
func CheckRel(rel string) error {
	switch {
	case rel == "":
		return errors.New("empty path")
	case strings.ContainsRune(rel, 0):
		return fmt.Errorf("path %q contains a NUL byte", rel)
	case strings.HasPrefix(rel, "/"):
		return fmt.Errorf("absolute path %q: paths are relative to the package, or start with // for the workspace root", rel)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return fmt.Errorf("path %q leaves the workspace: \"..\" is not allowed; name files inside the workspace, from its root with //", rel)
		}
	}
	return nil
}

// StatInput checks a declared input, written relative to the workspace
// root, and returns what it resolves to. It costs one lstat per path
// component, where resolving every symlink from / would cost several: this
// is on the path of every file a SUITES.star names.
func StatInput(root, rel string) (fs.FileInfo, error) {
	if err := CheckRel(rel); err != nil {
		return nil, err
	}
	cur := root
	var fi fs.FileInfo
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		cur += string(filepath.Separator) + c
		var err error
		if fi, err = os.Lstat(cur); err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			// Rare: resolve the whole path the slow way.
			abs := filepath.Join(root, filepath.FromSlash(rel))
			real, err := filepath.EvalSymlinks(abs)
			if err != nil {
				return nil, err
			}
			if !Inside(root, real) {
				return nil, fmt.Errorf("path %q resolves through a symlink to %s, outside the workspace", rel, real)
			}
			return os.Stat(real)
		}
	}
	if fi == nil {
		return os.Stat(root)
	}
	return fi, nil
}
