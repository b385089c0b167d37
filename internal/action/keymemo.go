package action

// This file remembers keys across runs. Computing a key builds the Command
// and the Merkle tree of the inputs and serializes them; for a rerun with
// nothing changed that is most of the work left once the inputs are
// stat'ed. The memo maps a fingerprint of everything a key is computed
// from — the action's definition, and the stat of each input and tool —
// to the key, so such a rerun stats its inputs, hashes a few kilobytes per
// action, and builds nothing.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"github.com/suite-run/suite/internal/atomicfile"
	"github.com/suite-run/suite/internal/workspace"
)

// keyMemoMaxAge is how long an entry no run has used is kept.
const keyMemoMaxAge = 14 * 24 * time.Hour

type fingerprint [sha256.Size]byte

// keyMemoEntry is one remembered key.
type keyMemoEntry struct {
	key  [sha256.Size]byte // the Action's digest
	size int64             // the serialized Action's size
	// recorded is when the fingerprinted stats were taken; changed is the
	// latest change time among the files they cover. The entry is trusted
	// only when the two are far enough apart (workspace.Trustworthy), for
	// the same reason as a digest memo.
	recorded, changed int64
	used              int64 // Unix seconds when a run last used it
}

// KeyMemo is the key memo of one workspace, in one file. It is safe for
// concurrent use. Runs sharing the file each load it once; the last Save
// wins, which costs the loser only some recomputation.
//
// The file belongs to one build of suite: a different binary may compute
// keys differently, so it starts from an empty memo rather than trust a
// version number to have been bumped.
type KeyMemo struct {
	path  string
	build string // the identity of the binary that wrote the entries
	now   func() time.Time

	mu      sync.Mutex
	entries map[fingerprint]*keyMemoEntry
	dirty   bool
}

// OpenKeyMemo loads the memo at path. A missing or corrupt file is an
// empty memo: it is only ever an optimization.
func OpenKeyMemo(path string) *KeyMemo {
	m := &KeyMemo{path: path, build: workspace.ExecutableIdentity(), now: time.Now, entries: map[fingerprint]*keyMemoEntry{}}
	if data, err := os.ReadFile(path); err == nil {
		if entries, err := decodeKeyMemo(data, m.build); err == nil {
			m.entries = entries
		}
	}
	return m
}

// get returns the key remembered for fp, if it is trusted.
func (m *KeyMemo) get(fp fingerprint) (*repb.Digest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[fp]
	if !ok || !workspace.Trustworthy(e.recorded, e.changed) {
		return nil, false
	}
	e.used = m.now().Unix()
	return &repb.Digest{Hash: hex.EncodeToString(e.key[:]), SizeBytes: e.size}, true
}

// put remembers key for fp, unless the files it covers changed too
// recently for their stats to be trusted later.
func (m *KeyMemo) put(fp fingerprint, key *repb.Digest, recorded, changed int64) {
	if !workspace.Trustworthy(recorded, changed) {
		return
	}
	e := &keyMemoEntry{size: key.SizeBytes, recorded: recorded, changed: changed, used: m.now().Unix()}
	if n, err := hex.Decode(e.key[:], []byte(key.Hash)); err != nil || n != len(e.key) {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[fp] = e
	m.dirty = true
}

// Save writes the memo if a key was added since it was loaded, dropping
// entries no run has used for keyMemoMaxAge.
func (m *KeyMemo) Save() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirty {
		return nil
	}
	oldest := m.now().Add(-keyMemoMaxAge).Unix()
	for fp, e := range m.entries {
		if e.used < oldest {
			delete(m.entries, fp)
		}
	}
	err := atomicfile.Write(m.path, func(w io.Writer) error { return encodeKeyMemo(w, m.build, m.entries) })
	if err == nil {
		m.dirty = false
	}
	return err
}

// The memo file:
//
//	keyMemoMagic | uvarint len(build) | build | uvarint count | count × entry |
//	CRC-32C of all before it
//	entry = 32-byte fingerprint | 32-byte key | varint size |
//	        varint recorded | varint changed | varint used
var keyMemoMagic = []byte("suitekm1")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errCorruptKeyMemo = errors.New("corrupt key memo")

func encodeKeyMemo(w io.Writer, build string, entries map[fingerprint]*keyMemoEntry) error {
	buf := append([]byte(nil), keyMemoMagic...)
	buf = binary.AppendUvarint(buf, uint64(len(build)))
	buf = append(buf, build...)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	for fp, e := range entries {
		buf = append(buf, fp[:]...)
		buf = append(buf, e.key[:]...)
		buf = binary.AppendVarint(buf, e.size)
		buf = binary.AppendVarint(buf, e.recorded)
		buf = binary.AppendVarint(buf, e.changed)
		buf = binary.AppendVarint(buf, e.used)
	}
	buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	_, err := w.Write(buf)
	return err
}

func decodeKeyMemo(data []byte, build string) (map[fingerprint]*keyMemoEntry, error) {
	if len(data) < len(keyMemoMagic)+4 || !bytes.HasPrefix(data, keyMemoMagic) {
		return nil, errCorruptKeyMemo
	}
	body, sum := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, errCorruptKeyMemo
	}
	off := len(keyMemoMagic)
	n, k := binary.Uvarint(body[off:])
	if k <= 0 || n > uint64(len(body)-off-k) || build == "" || string(body[off+k:off+k+int(n)]) != build {
		return nil, errCorruptKeyMemo // or another build's
	}
	off += k + int(n)
	count, k := binary.Uvarint(body[off:])
	// Each entry takes at least 68 bytes; a count beyond that is a lie.
	if k <= 0 || count > uint64(len(body))/68 {
		return nil, errCorruptKeyMemo
	}
	off += k
	entries := make(map[fingerprint]*keyMemoEntry, count)
	all := make([]keyMemoEntry, count)
	for i := range all {
		e := &all[i]
		if len(body)-off < 2*sha256.Size {
			return nil, errCorruptKeyMemo
		}
		var fp fingerprint
		off += copy(fp[:], body[off:])
		off += copy(e.key[:], body[off:])
		for _, v := range []*int64{&e.size, &e.recorded, &e.changed, &e.used} {
			x, n := binary.Varint(body[off:])
			if n <= 0 {
				return nil, errCorruptKeyMemo
			}
			*v, off = x, off+n
		}
		entries[fp] = e
	}
	if off != len(body) {
		return nil, errCorruptKeyMemo
	}
	return entries, nil
}
