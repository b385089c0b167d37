package workspace

// This file memoizes the content digests of input files, so that a rerun
// with nothing changed stats every input and reads none. It depends on
// nothing else in the package.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suite-run/suite/internal/statefile"
)

// FileDigest is what the cache key needs of one input file.
type FileDigest struct {
	Hash       string // SHA-256 of the content, lower-case hex
	Size       int64
	Executable bool // any execute bit set
}

// racyWindow is how long after a file's last change its memo stays
// untrusted. File timestamps advance in ticks (a jiffy, about 4 ms, on
// Linux; 1-2 s on some network and FAT file systems), so a file written
// again within the tick in which it was hashed keeps its size, mtime and
// ctime: the memo would match and hide the change. Git calls this the
// "racy git" problem and cmd/go guards against it the same way: a memo
// whose file changed less than racyWindow before the memo was recorded is
// re-hashed on every lookup until a hash is recorded at least racyWindow
// after the last change. Two seconds covers the coarsest common tick and
// small skew between the system clock and a file server's.
const racyWindow = 2 * time.Second

// digestMemo is what is known about one file: its stat when hashed, and
// the hash. Only a memo whose file had not changed for racyWindow when it
// was hashed is kept (see Trustworthy); any other can never be trusted.
type digestMemo struct {
	stat statKey
	hash [sha256.Size]byte
}

// statKey identifies a version of a file without reading it. The content
// cannot change without changing at least one field, except within one
// timestamp tick (see racyWindow). ctime catches what mtime misses: a
// `touch -d`, `cp -p` or `git checkout` that sets mtime back, a rename over
// the file, a chmod.
type statKey struct {
	size  int64
	mtime int64 // ns
	ctime int64 // ns
	ino   uint64
}

// DigestCache memoizes file digests across runs in one file. It is safe for
// concurrent use. Several processes may share the file: each loads it once
// and the last Save wins, which costs the loser only some re-hashing later.
type DigestCache struct {
	path string
	// now is the clock; tests move it past racyWindow.
	now func() time.Time
	// hashed counts the files whose content this cache read: the number a
	// no-change rerun must keep at zero.
	hashed atomic.Int64

	// The memo file is read on first use: a rerun whose keys all come
	// from the key memo never needs it.
	load sync.Once

	mu    sync.RWMutex
	memo  memoTable
	dirty bool
}

// memoTable maps paths to memos. The map holds only an index into slices:
// with small map values, loading 100k entries spends far less time missing
// the CPU cache in map inserts, and the file is written in a stable order.
type memoTable struct {
	index map[string]int
	paths []string
	memos []digestMemo
}

func newMemoTable(n int) memoTable {
	return memoTable{
		index: make(map[string]int, n),
		paths: make([]string, 0, n),
		memos: make([]digestMemo, 0, n),
	}
}

func (t *memoTable) get(path string) (digestMemo, bool) {
	i, ok := t.index[path]
	if !ok {
		return digestMemo{}, false
	}
	return t.memos[i], true
}

func (t *memoTable) set(path string, m digestMemo) {
	if i, ok := t.index[path]; ok {
		t.memos[i] = m
		return
	}
	t.index[path] = len(t.paths)
	t.paths = append(t.paths, path)
	t.memos = append(t.memos, m)
}

// OpenDigestCache loads the memo file at path. A missing, unreadable or
// corrupt file gives an empty cache, not an error: the memo is only ever an
// optimization, and the next Save rewrites it.
func OpenDigestCache(path string) (*DigestCache, error) {
	if path == "" {
		return nil, errors.New("digest cache: no file given")
	}
	return &DigestCache{path: path, now: time.Now, memo: newMemoTable(0)}, nil
}

func (c *DigestCache) loadMemo() {
	c.load.Do(func() {
		if body, err := statefile.ReadSealed(c.path, digestMagic); err == nil {
			if memo, err := decodeDigestMemo(body); err == nil {
				c.mu.Lock()
				c.memo = memo
				c.mu.Unlock()
			}
		}
	})
}

