package workspace

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/bazelbuild/buildtools/build"
)

// Living beside Bazel. Bazel marks a repository's root with WORKSPACE,
// WORKSPACE.bazel, MODULE.bazel or REPO.bazel, and reads WORKSPACE as its
// own. suite's options there live in WORKSPACE.suite, which suite prefers
// and Bazel never reads; `suite init` writes it instead of touching Bazel's
// files. The repository's Bazel name is what code written for Bazel expects
// in TEST_WORKSPACE, so init carries it over.

// BazelRootFiles mark the root of a Bazel repository (besides a WORKSPACE
// that suite did not write).
var BazelRootFiles = []string{"MODULE.bazel", "REPO.bazel", "WORKSPACE.bazel"}

// IsBazelRoot reports whether dir is the root of a Bazel repository: it has
// one of BazelRootFiles, or a WORKSPACE that suite did not write
// (IsSuiteWorkspace).
func IsBazelRoot(dir string) bool {
	for _, f := range BazelRootFiles {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Mode().IsRegular() {
			return true
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, WorkspaceFile))
	return err == nil && !IsSuiteWorkspace(src)
}

// IsSuiteWorkspace reports whether the WORKSPACE file src is clearly
// suite's: it registers a mark or sets a workspace() option Bazel does not
// have, and it loads nothing and calls nothing else. An empty file, or one
// that only names the workspace, is what Bazel repositories hold, so it is
// not.
func IsSuiteWorkspace(src []byte) bool {
	f, err := build.ParseWorkspace(WorkspaceFile, src)
	if err != nil {
		return false
	}
	suite := false
	for _, stmt := range f.Stmt {
		switch s := stmt.(type) {
		case *build.CommentBlock:
		case *build.CallExpr:
			switch callName(s) {
			case "mark":
				suite = true
			case "workspace":
				for _, arg := range s.List {
					if a, ok := arg.(*build.AssignExpr); ok {
						if k, ok := a.LHS.(*build.Ident); ok && k.Name != "name" && k.Name != "managed_directories" {
							suite = true
						}
					}
				}
			default:
				return false
			}
		default: // load() and everything else
			return false
		}
	}
	return suite
}

func callName(c *build.CallExpr) string {
	if id, ok := c.X.(*build.Ident); ok {
		return id.Name
	}
	return ""
}

// BazelRepoName returns the name the Bazel repository at dir gives itself,
// or "" when it gives none: MODULE.bazel's module(repo_name = ...) or
// module(name = ...), else workspace(name = ...) in WORKSPACE.bazel or
// WORKSPACE (Bazel's precedence between those two).
func BazelRepoName(dir string) string {
	if src, err := os.ReadFile(filepath.Join(dir, "MODULE.bazel")); err == nil {
		if f, err := build.ParseModule("MODULE.bazel", src); err == nil {
			if call := firstCall(f, "module"); call != nil {
				if n := stringArg(call, "repo_name"); n != "" {
					return n
				}
				if n := stringArg(call, "name"); n != "" {
					return n
				}
			}
		}
	}
	for _, name := range []string{"WORKSPACE.bazel", WorkspaceFile} {
		src, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		f, err := build.ParseWorkspace(name, src)
		if err != nil {
			return ""
		}
		if call := firstCall(f, "workspace"); call != nil {
			return stringArg(call, "name")
		}
		return "" // Bazel reads only the first of the two that exists
	}
	return ""
}

func firstCall(f *build.File, fn string) *build.CallExpr {
	for _, stmt := range f.Stmt {
		if c, ok := stmt.(*build.CallExpr); ok && callName(c) == fn {
			return c
		}
	}
	return nil
}

func stringArg(c *build.CallExpr, key string) string {
	for _, arg := range c.List {
		a, ok := arg.(*build.AssignExpr)
		if !ok {
			continue
		}
		if k, ok := a.LHS.(*build.Ident); ok && k.Name == key {
			if s, ok := a.RHS.(*build.StringExpr); ok {
				return s.Value
			}
		}
	}
	return ""
}

// GoRepoName is the Bazel repository name Gazelle gives a Go module path:
// the host's labels reversed, then the path's elements, joined by "_",
// lower-cased, with every other character turned into "_"
// (github.com/Foo/bar-baz/v2 -> com_github_foo_bar_baz_v2).
func GoRepoName(modulePath string) string {
	elems := strings.Split(strings.ToLower(modulePath), "/")
	host := strings.Split(elems[0], ".")
	var parts []string
	for i := len(host) - 1; i >= 0; i-- {
		parts = append(parts, host[i])
	}
	parts = append(parts, elems[1:]...)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, strings.Join(parts, "_"))
}
