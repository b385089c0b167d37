package rules

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var hasPosition = regexp.MustCompile(`^[^:\n]+:\d+:\d+: `)

// FuzzLoad feeds arbitrary text to the evaluator as a SUITES.star and as a
// WORKSPACE: it must never panic, and every problem must come back as an
// error at a file:line:col position (what `suite` turns into exit 2).
func FuzzLoad(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, "mark(\"smoke\")\nmark(\"slow\")\n")
	}
	f.Add("test(name = 'x', cmd = 'true', srcs = glob(['**']))", "workspace(jobs = 0)")
	f.Add("def f(n):\n    return f(n)\nf(1)", "")
	f.Add("x = [1] * 100000000", "workspace(ignore = 3)")
	f.Fuzz(func(t *testing.T, suites, ws string) {
		root := t.TempDir()
		write(t, root, "WORKSPACE", ws)
		write(t, root, "pkg/SUITES.star", suites)
		write(t, root, "pkg/data.txt", "data")
		_, err := Load(root)
		if err == nil {
			return
		}
		var el ErrorList
		if !errors.As(err, &el) {
			t.Fatalf("error is not an ErrorList: %v", err)
		}
		for _, e := range el {
			if !hasPosition.MatchString(e.Error()) {
				t.Fatalf("error without a position: %q", e.Error())
			}
		}
	})
}

// fuzzSeeds are the SUITES.star files of the examples, mutated by the fuzzer.
func fuzzSeeds(f *testing.F) []string {
	var seeds []string
	filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".star") {
			if b, err := os.ReadFile(p); err == nil {
				seeds = append(seeds, string(b))
			}
		}
		return nil
	})
	if len(seeds) == 0 {
		f.Fatal("no seeds found under ../examples")
	}
	return seeds
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
