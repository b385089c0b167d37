package workspace

// This file records what evaluating a workspace read from the file system,
// so that a later run can tell by stats alone — without reading a folder
// or a file — that evaluating again would read exactly the same, and reuse
// the graph. Folders are recorded by their own stat: creating, removing or
// renaming an entry changes a folder's mtime and ctime, while editing a
// file inside does not (globs see names, not content). Files read are
// recorded by their stat as digest memos are, and symlinks by where they
// lead.

import (
	"encoding/binary"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/suite-run/suite/internal/statefile"
)

// Reads is the record of one evaluation's reads. A nil *Reads records
// nothing. It is safe for concurrent use.
type Reads struct {
	start int64 // Unix ns, taken before any stat it holds

	mu      sync.Mutex
	stats   map[string]pathStat // absolute path -> what a stat said
	links   map[string]string   // absolute path of a symlink -> where it led ("" nowhere)
	texts   map[string]string   // absolute path of a symlink -> its link text
	changed int64               // latest change time among the stats
}

// pathStat is a stat's result: the file type (0 when the path did not
// exist) and the identity of that version of it.
type pathStat struct {
	mode uint32
	key  statKey
}

// NewReads starts a record. Its start time bounds which changes it can
// vouch for (see Trustworthy).
func NewReads() *Reads {
	return &Reads{start: time.Now().UnixNano(), stats: map[string]pathStat{}, links: map[string]string{}, texts: map[string]string{}}
}

func statPath(abs string) pathStat {
	var st unix.Stat_t
	if unix.Stat(abs, &st) != nil {
		return pathStat{}
	}
	return pathStat{uint32(st.Mode) & unix.S_IFMT, keyOf(&st)}
}

// Stat records the path as it is now, following symlinks. Call it before
// reading the folder or file: a change after the stat then shows as a
// different stat later, never as a stale record.
func (r *Reads) Stat(abs string) {
	if r == nil {
		return
	}
	s := statPath(abs)
	r.mu.Lock()
	r.stats[abs] = s
	r.changed = max(r.changed, s.key.mtime, s.key.ctime)
	r.mu.Unlock()
}

// Link records where a symlink led (target "" when it led nowhere).
func (r *Reads) Link(abs, target string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.links[abs] = target
	r.mu.Unlock()
}

// LinkText records a symlink's own text, read with readlink: where a chain
// of links leads can stay the same while the links met on the way change.
func (r *Reads) LinkText(abs, text string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.texts[abs] = text
	r.mu.Unlock()
}

// Trustworthy reports whether the record can vouch for what it saw: no
// stat it holds is of something changed so shortly before the record
// started that a further change could leave the stat the same.
func (r *Reads) Trustworthy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Trustworthy(r.start, r.changed)
}

// Unchanged reports whether every path still stats as recorded and every
// symlink still leads where it did.
func (r *Reads) Unchanged() bool {
	for abs, s := range r.stats {
		if statPath(abs) != s {
			return false
		}
	}
	for abs, target := range r.links {
		if now, err := filepath.EvalSymlinks(abs); (err == nil && now != target) || (err != nil && target != "") {
			return false
		}
	}
	for abs, text := range r.texts {
		if now, err := os.Readlink(abs); err != nil || now != text {
			return false
		}
	}
	return true
}

// Append appends the record's encoding to b; DecodeReads reads it back.
// Keep only a Trustworthy record: its times are not encoded, because a
// record that was trustworthy stays so while Unchanged.
func (r *Reads) Append(b []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b = binary.AppendUvarint(b, uint64(len(r.stats)))
	for _, abs := range slices.Sorted(maps.Keys(r.stats)) {
		s := r.stats[abs]
		b = statefile.AppendString(b, abs)
		b = binary.AppendUvarint(b, uint64(s.mode))
		b = binary.AppendVarint(b, s.key.size)
		b = binary.AppendVarint(b, s.key.mtime)
		b = binary.AppendVarint(b, s.key.ctime)
		b = binary.AppendUvarint(b, s.key.ino)
	}
	b = binary.AppendUvarint(b, uint64(len(r.links)))
	for _, abs := range slices.Sorted(maps.Keys(r.links)) {
		b = statefile.AppendString(b, abs)
		b = statefile.AppendString(b, r.links[abs])
	}
	b = binary.AppendUvarint(b, uint64(len(r.texts)))
	for _, abs := range slices.Sorted(maps.Keys(r.texts)) {
		b = statefile.AppendString(b, abs)
		b = statefile.AppendString(b, r.texts[abs])
	}
	return b
}

// DecodeReads reads a record Append wrote, to ask whether it is Unchanged.
func DecodeReads(d *statefile.Decoder) (*Reads, error) {
	r := &Reads{stats: map[string]pathStat{}, links: map[string]string{}, texts: map[string]string{}}
	for n := d.Count(6); n > 0; n-- { // the smallest: an empty path and five one-byte varints
		abs := d.String()
		var s pathStat
		s.mode = uint32(d.Uvarint())
		s.key.size, s.key.mtime, s.key.ctime = d.Varint(), d.Varint(), d.Varint()
		s.key.ino = d.Uvarint()
		r.stats[abs] = s
	}
	for n := d.Count(2); n > 0; n-- {
		abs := d.String()
		r.links[abs] = d.String()
	}
	for n := d.Count(2); n > 0; n-- {
		abs := d.String()
		r.texts[abs] = d.String()
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	return r, nil
}

// ExecutableIdentity names the running binary by its path and stat:
// rebuilding or reinstalling suite changes it. Records that only this
// build of suite may trust (a graph, memoized keys) carry it; "" (which no
// record matches) when it cannot be known. It is worked out once per
// process.
var ExecutableIdentity = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	st, err := StatFile(exe)
	if err != nil {
		return ""
	}
	return exe + "\x00" + string(st.Append(nil))
})
