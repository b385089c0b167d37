package statefile

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealedRoundTripAndDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "memo")
	body := AppendString(binary.AppendUvarint(nil, 2), "päth")
	if err := WriteSealed(path, "test1", body); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSealed(path, "test1")
	if err != nil || string(got) != string(body) {
		t.Fatalf("ReadSealed = %q, %v; want %q", got, err, body)
	}
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": data[:len(data)-1],
		"flipped":   append(append([]byte(nil), data[:6]...), append([]byte{data[6] ^ 1}, data[7:]...)...),
		"extended":  append(append([]byte(nil), data...), 0),
	} {
		os.WriteFile(path, bad, 0o644)
		if _, err := ReadSealed(path, "test1"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s file: err %v, want ErrCorrupt", name, err)
		}
	}
	os.WriteFile(path, data, 0o644)
	if _, err := ReadSealed(path, "test2"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("another format's file: err %v, want ErrCorrupt", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the folder holds %d entries, want the file alone (no temp files left)", len(entries))
	}
}

func TestDecoder(t *testing.T) {
	b := binary.AppendUvarint(nil, 2)
	b = AppendString(b, "ab")
	b = binary.AppendVarint(b, -7)
	b = append(b, 1, 2, 3)
	d := NewDecoder(b)
	var three [3]byte
	if n := d.Count(1); n != 2 {
		t.Fatalf("Count = %d", n)
	}
	s, v := d.String(), d.Varint()
	d.Read(three[:])
	if err := d.End(); err != nil || s != "ab" || v != -7 || three != [3]byte{1, 2, 3} {
		t.Fatalf("read %q %d %v, err %v", s, v, three, err)
	}

	for name, read := range map[string]func(*Decoder){
		"a count the rest cannot hold":  func(d *Decoder) { d.Count(10) },
		"a string longer than the rest": func(d *Decoder) { d.Uvarint(); d.Uvarint(); _ = d.String() }, // its length is the byte "a"
		"bytes past the end":            func(d *Decoder) { d.Read(make([]byte, len(b)+1)) },
		"bytes left over":               func(d *Decoder) { d.Uvarint(); d.End() },
	} {
		d := NewDecoder(b)
		read(d)
		if !errors.Is(d.Err(), ErrCorrupt) {
			t.Errorf("%s: Err = %v, want ErrCorrupt", name, d.Err())
		}
		if d.Uvarint() != 0 || d.String() != "" { // reads after a failure
			t.Errorf("%s: reads after a failure returned data", name)
		}
	}
}
