//go:build linux

package sandbox

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/suite-run/suite/internal/sandbox/pid1"
)

// traceUnavailable is the warning for a traced action whose lookups could
// not be seen: no namespaces, or a kernel without seccomp user
// notification. The caller says it once per run.
const traceUnavailable = "cannot see which files tests look up (seccomp user notification needs Linux 5.5 and a pid namespace): undeclared reads are named from the failing tests' logs instead, and traced inputs are not cached"

// traceRoot is the workspace as the test's processes see it, which is how
// the kernel spells the paths the tracer resolves through /proc: the
// workspace's real path.
func traceRoot(workspace string) string {
	if p, err := filepath.EvalSymlinks(workspace); err == nil {
		return p
	}
	return workspace
}

// traceReport gathers the tracer's report lines.
type traceReport struct {
	traced  bool
	reads   []TracedFile
	missing []string
	listed  []TracedFile
}

// add takes a report line if it is the tracer's.
func (r *traceReport) add(verb, arg string) bool {
	switch verb {
	case pid1.ReportTraced:
		r.traced = true
	case pid1.ReportRead, pid1.ReportListed:
		ctime, path, _ := strings.Cut(arg, " ")
		n, err := strconv.ParseInt(ctime, 10, 64)
		if err != nil {
			return false
		}
		if verb == pid1.ReportRead {
			r.reads = append(r.reads, TracedFile{Path: path, Changed: n})
		} else {
			r.listed = append(r.listed, TracedFile{Path: path, Changed: n})
		}
	case pid1.ReportMissing:
		r.missing = append(r.missing, arg)
	default:
		return false
	}
	return true
}

// fill puts the trace into res, without the action's own scratch folder
// (TEST_TMPDIR and the outputs), which lies under the workspace when the
// caller chose so: files a test makes there are not what it read.
func (r *traceReport) fill(res *Result, s *Spec) {
	if !r.traced {
		return
	}
	if rel, err := filepath.Rel(traceRoot(s.Workspace), traceRoot(s.ScratchDir)); err == nil && filepath.IsLocal(rel) {
		rel = filepath.ToSlash(rel)
		own := func(p string) bool { return p == rel || strings.HasPrefix(p, rel+"/") }
		ownFile := func(f TracedFile) bool { return own(f.Path) }
		r.reads = slices.DeleteFunc(r.reads, ownFile)
		r.listed = slices.DeleteFunc(r.listed, ownFile)
		r.missing = slices.DeleteFunc(r.missing, own)
	}
	byPath := func(a, b TracedFile) int { return strings.Compare(a.Path, b.Path) }
	slices.SortFunc(r.reads, byPath)
	slices.SortFunc(r.listed, byPath)
	slices.Sort(r.missing)
	res.Traced, res.Reads, res.Missing, res.Listed = true, r.reads, r.missing, r.listed
}
