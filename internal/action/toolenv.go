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
	once  sync.Once
	goenv map[string]string
}

// goVars are read from `go env` once per run. GOFLAGS changes what a test
// computes, so unlike the cache locations it stays in the key.
var goVars = []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS"}

// For returns the extra variables for a test using these tools and argv.
func (t *ToolEnv) For(tools, argv []string) map[string]string {
	usesGo := len(argv) > 0 && argv[0] == "go"
	for _, tool := range tools {
		usesGo = usesGo || tool == "go"
	}
	if !usesGo {
		return nil
	}
	t.once.Do(func() {
		out, err := exec.Command("go", append([]string{"env", "-json"}, goVars...)...).Output()
		if err == nil {
			_ = json.Unmarshal(out, &t.goenv)
		}
	})
	return t.goenv
}

// CacheOnlyVars are variables that name caches: their values never enter
// an action key.
var CacheOnlyVars = map[string]bool{"GOCACHE": true, "GOMODCACHE": true, "GOPATH": true}
