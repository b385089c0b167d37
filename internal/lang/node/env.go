package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/suite-run/suite/internal/workspace"
)

// An environment fingerprint of one package maps each installed package it
// can import (transitively) to its version and integrity:
//
//	"node_modules/ms" -> "2.1.3 sha512-…"
//
// npm's installed tree describes itself in node_modules/.package-lock.json
// (the "hidden lockfile", rewritten by every install), so reading it costs
// one file and no walk of node_modules. Walking the dependency graph from
// the package keeps a bump of another package's dependency out of this
// package's key. pnpm and yarn trees are fingerprinted whole: their
// lockfile and their installed tree's state file.

// Fingerprinter takes the fingerprints. It reads each hidden lockfile once
// per run (memoized by its digest). It is safe for concurrent use.
type Fingerprinter struct {
	Root    string // absolute workspace root
	Digests *workspace.DigestCache
	// Files adds the content of every installed file to each package's
	// entry, which sees a file edited in place in node_modules.
	Files bool

	mu    sync.Mutex
	locks map[string]*lockMemo // absolute path -> parsed
	trees sync.Map             // "dir\x00skipModules" -> digest, once per run
}

type lockMemo struct {
	once sync.Once
	lock *lockFile
	err  error
}

type lockFile struct {
	Packages map[string]lockEntry `json:"packages"`
}

type lockEntry struct {
	Version              string            `json:"version"`
	Resolved             string            `json:"resolved"`
	Integrity            string            `json:"integrity"`
	Link                 bool              `json:"link"`
	Dependencies         map[string]string `json:"dependencies"`
	OptionalDependencies map[string]string `json:"optionalDependencies"`
	PeerDependencies     map[string]string `json:"peerDependencies"`
	DevDependencies      map[string]string `json:"devDependencies"`
}

// NotInstalled is the fingerprint's entry when there is no node_modules.
const NotInstalled = "(node_modules)"

// ProjectRoot returns the folder of the lockfile (or, without one, the
// outermost package.json) that governs the package in pkgDir, and its
// package manager.
func ProjectRoot(root, pkgDir string) (dir, manager string) {
	dir, manager = "", ""
	outer := pkgDir
	for d := pkgDir; ; d = parent(d) {
		for _, l := range lockfiles {
			if _, err := os.Stat(filepath.Join(root, d, l.name)); err == nil {
				return d, l.manager
			}
		}
		if _, err := os.Stat(filepath.Join(root, d, "package.json")); err == nil {
			outer = d
		}
		if d == "" {
			return outer, "npm"
		}
	}
}

func parent(d string) string {
	if d == "" {
		return ""
	}
	p := path.Dir(d)
	if p == "." {
		return ""
	}
	return p
}

// ModulesDirs are the node_modules folders (absolute) Node resolves the
// package's imports from: in its folder and each one above it up to the
// project root, those that exist.
func ModulesDirs(root, pkgDir string) []string {
	top, _ := ProjectRoot(root, pkgDir)
	var out []string
	for d := pkgDir; ; d = parent(d) {
		nm := filepath.Join(root, d, "node_modules")
		if fi, err := os.Stat(nm); err == nil && fi.IsDir() {
			out = append(out, nm)
		}
		if d == top || d == "" {
			break
		}
	}
	return out
}

// Fingerprint returns the installed packages the package in pkgDir
// (workspace-relative) can import.
func (f *Fingerprinter) Fingerprint(pkgDir string) (map[string]string, error) {
	top, manager := ProjectRoot(f.Root, pkgDir)
	out := map[string]string{}
	if manager != "npm" {
		// Whole-tree fingerprint: precise per package only for npm.
		for _, l := range lockfiles {
			if l.manager != manager {
				continue
			}
			f.digestInto(out, path.Join(top, l.name))
		}
		for _, state := range []string{".modules.yaml", ".pnpm/lock.yaml", ".yarn-state.yml", ".yarn-integrity"} {
			f.digestInto(out, path.Join(top, "node_modules", state))
		}
		if f.Files {
			out["(node_modules files)"] = f.treeDigest(filepath.Join(f.Root, top, "node_modules"), false)
		}
		if len(out) == 0 {
			out[NotInstalled] = "absent"
		}
		return out, nil
	}
	hidden := filepath.Join(f.Root, top, "node_modules", ".package-lock.json")
	lock, err := f.lock(hidden)
	if os.IsNotExist(err) {
		// npm < 7 writes no hidden lockfile: the installed tree is
		// unknown, so the whole lockfile stands for it.
		if _, statErr := os.Stat(filepath.Join(f.Root, top, "node_modules")); statErr != nil {
			out[NotInstalled] = "absent"
		}
		f.digestInto(out, path.Join(top, "package-lock.json"))
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(pkgDir, top), "/")
	w := walker{root: filepath.Join(f.Root, top), lock: lock, found: map[string]string{}, seen: map[string]bool{}}
	if f.Files {
		w.files = f.treeDigest
	}
	w.pkg(rel, true)
	if rel != "" {
		w.pkg("", true) // the root's tools (jest, vitest, …) run every package's tests
	}
	// By package name, not install location: npm moves a package between
	// node_modules folders as other packages come and go, which changes
	// nothing this package imports. A name installed in several versions
	// lists them all.
	byName := map[string][]string{}
	for loc, v := range w.found {
		name := loc[strings.LastIndex(loc, "node_modules/")+len("node_modules/"):]
		byName[name] = append(byName[name], v)
	}
	for name, vs := range byName {
		sort.Strings(vs)
		out[name] = joinVersions(vs)
	}
	return out, nil
}

