package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestHugeGlob globs **/* over 100,000 files: evaluation finishes, every
// file is declared once, and memory stays bounded (a few hundred bytes per
// file, not copies per glob call).
func TestHugeGlob(t *testing.T) {
	root := t.TempDir()
	write(t, root, "WORKSPACE", "")
	write(t, root, "big/SUITES.star", `test(name = "all", cmd = "true", srcs = glob(["**/*"], exclude = ["SUITES.star"]))`)
	for d := 0; d < 100; d++ {
		dir := filepath.Join(root, "big", fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 1000; f++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", f)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := len(g.Tests[0].Inputs); n != 100000 {
		t.Fatalf("%d inputs, want 100000", n)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	if allocated > 512<<20 {
		t.Errorf("evaluating a 100,000-file glob allocated %d MiB, want under 512 MiB", allocated>>20)
	}
	t.Logf("100,000-file glob: %d MiB allocated in all, %d MiB heap in use after", allocated>>20, after.HeapInuse>>20)
}
