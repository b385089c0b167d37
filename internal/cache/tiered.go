package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
)

// Tiered is the cache a run uses: the local Store first, then a shared
// Remote behind it.
//
//   - Reads: a local hit is served without asking the remote. On a local
//     miss the remote entry is fetched with every blob it names; each blob
//     is checked against its digest on the way into the local store, and
//     the entry is then served from the local store, so a remote hit is
//     exactly as trustworthy as a local one.
//   - Writes: always to the local store; to the remote only when upload is
//     set (CI, --remote-upload), or for a result the remote executor whose
//     cache it is produced, blobs first and the entry last. A write the
//     remote refuses for want of permission (a read-only token) stops the
//     writes, with one warning, and the reads go on.
//   - Failures: the first time the remote fails (unreachable, refused, too
//     slow, or sends something that is not what it claims), Tiered records
//     one warning and stops using the remote for the rest of the run. The
//     call that failed answers as if there were no remote: a miss, or a
//     local-only write. A remote never fails a run and never makes a hit.
//
// A remote that simply lacks an entry or one of its blobs is a miss, not a
// failure: shared caches evict.
//
// Tiered is safe for concurrent use.
type Tiered struct {
	local  *Store
	remote Remote // nil: local only
	upload bool
	// executorCache: the remote is a remote executor's own cache, which
	// results that executor produced are written back to (see
	// PutExecutedActionResult).
	executorCache bool

	// alive is cancelled when the remote is given up on, which also
	// cuts short the requests other goroutines have in flight: once one
	// request has timed out, the rest should not each wait as long.
	alive   context.Context
	disable context.CancelCauseFunc

	mu      sync.Mutex
	warning string
	// writeWarning is set when the remote refused a write for want of
	// permission: writes stop, reads go on.
	writeWarning string
}

// errRemoteDisabled ends the remote requests still in flight when the
// remote is given up on.
var errRemoteDisabled = errors.New("remote cache disabled for the rest of the run")

// NewTiered returns the cache of a run over local and remote. remote may be
// nil (no remote configured). upload says whether results go to the remote
// too. Tiered takes ownership of remote: Close closes it.
func NewTiered(local *Store, remote Remote, upload bool) *Tiered {
	alive, disable := context.WithCancelCause(context.Background())
	return &Tiered{local: local, remote: remote, upload: upload, alive: alive, disable: disable}
}

// Local returns the local store.
func (t *Tiered) Local() *Store { return t.local }

// Warnings returns what the user should be told about the remote: at most
// one line for the whole run, nil while the remote works (or there is none).
func (t *Tiered) Warnings() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var w []string
	for _, msg := range []string{t.writeWarning, t.warning} {
		if msg != "" {
			w = append(w, msg)
		}
	}
	return w
}

// writable says whether results may still go to the remote: it has not
// refused a write for want of permission.
func (t *Tiered) writable() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writeWarning == ""
}

