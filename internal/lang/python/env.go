package python

// This file holds what suite knows about Python beyond a test's own
// sources: which interpreter runs a program, and a fingerprint of the
// environment that interpreter imports third-party code from (a virtualenv
// or the interpreter's site-packages), cheap enough to take on every run.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/suite-run/suite/internal/workspace"
)

var interpreterName = regexp.MustCompile(`^(python|pypy)[0-9.]*$`)

// Interpreter returns the Python interpreter that runs program (an
// absolute path as PATH found it, symlinks not resolved): program itself
// when it is named like an interpreter, or the one its #! line names
// (`#!/usr/bin/env python3` is looked up in pathVar). ok is false for
// programs Python does not run.
func Interpreter(program, pathVar string) (interp string, ok bool) {
	if interpreterName.MatchString(filepath.Base(program)) {
		return program, true
	}
	f, err := os.Open(program)
	if err != nil {
		return "", false
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 512).ReadString('\n')
	if err != nil && line == "" || !strings.HasPrefix(line, "#!") {
		return "", false
	}
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(fields) == 0 {
		return "", false
	}
	cmd := fields[0]
	if filepath.Base(cmd) == "env" && len(fields) > 1 {
		cmd = lookPath(fields[len(fields)-1], pathVar)
	}
	if cmd == "" || !interpreterName.MatchString(filepath.Base(cmd)) {
		return "", false
	}
	return cmd, true
}

func lookPath(name, pathVar string) string {
	for _, dir := range filepath.SplitList(pathVar) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// VenvRoot returns the virtualenv a program belongs to: the folder above
// its bin/ holding pyvenv.cfg, or "" when it is not in one.
func VenvRoot(program string) string {
	root := filepath.Dir(filepath.Dir(program))
	if _, err := os.Stat(filepath.Join(root, "pyvenv.cfg")); err == nil {
		return root
	}
	return ""
}

// InterpreterKey is the entry of Environment.Packages for the interpreter
// itself: no distribution name has parentheses.
const InterpreterKey = "(python)"

// Environment is what an interpreter imports from: the interpreter itself
// and every distribution installed on its sys.path.
type Environment struct {
	Interpreter string // as run, e.g. /repo/.venv/bin/python
	Version     string // sys.version
	Prefix      string // sys.prefix: the virtualenv, or the installation
	// Packages maps each installed distribution's name (lower case) to its
	// version and the digest of its record of installed files (RECORD, or
	// METADATA/PKG-INFO where there is none), and each .pth file (which
	// extends sys.path, as editable installs do) to its digest.
	Packages map[string]string
}

// Prober takes environment fingerprints. Asking the interpreter for its
// sys.path costs a process start, so it is done once per interpreter and
// PYTHONPATH in a run; the distributions are listed and their records
// digested (memoized by stat) on each call. It is safe for concurrent use.
type Prober struct {
	Digests *workspace.DigestCache
	// Files adds the content of every installed file to each
	// distribution's entry (see installedFilesDigest).
	Files bool
	// MemoPath, when set, is where answers of interpreters are kept
	// across runs (see probememo.go).
	MemoPath string

	mu       sync.Mutex
	probes   map[string]*probe
	memoOnce sync.Once
	memo     map[string]probeMemoEntry
}

type probe struct {
	once sync.Once
	info probeInfo
	err  error
}

type probeInfo struct {
	Version string   `json:"version"`
	Prefix  string   `json:"prefix"`
	Path    []string `json:"path"`
}

// probeScript prints what the fingerprint needs of sys. -I is not used:
// PYTHONPATH is part of the test's environment; the user site is not
// (the test's HOME is its private TEST_TMPDIR), hence -s.
const probeScript = `import sys, json; print(json.dumps({"version": sys.version, "prefix": sys.prefix, "path": sys.path}))`

func (p *Prober) probe(interp, pythonpath string) (probeInfo, error) {
	id := interp + "\x00" + pythonpath
	p.mu.Lock()
	if p.probes == nil {
		p.probes = map[string]*probe{}
	}
	pr := p.probes[id]
	if pr == nil {
		pr = &probe{}
		p.probes[id] = pr
	}
	p.mu.Unlock()
	pr.once.Do(func() {
		if info, ok := p.remembered(id, interp); ok {
			pr.info = info
			return
		}
		recorded := nowNano()
		defer func() {
			if pr.err == nil {
				p.remember(id, interp, pr.info, recorded)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, interp, "-s", "-c", probeScript)
		cmd.Env = []string{"PYTHONNOUSERSITE=1", "PATH=/usr/bin:/bin"}
		if pythonpath != "" {
			cmd.Env = append(cmd.Env, "PYTHONPATH="+pythonpath)
		}
		cmd.Dir = os.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			pr.err = fmt.Errorf("%s cannot tell its sys.path: %v %s", interp, err, strings.TrimSpace(stderr.String()))
			return
		}
		pr.err = json.Unmarshal(out, &pr.info)
	})
	return pr.info, pr.err
}

// Environment fingerprints the environment interp imports from, with the
// test's PYTHONPATH.
func (p *Prober) Environment(interp, pythonpath string) (*Environment, error) {
	info, err := p.probe(interp, pythonpath)
	if err != nil {
		return nil, err
	}
	env := &Environment{Interpreter: interp, Version: info.Version, Prefix: info.Prefix, Packages: map[string]string{}}
	real, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return nil, err
	}
	d, err := p.Digests.Digest(real)
	if err != nil {
		return nil, err
	}
	version, _, _ := strings.Cut(info.Version, " ")
	env.Packages[InterpreterKey] = version + " " + d.Hash[:16]
	for _, dir := range info.Path {
		if !filepath.IsAbs(dir) {
			continue // the test's own folder: its files are inputs
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // a zip (the standard library's) or a missing folder
		}
		for _, e := range entries {
			name := e.Name()
			var key, value string
			switch {
			case strings.HasSuffix(name, ".dist-info") || strings.HasSuffix(name, ".egg-info"):
				dist, version := splitDistName(strings.TrimSuffix(strings.TrimSuffix(name, ".dist-info"), ".egg-info"))
				d, ok := p.recordDigest(filepath.Join(dir, name), e.IsDir())
				if !ok {
					continue
				}
				key, value = dist, version+" "+d
				if p.Files && e.IsDir() {
					files, err := p.installedFilesDigest(dir, filepath.Join(dir, name, "RECORD"))
					if err != nil {
						files = "unlisted" // no RECORD: Debian's packages, eggs
					}
					value += " files:" + files
				}
			case strings.HasSuffix(name, ".pth") || strings.HasSuffix(name, ".egg-link"):
				d, err := p.Digests.Digest(filepath.Join(dir, name))
				if err != nil {
					continue
				}
				key, value = name, d.Hash[:16]
			default:
				continue
			}
			// The first on sys.path is the one imported.
			if _, seen := env.Packages[key]; !seen {
				env.Packages[key] = value
			}
		}
	}
	return env, nil
}

