package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/workspace"
)

// The workspace of issue 2's target: 2,000 packages of 5 tests, each test
// globbing its own folder of one file, marks set as a pytest user would.
const (
	benchPackages = 2000
	benchTests    = 5
)

func writeBenchWorkspace(b *testing.B) string {
	b.Helper()
	root := b.TempDir()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "WORKSPACE"), []byte(`workspace(name = "bench")
mark("smoke", doc = "critical path")
mark("slow", doc = "slow")
mark("e2e", doc = "end to end")
`), 0o644))
	must(os.WriteFile(filepath.Join(root, "SUITES.star"), []byte(`suite(name = "smoke", marks = "smoke")
suite(name = "regression", marks = "not slow and not e2e")
`), 0o644))
	n := 0
	for p := 0; p < benchPackages; p++ {
		pkg := fmt.Sprintf("p%04d", p)
		var s strings.Builder
		for t := 0; t < benchTests; t++ {
			var marks []string
			if n%5 == 0 {
				marks = append(marks, `"smoke"`)
			}
			if n%10 == 3 {
				marks = append(marks, `"slow"`)
			}
			if n%20 == 7 {
				marks = append(marks, `"e2e"`)
			}
			n++
			fmt.Fprintf(&s, "test(\n    name = \"t%d\",\n    cmd = [\"sh\", \"-c\", \"cat t%d/* >/dev/null\"],\n    srcs = glob([\"t%d/**\"]),\n    marks = [%s],\n)\n\n",
				t, t, t, strings.Join(marks, ", "))
			dir := filepath.Join(root, pkg, fmt.Sprintf("t%d", t))
			must(os.MkdirAll(dir, 0o755))
			must(os.WriteFile(filepath.Join(dir, "f0.txt"), []byte("input\n"), 0o644))
		}
		must(os.WriteFile(filepath.Join(root, pkg, "SUITES.star"), []byte(s.String()), 0o644))
	}
	return root
}

// BenchmarkLoadWorkspace evaluates 2,000 packages × 5 tests: discovery,
// Starlark, globs and linking (the part of `suite list` before selection).
func BenchmarkLoadWorkspace(b *testing.B) {
	root := writeBenchWorkspace(b)
	for b.Loop() {
		g, err := Load(root)
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Tests) != benchPackages*benchTests {
			b.Fatalf("loaded %d tests, want %d", len(g.Tests), benchPackages*benchTests)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(benchPackages*benchTests), "ns/test")
}

// BenchmarkLoadCached loads the same workspace as a rerun with nothing
// changed does: the graph from .suite/graph, once every folder, file and
// symlink evaluation read stats as it did.
func BenchmarkLoadCached(b *testing.B) {
	root := writeBenchWorkspace(b)
	cacheFile := filepath.Join(root, workspace.OutputDir, "graph")
	if err := os.Mkdir(filepath.Dir(cacheFile), 0o755); err != nil {
		b.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // past the racy window, as a checkout's files are
	if _, err := LoadCached(root, cacheFile); err != nil {
		b.Fatal(err)
	}
	if readGraphCache(cacheFile, root, workspace.ExecutableIdentity()) == nil {
		b.Fatal("the graph was not cached")
	}
	for b.Loop() {
		g, err := LoadCached(root, cacheFile)
		if err != nil {
			b.Fatal(err)
		}
		if len(g.Tests) != benchPackages*benchTests {
			b.Fatalf("loaded %d tests, want %d", len(g.Tests), benchPackages*benchTests)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(benchPackages*benchTests), "ns/test")
}

// BenchmarkSelectSuite selects a suite's tests from the loaded graph, by
// its targets and mark expression.
func BenchmarkSelectSuite(b *testing.B) {
	g, err := Load(writeBenchWorkspace(b))
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"smoke", "regression"} {
		s := g.Suite(name)
		b.Run(name, func(b *testing.B) {
			var n int
			for b.Loop() {
				n = len(g.Select(SuiteQuery(s)))
			}
			if n == 0 {
				b.Fatal("selected nothing")
			}
			b.ReportMetric(float64(n), "tests")
		})
	}
}
