package action

import (
	"encoding/json"
	"os/exec"
	"sync"
)

// ToolEnv supplies environment variables a tool needs from the host to work
// well inside the hermetic environment, where HOME is a fresh directory.
// Go's build and module caches default to folders under HOME, so without
// this every Go test would rebuild the standard library and re-download its
// modules. The variables point at caches, which never change what a test
// computes, so they are not part of the action key.
type ToolEnv struct {
	once   sync.Once
	goenv  map[string]string
	goroot string
}

// goVars are read from `go env` once per run. GOFLAGS changes what a test
// computes, so unlike the cache locations it stays in the key.
var goVars = []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS"}

func usesGo(tools, argv []string) bool {
	uses := len(argv) > 0 && argv[0] == "go"
	for _, tool := range tools {
		uses = uses || tool == "go"
	}
	return uses
}

func (t *ToolEnv) readGoEnv() {
	t.once.Do(func() {
		out, err := exec.Command("go", append([]string{"env", "-json", "GOROOT"}, goVars...)...).Output()
		if err == nil {
			_ = json.Unmarshal(out, &t.goenv)
		}
		// GOROOT is not passed on: the go command finds it from where
		// it is installed, and a test may use another toolchain.
		t.goroot = t.goenv["GOROOT"]
		delete(t.goenv, "GOROOT")
	})
}

// For returns the extra variables for a test using these tools and argv.
func (t *ToolEnv) For(tools, argv []string) map[string]string {
	if !usesGo(tools, argv) {
		return nil
	}
	t.readGoEnv()
	return t.goenv
}

// Paths returns the host folders a test using these tools must reach in
// the sandbox, which otherwise hides home: the caches it writes (Go's
// build and module caches, shared with the user's own go commands, which
// is what makes them worth having) and the toolchain it reads (GOROOT,
// which can lie under home, e.g. ~/sdk/go1.x).
func (t *ToolEnv) Paths(tools, argv []string) (writable, readable []string) {
	if !usesGo(tools, argv) {
		return nil, nil
	}
	t.readGoEnv()
	for _, v := range []string{"GOCACHE", "GOMODCACHE"} {
		if p := t.goenv[v]; p != "" && p != "off" {
			writable = append(writable, p)
		}
	}
	if t.goroot != "" {
		readable = append(readable, t.goroot)
	}
	return writable, readable
}

// CacheOnlyVars are variables that name caches: their values never enter
// an action key.
var CacheOnlyVars = map[string]bool{"GOCACHE": true, "GOMODCACHE": true, "GOPATH": true}
