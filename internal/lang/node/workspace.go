// Package node holds what suite knows about JavaScript projects: the
// packages of an npm, pnpm or yarn workspace (or a single-package repo) and
// how they depend on each other, and a fingerprint of the installed
// node_modules tree restricted to what one package can import.
package node

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Files reads a workspace's files; paths are workspace-relative with
// slashes. Rules give it a reader that records what evaluation read.
type Files interface {
	ReadFile(rel string) ([]byte, error)
	IsFile(rel string) bool
	// Dirs lists the sub-folders of a folder, sorted.
	Dirs(rel string) []string
}

// Manifest is the part of a package.json suite reads.
type Manifest struct {
	Name                 string            `json:"name"`
	Version              string            `json:"version"`
	Scripts              map[string]string `json:"scripts"`
	Dependencies         map[string]string `json:"dependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
	Workspaces           json.RawMessage   `json:"workspaces"`
	// Suite is suite's own field: {"marks": ["slow"]}.
	Suite struct {
		Marks []string `json:"marks"`
	} `json:"suite"`
}

// deps lists the names a package imports from; dev dependencies count only
// for the package whose tests run.
func (m *Manifest) deps(withDev bool) []string {
	set := map[string]bool{}
	for _, d := range []map[string]string{m.Dependencies, m.OptionalDependencies, m.PeerDependencies} {
		for n := range d {
			set[n] = true
		}
	}
	if withDev {
		for n := range m.DevDependencies {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Package is one package of a workspace.
type Package struct {
	Dir      string // workspace-relative ("" = the workspace root)
	Manifest *Manifest
	// WorkspaceDeps are the folders of the workspace packages it depends
	// on, transitively, sorted.
	WorkspaceDeps []string
}

// Workspace is a JavaScript project: its root package and the packages its
// workspaces name (none for a single-package repo).
type Workspace struct {
	Dir      string // the folder of the root package.json
	Manager  string // "npm", "pnpm" or "yarn"
	Lockfile string // workspace-relative, "" when there is none
	Root     *Manifest
	Packages []*Package // the root package first when it is one, then by folder
}

// Lockfiles, by the package manager that writes them.
var lockfiles = []struct{ name, manager string }{
	{"pnpm-lock.yaml", "pnpm"},
	{"yarn.lock", "yarn"},
	{"package-lock.json", "npm"},
	{"npm-shrinkwrap.json", "npm"},
}

// ReadWorkspace reads the JavaScript project whose root package.json is in
// dir.
func ReadWorkspace(fs Files, dir string) (*Workspace, error) {
	root, err := readManifest(fs, path.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	ws := &Workspace{Dir: dir, Manager: "npm", Root: root}
	for _, l := range lockfiles {
		if fs.IsFile(path.Join(dir, l.name)) {
			ws.Manager, ws.Lockfile = l.manager, path.Join(dir, l.name)
			break
		}
	}
	patterns, err := workspacePatterns(fs, dir, root)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Package{}
	var pkgs []*Package
	// A workspace root's own test script runs its packages' (npm test
	// --workspaces, turbo run test, pnpm -r test): it is no package of
	// its own.
	if len(patterns) == 0 {
		pkgs = append(pkgs, &Package{Dir: dir, Manifest: root})
	}
	seen := map[string]bool{dir: true}
	for _, pat := range patterns {
		exclude := strings.HasPrefix(pat, "!")
		for _, d := range matchDirs(fs, dir, strings.TrimPrefix(strings.TrimSuffix(pat, "/"), "!")) {
			if exclude {
				seen[d] = true
				continue
			}
			if seen[d] {
				continue
			}
			m, err := readManifest(fs, path.Join(d, "package.json"))
			if err != nil {
				continue // a folder the pattern matches that is no package
			}
			seen[d] = true
			pkgs = append(pkgs, &Package{Dir: d, Manifest: m})
		}
	}
	for _, p := range pkgs {
		if p.Manifest.Name != "" {
			byName[p.Manifest.Name] = p
		}
	}
	for _, p := range pkgs {
		set := map[string]bool{}
		var visit func(q *Package, withDev bool)
		visit = func(q *Package, withDev bool) {
			for _, n := range q.Manifest.deps(withDev) {
				if d := byName[n]; d != nil && d != p && !set[d.Dir] {
					set[d.Dir] = true
					visit(d, false)
				}
			}
		}
		visit(p, true)
		for d := range set {
			p.WorkspaceDeps = append(p.WorkspaceDeps, d)
		}
		sort.Strings(p.WorkspaceDeps)
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		if (pkgs[i].Dir == dir) != (pkgs[j].Dir == dir) {
			return pkgs[i].Dir == dir
		}
		return pkgs[i].Dir < pkgs[j].Dir
	})
	ws.Packages = pkgs
	return ws, nil
}

func readManifest(fs Files, rel string) (*Manifest, error) {
	b, err := fs.ReadFile(rel)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", rel, err)
	}
	return &m, nil
}

// workspacePatterns are the package folders the root names: package.json's
// "workspaces" (a list, or yarn's {"packages": [...]}) or
// pnpm-workspace.yaml's "packages".
func workspacePatterns(fs Files, dir string, root *Manifest) ([]string, error) {
	if b, err := fs.ReadFile(path.Join(dir, "pnpm-workspace.yaml")); err == nil {
		return pnpmPackages(b), nil
	}
	if len(root.Workspaces) == 0 {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(root.Workspaces, &list); err == nil {
		return list, nil
	}
	var obj struct {
		Packages []string `json:"packages"`
	}
	if err := json.Unmarshal(root.Workspaces, &obj); err != nil {
		return nil, fmt.Errorf("%s: workspaces: want a list of folder patterns", path.Join(dir, "package.json"))
	}
	return obj.Packages, nil
}

// pnpmPackages reads the "packages:" list of pnpm-workspace.yaml, the one
// part of it suite needs; a YAML parser would be a dependency for a list.
func pnpmPackages(b []byte) []string {
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "packages:"):
			in = true
		case in && strings.HasPrefix(trimmed, "- "):
			v := strings.TrimSpace(strings.TrimPrefix(trimmed, "- "))
			out = append(out, strings.Trim(v, `"'`))
		case in && trimmed != "" && !strings.HasPrefix(trimmed, "#") && line[0] != ' ' && line[0] != '\t':
			in = false
		}
	}
	return out
}

// matchDirs returns the folders below dir a workspace pattern matches
// ("packages/*", "apps/**", "tools/cli"), never inside node_modules.
func matchDirs(fs Files, dir, pattern string) []string {
	cur := []string{dir}
	for _, seg := range strings.Split(pattern, "/") {
		var next []string
		for _, c := range cur {
			switch {
			case seg == "**":
				next = append(next, c)
				next = append(next, allDirs(fs, c)...)
			case strings.ContainsAny(seg, "*?["):
				for _, d := range fs.Dirs(c) {
					if ok, _ := path.Match(seg, d); ok && d != "node_modules" {
						next = append(next, path.Join(c, d))
					}
				}
			case seg == "." || seg == "":
				next = append(next, c)
			default:
				next = append(next, path.Join(c, seg))
			}
		}
		cur = next
	}
	sort.Strings(cur)
	return cur
}

func allDirs(fs Files, dir string) []string {
	var out []string
	for _, d := range fs.Dirs(dir) {
		if d == "node_modules" || strings.HasPrefix(d, ".") {
			continue
		}
		sub := path.Join(dir, d)
		out = append(out, sub)
		out = append(out, allDirs(fs, sub)...)
	}
	return out
}
