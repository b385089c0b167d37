package sched

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/sandbox"
	"github.com/suite-run/suite/internal/workspace"
)

// Traced inputs (DESIGN §2, docs/TRACING.md). A test with inputs =
// "traced" is keyed by its declared inputs like any other; its cached
// result also holds a manifest of what else it looked up in the
// workspace, as an output file of the ActionResult (so it travels with the
// entry to and from any remote cache):
//
//	# suite traced inputs v1
//	file	<sha256>/<size>	<path>
//	absent		<path>
//	dir	<sha256 of the sorted names>	<path>
//
// A later lookup is a hit only while every file still has its digest,
// every absent path is still absent and every listed directory still holds
// the same names: the manifest is to the key what ccache's manifests and
// Bazel's dependency files are to theirs.

// OutputTracedInputs is the manifest's path among the ActionResult's
// output files.
const OutputTracedInputs = "traced_inputs"

const manifestHeader = "# suite traced inputs v1\n"

// manifestEntry is one line of a manifest.
type manifestEntry struct {
	kind   string // "file", "absent" or "dir"
	digest string // "<sha256>/<size>" for a file, the names' sha256 for a dir
	path   string // workspace-relative, slash-separated
}

// tracedManifest builds the manifest of a traced run. It refuses when a
// file changed while the test ran (its ctime is not the one the tracer
// saw): the result would stand for content the test may not have read.
func tracedManifest(digests *workspace.DigestCache, root string, a *action.Action, o Outcome) ([]byte, error) {
	declared := make(map[string]bool, len(a.Inputs))
	for _, in := range a.Inputs {
		declared[in] = true
	}
	var entries []manifestEntry
	for _, r := range o.TracedReads {
		if declared[r.Path] || suiteOwn(r.Path) {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(r.Path))
		st, err := workspace.StatFile(abs)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s was removed while the test ran", r.Path)
			}
			// Not a regular file (a device, a socket): nothing to digest,
			// nothing a result could depend on by content.
			continue
		}
		if changed(abs) != r.Changed {
			return nil, fmt.Errorf("%s changed while the test ran", r.Path)
		}
		d, err := digests.DigestStat(abs, st)
		if err != nil {
			return nil, err
		}
		entries = append(entries, manifestEntry{"file", fmt.Sprintf("%s/%d", d.Hash, d.Size), r.Path})
	}
	for _, p := range o.TracedMissing {
		if suiteOwn(p) {
			continue
		}
		entries = append(entries, manifestEntry{"absent", "", p})
	}
	for _, l := range o.TracedListed {
		if suiteOwn(l.Path) {
			continue
		}
		abs := filepath.Join(root, filepath.FromSlash(l.Path))
		if changed(abs) != l.Changed {
			return nil, fmt.Errorf("folder %s gained or lost files while the test ran", l.Path)
		}
		d, err := listing(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Path, err)
		}
		entries = append(entries, manifestEntry{"dir", d, l.Path})
	}
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", e.kind, e.digest, e.path)
	}
	return b.Bytes(), nil
}

// parseManifest reads a manifest; anything malformed is an error, and the
// entry a miss.
func parseManifest(data []byte) ([]manifestEntry, error) {
	text, ok := bytes.CutPrefix(data, []byte(manifestHeader))
	if !ok {
		return nil, errors.New("not a traced-inputs manifest")
	}
	var out []manifestEntry
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 || f[2] == "" || !filepath.IsLocal(f[2]) {
			return nil, fmt.Errorf("bad manifest line %q", sc.Text())
		}
		switch f[0] {
		case "file", "dir", "absent":
		default:
			return nil, fmt.Errorf("bad manifest line %q", sc.Text())
		}
		out = append(out, manifestEntry{f[0], f[1], f[2]})
	}
	return out, sc.Err()
}

// firstChange returns, in words, the first entry of the manifest that no
// longer holds ("" when all do): what `suite why` says.
func firstChange(digests *workspace.DigestCache, root string, entries []manifestEntry) string {
	for _, e := range entries {
		abs := filepath.Join(root, filepath.FromSlash(e.path))
		switch e.kind {
		case "absent":
			if _, err := os.Lstat(abs); err == nil {
				return fmt.Sprintf("traced input %s appeared", e.path)
			}
		case "file":
			d, err := digests.Digest(abs)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Sprintf("traced input %s was removed", e.path)
				}
				return fmt.Sprintf("traced input %s: %v", e.path, err)
			}
			if fmt.Sprintf("%s/%d", d.Hash, d.Size) != e.digest {
				return fmt.Sprintf("traced input %s changed", e.path)
			}
		case "dir":
			d, err := listing(abs)
			if err != nil {
				return fmt.Sprintf("traced directory %s was removed", e.path)
			}
			if d != e.digest {
				return fmt.Sprintf("traced directory %s gained or lost files", e.path)
			}
		}
	}
	return ""
}

