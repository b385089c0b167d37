package action

// This file brings installed third-party environments into the key: a
// Python interpreter's distributions, a package's node_modules. They are
// too big to be inputs file by file, and a test that imports them must
// still rerun when what is installed changes. Each environment enters the
// key as a list of installed packages with their versions and the digest
// of their records of installed files (see internal/lang/python and
// internal/lang/node), taken once per run and environment by stats and
// small reads.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/suite-run/suite/internal/lang/node"
	"github.com/suite-run/suite/internal/lang/python"
	"github.com/suite-run/suite/rules"
)

// envState is what the key holds of one environment.
type envState struct {
	name     string            // "python .venv/bin/python", "node packages/a"
	packages map[string]string // package -> version and record digest
	err      error
}

type envMemo struct {
	once  sync.Once
	state envState
}

type envTools struct {
	once   sync.Once
	python *python.Prober
	node   *node.Fingerprinter
	memo   sync.Map // environment id -> *envMemo
}

// environments returns the fingerprints of the environments an action
// reads: those of the Python interpreters that run its tools, and those it
// declares. Sorted by name.
func (k *Keyer) environments(a *Action, tools []toolInfo) []envState {
	var ids []string
	for _, t := range tools {
		if t.err == nil && t.python != "" {
			ids = append(ids, "python:"+t.python)
		}
	}
	for _, e := range a.Test.Environments {
		kind, where, _ := strings.Cut(e, ":")
		switch {
		case kind == "python":
			program := where
			if rel, ok := strings.CutPrefix(where, "//"); ok {
				program = k.inputPath(rel)
			} else if filepath.IsAbs(where) {
				program = where
			} else if p, err := lookPath(a.Env["PATH"], where); err == nil {
				program = p
			} else {
				ids = append(ids, "missing:"+e)
				continue
			}
			if interp, ok := python.Interpreter(program, a.Env["PATH"]); ok {
				ids = append(ids, "python:"+interp)
			} else {
				ids = append(ids, "missing:"+e)
			}
		case kind == "node":
			ids = append(ids, e)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]envState, 0, len(ids))
	for _, id := range ids {
		id := id
		if kind, _, _ := strings.Cut(id, ":"); kind == "python" {
			// PYTHONPATH changes sys.path.
			id += "\x00" + a.Env["PYTHONPATH"]
		}
		m, _ := k.envs.memo.LoadOrStore(id, &envMemo{})
		memo := m.(*envMemo)
		memo.once.Do(func() { memo.state = k.fingerprintEnv(id) })
		out = append(out, memo.state)
	}
	return out
}

func (k *Keyer) fingerprintEnv(id string) envState {
	k.envs.once.Do(func() {
		k.envs.python = &python.Prober{Digests: k.Digests, Files: k.EnvironmentFiles, MemoPath: k.ProbeMemo}
		k.envs.node = &node.Fingerprinter{Root: k.Root, Digests: k.Digests, Files: k.EnvironmentFiles}
	})
	kind, rest, _ := strings.Cut(id, ":")
	switch kind {
	case "python":
		interp, pythonpath, _ := strings.Cut(rest, "\x00")
		st := envState{name: "python " + k.display(interp)}
		env, err := k.envs.python.Environment(interp, pythonpath)
		if err != nil {
			st.err = err
			return st
		}
		st.packages = env.Packages
		return st
	case "node":
		st := envState{name: "node " + displayDir(rest)}
		st.packages, st.err = k.envs.node.Fingerprint(rest)
		return st
	}
	return envState{name: id, err: fmt.Errorf("no such program")}
}

func displayDir(d string) string {
	if d == "" {
		return "."
	}
	return d
}

// display shows a path inside the workspace relative to it, so the key
// does not depend on where the workspace is checked out.
func (k *Keyer) display(p string) string {
	if rel, err := filepath.Rel(k.Root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return p
}

// envDigest is what the key holds of an action's environments: a digest
// of every environment's name and packages ("" for none). An environment
// that could not be read enters with its error, so it reruns once it can.
func envDigest(envs []envState) string {
	if len(envs) == 0 {
		return ""
	}
	h := sha256.New()
	for _, e := range envs {
		fmt.Fprintf(h, "%q\n", e.name)
		if e.err != nil {
			fmt.Fprintf(h, "error %q\n", e.err.Error())
		}
		for _, n := range slices.Sorted(maps.Keys(e.packages)) {
			fmt.Fprintf(h, "%q %q\n", n, e.packages[n])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// envManifest flattens the environments for Manifest.Envs:
// "name\x00package" -> version.
func envManifest(envs []envState) map[string]string {
	if len(envs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, e := range envs {
		if e.err != nil {
			m[e.name+"\x00(error)"] = e.err.Error()
		}
		for n, v := range e.packages {
			m[e.name+"\x00"+n] = v
		}
	}
	return m
}

// environmentPaths are the folders of installed environments (absolute) a
// test must see, read-only, where it expects them: the virtualenv of a
// Python tool, and the node_modules folders of a declared Node package.
func environmentPaths(root string, t *rules.Test, pathVar string) []string {
	var out []string
	for _, name := range t.Tools {
		if p, err := lookPath(pathVar, name); err == nil {
			if v := python.VenvRoot(p); v != "" {
				out = append(out, v)
			}
		}
	}
	for _, e := range t.Environments {
		kind, where, _ := strings.Cut(e, ":")
		switch kind {
		case "python":
			if rel, ok := strings.CutPrefix(where, "//"); ok {
				if v := python.VenvRoot(filepath.Join(root, filepath.FromSlash(rel))); v != "" {
					out = append(out, v)
				}
			}
		case "node":
			out = append(out, node.ModulesDirs(root, where)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
