package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
)

// Blobs are named by *repb.Digest, the REAPI type, rather than a type of our
// own: the ActionResult that names them already holds *repb.Digest values,
// and a remote cache speaks them too, so no conversion sits between the two.

// emptyHash is the SHA-256 of no bytes. The empty blob is always available,
// as REAPI servers treat it.
const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// DigestOf returns the digest of data.
func DigestOf(data []byte) *repb.Digest {
	sum := sha256.Sum256(data)
	return &repb.Digest{Hash: hex.EncodeToString(sum[:]), SizeBytes: int64(len(data))}
}

// checkDigest reports whether d can name a blob at all.
func checkDigest(d *repb.Digest) error {
	switch {
	case d == nil:
		return errors.New("nil digest")
	case !validHash(d.GetHash()):
		return fmt.Errorf("invalid digest hash %q: want 64 lower-case hex digits", d.GetHash())
	case d.GetSizeBytes() < 0:
		return fmt.Errorf("invalid digest size %d", d.GetSizeBytes())
	case d.GetSizeBytes() == 0 && d.GetHash() != emptyHash:
		return fmt.Errorf("digest %s has size 0 but is not the empty blob", d.GetHash())
	}
	return nil
}

// PutBlob stores data and returns its digest. A blob already present with
// the right size is not rewritten, only marked used.
func (s *Store) PutBlob(data []byte) (*repb.Digest, error) {
	d := DigestOf(data)
	path := s.casPath(d.Hash)
	if info, err := os.Stat(path); err == nil && info.Size() == d.SizeBytes {
		s.markUsed(path, info.ModTime())
		return d, nil
	}
	if err := s.writeAtomic(path, data); err != nil {
		return nil, fmt.Errorf("cache: storing blob %s: %w", d.Hash, err)
	}
	s.verified.Store(d.Hash, struct{}{})
	return d, nil
}

// PutFile stores the content of the file at path, copying and hashing it in
// one streaming pass, and returns its digest.
func (s *Store) PutFile(path string) (*repb.Digest, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer src.Close()
	// The hash, and with it the fan-out directory, is known only at the
	// end, so the temp file lives in cas/ itself; the rename stays within
	// one file system.
	tmp, err := createTemp(filepath.Join(s.dir, casDir))
	if err != nil {
		return nil, fmt.Errorf("cache: storing %s: %w", path, err)
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, h), src)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("cache: storing %s: %w", path, err)
	}
	d := &repb.Digest{Hash: hex.EncodeToString(h.Sum(nil)), SizeBytes: size}
	final := s.casPath(d.Hash)
	if info, err := os.Stat(final); err == nil && info.Size() == size {
		os.Remove(tmp.Name())
		s.markUsed(final, info.ModTime())
		return d, nil
	}
	if err := s.moveIntoCAS(tmp.Name(), d); err != nil {
		return nil, fmt.Errorf("cache: storing %s: %w", path, err)
	}
	return d, nil
}

// moveIntoCAS renames a complete, checked temp file to blob d's place,
// making the fan-out directory on its first blob; on failure the temp file
// is removed.
func (s *Store) moveIntoCAS(tmp string, d *repb.Digest) error {
	final := s.casPath(d.Hash)
	err := os.Rename(tmp, final)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(final), 0o777); err == nil {
			err = os.Rename(tmp, final)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	s.verified.Store(d.Hash, struct{}{})
	return nil
}

// GetBlob returns the content of the blob d. Content that does not match d
// is a miss, and the bad file is removed so the next Put replaces it.
func (s *Store) GetBlob(d *repb.Digest) ([]byte, error) {
	if err := checkDigest(d); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if d.SizeBytes == 0 {
		return []byte{}, nil
	}
	path := s.casPath(d.Hash)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissError{d.Hash, ReasonNotFound}
	}
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if info.Size() != d.SizeBytes {
		removeIfSame(path, info)
		return nil, &MissError{d.Hash, fmt.Sprintf("%s: %d bytes, want %d", ReasonCorrupt, info.Size(), d.SizeBytes)}
	}
	data := make([]byte, d.SizeBytes)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if DigestOf(data).Hash != d.Hash {
		removeIfSame(path, info)
		return nil, &MissError{d.Hash, ReasonCorrupt + ": content does not match its digest"}
	}
	s.verified.Store(d.Hash, struct{}{})
	s.markUsed(path, info.ModTime())
	return data, nil
}

// BlobFile returns where the blob d is in the store without reading it,
// for a blob named by an entry GetActionResult just returned, which checked
// that it is there with the right size. Its content is not verified, as
// BlobPath's is: a rerun of 2,000 cached tests would otherwise read and
// hash 2,000 logs that nobody looks at.
func (s *Store) BlobFile(d *repb.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if d.SizeBytes == 0 {
		return s.BlobPath(d) // the empty blob is made on demand
	}
	return s.casPath(d.Hash), nil
}

// BlobPath returns the path of the blob d, for streaming a big blob out
// without holding it in memory. The first call for a blob in this Store
// hashes the file; later calls only stat it. The file belongs to the cache:
// open it read-only and copy it, never hard-link it somewhere a test could
// write to it.
func (s *Store) BlobPath(d *repb.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	path := s.casPath(d.Hash)
	if d.SizeBytes == 0 {
		// Callers want a file to copy; materialize the empty blob.
		if _, err := os.Stat(path); err != nil {
			if err := s.writeAtomic(path, nil); err != nil {
				return "", fmt.Errorf("cache: %w", err)
			}
		}
		return path, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &MissError{d.Hash, ReasonNotFound}
	}
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	if info.Size() != d.SizeBytes {
		removeIfSame(path, info)
		return "", &MissError{d.Hash, fmt.Sprintf("%s: %d bytes, want %d", ReasonCorrupt, info.Size(), d.SizeBytes)}
	}
	if _, ok := s.verified.Load(d.Hash); !ok {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("cache: %w", err)
		}
		if hex.EncodeToString(h.Sum(nil)) != d.Hash {
			removeIfSame(path, info)
			return "", &MissError{d.Hash, ReasonCorrupt + ": content does not match its digest"}
		}
		s.verified.Store(d.Hash, struct{}{})
	}
	s.markUsed(path, info.ModTime())
	return path, nil
}
