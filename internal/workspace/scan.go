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
}

type scanned struct {
	path  string // workspace-relative
	owner string // nearest package at or above it ("" also for none)
	err   error  // a symlink that leads out of the workspace
}

// ScanWorkspace walks the tree below root, skipping ignored folders. A
// symlink to a file inside the workspace is a file; a dangling one is left
// out (it has no content to declare); one leading outside is kept with an
// error, reported only if a glob or a rule asks for it. Every folder read
// and symlink followed is recorded in reads (which may be nil).
func ScanWorkspace(root string, ig *Ignorer, reads *Reads) (*Scan, error) {
	s := &Scan{reads: reads}
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
			target, err := filepath.EvalSymlinks(childAbs)
			s.reads.Link(childAbs, target)
			if err != nil {
				continue // dangling
			}
			s.reads.Stat(childAbs)
			if !Inside(root, target) {
				s.files = append(s.files, scanned{childRel, owner,
					fmt.Errorf("%s: symlink leads outside the workspace (to %s); declare only files inside the workspace", childRel, target)})
				continue
			}
			if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
				s.files = append(s.files, scanned{childRel, owner, nil})
			}
		case t.IsRegular():
			s.files = append(s.files, scanned{childRel, owner, nil})
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

// PackageFiles lists the files below dir (workspace-relative) that no
// sub-package of dir owns, as paths relative to dir, sorted: what a glob in
// the package at dir can match.
func (s *Scan) PackageFiles(dir string) ([]string, error) {
	var out []string
	for _, f := range s.under(dir) {
		if f.owner != dir && (dir == "" || strings.HasPrefix(f.owner, dir+"/")) {
			continue // owned by a package below dir
		}
		if f.err != nil {
			return nil, f.err
		}
		rel := f.path
		if dir != "" {
			rel = f.path[len(dir)+1:]
		}
		out = append(out, rel)
	}
	return out, nil
}

// TreeFiles lists every file below dir, across package boundaries, as
// workspace-relative paths: what a "//"-rooted glob matches against.
func (s *Scan) TreeFiles(dir string) ([]string, error) {
	files := s.under(dir)
	out := make([]string, 0, len(files))
	for _, f := range files {
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, f.path)
	}
	return out, nil
}
