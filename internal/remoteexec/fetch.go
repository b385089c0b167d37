package remoteexec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/sched"
)

// collect turns the server's answer into an Outcome, bringing the log, the
// XML and the undeclared outputs to the action's testlogs folder. An error
// means the result could not be brought back whole; the caller must not
// report a pass then.
func (e *Executor) collect(ctx context.Context, a *action.Action, files attemptFiles, resp *repb.ExecuteResponse) (sched.Outcome, error) {
	// What an earlier, abandoned collect of this attempt left must not
	// pass for this result's.
	_ = os.Remove(files.xml)
	_ = os.RemoveAll(files.outputs)
	r := resp.GetResult()
	st := resp.GetStatus()
	o := sched.Outcome{Remote: true, Cached: resp.GetCachedResult(), ExitCode: int(r.GetExitCode()), Duration: resultDuration(r)}
	var trailer string
	switch code := codes.Code(st.GetCode()); {
	case code == codes.DeadlineExceeded:
		o.Status, o.ExitCode = sched.Timeout, -1
		trailer = fmt.Sprintf("suite: killed by the remote executor at the timeout of %v\n", a.Timeout)
		if o.Duration == 0 {
			o.Duration = a.Timeout
		}
	case code != codes.OK:
		// The action could not run (no worker for it, a quota) or the
		// worker failed: the server's doing, not the test's.
		msg := e.ep.redact(st.GetMessage())
		if m := resp.GetMessage(); m != "" {
			msg += " (" + e.ep.redact(m) + ")"
		}
		return o, &refusedError{code, fmt.Errorf("Execute %s: %v: %s", e.describe, code, msg)}
	case r == nil:
		return o, fmt.Errorf("the server's ExecuteResponse has no result")
	case r.ExitCode == 0:
		o.Status = sched.Passed
	default:
		o.Status = sched.Failed
		for _, c := range a.Test.SkipExitCodes {
			if int(r.ExitCode) == c {
				o.Status = sched.Skipped
			}
		}
	}
	if msg := resp.GetMessage(); msg != "" && o.Status != sched.Passed && o.Status != sched.Skipped {
		trailer += "suite: remote executor: " + e.ep.redact(msg) + "\n"
	}
	if err := e.writeLog(ctx, files.log, r, trailer); err != nil {
		if o.Status == sched.Passed || o.Status == sched.Skipped {
			return o, fmt.Errorf("fetching the log: %w", err)
		}
		// A failure stays a failure; say what went missing.
		_ = os.WriteFile(files.log, []byte(trailer+"suite: the log could not be fetched: "+err.Error()+"\n"), 0o644)
	}
	o.LogPath = files.log
	if r != nil {
		if err := e.fetchOutputs(ctx, r, files, &o); err != nil && (o.Status == sched.Passed || o.Status == sched.Skipped) {
			return o, err
		}
	}
	o.ReadCases(a.Argv)
	return o, nil
}

// resultDuration is how long the test ran on the worker, as the server
// recorded it.
func resultDuration(r *repb.ActionResult) time.Duration {
	m := r.GetExecutionMetadata()
	if m.GetExecutionStartTimestamp() != nil && m.GetExecutionCompletedTimestamp() != nil {
		return m.ExecutionCompletedTimestamp.AsTime().Sub(m.ExecutionStartTimestamp.AsTime())
	}
	if m.GetWorkerStartTimestamp() != nil && m.GetWorkerCompletedTimestamp() != nil {
		return m.WorkerCompletedTimestamp.AsTime().Sub(m.WorkerStartTimestamp.AsTime())
	}
	return 0
}

