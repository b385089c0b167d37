package remoteexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"github.com/suite-run/suite/internal/action"
)

// uploadConcurrency bounds the blobs in flight at once: enough to hide
// round trips, few enough not to open hundreds of streams per action.
const uploadConcurrency = 8

// blobSource is where the bytes of one blob to upload come from: in memory
// (Command, Action, Directory messages) or a file on the host (inputs and
// tools).
type blobSource struct {
	digest *repb.Digest
	data   []byte
	path   string
}

// blobSet is everything the server needs to run one remote action.
type blobSet map[string]blobSource // by hash

func newBlobSet(key *action.Key, ra *remoteAction) blobSet {
	s := blobSet{}
	s.addData(ra.commandBytes)
	s.addData(ra.actionBytes)
	files := key.Files()
	for _, dir := range key.Dirs {
		b, err := action.Marshal(dir)
		if err == nil {
			s.addData(b)
		}
		for _, f := range dir.Files {
			if p, ok := files[f.Digest.Hash]; ok {
				s[f.Digest.Hash] = blobSource{digest: f.Digest, path: p}
			}
		}
	}
	return s
}

func (s blobSet) addData(b []byte) {
	d := action.DigestOf(b)
	s[d.Hash] = blobSource{digest: d, data: b}
}

func (s blobSet) digests() []*repb.Digest {
	out := make([]*repb.Digest, 0, len(s))
	for _, b := range s {
		out = append(out, b.digest)
	}
	return out
}

// uploadMissing asks the server which blobs it lacks and uploads those.
func (e *Executor) uploadMissing(ctx context.Context, s blobSet) error {
	missing, err := e.cas.FindMissingBlobs(ctx, s.digests())
	if err != nil {
		return err
	}
	return e.upload(ctx, s, missing)
}

// upload sends the blobs ds of s, several at a time; cache.Remote picks
// BatchUpdateBlobs or ByteStream by size.
func (e *Executor) upload(ctx context.Context, s blobSet, ds []*repb.Digest) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, uploadConcurrency)
	)
	for _, d := range ds {
		src, ok := s[d.GetHash()]
		if !ok {
			continue // not ours to send; the caller decides what that means
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := e.uploadOne(ctx, src); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0] // the first is the cause; the rest were cancelled by it
	}
	return nil
}

func (e *Executor) uploadOne(ctx context.Context, src blobSource) error {
	var r io.Reader
	if src.path != "" {
		f, err := os.Open(src.path)
		if err != nil {
			return fmt.Errorf("uploading input %s: %w", src.path, err)
		}
		defer f.Close()
		r = f
	} else {
		r = bytes.NewReader(src.data)
	}
	if err := e.cas.UploadBlob(ctx, src.digest, r); err != nil {
		if src.path != "" {
			// Most likely the file changed after it was hashed.
			return fmt.Errorf("uploading input %s: %w", src.path, err)
		}
		return err
	}
	return nil
}

// errMissingBlobs is returned when the server says, after the upload,
// that blobs are missing (evicted between upload and execution, or a CAS
// sharded so that FindMissingBlobs and Execute disagree).
type errMissingBlobs struct {
	digests []*repb.Digest // those the server named; nil when it named none
	msg     string
}

func (e *errMissingBlobs) Error() string { return e.msg }

func isMissingBlobs(err error) (*errMissingBlobs, bool) {
	var m *errMissingBlobs
	ok := errors.As(err, &m)
	return m, ok
}
