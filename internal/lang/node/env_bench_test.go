package node

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/suite-run/suite/internal/workspace"
)

// BenchmarkFingerprint: one run's fingerprint of a package in a workspace
// of 2,000 installed packages (each depending on the next two), the hidden
// lockfile parsed once as in a run, which is what a rerun pays per
// workspace.
func BenchmarkFingerprint(b *testing.B) {
	const n = 2000
	pkgs := map[string]any{}
	for i := 0; i < n; i++ {
		deps := map[string]string{}
		for j := i + 1; j < n && j <= i+2; j++ {
			deps[fmt.Sprintf("dep%d", j)] = "^1.0.0"
		}
		pkgs[fmt.Sprintf("node_modules/dep%d", i)] = map[string]any{
			"version": "1.0.0", "integrity": fmt.Sprintf("sha512-%064d", i), "dependencies": deps,
		}
	}
	lock, _ := json.Marshal(map[string]any{"packages": pkgs})
	root := writeTree(b, map[string]string{
		"package.json":                    `{"workspaces": ["a"]}`,
		"package-lock.json":               `{}`,
		"node_modules/.package-lock.json": string(lock),
		"a/package.json":                  `{"name": "a", "dependencies": {"dep0": "*"}}`,
	})
	dc, err := workspace.OpenDigestCache(filepath.Join(b.TempDir(), "digests"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fp, err := (&Fingerprinter{Root: root, Digests: dc}).Fingerprint("a")
		if err != nil || len(fp) != n {
			b.Fatalf("%d packages, %v; want %d", len(fp), err, n)
		}
	}
}
