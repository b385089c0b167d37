package lint

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiffExact(t *testing.T) {
	if got := Diff("SUITES.star", []byte("a\n"), []byte("a\n")); got != "" {
		t.Errorf("Diff of equal files = %q, want \"\"", got)
	}

	old := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n"
	new := "1\n2\n3\nfour\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\nseventeen\n"
	want := `--- pkg/SUITES.star.orig
+++ pkg/SUITES.star
@@ -1,7 +1,7 @@
 1
 2
 3
-4
+four
 5
 6
 7
@@ -14,3 +14,4 @@
 14
 15
 16
+seventeen
`
	if got := Diff("pkg/SUITES.star", []byte(old), []byte(new)); got != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", got, want)
	}

	// An empty side of a hunk counts from the line before it, as diff -u does.
	want = `--- WORKSPACE.orig
+++ WORKSPACE
@@ -0,0 +1 @@
+x
`
	if got := Diff("WORKSPACE", nil, []byte("x\n")); got != want {
		t.Errorf("Diff from empty:\n%s\nwant:\n%s", got, want)
	}
	want = `--- WORKSPACE.orig
+++ WORKSPACE
@@ -1 +1 @@
-x
\ No newline at end of file
+x
`
	if got := Diff("WORKSPACE", []byte("x"), []byte("x\n")); got != want {
		t.Errorf("Diff adding the final newline:\n%s\nwant:\n%s", got, want)
	}
}

// TestDiffAppliesWithPatch: what `suite fmt --diff` prints is a patch the real patch(1)
// applies, turning each golden input into its golden output, and random edits of a file
// into the edited file.
func TestDiffAppliesWithPatch(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Skip("patch is not on PATH")
	}
	type pair struct{ old, new []byte }
	var pairs []pair
	for _, c := range goldenCases(t) {
		in, err1 := os.ReadFile(c.in)
		golden, err2 := os.ReadFile(c.golden)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		pairs = append(pairs, pair{in, golden})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "d", "", "e"}
	randomFile := func() []byte {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte('\n')
		}
		s := b.String()
		if rng.IntN(4) == 0 && len(s) > 0 {
			s = s[:len(s)-1] // no final newline
		}
		return []byte(s)
	}
	for range 200 {
		pairs = append(pairs, pair{randomFile(), randomFile()})
	}

	dir := t.TempDir()
	for i, p := range pairs {
		if err := os.WriteFile(filepath.Join(dir, "SUITES.star"), p.old, 0o666); err != nil {
			t.Fatal(err)
		}
		d := Diff("SUITES.star", p.old, p.new)
		if bytes.Equal(p.old, p.new) {
			if d != "" {
				t.Errorf("pair %d: equal files gave a diff", i)
			}
			continue
		}
		cmd := exec.Command(patch, "-s", "-p0", "--no-backup-if-mismatch")
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(d)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pair %d: patch: %v\n%s\ndiff:\n%s", i, err, out, d)
		}
		got, err := os.ReadFile(filepath.Join(dir, "SUITES.star"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p.new) {
			t.Fatalf("pair %d: patched file is\n%q\nwant\n%q\ndiff:\n%s", i, got, p.new, d)
		}
	}
}
