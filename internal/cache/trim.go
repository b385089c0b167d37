package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The default bounds. Both are generous: a miss costs a test run, a byte of
// disk costs almost nothing, and a user who wants less runs
// `suite cache trim` or sets a policy of their own.
const (
	// defaultMaxAge drops entries unused for 5 days. cmd/go found, over a
	// month of Go developers' builds, that essentially every reuse of a
	// cache entry came within 5 days of the previous one
	// (golang.org/issue/22990); test results are reused the same way,
	// rerun after rerun of the same tree.
	defaultMaxAge = 5 * 24 * time.Hour
	// defaultMaxBytes caps the cache at 10 GiB, the default of
	// bazel-remote's and Bazel's disk caches. Logs and JUnit XML are small;
	// the bound is for undeclared outputs (screenshots, core dumps,
	// coverage) that can reach hundreds of megabytes per run.
	defaultMaxBytes = 10 << 30
	// trimInterval: MaybeTrim scans the cache at most once a day, like
	// cmd/go; a scan reads every fan-out directory, too slow for every run.
	trimInterval = 24 * time.Hour
	// staleTempAge: a temp file this old belongs to a writer that died
	// (SIGKILL, power loss). No live write takes an hour.
	staleTempAge = 1 * time.Hour
)

// TrimPolicy bounds the cache. A zero field means no bound of that kind.
type TrimPolicy struct {
	MaxBytes int64         // evict least recently used files until the total is at most this
	MaxAge   time.Duration // evict files unused for longer than this
}

// DefaultTrim is the policy of MaybeTrim and of `suite cache trim`.
var DefaultTrim = TrimPolicy{MaxBytes: defaultMaxBytes, MaxAge: defaultMaxAge}

// Stats describes the cache's content.
type Stats struct {
	Entries int       // action results
	Blobs   int       // blobs
	Bytes   int64     // size of entries and blobs together
	Oldest  time.Time // least recent use of any entry or blob; zero if empty
}

// cacheFile is one entry or blob found by a scan.
type cacheFile struct {
	path  string
	size  int64
	mtime time.Time
	entry bool // an action result, not a blob
}

// scan lists every entry and blob. Temp files older than staleTempAge, and
// trees left by an interrupted reset, are passed to stale instead.
func (s *Store) scan(stale func(path string, info fs.FileInfo)) ([]cacheFile, error) {
	var files []cacheFile
	top, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, e := range top {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleTempAge {
				stale(filepath.Join(s.dir, e.Name()), info)
			}
		}
	}
	for _, sub := range []string{acDir, casDir} {
		root := filepath.Join(s.dir, sub)
		// Read each directory whole before removing anything from it, so
		// removal cannot disturb the listing.
		fanout, err := os.ReadDir(root)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, fd := range fanout {
			dir := filepath.Join(root, fd.Name())
			if !fd.IsDir() {
				if strings.HasPrefix(fd.Name(), tempPrefix) {
					if info, err := fd.Info(); err == nil && now.Sub(info.ModTime()) > staleTempAge {
						stale(dir, info)
					}
				}
				continue
			}
			names, err := os.ReadDir(dir)
			if err != nil {
				continue // removed by a concurrent Clean
			}
			for _, n := range names {
				info, err := n.Info()
				if err != nil {
					continue // removed meanwhile
				}
				path := filepath.Join(dir, n.Name())
				switch {
				case validHash(n.Name()) && n.Name()[:2] == fd.Name() && info.Mode().IsRegular():
					files = append(files, cacheFile{path, info.Size(), info.ModTime(), sub == acDir})
				case strings.HasPrefix(n.Name(), tempPrefix) && now.Sub(info.ModTime()) > staleTempAge:
					stale(path, info)
				}
				// Anything else is not ours; leave it alone.
			}
		}
	}
	return files, nil
}

// Stats counts the cache's entries and blobs.
func (s *Store) Stats() (Stats, error) {
	files, err := s.scan(func(string, fs.FileInfo) {})
	if err != nil {
		return Stats{}, fmt.Errorf("cache: %w", err)
	}
	var st Stats
	for _, f := range files {
		if f.entry {
			st.Entries++
		} else {
			st.Blobs++
		}
		st.Bytes += f.size
		if st.Oldest.IsZero() || f.mtime.Before(st.Oldest) {
			st.Oldest = f.mtime
		}
	}
	return st, nil
}

// Trim removes entries and blobs by p, least recently used first, and the
// temp files of writers that died. It reports how many files it removed and
// how many bytes that freed.
//
// Evicting a blob before the entry that names it is harmless: the entry is
// then a miss ("blob missing"), never a wrong hit. Several processes may trim
// at once; each removal either succeeds or finds the file already gone.
func (s *Store) Trim(p TrimPolicy) (removed int, freed int64, err error) {
	var firstErr error
	remove := func(path string, size int64, all bool) {
		var rerr error
		if all {
			rerr = os.RemoveAll(path)
		} else {
			rerr = os.Remove(path)
		}
		switch {
		case rerr == nil:
			removed++
			freed += size
		case errors.Is(rerr, fs.ErrNotExist):
		case firstErr == nil:
			firstErr = rerr
		}
	}
	files, err := s.scan(func(path string, info fs.FileInfo) {
		remove(path, info.Size(), info.IsDir())
	})
	if err != nil {
		return removed, freed, fmt.Errorf("cache: trim: %w", err)
	}

	// Oldest use first; on a tie, entries before blobs, so an entry is not
	// left naming a blob that is gone.
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mtime.Equal(files[j].mtime) {
			return files[i].mtime.Before(files[j].mtime)
		}
		return files[i].entry && !files[j].entry
	})
	var total int64
	for _, f := range files {
		total += f.size
	}
	// mtimes lag real use by up to mtimeInterval, so allow for it.
	cutoff := s.now().Add(-p.MaxAge - mtimeInterval)
	for _, f := range files {
		tooOld := p.MaxAge > 0 && f.mtime.Before(cutoff)
		tooBig := p.MaxBytes > 0 && total > p.MaxBytes
		if !tooOld && !tooBig {
			break // sorted: every later file is newer
		}
		remove(f.path, f.size, false)
		total -= f.size
	}
	if firstErr != nil {
		return removed, freed, fmt.Errorf("cache: trim: %w", firstErr)
	}
	return removed, freed, nil
}

// MaybeTrim trims by DefaultTrim if the last automatic trim was more than
// trimInterval ago. When it is not due it costs one small file read, so it
// can run at the end of every run.
func (s *Store) MaybeTrim() error {
	now := s.now()
	path := filepath.Join(s.dir, trimFile)
	if data, err := os.ReadFile(path); err == nil {
		if sec, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil {
			// A time in the future beyond clock skew means a broken
			// file or clock: trim rather than never again.
			if d := now.Sub(time.Unix(sec, 0)); d < trimInterval && d > -mtimeInterval {
				return nil
			}
		}
	}
	// Claim this trim before doing it, so that other processes finishing
	// now skip theirs. Two trims racing would be wasteful, not wrong.
	if err := s.writeAtomic(path, []byte(strconv.FormatInt(now.Unix(), 10)+"\n")); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, _, err := s.Trim(DefaultTrim)
	return err
}
