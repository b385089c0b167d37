package workspace

// This file keeps the list of files runs of suite wrote into the workspace
// (--json, --junit, --profile), so that no glob ever makes one an input.
// A run's report changes with every run, and as an input it would make
// every run a cache miss for the next. The list is kept across runs, not
// just for the run writing the file: a later run with other flags still
// finds the earlier report in the tree. It is read while scanning, so the
// kept graph is evaluated again when it changes.

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ReportsFile is the list's name in the output folder: one
// workspace-relative path a line.
const ReportsFile = "reports"

func reportsPath(root string) string {
	return filepath.Join(root, OutputDir, ReportsFile)
}

// ReadReports returns the recorded report paths, recording the read in
// reads (which may be nil).
func ReadReports(root string, reads *Reads) map[string]bool {
	p := reportsPath(root)
	reads.Stat(p)
	b, err := os.ReadFile(p)
	set := map[string]bool{}
	if err != nil {
		return set
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" {
			set[line] = true
		}
	}
	return set
}

// RecordReports adds the files a run is about to write (paths as given on
// the command line, relative to cwd) to the list when they lie inside the
// workspace, and drops the listed files that no longer exist. The list is
// rewritten only when it changes, so that a run repeating the last run's
// flags keeps the kept graph valid. It returns the workspace-relative
// paths of this run's reports inside the workspace.
func RecordReports(root, cwd string, files []string) ([]string, error) {
	old := ReadReports(root, nil)
	set := map[string]bool{}
	for p := range old {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
			set[p] = true
		}
	}
	var mine []string
	for _, f := range files {
		if f == "" {
			continue
		}
		if rel, ok := reportRel(root, cwd, f); ok {
			set[rel] = true
			mine = append(mine, rel)
		}
	}
	if len(set) == len(old) && func() bool {
		for p := range set {
			if !old[p] {
				return false
			}
		}
		return true
	}() {
		return mine, nil
	}
	var b bytes.Buffer
	for _, p := range slices.Sorted(maps.Keys(set)) {
		b.WriteString(p)
		b.WriteByte('\n')
	}
	dir := filepath.Join(root, OutputDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return mine, err
	}
	tmp, err := os.CreateTemp(dir, ReportsFile+".tmp*")
	if err != nil {
		return mine, err
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return mine, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return mine, err
	}
	if err := os.Rename(tmp.Name(), reportsPath(root)); err != nil {
		os.Remove(tmp.Name())
		return mine, err
	}
	return mine, nil
}

// reportRel is where a report file given relative to cwd lies in the
// workspace, if it does. Its folder is resolved through symlinks, as the
// kernel will when the file is written.
func reportRel(root, cwd, file string) (string, bool) {
	abs := file
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, file)
	}
	abs = filepath.Clean(abs)
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	abs = filepath.Join(dir, filepath.Base(abs))
	if !Inside(root, abs) || abs == root {
		return "", false
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