// writeFailed handles a failed write: a refusal for want of permission (a
// token that may read but not write, an executor's cache closed to
// clients) stops the writes and keeps the reads, which still save work;
// anything else is a failure of the remote.
func (t *Tiered) writeFailed(ctx context.Context, doing string, err error) {
	if !IsWriteRefused(err) || ctx.Err() != nil {
		t.failed(ctx, doing, err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.writeWarning == "" {
		t.writeWarning = fmt.Sprintf("remote cache %s refused a write (%v): results are not uploaded for the rest of this run; it is still read", t.remote, err)
	}
}

// Close closes the remote.
func (t *Tiered) Close() error {
	t.disable(errRemoteDisabled)
	if t.remote == nil {
		return nil
	}
	return t.remote.Close()
}

func (t *Tiered) remoteUsable() bool {
	return t.remote != nil && t.alive.Err() == nil
}

// remoteContext derives the context of one remote operation: it ends when
// the caller's ctx does or when the remote is given up on. The caller's
// deadline is not passed on as such: a gRPC server would enforce it too and
// could answer DeadlineExceeded a moment before ctx itself ends, which
// would read as the remote being slow. Only the remote's own timeout goes
// on the wire.
func (t *Tiered) remoteContext(ctx context.Context) (context.Context, func()) {
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stopCaller := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	stopAlive := context.AfterFunc(t.alive, func() { cancel(errRemoteDisabled) })
	return rctx, func() { stopCaller(); stopAlive(); cancel(nil) }
}

// failed decides what a remote error means. A miss is a miss. An error
// because the caller gave up (Ctrl-C, end of run) says nothing about the
// remote. Anything else gives up on the remote, with one warning.
func (t *Tiered) failed(ctx context.Context, doing string, err error) {
	var miss *MissError
	if errors.As(err, &miss) && (miss.Reason == ReasonNotFound || strings.HasPrefix(miss.Reason, ReasonBlobMissing)) {
		return
	}
	if ctx.Err() != nil || errors.Is(err, errRemoteDisabled) {
		return
	}
	var local *localWriteError
	if errors.As(err, &local) {
		return // the local store's trouble, reported by its own Puts
	}
	t.mu.Lock()
	if t.warning == "" {
		t.warning = fmt.Sprintf("remote cache %s failed while %s: %v; the rest of this run uses the local cache only", t.remote, doing, err)
	}
	t.mu.Unlock()
	t.disable(errRemoteDisabled)
}

// GetActionResult returns the result for the action digest key: from the
// local store, or else from the remote by way of the local store. The
// error is the local store's: a *MissError when neither has a usable
// entry (whatever the remote's trouble was, it is in Warnings), another
// error when the local store cannot be read.
func (t *Tiered) GetActionResult(ctx context.Context, key *repb.Digest) (*repb.ActionResult, error) {
	if err := checkDigest(key); err != nil {
		return nil, fmt.Errorf("cache: invalid action key: %w", err)
	}
	r, err := t.local.GetActionResult(key.Hash)
	if err == nil || !IsMiss(err) || !t.remoteUsable() {
		return r, err
	}
	if !t.fetch(ctx, key) {
		return nil, err
	}
	return t.local.GetActionResult(key.Hash)
}

// fetch copies the remote entry for key and its blobs into the local
// store, and reports whether it did.
func (t *Tiered) fetch(ctx context.Context, key *repb.Digest) bool {
	rctx, done := t.remoteContext(ctx)
	defer done()
	r, err := t.remote.GetActionResult(rctx, key)
	if err != nil {
		t.failed(ctx, "looking up an action", err)
		return false
	}
	ds, err := blobsOf(r)
	if err != nil {
		t.failed(ctx, "looking up an action", &MissError{key.Hash, fmt.Sprintf("%s: remote entry: %v", ReasonCorrupt, err)})
		return false
	}
	for _, d := range ds {
		if t.local.hasBlob(d) {
			continue
		}
		err := t.local.putBlobFrom(d, func(w io.Writer) error {
			return t.remote.DownloadBlob(rctx, d, w)
		})
		if err != nil {
			var miss *MissError
			if errors.As(err, &miss) && miss.Reason == ReasonNotFound {
				// The entry outlived one of its blobs on the remote.
				err = &MissError{key.Hash, ReasonBlobMissing + ": remote " + d.Hash}
			}
			t.failed(ctx, "downloading a blob", err)
			return false
		}
	}
	// The entry is written only after all its blobs: a reader racing us
	// sees a miss until it is complete. If the local store cannot take
	// it, the run goes on uncached, as it does with no remote.
	return t.local.PutActionResult(key.Hash, r) == nil
}

// PutActionResult stores r under the action digest key locally and, when
// uploading, on the remote: the blobs the remote lacks (read from the local
// store, so Put them first), then the entry. Only a local failure is an
// error; a remote one becomes the run's warning.
func (t *Tiered) PutActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error {
	if err := checkDigest(key); err != nil {
		return fmt.Errorf("cache: invalid action key: %w", err)
	}
	if err := t.local.PutActionResult(key.Hash, r); err != nil {
		return err
	}
	if t.upload && t.remoteUsable() && t.writable() {
		t.push(ctx, key, r)
	}
	return nil
}

// SetExecutorCache says the remote is the action cache of the remote
// executor the run uses (its default remote cache).
func (t *Tiered) SetExecutorCache(yes bool) { t.executorCache = yes }

// PutExecutedActionResult stores a result that the remote executor
// produced. It goes to the remote whenever that is the executor's own
// cache, even without upload: the result comes from the executor's
// workers, not from this machine, and filing it under the action's key is
// what lets the next run, local or remote, on any machine, hit it (Bazel's
// remote executions fill the executor's action cache whatever
// --remote_upload_local_results says). The executor's digest of the action
// it ran differs from the key (see remoteexec), so the executor cannot
// file it there itself.
func (t *Tiered) PutExecutedActionResult(ctx context.Context, key *repb.Digest, r *repb.ActionResult) error {
	if err := checkDigest(key); err != nil {
		return fmt.Errorf("cache: invalid action key: %w", err)
	}
	if err := t.local.PutActionResult(key.Hash, r); err != nil {
		return err
	}
	if (t.upload || t.executorCache) && t.remoteUsable() && t.writable() {
		t.push(ctx, key, r)
	}
	return nil
}

func (t *Tiered) push(ctx context.Context, key *repb.Digest, r *repb.ActionResult) {
	ds, err := blobsOf(r)
	if err != nil {
		return // the local store would not serve it either
	}
	rctx, done := t.remoteContext(ctx)
	defer done()
	missing, err := t.remote.FindMissingBlobs(rctx, ds)
	if err != nil {
		t.failed(ctx, "checking for blobs", err)
		return
	}
	asked := map[string]bool{}
	for _, d := range ds {
		asked[d.Hash] = true
	}
	for _, d := range missing {
		if !asked[d.GetHash()] {
			continue // not one we asked about: nothing of ours to send
		}
		path, err := t.local.BlobPath(d)
		if err != nil {
			// Not ours to upload any more (evicted, corrupt): an entry
			// without it would be a dangling entry on the remote.
			return
		}
		f, err := os.Open(path)
		if err != nil {
			return
		}
		err = t.remote.UploadBlob(rctx, d, f)
		f.Close()
		if err != nil {
			t.writeFailed(ctx, "uploading a blob", err)
			return
		}
	}
	if err := t.remote.UpdateActionResult(rctx, key, r); err != nil {
		t.writeFailed(ctx, "uploading an action result", err)
	}
}

// GetBlob returns blob d from the local store, where GetActionResult has
// put every blob of the entries it returned.
func (t *Tiered) GetBlob(d *repb.Digest) ([]byte, error) { return t.local.GetBlob(d) }

// BlobPath is the local store's BlobPath.
func (t *Tiered) BlobPath(d *repb.Digest) (string, error) { return t.local.BlobPath(d) }

// BlobFile is the local store's BlobFile.
func (t *Tiered) BlobFile(d *repb.Digest) (string, error) { return t.local.BlobFile(d) }

// PutBlob stores data in the local store; PutActionResult uploads it with
// the entry that names it.
func (t *Tiered) PutBlob(data []byte) (*repb.Digest, error) { return t.local.PutBlob(data) }

// PutFile stores the file at path in the local store, like PutBlob.
func (t *Tiered) PutFile(path string) (*repb.Digest, error) { return t.local.PutFile(path) }

// blobsOf lists the blobs r names that have content, each once, or says
// why r cannot be an entry.
func blobsOf(r *repb.ActionResult) ([]*repb.Digest, error) {
	seen := map[string]bool{}
	var ds []*repb.Digest
	for _, d := range referencedDigests(r) {
		if d == nil || d.GetSizeBytes() == 0 && d.GetHash() == "" {
			continue // field not set
		}
		if err := checkDigest(d); err != nil {
			return nil, err
		}
		if d.SizeBytes == 0 || seen[d.Hash] {
			continue
		}
		seen[d.Hash] = true
		ds = append(ds, d)
	}
	return ds, nil
}

// hasBlob reports whether blob d is in the store with its size. Its content
// is checked when it is read.
func (s *Store) hasBlob(d *repb.Digest) bool {
	info, err := os.Stat(s.casPath(d.Hash))
	return err == nil && info.Size() == d.SizeBytes
}

// localWriteError is the local store failing to take a blob, as opposed to
// the remote failing to send it.
type localWriteError struct{ err error }

func (e *localWriteError) Error() string { return "cache: " + e.err.Error() }
func (e *localWriteError) Unwrap() error { return e.err }

// localWriter marks the errors of writes to the store's temp file, so
// that a full disk is not blamed on the remote.
type localWriter struct{ f *os.File }

func (w localWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = &localWriteError{err}
	}
	return n, err
}

// putBlobFrom stores as blob d what fill writes, if and only if it hashes
// to d. It goes to a temp file first and is renamed into place after the
// check, so a blob that arrives wrong, or half, is never in the store.
func (s *Store) putBlobFrom(d *repb.Digest, fill func(io.Writer) error) error {
	tmp, err := createTemp(filepath.Join(s.dir, casDir))
	if err != nil {
		return &localWriteError{err}
	}
	dw := newDigestWriter(localWriter{tmp}, d)
	err = fill(dw)
	if err == nil {
		err = dw.check()
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = &localWriteError{cerr}
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := s.moveIntoCAS(tmp.Name(), d); err != nil {
		return &localWriteError{err}
	}
	return nil
}