// joinVersions makes one fingerprint value of a package installed in
// several versions: "1.0.0,2.0.0 integrity…" (the versions first, as for
// a single one, which `suite why` shows).
func joinVersions(vs []string) string {
	if len(vs) == 1 {
		return vs[0]
	}
	var versions, rest []string
	for _, v := range vs {
		ver, r, _ := strings.Cut(v, " ")
		versions = append(versions, ver)
		rest = append(rest, r)
	}
	return strings.Join(versions, ",") + " " + strings.Join(rest, ",")
}

func (f *Fingerprinter) digestInto(out map[string]string, rel string) {
	if d, err := f.Digests.Digest(filepath.Join(f.Root, rel)); err == nil {
		out[rel] = d.Hash[:16]
	}
}

func (f *Fingerprinter) lock(abs string) (*lockFile, error) {
	f.mu.Lock()
	if f.locks == nil {
		f.locks = map[string]*lockMemo{}
	}
	m := f.locks[abs]
	if m == nil {
		m = &lockMemo{}
		f.locks[abs] = m
	}
	f.mu.Unlock()
	m.once.Do(func() {
		b, err := os.ReadFile(abs)
		if err != nil {
			m.err = err
			return
		}
		var l lockFile
		if err := json.Unmarshal(b, &l); err != nil {
			m.err = err
			return
		}
		m.lock = &l
	})
	return m.lock, m.err
}

// walker follows dependencies through the lockfile's "packages" map, whose
// keys are install locations ("node_modules/a/node_modules/b").
type walker struct {
	root  string
	lock  *lockFile
	found map[string]string // install location -> "version integrity"
	seen  map[string]bool
	// files, when set, digests an installed package's files.
	files func(dir string, skipModules bool) string
}

// pkg visits a package of the workspace (its folder relative to the
// project root): its dependencies come from its package.json as it is
// now, which is an input of its tests.
func (w *walker) pkg(dir string, withDev bool) {
	if w.seen["\x00"+dir] {
		return
	}
	w.seen["\x00"+dir] = true
	b, err := os.ReadFile(filepath.Join(w.root, dir, "package.json"))
	if err != nil {
		return
	}
	var m Manifest
	if json.Unmarshal(b, &m) != nil {
		return
	}
	for _, n := range m.deps(withDev) {
		w.resolve(dir, n)
	}
}

// resolve finds name as Node would from a location: in its node_modules,
// then in each one above.
func (w *walker) resolve(from, name string) {
	for d := from; ; d = parent(d) {
		if path.Base(d) != "node_modules" {
			key := path.Join(d, "node_modules", name)
			if e, ok := w.lock.Packages[key]; ok {
				w.entry(key, e)
				return
			}
		}
		if d == "" {
			break
		}
	}
	w.found["node_modules/"+name] = "(not installed)"
}

func (w *walker) entry(key string, e lockEntry) {
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	if e.Link {
		w.found[key] = "workspace:" + e.Resolved
		w.pkg(e.Resolved, false)
		return
	}
	w.found[key] = strings.TrimSpace(e.Version + " " + firstNonEmpty(e.Integrity, e.Resolved))
	if w.files != nil {
		w.found[key] += " files:" + w.files(filepath.Join(w.root, filepath.FromSlash(key)), true)
	}
	var names []string
	for _, d := range []map[string]string{e.Dependencies, e.OptionalDependencies, e.PeerDependencies} {
		for n := range d {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		w.resolve(key, n)
	}
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// treeDigest digests the content of every file below dir, each through the
// digest memo, leaving out nested node_modules folders when skipModules
// (they are packages of their own).
func (f *Fingerprinter) treeDigest(dir string, skipModules bool) string {
	// Packages share their dependencies: each folder is walked once a run.
	id := fmt.Sprintf("%s\x00%v", dir, skipModules)
	if d, ok := f.trees.Load(id); ok {
		return d.(string)
	}
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != dir && skipModules && d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if dg, err := f.Digests.Digest(p); err == nil {
			fmt.Fprintf(h, "%s %s\n", strings.TrimPrefix(p, dir), dg.Hash)
		}
		return nil
	})
	d := hex.EncodeToString(h.Sum(nil))[:16]
	f.trees.Store(id, d)
	return d
}
