package action

// This file remembers keys across runs. Computing a key builds the Command
// and the Merkle tree of the inputs and serializes them; for a rerun with
// nothing changed that is most of the work left once the inputs are
// stat'ed. The memo maps a fingerprint of everything a key is computed
// from — the action's definition, and the stat of each input and tool —
// to the key, so such a rerun stats its inputs, hashes a few kilobytes per
// action, and builds nothing.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"github.com/suite-run/suite/internal/statefile"
	"github.com/suite-run/suite/internal/workspace"
)

// keyMemoMaxAge is how long an entry no run has used is kept.
const keyMemoMaxAge = 14 * 24 * time.Hour

type fingerprint [sha256.Size]byte

// keyMemoEntry is one remembered key. Only keys of actions whose files had
// not changed for the racy window when they were stat'ed are remembered
// (workspace.Trustworthy, for the same reason as a digest memo), so every
// entry can be trusted while the fingerprinted stats stay the same.
type keyMemoEntry struct {
	key  [sha256.Size]byte // the Action's digest
	size int64             // the serialized Action's size
	used int64             // Unix seconds when a run last used it
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
	if body, err := statefile.ReadSealed(path, keyMemoMagic); err == nil {
		if entries, err := decodeKeyMemo(body, m.build); err == nil {
			m.entries = entries
		}
	}
	return m
}

// get returns the key remembered for fp.
func (m *KeyMemo) get(fp fingerprint) (*repb.Digest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[fp]
	if !ok {
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
	e := &keyMemoEntry{size: key.SizeBytes, used: m.now().Unix()}
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
	err := statefile.WriteSealed(m.path, keyMemoMagic, encodeKeyMemo(m.build, m.entries))
	if err == nil {
		m.dirty = false
	}
	return err
}

// The memo file's body, sealed by statefile:
//
//	string build | uvarint count | count × entry
//	entry = 32-byte fingerprint | 32-byte key | varint size | varint used
const keyMemoMagic = "suitekm1"

// errOtherBuild is a memo written by another build of suite.
var errOtherBuild = errors.New("key memo of another build of suite")

func encodeKeyMemo(build string, entries map[fingerprint]*keyMemoEntry) []byte {
	b := statefile.AppendString(make([]byte, 0, len(build)+80*len(entries)+16), build)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for fp, e := range entries {
		b = append(b, fp[:]...)
		b = append(b, e.key[:]...)
		b = binary.AppendVarint(b, e.size)
		b = binary.AppendVarint(b, e.used)
	}
	return b
}

func decodeKeyMemo(body []byte, build string) (map[fingerprint]*keyMemoEntry, error) {
	d := statefile.NewDecoder(body)
	if wrote := d.String(); d.Err() != nil {
		return nil, d.Err()
	} else if build == "" || wrote != build {
		return nil, errOtherBuild
	}
	all := make([]keyMemoEntry, d.Count(66)) // the smallest entry: two hashes and two one-byte varints
	entries := make(map[fingerprint]*keyMemoEntry, len(all))
	for i := range all {
		e := &all[i]
		var fp fingerprint
		d.Read(fp[:])
		d.Read(e.key[:])
		e.size, e.used = d.Varint(), d.Varint()
		entries[fp] = e
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return entries, nil
}
