//go:build linux

package sandbox

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// tailLog keeps the last limit bytes written to it, on disk, with flat
// memory: it alternates between two segment files of at most limit bytes
// each. When the current segment is full, the older one is truncated and
// becomes current; so the last limit bytes are always in the previous
// segment's tail plus the whole current one, and the disk holds at most
// 2*limit bytes (3*limit briefly while finish assembles the result).
//
// The first segment is the log file itself, so a log that never fills up is
// never copied.
type tailLog struct {
	limit     int64
	path      string // the final log; also the first segment
	spare     string // the second segment, created on first wrap
	cur, prev *os.File
	curN      int64
	total     int64
	err       error // first write error; later writes are counted, not stored
}

func newTailLog(path, spare string, limit int64) (*tailLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sandbox: log: %w", err)
	}
	return &tailLog{limit: limit, path: path, spare: spare, cur: f}, nil
}

// Write never fails, so that a full disk cannot block the test on a pipe
// nobody drains; the error comes back from finish.
func (t *tailLog) Write(p []byte) (int, error) {
	n := len(p)
	t.total += int64(n)
	for len(p) > 0 && t.err == nil {
		if t.curN == t.limit {
			t.err = t.rotate()
			continue
		}
		chunk := p[:min(int64(len(p)), t.limit-t.curN)]
		if _, err := t.cur.Write(chunk); err != nil {
			t.err = err
		}
		t.curN += int64(len(chunk))
		p = p[len(chunk):]
	}
	return n, nil
}

func (t *tailLog) rotate() error {
	if t.prev == nil {
		f, err := os.OpenFile(t.spare, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		t.prev = f
	}
	t.cur, t.prev = t.prev, t.cur
	t.curN = 0
	if err := t.cur.Truncate(0); err != nil {
		return err
	}
	_, err := t.cur.Seek(0, io.SeekStart)
	return err
}

// finish closes the segments and leaves the final log at path: a header line
// saying how much was dropped, then the last limit bytes.
func (t *tailLog) finish() (total int64, truncated bool, err error) {
	total, err = t.total, t.err
	if t.prev == nil {
		if cerr := t.cur.Close(); err == nil {
			err = cerr
		}
		return total, false, err
	}
	defer os.Remove(t.spare)
	defer t.prev.Close()
	defer t.cur.Close()
	if err != nil {
		return total, true, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), ".log-*")
	if err != nil {
		return total, true, err
	}
	defer os.Remove(tmp.Name())
	_ = tmp.Chmod(0o644)
	kept := t.limit
	fromPrev := t.limit - t.curN
	fmt.Fprintf(tmp, "suite: log truncated: the first %d of %d bytes were dropped; the last %d follow\n", total-kept, total, kept)
	if _, err := io.Copy(tmp, io.NewSectionReader(t.prev, t.limit-fromPrev, fromPrev)); err != nil {
		tmp.Close()
		return total, true, err
	}
	if _, err := io.Copy(tmp, io.NewSectionReader(t.cur, 0, t.curN)); err != nil {
		tmp.Close()
		return total, true, err
	}
	if err := tmp.Close(); err != nil {
		return total, true, err
	}
	return total, true, os.Rename(tmp.Name(), t.path)
}