// recordDigest digests a distribution's list of installed files, which
// changes whenever a reinstall changes any of them (it holds their
// hashes); Debian's packages and old eggs have only their metadata.
func (p *Prober) recordDigest(meta string, isDir bool) (string, bool) {
	if !isDir {
		d, err := p.Digests.Digest(meta) // an .egg-info file is PKG-INFO itself
		return d.Hash[:16], err == nil
	}
	for _, f := range []string{"RECORD", "installed-files.txt", "SOURCES.txt", "METADATA", "PKG-INFO"} {
		if d, err := p.Digests.Digest(filepath.Join(meta, f)); err == nil {
			return d.Hash[:16], true
		}
	}
	return "", false
}

// splitDistName splits "name-1.2.3" (or Debian's "name-1.2.3.egg" with a
// Python tag) into a lower-case name and a version.
func splitDistName(s string) (name, version string) {
	i := strings.IndexByte(s, '-')
	if i < 0 {
		return strings.ToLower(s), ""
	}
	name, version = s[:i], s[i+1:]
	if j := strings.Index(version, "-py"); j >= 0 {
		version = version[:j]
	}
	return strings.ToLower(strings.ReplaceAll(name, "_", "-")), version
}

// Describe lists the environment's packages as "name version", sorted.
func (e *Environment) Describe() []string {
	out := make([]string, 0, len(e.Packages))
	for n, v := range e.Packages {
		out = append(out, n+" "+v)
	}
	sort.Strings(out)
	return out
}

// VenvDirs are the folder names of a project virtualenv, in the order
// they are looked for in a folder.
var VenvDirs = []string{".venv", "venv"}

// FindVenv returns the project virtualenv (workspace-relative folder)
// nearest to dir: in dir or a folder above it, the first of VenvDirs
// holding pyvenv.cfg; "" when there is none. isFile reads the workspace.
func FindVenv(dir string, isFile func(rel string) bool) string {
	for d := dir; ; {
		for _, v := range VenvDirs {
			rel := strings.TrimPrefix(d+"/"+v, "/")
			if isFile(rel + "/pyvenv.cfg") {
				return rel
			}
		}
		if d == "" {
			return ""
		}
		d = filepath.ToSlash(filepath.Dir(d))
		if d == "." {
			d = ""
		}
	}
}
