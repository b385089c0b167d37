package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// Reasons a lookup misses. A corrupt entry's reason starts with
// ReasonCorrupt and a dangling one's with ReasonBlobMissing, followed by
// details.
const (
	ReasonNotFound    = "not found"
	ReasonTruncated   = "truncated"
	ReasonCorrupt     = "corrupt"
	ReasonBlobMissing = "blob missing"
)

// MissError is a lookup that found no usable entry. Key is the action key or
// blob hash looked up; Reason says why, in words a user can act on.
type MissError struct {
	Key    string
	Reason string
}

func (e *MissError) Error() string {
	return fmt.Sprintf("cache miss for %s: %s", e.Key, e.Reason)
}

// IsMiss reports whether err is (or wraps) a *MissError. Any other error from
// a Get means the cache itself could not be read.
func IsMiss(err error) bool {
	var m *MissError
	return errors.As(err, &m)
}

// An action entry is framed so that a short, flipped, foreign or misplaced
// file is told apart from a real entry:
//
//	entryMagic (8 bytes) | payload length (uint64, big endian) | payload |
//	SHA-256(entryMagic | length | key | payload) (32 bytes)
//
// The payload is the deterministic proto encoding of the ActionResult. The
// key enters the checksum, so an entry copied or renamed to another key's
// path is corrupt there, not a hit for the wrong action.
var entryMagic = [8]byte{'s', 'u', 'i', 't', 'e', 'A', 'C', 1}

const (
	entryHeaderLen = len(entryMagic) + 8
	entrySumLen    = sha256.Size
	// maxEntryPayload bounds what is read for one entry. An ActionResult
	// names its outputs by digest; even with inlined stdout it stays in
	// kilobytes, so anything near this is not ours.
	maxEntryPayload = 16 << 20
)

func entrySum(key string, header, payload []byte) []byte {
	h := sha256.New()
	h.Write(header)
	io.WriteString(h, key)
	h.Write(payload)
	return h.Sum(nil)
}