// FileStat is one stat of a regular file: what tells, without reading it,
// whether it changed.
type FileStat struct {
	key        statKey
	Executable bool
}

// StatFile stats the regular file at absPath, following symlinks.
func StatFile(absPath string) (FileStat, error) {
	var st unix.Stat_t
	if err := unix.Stat(absPath, &st); err != nil {
		return FileStat{}, &os.PathError{Op: "digest", Path: absPath, Err: err}
	}
	if err := checkRegular(absPath, &st); err != nil {
		return FileStat{}, err
	}
	return FileStat{keyOf(&st), uint32(st.Mode)&0o111 != 0}, nil
}

// LstatFile stats the file at absPath without following a symlink there:
// it reports a symlink as such (link true, st empty) and, otherwise,
// requires a regular file. One system call, as StatFile: inputs are stat'ed
// on every run.
func LstatFile(absPath string) (st FileStat, link bool, err error) {
	var sys unix.Stat_t
	if err := unix.Lstat(absPath, &sys); err != nil {
		return FileStat{}, false, &os.PathError{Op: "digest", Path: absPath, Err: err}
	}
	if uint32(sys.Mode)&unix.S_IFMT == unix.S_IFLNK {
		return FileStat{}, true, nil
	}
	if err := checkRegular(absPath, &sys); err != nil {
		return FileStat{}, false, err
	}
	return FileStat{keyOf(&sys), uint32(sys.Mode)&0o111 != 0}, false, nil
}

// Changed is when the file last changed (content, metadata or name), in
// Unix nanoseconds.
func (s FileStat) Changed() int64 { return max(s.key.mtime, s.key.ctime) }

// Append appends the stat's identity to a fingerprint being built.
func (s FileStat) Append(b []byte) []byte {
	b = binary.AppendVarint(b, s.key.size)
	b = binary.AppendVarint(b, s.key.mtime)
	b = binary.AppendVarint(b, s.key.ctime)
	b = binary.AppendUvarint(b, s.key.ino)
	if s.Executable {
		return append(b, 1)
	}
	return append(b, 0)
}

// Trustworthy reports whether a memo recorded at recorded (Unix ns, read
// before the stats it covers) of files that last changed at changed can
// be trusted while their stats stay the same: outside racyWindow, a change
// that keeps size, mtime and ctime is impossible.
func Trustworthy(recorded, changed int64) bool {
	return recorded-changed >= int64(racyWindow)
}

// Digest returns the digest of the regular file at absPath (symlinks are
// followed), reading its content only if its stat differs from the memo's
// or the memo is too recent to trust.
func (c *DigestCache) Digest(absPath string) (FileDigest, error) {
	if !filepath.IsAbs(absPath) {
		return FileDigest{}, fmt.Errorf("digest %s: path is not absolute", absPath)
	}
	st, err := StatFile(absPath)
	if err != nil {
		return FileDigest{}, err
	}
	return c.DigestStat(absPath, st)
}

// DigestStat is Digest for a file just stat'ed as st: the memo's digest
// when it was recorded for that stat and is trusted, else the file's.
func (c *DigestCache) DigestStat(absPath string, st FileStat) (FileDigest, error) {
	c.loadMemo()
	c.mu.RLock()
	m, ok := c.memo.get(absPath)
	c.mu.RUnlock()
	if ok && m.stat == st.key {
		return FileDigest{Hash: hex.EncodeToString(m.hash[:]), Size: st.key.size, Executable: st.Executable}, nil
	}
	return c.hash(absPath)
}

