// Package cache is suite's local content-addressed store: REAPI v2
// ActionResult protos keyed by action digest, and the blobs they name (logs,
// JUnit XML, outputs) keyed by their SHA-256. The keys are the ones a REAPI
// remote cache uses, so a local entry and a remote one are interchangeable.
//
// The store is a directory shared by every suite process of a user:
//
//	dir/VERSION          layout version; any other value resets the layout
//	dir/trim.txt         unix time of the last automatic trim
//	dir/ac/xx/<hash>     framed ActionResult for action digest <hash>
//	dir/cas/xx/<hash>    raw blob content whose SHA-256 is <hash>
//
// xx is the first byte of <hash> in hex (256 fan-out directories, so no
// directory grows past a few thousand names). Every file is written to a
// temporary name in the directory it ends up in and renamed into place, so a
// reader sees either no file or a complete one; temporary names start with
// ".tmp-", are never read as entries, and are removed by Trim once they are
// old enough that no live writer can still own them.
//
// Nothing here trusts the disk: an action entry carries its own length and
// checksum, a blob is checked against its name before it is returned, and an
// action entry whose blobs are gone is a miss. A miss is a *MissError saying
// why; the caller runs the test instead. A false hit is the one failure mode
// this package must never have.
package cache

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// layoutVersion names the on-disk format. Bump it whenever the entry framing
// or the directory layout changes: Open then discards the old entries instead
// of misreading them.
const layoutVersion = "suite-cache 1\n"

const (
	versionFile = "VERSION"
	trimFile    = "trim.txt"
	acDir       = "ac"
	casDir      = "cas"
	// tempPrefix starts the name of every file that is still being written.
	// No hash starts with '.', so a temp file can never pass for an entry.
	tempPrefix = ".tmp-"
)

// Store is a cache directory. It is safe for concurrent use by goroutines and
// by several processes sharing the directory: it keeps no state that another
// process could invalidate, only a memo of the blobs it has already verified.
type Store struct {
	dir string
	// now is the clock; tests move it to age entries.
	now func() time.Time
	// verified holds the hashes of blobs whose content this Store has
	// checked (or written) itself, so BlobPath hashes a big blob once.
	verified sync.Map
}

// Open opens the cache in dir, creating it if needed. If dir holds a cache
// of another layout version, its entries are removed first. A directory that
// exists with the right version but cannot be written is opened anyway:
// reads work and every Put returns an error.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("cache: no directory given")
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	s := &Store{dir: dir, now: time.Now}
	versionPath := filepath.Join(dir, versionFile)
	current := func() bool {
		data, err := os.ReadFile(versionPath)
		return err == nil && string(data) == layoutVersion
	}
	if current() {
		return s, nil
	}
	// Missing or foreign VERSION: whatever is in ac/ and cas/ was written
	// in another format (or by nothing we know), so start afresh. But
	// several processes may be opening a new cache at once, and one of
	// them may already have written VERSION and then its first entries
	// (always in that order): look again before removing anything, so a
	// fresh cache is never reset under a writer.
	if s.hasEntryTrees() && current() {
		return s, nil
	}
	if err := s.reset(); err != nil {
		return nil, fmt.Errorf("cache: %s holds no cache of version %q and cannot be reset: %w",
			dir, strings.TrimSpace(layoutVersion), err)
	}
	if err := s.writeAtomic(filepath.Join(dir, versionFile), []byte(layoutVersion)); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return s, nil
}

// Dir reports the directory the store lives in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) hasEntryTrees() bool {
	for _, sub := range []string{acDir, casDir} {
		if _, err := os.Lstat(filepath.Join(s.dir, sub)); err == nil {
			return true
		}
	}
	return false
}

// reset removes ac/, cas/ and trim.txt. Each tree is first renamed to a temp
// name, so a concurrent reader sees it either whole or gone, and a reset
// interrupted half-way leaves a temp tree that Trim removes later.
func (s *Store) reset() error {
	for _, sub := range []string{acDir, casDir} {
		old := filepath.Join(s.dir, sub)
		if _, err := os.Lstat(old); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		doomed := filepath.Join(s.dir, tempPrefix+sub+"-"+randomSuffix())
		if err := os.Rename(old, doomed); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // another process got there first
			}
			return err
		}
		if err := os.RemoveAll(doomed); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(s.dir, trimFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Clean removes every entry and blob. Other processes using the cache at the
// same time see misses, never partial entries.
func (s *Store) Clean() error {
	if err := s.reset(); err != nil {
		return fmt.Errorf("cache: clean %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) acPath(key string) string {
	return filepath.Join(s.dir, acDir, key[:2], key)
}

func (s *Store) casPath(hash string) string {
	return filepath.Join(s.dir, casDir, hash[:2], hash)
}

// createTemp creates a temp file in dir, creating dir if this is its first
// file: fan-out directories are made on demand rather than all 512 at Open.
func createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(dir, tempPrefix+"*")
	}
	return f, err
}

// writeAtomic writes data to path through a temp file in path's directory and
// a rename. No fsync: after a power loss the file may be empty or garbage,
// which the entry framing and the blob hash check turn into a miss.
func (s *Store) writeAtomic(path string, data []byte) error {
	f, err := createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	return commitTemp(f, path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// commitTemp fills the temp file f with write and renames it to path; on any
// failure the temp file is removed, so a full disk leaves nothing behind.
func commitTemp(f *os.File, path string, write func(*os.File) error) error {
	err := write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validHash reports whether h is a lower-case hex SHA-256, the only names the
// store reads or writes.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// mtimeInterval bounds how often a use of an entry rewrites its mtime. Trim
// evicts by mtime, so the mtime stands for "last used"; but touching a file
// on every hit would turn every no-change rerun of thousands of cached tests
// into thousands of inode writes. Like cmd/go, touch at most once an hour:
// "last used" is then up to an hour stale, which Trim allows for.
const mtimeInterval = 1 * time.Hour

// markUsed records a use of the file at path whose current info is info.
// Best effort: a read-only cache still serves hits.
func (s *Store) markUsed(path string, mtime time.Time) {
	if now := s.now(); now.Sub(mtime) >= mtimeInterval {
		os.Chtimes(path, now, now)
	}
}

// removeIfSame removes path if it still names the file described by info:
// a concurrent writer may have renamed a good entry over the bad one we read.
func removeIfSame(path string, info fs.FileInfo) {
	if cur, err := os.Lstat(path); err == nil && os.SameFile(cur, info) {
		os.Remove(path)
	}
}
