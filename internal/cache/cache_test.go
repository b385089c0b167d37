package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// actionKey stands for the digest of a serialized Action.
func actionKey(name string) string {
	sum := sha256.Sum256([]byte("action " + name))
	return hex.EncodeToString(sum[:])
}

// putResult stores a passing result with a log and one output file, as the
// scheduler does: blobs first, then the entry.
func putResult(t *testing.T, s *Store, key, log string) *repb.ActionResult {
	t.Helper()
	logDigest, err := s.PutBlob([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	xmlDigest, err := s.PutBlob([]byte("<testsuites/>" + log))
	if err != nil {
		t.Fatal(err)
	}
	r := &repb.ActionResult{
		ExitCode:     0,
		StdoutDigest: logDigest,
		OutputFiles:  []*repb.OutputFile{{Path: "test.xml", Digest: xmlDigest}},
	}
	if err := s.PutActionResult(key, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantMiss(t *testing.T, err error, reasonPrefix string) {
	t.Helper()
	var miss *MissError
	if !errors.As(err, &miss) {
		t.Fatalf("got error %v, want a miss %q", err, reasonPrefix)
	}
	if !strings.HasPrefix(miss.Reason, reasonPrefix) {
		t.Fatalf("miss reason %q, want %q", miss.Reason, reasonPrefix)
	}
}

func TestActionResultRoundTrip(t *testing.T) {
	s := openStore(t)
	key := actionKey("login")
	want := putResult(t, s, key, "PASS\n")
	got, err := s.GetActionResult(key)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	log, err := s.GetBlob(got.StdoutDigest)
	if err != nil || string(log) != "PASS\n" {
		t.Fatalf("log = %q, %v", log, err)
	}

	_, err = s.GetActionResult(actionKey("never stored"))
	wantMiss(t, err, ReasonNotFound)

	// A reopened store (the next run) sees the same entry.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.GetActionResult(key); err != nil || !proto.Equal(got, want) {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
}

func TestInvalidKeyIsAnErrorNotAMiss(t *testing.T) {
	s := openStore(t)
	for _, key := range []string{"", "abc", strings.Repeat("G", 64), "../../../../etc/passwd"} {
		if _, err := s.GetActionResult(key); err == nil || IsMiss(err) {
			t.Errorf("Get(%q) = %v, want a non-miss error", key, err)
		}
		if err := s.PutActionResult(key, &repb.ActionResult{}); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
	}
}

func TestBlobRoundTrip(t *testing.T) {
	s := openStore(t)
	data := bytes.Repeat([]byte("log line\n"), 10000)
	d, err := s.PutBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	if d.SizeBytes != int64(len(data)) || d.Hash != DigestOf(data).Hash {
		t.Fatalf("digest %v", d)
	}
	got, err := s.GetBlob(d)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetBlob: %v", err)
	}

	src := filepath.Join(t.TempDir(), "out.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := s.PutFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(fd, d) {
		t.Fatalf("PutFile digest %v, PutBlob digest %v", fd, d)
	}
	path, err := s.BlobPath(d)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk, _ := os.ReadFile(path); !bytes.Equal(onDisk, data) {
		t.Fatal("BlobPath names a file with other content")
	}
	if file, err := s.BlobFile(d); err != nil || file != path {
		t.Fatalf("BlobFile = %q, %v; want BlobPath's %q", file, err, path)
	}
	emptyFile, err := s.BlobFile(DigestOf(nil))
	if onDisk, rerr := os.ReadFile(emptyFile); err != nil || rerr != nil || len(onDisk) != 0 {
		t.Fatalf("BlobFile of the empty blob = %q, %v: want an empty file (%v)", emptyFile, err, rerr)
	}
	if _, err := s.BlobFile(&repb.Digest{Hash: "../../etc/passwd", SizeBytes: 3}); err == nil {
		t.Fatal("BlobFile accepted a digest that is not a SHA-256")
	}

	// The empty blob is always there, and BlobPath gives a real file.
	empty := DigestOf(nil)
	if got, err := s.GetBlob(empty); err != nil || len(got) != 0 {
		t.Fatalf("empty blob: %q, %v", got, err)
	}
	if p, err := s.BlobPath(empty); err != nil {
		t.Fatal(err)
	} else if fi, err := os.Stat(p); err != nil || fi.Size() != 0 {
		t.Fatalf("empty blob path: %v", err)
	}

	_, err = s.GetBlob(DigestOf([]byte("never stored")))
	wantMiss(t, err, ReasonNotFound)
}

func TestDamagedEntryIsAMiss(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, s *Store, key string, r *repb.ActionResult)
		reason string
	}{
		{"truncated", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			path := s.acPath(key)
			fi, _ := os.Stat(path)
			if err := os.Truncate(path, fi.Size()-5); err != nil {
				t.Fatal(err)
			}
		}, ReasonTruncated},
		{"cut inside the header", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			if err := os.Truncate(s.acPath(key), 11); err != nil {
				t.Fatal(err)
			}
		}, ReasonTruncated},
		{"empty file", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			if err := os.WriteFile(s.acPath(key), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ReasonTruncated},
		{"flipped byte", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			path := s.acPath(key)
			data, _ := os.ReadFile(path)
			data[entryHeaderLen+3] ^= 0x01
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ReasonCorrupt + ": checksum mismatch"},
		{"extra bytes", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			f, _ := os.OpenFile(s.acPath(key), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("\n")
			f.Close()
		}, ReasonCorrupt},
		{"foreign file", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			if err := os.WriteFile(s.acPath(key), []byte("{\"exit_code\": 0}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ReasonCorrupt + ": not a suite cache entry"},
		{"entry of another key", func(t *testing.T, s *Store, key string, _ *repb.ActionResult) {
			other := actionKey("other")
			putResult(t, s, other, "FAIL\n")
			data, _ := os.ReadFile(s.acPath(other))
			if err := os.WriteFile(s.acPath(key), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ReasonCorrupt + ": checksum mismatch"},
		{"log blob deleted", func(t *testing.T, s *Store, key string, r *repb.ActionResult) {
			if err := os.Remove(s.casPath(r.StdoutDigest.Hash)); err != nil {
				t.Fatal(err)
			}
		}, ReasonBlobMissing + ": " + "{log}"},
		{"output blob deleted", func(t *testing.T, s *Store, key string, r *repb.ActionResult) {
			if err := os.Remove(s.casPath(r.OutputFiles[0].Digest.Hash)); err != nil {
				t.Fatal(err)
			}
		}, ReasonBlobMissing},
		{"output blob shortened", func(t *testing.T, s *Store, key string, r *repb.ActionResult) {
			if err := os.Truncate(s.casPath(r.OutputFiles[0].Digest.Hash), 1); err != nil {
				t.Fatal(err)
			}
		}, ReasonBlobMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			key := actionKey("login")
			r := putResult(t, s, key, "PASS\n")
			tt.damage(t, s, key, r)
			got, err := s.GetActionResult(key)
			if got != nil {
				t.Fatalf("damaged entry returned a result: %v", got)
			}
			wantMiss(t, err, strings.ReplaceAll(tt.reason, "{log}", r.StdoutDigest.Hash))

			// A fresh Put repairs it.
			putResult(t, s, key, "PASS\n")
			if _, err := s.GetActionResult(key); err != nil {
				t.Fatalf("after re-put: %v", err)
			}
		})
	}
}

func TestBlobNotMatchingItsNameIsRemoved(t *testing.T) {
	for _, tt := range []struct {
		name string
		get  func(*Store, *repb.Digest) error
	}{
		{"GetBlob", func(s *Store, d *repb.Digest) error { _, err := s.GetBlob(d); return err }},
		{"BlobPath", func(s *Store, d *repb.Digest) error { _, err := s.BlobPath(d); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			d := DigestOf([]byte("the real log\n"))
			path := s.casPath(d.Hash)
			os.MkdirAll(filepath.Dir(path), 0o777)
			if err := os.WriteFile(path, []byte("a forged log\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			wantMiss(t, tt.get(s, d), ReasonCorrupt+": content does not match")
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("bad blob still present: %v", err)
			}
			// The next Put writes the real content.
			if _, err := s.PutBlob([]byte("the real log\n")); err != nil {
				t.Fatal(err)
			}
			if err := tt.get(s, d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOtherVersionIsReset(t *testing.T) {
	s := openStore(t)
	key := actionKey("login")
	putResult(t, s, key, "PASS\n")
	if err := os.WriteFile(filepath.Join(s.Dir(), versionFile), []byte("suite-cache 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.GetActionResult(key)
	wantMiss(t, err, ReasonNotFound)
	if st, _ := s2.Stats(); st.Entries != 0 || st.Blobs != 0 {
		t.Fatalf("old entries left: %+v", st)
	}
	if v, _ := os.ReadFile(filepath.Join(s.Dir(), versionFile)); string(v) != layoutVersion {
		t.Fatalf("VERSION = %q", v)
	}
}

func TestMarkUsedAtMostHourly(t *testing.T) {
	s := openStore(t)
	key := actionKey("login")
	r := putResult(t, s, key, "PASS\n")
	base := time.Now()
	s.now = func() time.Time { return base }
	entry, blob := s.acPath(key), s.casPath(r.StdoutDigest.Hash)
	old := base.Add(-30 * time.Minute)
	for _, p := range []string{entry, blob} {
		os.Chtimes(p, old, old)
	}
	if _, err := s.GetActionResult(key); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{entry, blob} {
		if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
			t.Fatalf("%s touched although used 30m ago", p)
		}
	}
	s.now = func() time.Time { return base.Add(time.Hour) }
	if _, err := s.GetActionResult(key); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{entry, blob} {
		if fi, _ := os.Stat(p); !fi.ModTime().Equal(base.Add(time.Hour)) {
			t.Fatalf("%s not touched after 90m", p)
		}
	}
}

func TestStats(t *testing.T) {
	s := openStore(t)
	if st, err := s.Stats(); err != nil || st != (Stats{}) {
		t.Fatalf("empty cache: %+v, %v", st, err)
	}
	putResult(t, s, actionKey("a"), "a\n")
	putResult(t, s, actionKey("b"), "b\n")
	oldest := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	os.Chtimes(s.acPath(actionKey("a")), oldest, oldest)
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 2 || st.Blobs != 4 {
		t.Fatalf("got %+v, want 2 entries and 4 blobs", st)
	}
	var want int64
	for _, sub := range []string{acDir, casDir} {
		filepath.Walk(filepath.Join(s.Dir(), sub), func(_ string, fi os.FileInfo, _ error) error {
			if fi.Mode().IsRegular() {
				want += fi.Size()
			}
			return nil
		})
	}
	if st.Bytes != want {
		t.Errorf("Bytes = %d, want %d", st.Bytes, want)
	}
	if !st.Oldest.Equal(oldest) {
		t.Errorf("Oldest = %v, want %v", st.Oldest, oldest)
	}
}

func TestTrimByAge(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	s.now = func() time.Time { return now }
	oldR := putResult(t, s, actionKey("old"), "old\n")
	putResult(t, s, actionKey("new"), "new\n")
	stale := now.Add(-DefaultTrim.MaxAge - 2*time.Hour)
	for _, p := range []string{s.acPath(actionKey("old")), s.casPath(oldR.StdoutDigest.Hash), s.casPath(oldR.OutputFiles[0].Digest.Hash)} {
		os.Chtimes(p, stale, stale)
	}
	removed, freed, err := s.Trim(TrimPolicy{MaxAge: DefaultTrim.MaxAge})
	if err != nil {
		t.Fatal(err)
	}
	if removed != 3 || freed <= 0 {
		t.Fatalf("removed %d files, %d bytes; want the 3 old ones", removed, freed)
	}
	_, err = s.GetActionResult(actionKey("old"))
	wantMiss(t, err, ReasonNotFound)
	if _, err := s.GetActionResult(actionKey("new")); err != nil {
		t.Fatal(err)
	}
}

func TestTrimBySize(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	var digests []*repb.Digest
	for i := range 10 {
		d, err := s.PutBlob(bytes.Repeat([]byte{byte(i)}, 1000))
		if err != nil {
			t.Fatal(err)
		}
		used := now.Add(time.Duration(i-10) * time.Minute)
		os.Chtimes(s.casPath(d.Hash), used, used)
		digests = append(digests, d)
	}
	removed, freed, err := s.Trim(TrimPolicy{MaxBytes: 4500})
	if err != nil {
		t.Fatal(err)
	}
	if removed != 6 || freed != 6000 {
		t.Fatalf("removed %d files, %d bytes; want 6, 6000", removed, freed)
	}
	for i, d := range digests {
		_, err := s.GetBlob(d)
		if kept := err == nil; kept != (i >= 6) {
			t.Errorf("blob %d: kept=%v, want the 4 most recently used kept", i, kept)
		}
	}
}

func TestMaybeTrimOncePerDay(t *testing.T) {
	s := openStore(t)
	now := time.Now()
	s.now = func() time.Time { return now }
	d, _ := s.PutBlob([]byte("x"))
	ancient := now.Add(-30 * 24 * time.Hour)
	age := func() { os.Chtimes(s.casPath(d.Hash), ancient, ancient) }

	age()
	if err := s.MaybeTrim(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBlob(d); !IsMiss(err) {
		t.Fatal("first MaybeTrim did not trim")
	}

	s.PutBlob([]byte("x"))
	age()
	now = now.Add(23 * time.Hour)
	if err := s.MaybeTrim(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBlob(d); err != nil {
		t.Fatal("MaybeTrim trimmed twice within a day")
	}

	age() // GetBlob just marked it used
	now = now.Add(2 * time.Hour)
	if err := s.MaybeTrim(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBlob(d); !IsMiss(err) {
		t.Fatal("MaybeTrim did not trim after a day")
	}
}

func TestStaleTempFilesAreNeverEntriesAndAreTrimmed(t *testing.T) {
	s := openStore(t)
	key := actionKey("login")
	putResult(t, s, key, "PASS\n")
	// What writers killed mid-write leave: temp files beside entries, in
	// cas/ (PutFile), and at the top (VERSION, trim.txt).
	var temps []string
	for _, dir := range []string{filepath.Dir(s.acPath(key)), filepath.Join(s.Dir(), casDir), s.Dir()} {
		f, err := createTemp(dir)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(encodeEntry(key, []byte("half"))[:10])
		f.Close()
		temps = append(temps, f.Name())
	}
	st, _ := s.Stats()
	if st.Entries != 1 || st.Blobs != 2 {
		t.Fatalf("temp files counted: %+v", st)
	}
	// Young temp files may belong to live writers: kept.
	if n, _, err := s.Trim(TrimPolicy{}); err != nil || n != 0 {
		t.Fatalf("Trim removed %d (%v), want 0", n, err)
	}
	s.now = func() time.Time { return time.Now().Add(staleTempAge + time.Minute) }
	if n, _, err := s.Trim(TrimPolicy{}); err != nil || n != len(temps) {
		t.Fatalf("Trim removed %d (%v), want %d", n, err, len(temps))
	}
	for _, p := range temps {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived", p)
		}
	}
	if _, err := s.GetActionResult(key); err != nil {
		t.Fatal(err)
	}
}

func TestClean(t *testing.T) {
	s := openStore(t)
	putResult(t, s, actionKey("a"), "a\n")
	if err := s.Clean(); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(); st.Entries+st.Blobs != 0 {
		t.Fatalf("after Clean: %+v", st)
	}
	putResult(t, s, actionKey("a"), "a\n")
	if _, err := s.GetActionResult(actionKey("a")); err != nil {
		t.Fatalf("store unusable after Clean: %v", err)
	}
}

func TestUnwritableFanOutIsAnError(t *testing.T) {
	s := openStore(t)
	d := DigestOf([]byte("log"))
	// A file where the fan-out directory should be: every write into it
	// fails, as on a read-only or broken cache.
	os.MkdirAll(filepath.Join(s.Dir(), casDir), 0o777)
	if err := os.WriteFile(filepath.Join(s.Dir(), casDir, d.Hash[:2]), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutBlob([]byte("log")); err == nil {
		t.Fatal("PutBlob succeeded")
	}
	key := actionKey("login")
	os.MkdirAll(filepath.Join(s.Dir(), acDir), 0o777)
	os.WriteFile(filepath.Join(s.Dir(), acDir, key[:2]), nil, 0o644)
	if err := s.PutActionResult(key, &repb.ActionResult{}); err == nil {
		t.Fatal("PutActionResult succeeded")
	}
	_, err := s.GetActionResult(key)
	if err == nil {
		t.Fatal("Get found an entry")
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; TestFullDiskIsAnError covers the failing write")
	}
	s := openStore(t)
	key := actionKey("login")
	putResult(t, s, key, "PASS\n")
	chmodAll := func(mode os.FileMode) {
		filepath.Walk(s.Dir(), func(p string, fi os.FileInfo, _ error) error {
			if fi.IsDir() {
				os.Chmod(p, mode)
			}
			return nil
		})
	}
	chmodAll(0o555)
	t.Cleanup(func() { chmodAll(0o755) })
	ro, err := Open(s.Dir())
	if err != nil {
		t.Fatalf("Open of a read-only cache: %v", err)
	}
	if _, err := ro.GetActionResult(key); err != nil {
		t.Fatalf("read-only cache does not serve hits: %v", err)
	}
	if _, err := ro.PutBlob([]byte("new")); err == nil {
		t.Fatal("PutBlob into a read-only cache succeeded")
	}
	if err := ro.PutActionResult(actionKey("new"), &repb.ActionResult{}); err == nil {
		t.Fatal("PutActionResult into a read-only cache succeeded")
	}
}