// listing is the SHA-256 of a directory's sorted entry names.
func listing(dir string) (string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return "", err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return "", err
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// changed is a file's ctime in nanoseconds, 0 if it cannot be read: the
// same clock the tracer reads when the test looks the file up.
func changed(abs string) int64 {
	fi, err := os.Stat(abs)
	if err != nil {
		return 0
	}
	return statCtime(fi)
}

// suiteOwn tells whether a workspace path is suite's own output folder,
// which no result depends on.
func suiteOwn(p string) bool {
	return p == workspace.OutputDir || strings.HasPrefix(p, workspace.OutputDir+"/")
}

// manifestOf returns the manifest's digest among a result's outputs.
func manifestOf(r *repb.ActionResult) *repb.Digest {
	for _, f := range r.OutputFiles {
		if f.Path == OutputTracedInputs {
			return f.Digest
		}
	}
	return nil
}

// maxNamed bounds how many undeclared reads one result names.
const maxNamed = 10

// undeclaredReads names the workspace files a failed test looked up but
// could not see because they are not among its inputs: paths missing in
// its view that exist in the workspace.
func undeclaredReads(root string, missing []string) []string {
	var out []string
	for _, p := range missing {
		if suiteOwn(p) {
			continue
		}
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			continue
		}
		if fi.IsDir() {
			p += "/"
		}
		out = append(out, p)
	}
	return out
}

// notFoundLine finds the lines of a log that report a missing file, in the
// spellings of Go (open X: no such file or directory), Python
// (FileNotFoundError: [Errno 2] No such file or directory: 'X'), Node
// (ENOENT: no such file or directory, open 'X'; Cannot find module 'X')
// and the shell (X: No such file or directory).
var notFoundLine = regexp.MustCompile(`(?i)no such file or directory|cannot find module|ENOENT`)

// pathToken is what may be a path in such a line.
var pathToken = regexp.MustCompile(`[^\s'"():,\[\]]+`)

// undeclaredFromLog is the fallback where lookups cannot be traced: the
// workspace paths a failed test's log says were not found, that exist in
// the workspace and were not declared. A relative path is taken from the
// package directory and from each directory holding a declared input: a
// test's cwd is one of them (go test runs a test in its Go package's
// folder, which may lie below the SUITES.star).
func undeclaredFromLog(root, pkg, logPath string, inputs []string) []string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return nil
	}
	declared := make(map[string]bool, len(inputs))
	bases := []string{filepath.Join(root, pkg)}
	for _, in := range inputs {
		declared[in] = true
		if d := filepath.Join(root, filepath.Dir(filepath.FromSlash(in))); !slices.Contains(bases, d) {
			bases = append(bases, d)
		}
	}
	seen := map[string]bool{}
	var out []string
	for line := range strings.SplitSeq(string(data), "\n") {
		if !notFoundLine.MatchString(line) {
			continue
		}
		for _, tok := range pathToken.FindAllString(line, -1) {
			if !strings.Contains(tok, "/") && !strings.Contains(tok, ".") {
				continue
			}
			candidates := []string{tok}
			if !filepath.IsAbs(tok) {
				candidates = candidates[:0]
				for _, b := range bases {
					candidates = append(candidates, filepath.Join(b, tok))
				}
			}
			for _, abs := range candidates {
				rel, err := filepath.Rel(root, filepath.Clean(abs))
				if err != nil || !filepath.IsLocal(rel) {
					continue
				}
				rel = filepath.ToSlash(rel)
				if declared[rel] || seen[rel] || suiteOwn(rel) {
					continue
				}
				fi, err := os.Stat(filepath.Join(root, rel))
				if err != nil {
					continue
				}
				seen[rel] = true
				if fi.IsDir() {
					rel += "/"
				}
				out = append(out, rel)
				break
			}
		}
	}
	return out
}

// undeclaredMessage is the warning naming a test's undeclared reads.
func undeclaredMessage(label string, paths []string) string {
	shown := paths
	more := ""
	if len(paths) > maxNamed {
		shown = paths[:maxNamed]
		more = " and " + strconv.Itoa(len(paths)-maxNamed) + " more"
	}
	it := "it"
	if len(paths) > 1 {
		it = "them"
	}
	return fmt.Sprintf("%s read undeclared %s%s (add %s to srcs, or use traced inputs)", label, strings.Join(shown, ", "), more, it)
}

// tracedOutcome copies what the sandbox traced into the outcome.
func (o *Outcome) setTrace(res sandbox.Result) {
	o.Traced = res.Traced
	o.TracedReads, o.TracedMissing, o.TracedListed = res.Reads, res.Missing, res.Listed
}
