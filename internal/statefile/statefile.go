// Package statefile writes and reads suite's own state files: the digest
// and key memos, the key index, the history, the graph cache.
//
// Every one is written whole, to a temporary file in the same folder that
// is then renamed over the old, so that a reader, in this process or
// another, sees the old content or the new and never part of either. The
// binary ones are also sealed: a magic string naming the format, then the
// body, then a CRC-32C of both, so that a truncated, damaged or foreign
// file reads as ErrCorrupt, which every caller treats as no file at all.
package statefile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write writes, creating the
// folder when missing. The file is not synced: a crash may lose it, which
// for a memo or an index only costs recomputation.
func Write(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// WriteBytes is Write for content already in memory.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// ErrCorrupt is a sealed file that is truncated, damaged, of another format
// or malformed inside.
var ErrCorrupt = errors.New("corrupt state file")

// CRC-32C rather than SHA-256: it guards against truncation and bit rot,
// not attack, and costs a fraction of a millisecond on megabytes.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSealed writes body to path, sealed with magic.
func WriteSealed(path, magic string, body []byte) error {
	b := make([]byte, 0, len(magic)+len(body)+4)
	b = append(append(b, magic...), body...)
	return WriteBytes(path, binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)))
}

// ReadSealed returns the body of the file at path, which WriteSealed wrote
// with magic: an error from reading it, or ErrCorrupt.
func ReadSealed(path, magic string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < len(magic)+4 || !bytes.HasPrefix(data, []byte(magic)) {
		return nil, ErrCorrupt
	}
	sealed, sum := data[:len(data)-4], data[len(data)-4:]
	if crc32.Checksum(sealed, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, ErrCorrupt
	}
	return sealed[len(magic):], nil
}

// AppendString appends s, prefixed with its length, as Decoder.String
// reads it back.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// Decoder reads a body made of binary.AppendUvarint, binary.AppendVarint,
// AppendString and fixed-size byte runs. The first malformed read sets Err
// and makes every later read return zero, so a decoder checks once, after
// reading an entry.
type Decoder struct {
	b    []byte
	text string // b as one string: strings read are substrings of it, one allocation in all
	off  int
	err  error
}

// NewDecoder decodes b.
func NewDecoder(b []byte) *Decoder {
	return &Decoder{b: b, text: string(b)}
}

func (d *Decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
}

// Uvarint reads what binary.AppendUvarint wrote.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

// Varint reads what binary.AppendVarint wrote.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

// String reads what AppendString wrote.
func (d *Decoder) String() string {
	n := d.Uvarint()
	if d.err != nil || n > uint64(d.Len()) {
		d.fail()
		return ""
	}
	s := d.text[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

// Read fills dst with the next len(dst) bytes.
func (d *Decoder) Read(dst []byte) {
	if d.err != nil || len(dst) > d.Len() {
		d.fail()
		return
	}
	d.off += copy(dst, d.b[d.off:])
}

// Count reads a number of entries that each take at least minSize bytes:
// a count the rest of the body cannot hold is corrupt, and refused before
// anything is allocated for it.
func (d *Decoder) Count(minSize int) int {
	n := d.Uvarint()
	if d.err != nil || n > uint64(d.Len()/max(minSize, 1)) {
		d.fail()
		return 0
	}
	return int(n)
}

// Len is the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) - d.off }

// Rest returns the bytes not read yet, and reads them.
func (d *Decoder) Rest() []byte {
	rest := d.b[d.off:]
	d.off = len(d.b)
	return rest
}

// Err is ErrCorrupt once a read failed.
func (d *Decoder) Err() error { return d.err }

// End is Err, or ErrCorrupt when bytes are left unread.
func (d *Decoder) End() error {
	if d.err == nil && d.Len() != 0 {
		d.fail()
	}
	return d.err
}
