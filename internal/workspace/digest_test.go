package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// openDigestCache opens a memo in a temp dir whose clock runs an hour ahead,
// so files the test just wrote are past racyWindow and memos are trusted.
func openDigestCache(t testing.TB, path string) *DigestCache {
	t.Helper()
	c, err := OpenDigestCache(path)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	return c
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func mustDigest(t testing.TB, c *DigestCache, path string) FileDigest {
	t.Helper()
	d, err := c.Digest(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDigestContentSizeAndMode(t *testing.T) {
	dir := t.TempDir()
	c := openDigestCache(t, filepath.Join(dir, "digests"))
	src, tool := filepath.Join(dir, "lib.py"), filepath.Join(dir, "run.sh")
	writeFile(t, src, "import os\n", 0o644)
	writeFile(t, tool, "#!/bin/sh\n", 0o755)

	if got, want := mustDigest(t, c, src), (FileDigest{sha256Hex("import os\n"), 10, false}); got != want {
		t.Errorf("lib.py: got %+v, want %+v", got, want)
	}
	if got := mustDigest(t, c, tool); !got.Executable {
		t.Errorf("run.sh: got %+v, want executable", got)
	}
	// chmod alone changes the digest's executable bit (a test's inputs
	// carry it into the key).
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := mustDigest(t, c, src); !got.Executable || got.Hash != sha256Hex("import os\n") {
		t.Errorf("lib.py after chmod +x: got %+v", got)
	}
}

func TestDigestWarmLookupReadsNothing(t *testing.T) {
	dir := t.TempDir()
	c := openDigestCache(t, filepath.Join(dir, "digests"))
	var paths []string
	for i := range 500 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.go", i))
		writeFile(t, p, fmt.Sprintf("package f%d\n", i), 0o644)
		paths = append(paths, p)
	}
	for _, p := range paths {
		mustDigest(t, c, p)
	}
	if n := c.hashed.Load(); n != 500 {
		t.Fatalf("cold pass hashed %d files, want 500", n)
	}
	for _, p := range paths {
		mustDigest(t, c, p)
	}
	if n := c.hashed.Load(); n != 500 {
		t.Fatalf("warm pass hashed %d files, want none", n-500)
	}
}

func TestDigestSameSizeChangeIsRehashed(t *testing.T) {
	dir := t.TempDir()
	c := openDigestCache(t, filepath.Join(dir, "digests"))
	p := filepath.Join(dir, "login_test.py")
	writeFile(t, p, "assert 1 == 1\n", 0o644)
	fi, _ := os.Stat(p)
	mustDigest(t, c, p)

	// Same size, and the tool that wrote it kept the old mtime (cp -p,
	// tar, some editors): only ctime tells.
	writeFile(t, p, "assert 1 == 2\n", 0o644)
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := mustDigest(t, c, p); got.Hash != sha256Hex("assert 1 == 2\n") {
		t.Fatalf("stale digest after a same-size change with the mtime kept")
	}

	// Same size, new mtime (touch).
	writeFile(t, p, "assert 2 == 2\n", 0o644)
	later := fi.ModTime().Add(time.Minute)
	os.Chtimes(p, later, later)
	if got := mustDigest(t, c, p); got.Hash != sha256Hex("assert 2 == 2\n") {
		t.Fatalf("stale digest after a same-size change")
	}
}

func TestDigestRecentMemoIsNotTrusted(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenDigestCache(filepath.Join(dir, "digests"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c.now = func() time.Time { return now }
	p := filepath.Join(dir, "a.txt")
	writeFile(t, p, "one", 0o644)

	// Hashed in the tick the file was written: a second write in the same
	// tick could keep every stat field, so the memo cannot be trusted.
	mustDigest(t, c, p)
	mustDigest(t, c, p)
	if n := c.hashed.Load(); n != 2 {
		t.Fatalf("hashed %d times, want 2: a memo recorded right after a write was trusted", n)
	}
	// Re-hashed once racyWindow has passed, trusted from then on.
	now = now.Add(racyWindow + time.Second)
	mustDigest(t, c, p)
	mustDigest(t, c, p)
	if n := c.hashed.Load(); n != 3 {
		t.Fatalf("hashed %d times, want 3", n)
	}
}

func TestDigestMemoPersists(t *testing.T) {
	dir := t.TempDir()
	memoPath := filepath.Join(dir, "cache", "digests")
	c := openDigestCache(t, memoPath)
	p := filepath.Join(dir, "a.txt")
	writeFile(t, p, "content", 0o644)
	want := mustDigest(t, c, p)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}

	c2 := openDigestCache(t, memoPath)
	if got := mustDigest(t, c2, p); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if n := c2.hashed.Load(); n != 0 {
		t.Fatalf("reopened memo hashed %d files, want 0", n)
	}

	// Nothing new: Save writes nothing.
	os.Remove(memoPath)
	if err := c2.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(memoPath); !os.IsNotExist(err) {
		t.Fatal("Save rewrote an unchanged memo")
	}
}

func TestDigestCorruptMemoIsIgnored(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	writeFile(t, p, "content", 0o644)
	good := filepath.Join(dir, "good")
	c := openDigestCache(t, good)
	mustDigest(t, c, p)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	valid, _ := os.ReadFile(good)

	flipped := append([]byte(nil), valid...)
	flipped[len(digestMagic)+5] ^= 0x40
	for name, data := range map[string][]byte{
		"empty":     {},
		"foreign":   []byte("a.txt 1234 deadbeef\n"),
		"truncated": valid[:len(valid)-10],
		"flipped":   flipped,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			writeFile(t, path, string(data), 0o644)
			c := openDigestCache(t, path) // a corrupt memo is not an error
			c.loadMemo()
			if len(c.memo.paths) != 0 {
				t.Fatalf("corrupt memo loaded %d entries", len(c.memo.paths))
			}
			if got := mustDigest(t, c, p); got.Hash != sha256Hex("content") {
				t.Fatalf("got %+v", got)
			}
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			c2, _ := OpenDigestCache(path)
			if c2.loadMemo(); len(c2.memo.paths) != 1 {
				t.Fatal("Save did not replace the corrupt memo")
			}
		})
	}
}

func TestDigestErrors(t *testing.T) {
	dir := t.TempDir()
	c := openDigestCache(t, filepath.Join(dir, "digests"))
	for _, p := range []string{"relative/path", dir, filepath.Join(dir, "missing")} {
		if d, err := c.Digest(p); err == nil {
			t.Errorf("Digest(%q) = %+v, want an error", p, d)
		}
	}
}

func TestDigestConcurrent(t *testing.T) {
	dir := t.TempDir()
	c := openDigestCache(t, filepath.Join(dir, "digests"))
	var paths []string
	for i := range 50 {
		p := filepath.Join(dir, fmt.Sprint(i))
		writeFile(t, p, fmt.Sprint("content ", i), 0o644)
		paths = append(paths, p)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i, p := range paths {
				d, err := c.Digest(p)
				if err != nil || d.Hash != sha256Hex(fmt.Sprint("content ", i)) {
					t.Errorf("%s: %+v, %v", p, d, err)
				}
			}
			if err := c.Save(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkDigestWarm measures a no-change rerun over a 40,000-file
// workspace: one stat and one memo lookup per file, no file read.
func BenchmarkDigestWarm(b *testing.B) {
	dir := b.TempDir()
	const files = 40000
	paths := make([]string, files)
	for i := range paths {
		sub := filepath.Join(dir, fmt.Sprintf("pkg%03d", i/200))
		if i%200 == 0 {
			os.Mkdir(sub, 0o755)
		}
		paths[i] = filepath.Join(sub, fmt.Sprintf("file%d.py", i))
		writeFile(b, paths[i], fmt.Sprintf("# file %d\nimport os\n", i), 0o644)
	}
	memoPath := filepath.Join(dir, "digests")
	cold := openDigestCache(b, memoPath)
	for _, p := range paths {
		mustDigest(b, cold, p)
	}
	if err := cold.Save(); err != nil {
		b.Fatal(err)
	}

	c := openDigestCache(b, memoPath)
	i := 0
	for b.Loop() {
		if _, err := c.Digest(paths[i%files]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if n := c.hashed.Load(); n != 0 {
		b.Fatalf("warm lookups read %d files", n)
	}
}

// BenchmarkOpenDigestCache100k measures loading the memo of a 100,000-file
// workspace, paid by the first digest a run looks up.
func BenchmarkOpenDigestCache100k(b *testing.B) {
	dir := b.TempDir()
	memoPath := filepath.Join(dir, "digests")
	c := openDigestCache(b, memoPath)
	for i := range 100000 {
		path := fmt.Sprintf("/home/dev/src/monorepo/services/svc%03d/pkg/file%06d.go", i%500, i)
		c.memo.set(path, digestMemo{
			stat: statKey{size: int64(i), mtime: 1.7e18 + int64(i), ctime: 1.7e18 + int64(i), ino: uint64(i)},
			hash: sha256.Sum256([]byte(path)),
		})
	}
	c.dirty = true
	if err := c.Save(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, _ := OpenDigestCache(memoPath)
		c.loadMemo()
		if len(c.memo.paths) != 100000 {
			b.Fatalf("loaded %d entries", len(c.memo.paths))
		}
	}
}