// hash reads the file and records its digest. The memo takes the stat of
// the open file before reading, and only if the stat after reading is the
// same and the file was last changed racyWindow before: a file written
// while being read, or just before, gets a digest for this run (the test
// sees some version of it) but no memo.
//
// Raw system calls rather than os.File: a cold run hashes every input, and
// os.Open spends five more calls per file offering it to the network
// poller, which refuses regular files.
func (c *DigestCache) hash(absPath string) (FileDigest, error) {
	recorded := c.now().UnixNano()
	fd, err := unix.Open(absPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return FileDigest{}, &os.PathError{Op: "digest", Path: absPath, Err: err}
	}
	defer unix.Close(fd)
	var before, after unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		return FileDigest{}, &os.PathError{Op: "digest", Path: absPath, Err: err}
	}
	if err := checkRegular(absPath, &before); err != nil {
		return FileDigest{}, err
	}
	h := sha256.New()
	buf := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(buf)
	for {
		n, err := unix.Read(fd, *buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return FileDigest{}, &os.PathError{Op: "digest", Path: absPath, Err: err}
		}
		if n == 0 {
			break
		}
		h.Write((*buf)[:n])
	}
	c.hashed.Add(1)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if err := unix.Fstat(fd, &after); err != nil {
		return FileDigest{}, &os.PathError{Op: "digest", Path: absPath, Err: err}
	}
	if k := keyOf(&before); k == keyOf(&after) && Trustworthy(recorded, max(k.mtime, k.ctime)) {
		c.mu.Lock()
		c.memo.set(absPath, digestMemo{stat: k, hash: sum})
		c.dirty = true
		c.mu.Unlock()
	}
	return fileDigest(sum, &before), nil
}

var readBuffers = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func checkRegular(path string, st *unix.Stat_t) error {
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("digest %s: not a regular file", path)
	}
	return nil
}

func keyOf(st *unix.Stat_t) statKey {
	return statKey{
		size:  int64(st.Size),
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		ino:   uint64(st.Ino),
	}
}

func fileDigest(sum [sha256.Size]byte, st *unix.Stat_t) FileDigest {
	return FileDigest{
		Hash:       hex.EncodeToString(sum[:]),
		Size:       int64(st.Size),
		Executable: uint32(st.Mode)&0o111 != 0,
	}
}

// Save writes the memo file if any digest was computed since it was loaded,
// through a temp file and a rename, so a reader never sees half a file.
func (c *DigestCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	if err := statefile.WriteSealed(c.path, digestMagic, encodeDigestMemo(&c.memo)); err != nil {
		return fmt.Errorf("digest cache: %w", err)
	}
	c.dirty = false
	return nil
}

// The memo file is binary, to load 100k entries in milliseconds; its body,
// sealed by statefile, is
//
//	uvarint count | count × entry
//	entry = string path | varint size | varint mtime | varint ctime |
//	        uvarint ino | 32-byte hash
const digestMagic = "suitedg2"

func encodeDigestMemo(memo *memoTable) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 96*len(memo.paths)+8), uint64(len(memo.paths)))
	for i, path := range memo.paths {
		m := &memo.memos[i]
		b = statefile.AppendString(b, path)
		b = binary.AppendVarint(b, m.stat.size)
		b = binary.AppendVarint(b, m.stat.mtime)
		b = binary.AppendVarint(b, m.stat.ctime)
		b = binary.AppendUvarint(b, m.stat.ino)
		b = append(b, m.hash[:]...)
	}
	return b
}

func decodeDigestMemo(body []byte) (memoTable, error) {
	d := statefile.NewDecoder(body)
	count := d.Count(37) // the smallest entry: five one-byte varints and a hash
	memo := newMemoTable(count)
	for range count {
		path := d.String()
		var m digestMemo
		m.stat.size = d.Varint()
		m.stat.mtime = d.Varint()
		m.stat.ctime = d.Varint()
		m.stat.ino = d.Uvarint()
		d.Read(m.hash[:])
		if d.Err() != nil {
			return memoTable{}, d.Err()
		}
		memo.set(path, m)
	}
	if err := d.End(); err != nil {
		return memoTable{}, err
	}
	return memo, nil
}