// writeLog writes stdout, stderr (empty, since the wrapper joins it to
// stdout, unless the wrapper itself failed) and the trailer to path,
// keeping the last LogLimit bytes under the sandbox's truncation header.
// Blob sizes are known from their digests, so the bytes to drop are
// skipped on the way in, never stored.
func (e *Executor) writeLog(ctx context.Context, path string, r *repb.ActionResult, trailer string) error {
	type part struct {
		raw    []byte
		digest *repb.Digest
	}
	parts := []part{{r.GetStdoutRaw(), r.GetStdoutDigest()}, {r.GetStderrRaw(), r.GetStderrDigest()}, {[]byte(trailer), nil}}
	var total int64
	for i, p := range parts {
		if len(p.raw) == 0 && p.digest != nil {
			total += p.digest.SizeBytes
		} else {
			parts[i].digest = nil
			total += int64(len(p.raw))
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".log-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_ = tmp.Chmod(0o644)
	w := &skipWriter{w: tmp}
	if total > e.o.LogLimit {
		w.skip = total - e.o.LogLimit
		fmt.Fprintf(tmp, "suite: log truncated: the first %d of %d bytes were dropped; the last %d follow\n", w.skip, total, e.o.LogLimit)
	}
	for _, p := range parts {
		if p.digest != nil {
			err = e.cas.DownloadBlob(ctx, p.digest, w)
		} else {
			_, err = w.Write(p.raw)
		}
		if err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// skipWriter drops the first skip bytes written to it.
type skipWriter struct {
	w    io.Writer
	skip int64
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip >= int64(n) {
		s.skip -= int64(n)
		return n, nil
	}
	p = p[s.skip:]
	s.skip = 0
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// fetchOutputs brings test.xml and the undeclared outputs home.
func (e *Executor) fetchOutputs(ctx context.Context, r *repb.ActionResult, files attemptFiles, o *sched.Outcome) error {
	staged, err := os.MkdirTemp(files.dir, ".outputs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staged)
	found := false
	for _, f := range r.GetOutputFiles() {
		switch {
		case f.Path == remoteXML:
			if err := e.downloadFile(ctx, f.Digest, files.xml, false); err != nil {
				return fmt.Errorf("fetching %s: %w", action.OutputXML, err)
			}
			o.XMLPath = files.xml
		case strings.HasPrefix(f.Path, remoteOutputs+"/"):
			// A server may list files under an output directory singly.
			rel := strings.TrimPrefix(f.Path, remoteOutputs+"/")
			if !localPath(rel) {
				return fmt.Errorf("the server named an output %q outside the outputs folder", f.Path)
			}
			dst := filepath.Join(staged, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := e.downloadFile(ctx, f.Digest, dst, f.IsExecutable); err != nil {
				return fmt.Errorf("fetching output %s: %w", rel, err)
			}
			found = true
		}
	}
	for _, d := range r.GetOutputDirectories() {
		if d.Path != remoteOutputs {
			continue
		}
		n, err := e.fetchTree(ctx, d.TreeDigest, staged)
		if err != nil {
			return fmt.Errorf("fetching the undeclared outputs: %w", err)
		}
		found = found || n > 0
	}
	if found {
		if err := os.Rename(staged, files.outputs); err != nil {
			return err
		}
		o.OutputsDir = files.outputs
	}
	return nil
}

// downloadFile fetches blob d to dst through a temporary file beside it,
// so a blob that fails its digest check never appears at dst.
func (e *Executor) downloadFile(ctx context.Context, d *repb.Digest, dst string, executable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".blob-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if d != nil {
		if err := e.cas.DownloadBlob(ctx, d, tmp); err != nil {
			tmp.Close()
			return err
		}
	}
	mode := os.FileMode(0o644)
	if executable {
		mode = 0o755
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// fetchTree materializes the REAPI Tree d under dst and returns how many
// entries (files, folders, symlinks) it held.
func (e *Executor) fetchTree(ctx context.Context, d *repb.Digest, dst string) (int, error) {
	if d == nil {
		return 0, fmt.Errorf("output directory without a tree digest")
	}
	var buf bytes.Buffer
	if err := e.cas.DownloadBlob(ctx, d, &buf); err != nil {
		return 0, err
	}
	tree := &repb.Tree{}
	if err := proto.Unmarshal(buf.Bytes(), tree); err != nil {
		return 0, fmt.Errorf("tree %s: %v", d.Hash, err)
	}
	children := map[string]*repb.Directory{}
	for _, c := range tree.Children {
		b, err := action.Marshal(c)
		if err != nil {
			return 0, err
		}
		children[action.DigestOf(b).Hash] = c
	}
	return e.materialize(ctx, tree.Root, children, dst, 0)
}

// maxTreeDepth stops a Tree whose folders name each other in a cycle.
const maxTreeDepth = 256

func (e *Executor) materialize(ctx context.Context, dir *repb.Directory, children map[string]*repb.Directory, dst string, depth int) (int, error) {
	if depth > maxTreeDepth {
		return 0, fmt.Errorf("output tree deeper than %d folders", maxTreeDepth)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range dir.GetFiles() {
		if !localName(f.Name) {
			return n, fmt.Errorf("output file name %q is not a plain name", f.Name)
		}
		if err := e.downloadFile(ctx, f.Digest, filepath.Join(dst, f.Name), f.IsExecutable); err != nil {
			return n, fmt.Errorf("%s: %w", f.Name, err)
		}
		n++
	}
	for _, s := range dir.GetSymlinks() {
		if !localName(s.Name) {
			return n, fmt.Errorf("output symlink name %q is not a plain name", s.Name)
		}
		// Recreated, never followed, as the sandbox keeps them.
		if err := os.Symlink(s.Target, filepath.Join(dst, s.Name)); err != nil {
			return n, err
		}
		n++
	}
	for _, sub := range dir.GetDirectories() {
		if !localName(sub.Name) {
			return n, fmt.Errorf("output folder name %q is not a plain name", sub.Name)
		}
		child, ok := children[sub.GetDigest().GetHash()]
		if !ok {
			return n, fmt.Errorf("output folder %s is missing from its tree", sub.Name)
		}
		m, err := e.materialize(ctx, child, children, filepath.Join(dst, sub.Name), depth+1)
		n += m + 1
		if err != nil {
			return n, fmt.Errorf("%s/%w", sub.Name, err)
		}
	}
	return n, nil
}

// localName reports whether name is one path component that stays where
// it is put: a server must not make us write outside the outputs folder.
func localName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

func localPath(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if !localName(c) {
			return false
		}
	}
	return true
}
