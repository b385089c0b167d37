package workspace

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/suite-run/suite/internal/par"
)

// Scan is one walk of the workspace: its packages and every file with the
// package that owns it. Evaluating a workspace needs both, and reading the
// tree once instead of once for the packages and again for each package's
// globs halves the directory reads.
type Scan struct {
	Packages []string // sorted; "" is the root package
	files    []scanned
	reads    *Reads
	root     string
	ig       *Ignorer
	reports  map[string]bool // files runs of suite wrote into the tree (see Reports)
}

type scanned struct {
	path  string // workspace-relative
	owner string // nearest package at or above it ("" also for none)
	err   error  // a symlink that leads out of the workspace
	link  bool   // a symlink, not a regular file
}

// Entry is one file a glob can match.
type Entry struct {
	Path string // relative to the folder listed
	// Err is set for a symlink that leads out of the workspace: naming it
	// is an error.
	Err error
	// Report is set for a file suite wrote: a run's --json, --junit or
	// --profile report, or the durations file. It is never an input, so a
	// glob passes over it.
	Report bool
}

// ScanWorkspace walks the tree below root, skipping ignored folders. A
// symlink is an entry of its own, whatever it leads to (a file, a folder,
// nothing), and the walk never descends into it, so no cycle of links can
// make it loop; one leading outside is kept with an error, reported only if
// a glob or a rule asks for it, unless it dangles (then it is left out). The files runs of suite wrote into the
// tree (see Reports) are marked so that globs pass over them. Every folder
// read and symlink followed is recorded in reads (which may be nil).
func ScanWorkspace(root string, ig *Ignorer, reads *Reads) (*Scan, error) {
	s := &Scan{reads: reads, root: root, ig: ig, reports: ReadReports(root, reads)}
	s.reports[DurationsFile] = true
	top, err := s.walkTop(root, ig)
	if err != nil {
		return nil, err
	}
	// The top-level folders are walked in parallel, each into its own Scan.
	parts := make([]Scan, len(top))
	par.Each(len(top), func(i int) {
		parts[i].reads = reads
		parts[i].walk(root, root+string(filepath.Separator)+top[i].name, top[i].name, top[i].owner, ig)
	})
	for _, p := range parts {
		s.Packages = append(s.Packages, p.Packages...)
		s.files = append(s.files, p.files...)
	}
	sort.Strings(s.Packages)
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].path < s.files[j].path })
	return s, nil
}

type topDir struct{ name, owner string }

// walkTop reads the root folder itself and returns its subfolders to walk.
func (s *Scan) walkTop(root string, ig *Ignorer) ([]topDir, error) {
	var dirs []topDir
	err := s.readDir(root, root, "", "", ig, func(rel, owner string) error {
		dirs = append(dirs, topDir{rel, owner})
		return nil
	})
	return dirs, err
}

func (s *Scan) walk(root, abs, rel, owner string, ig *Ignorer) error {
	return s.readDir(root, abs, rel, owner, ig, func(childRel, owner string) error {
		return s.walk(root, root+string(filepath.Separator)+filepath.FromSlash(childRel), childRel, owner, ig)
	})
}

// readDir records one folder's files and hands each subfolder to sub.
func (s *Scan) readDir(root, abs, rel, owner string, ig *Ignorer, sub func(rel, owner string) error) error {
	s.reads.Stat(abs)
	entries, err := os.ReadDir(abs)
	if err != nil {
		if rel == "" {
			return err
		}
		return nil // an unreadable folder holds nothing we can use
	}
	for _, e := range entries {
		if e.Name() == PackageFile && e.Type().IsRegular() {
			owner = rel
			s.Packages = append(s.Packages, rel)
			break
		}
	}
	for _, e := range entries {
		childRel := path.Join(rel, e.Name())
		childAbs := abs + string(filepath.Separator) + e.Name()
		switch t := e.Type(); {
		case t.IsDir():
			if ig.Ignored(childRel) {
				continue
			}
			if err := sub(childRel, owner); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			if ig.Ignored(childRel) {
				continue
			}
			// A symlink is kept as a symlink: what it leads to matters only
			// to tell whether it stays inside the workspace.
			target, err := filepath.EvalSymlinks(childAbs)
			s.reads.Link(childAbs, target)
			if err == nil {
				s.reads.Stat(childAbs)
			}
			_, lerr := LinkText(root, childRel)
			switch {
			case lerr != nil && err != nil:
				// Dangling, and out of the workspace: nothing to declare,
				// and nothing to make again (an absolute link would name a
				// path the test could fill from inside its sandbox).
				continue
			case lerr != nil:
				s.files = append(s.files, scanned{childRel, owner, lerr, true})
			case err == nil && !Inside(root, target):
				s.files = append(s.files, scanned{childRel, owner, outsideError(childRel, target), true})
			default: // inside, or dangling inside
				s.files = append(s.files, scanned{childRel, owner, nil, true})
			}
		case t.IsRegular():
			s.files = append(s.files, scanned{childRel, owner, nil, false})
		}
	}
	return nil
}

// under returns the files whose path lies below dir.
func (s *Scan) under(dir string) []scanned {
	if dir == "" {
		return s.files
	}
	prefix := dir + "/"
	lo := sort.Search(len(s.files), func(i int) bool { return s.files[i].path >= prefix })
	hi := sort.Search(len(s.files), func(i int) bool { return s.files[i].path >= dir+"0" }) // '0' follows '/'
	return s.files[lo:hi]
}

// PackageEntries lists the files and symlinks below dir (workspace-
// relative) that no sub-package of dir owns, as paths relative to dir,
// sorted: what a glob in the package at dir can match.
func (s *Scan) PackageEntries(dir string) []Entry {
	var out []Entry
	for _, f := range s.under(dir) {
		if f.owner != dir && (dir == "" || strings.HasPrefix(f.owner, dir+"/")) {
			continue // owned by a package below dir
		}
		rel := f.path
		if dir != "" {
			rel = f.path[len(dir)+1:]
		}
		out = append(out, Entry{Path: rel, Err: f.err, Report: s.reports[f.path]})
	}
	return out
}

// TreeEntries lists every file and symlink below dir, across package
// boundaries, as workspace-relative paths: what a "//"-rooted glob matches
// against.
func (s *Scan) TreeEntries(dir string) []Entry {
	files := s.under(dir)
	out := make([]Entry, 0, len(files))
	for _, f := range files {
		out = append(out, Entry{Path: f.path, Err: f.err, Report: s.reports[f.path]})
	}
	return out
}

// PackageFiles is PackageEntries as paths, without the reports suite
// wrote and the symlinks leading outside the workspace: those are an error
// only where a glob or srcs names them.
func (s *Scan) PackageFiles(dir string) []string {
	var out []string
	for _, e := range s.PackageEntries(dir) {
		if e.Err == nil && !e.Report {
			out = append(out, e.Path)
		}
	}
	return out
}

// IsReport reports whether the workspace-relative path is a file a run of
// suite wrote into the tree.
func (s *Scan) IsReport(rel string) bool { return s.reports[rel] }

func outsideError(rel, target string) error {
	return fmt.Errorf("%s: symlink leads outside the workspace (to %s); declare only files inside the workspace", rel, target)
}