func encodeEntry(key string, payload []byte) []byte {
	buf := make([]byte, 0, entryHeaderLen+len(payload)+entrySumLen)
	buf = append(buf, entryMagic[:]...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	return append(buf, entrySum(key, buf[:entryHeaderLen], payload)...)
}

// decodeEntry returns the payload of a framed entry, or the reason it is not
// one.
func decodeEntry(key string, data []byte) (payload []byte, reason string) {
	magic := entryMagic[:]
	if len(data) < len(magic) {
		if bytes.HasPrefix(magic, data) {
			return nil, ReasonTruncated // includes an empty file
		}
		return nil, ReasonCorrupt + ": not a suite cache entry"
	}
	if !bytes.HasPrefix(data, magic) {
		return nil, ReasonCorrupt + ": not a suite cache entry"
	}
	if len(data) < entryHeaderLen {
		return nil, ReasonTruncated
	}
	n := binary.BigEndian.Uint64(data[len(magic):entryHeaderLen])
	if n > maxEntryPayload {
		return nil, fmt.Sprintf("%s: implausible length %d", ReasonCorrupt, n)
	}
	want := entryHeaderLen + int(n) + entrySumLen
	switch {
	case len(data) < want:
		return nil, ReasonTruncated
	case len(data) > want:
		return nil, fmt.Sprintf("%s: %d bytes after the end of the entry", ReasonCorrupt, len(data)-want)
	}
	payload = data[entryHeaderLen : entryHeaderLen+int(n)]
	if !bytes.Equal(data[want-entrySumLen:], entrySum(key, data[:entryHeaderLen], payload)) {
		return nil, ReasonCorrupt + ": checksum mismatch"
	}
	return payload, ""
}

// GetActionResult returns the result stored for the action digest key. It
// is a hit only if the entry is intact and every blob it names is present
// with the size it names; blob content is checked when read (GetBlob,
// BlobPath). Otherwise the error is a *MissError, or another error if the
// cache could not be read at all.
func (s *Store) GetActionResult(key string) (*repb.ActionResult, error) {
	if !validHash(key) {
		return nil, fmt.Errorf("cache: invalid action key %q: want 64 lower-case hex digits", key)
	}
	path := s.acPath(key)
	data, mtime, err := readEntryFile(path, entryHeaderLen+maxEntryPayload+entrySumLen+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissError{key, ReasonNotFound}
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	payload, reason := decodeEntry(key, data)
	if reason != "" {
		return nil, &MissError{key, reason}
	}
	r := new(repb.ActionResult)
	if err := proto.Unmarshal(payload, r); err != nil {
		return nil, &MissError{key, fmt.Sprintf("%s: %v", ReasonCorrupt, err)}
	}
	if reason := s.checkBlobs(r); reason != "" {
		return nil, &MissError{key, reason}
	}
	s.markUsed(path, mtime)
	return r, nil
}

// readEntryFile reads at most limit bytes of the file at path, and its
// mtime. A no-change rerun reads an entry per test, so this uses raw
// system calls: os.Open would spend five more per file offering it to the
// network poller, which refuses regular files.
func readEntryFile(path string, limit int) ([]byte, time.Time, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, time.Time{}, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, time.Time{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	// One byte more than the stat says, to see a file that grew.
	data := make([]byte, min(int(st.Size)+1, limit))
	n := 0
	for n < len(data) {
		m, err := unix.Read(fd, data[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, time.Time{}, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			break
		}
		n += m
	}
	return data[:n], time.Unix(st.Mtim.Unix()), nil
}

// referencedDigests lists the blobs r names directly. A Tree's own children
// are not followed: suite stores undeclared outputs as files.
func referencedDigests(r *repb.ActionResult) []*repb.Digest {
	ds := []*repb.Digest{r.GetStdoutDigest(), r.GetStderrDigest()}
	for _, f := range r.GetOutputFiles() {
		ds = append(ds, f.GetDigest())
	}
	for _, d := range r.GetOutputDirectories() {
		ds = append(ds, d.GetTreeDigest())
	}
	return ds
}

// checkBlobs returns why r cannot be served, or "". It stats each blob (no
// read: that would make every hit cost the size of its logs) and marks it
// used, so Trim keeps the blobs of entries in use.
func (s *Store) checkBlobs(r *repb.ActionResult) string {
	for _, d := range referencedDigests(r) {
		if d == nil || d.GetSizeBytes() == 0 && d.GetHash() == "" {
			continue // field not set
		}
		if err := checkDigest(d); err != nil {
			return fmt.Sprintf("%s: %v", ReasonCorrupt, err)
		}
		if d.GetSizeBytes() == 0 {
			continue // the empty blob is always available
		}
		path := s.casPath(d.GetHash())
		info, err := os.Stat(path)
		if err != nil {
			return fmt.Sprintf("%s: %s", ReasonBlobMissing, d.GetHash())
		}
		if info.Size() != d.GetSizeBytes() {
			return fmt.Sprintf("%s: %s has %d bytes, want %d", ReasonBlobMissing, d.GetHash(), info.Size(), d.GetSizeBytes())
		}
		s.markUsed(path, info.ModTime())
	}
	return ""
}

// PutActionResult stores r under the action digest key, replacing any entry
// there. Put the blobs r names first: an entry whose blobs are missing is a
// miss. An error means nothing was stored; callers warn and carry on.
func (s *Store) PutActionResult(key string, r *repb.ActionResult) error {
	if !validHash(key) {
		return fmt.Errorf("cache: invalid action key %q: want 64 lower-case hex digits", key)
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return fmt.Errorf("cache: encoding result for %s: %w", key, err)
	}
	if len(payload) > maxEntryPayload {
		return fmt.Errorf("cache: result for %s is %d bytes, more than the %d an entry may hold", key, len(payload), maxEntryPayload)
	}
	if err := s.writeAtomic(s.acPath(key), encodeEntry(key, payload)); err != nil {
		return fmt.Errorf("cache: storing result for %s: %w", key, err)
	}
	return nil
}
