package workspace

// This file turns declared inputs into what an execution root must hold for
// them to work as they do in the tree. A symlink stays a symlink, with the
// same link text, so a relative link resolves inside the execution root as
// it does in the workspace (Node, for one, resolves a module's imports from
// its real path, and a copy in the link's place finds the wrong folder).
// Hence a declared symlink brings along everything it leads to: every link
// met on the way and the file at the end, or every file below the folder at
// the end. And no input is ever named through a symlinked folder: such a
// path becomes the links on its way plus its real path.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// maxLinkHops bounds how many symlinks resolving one path may follow, as
// the kernel's own limit (40) does: a cycle of links ends as an error.
const maxLinkHops = 40

// LinkText returns the text of the symlink at the workspace-relative rel,
// as the execution root must hold it: as written when it is relative, and
// made relative when it is an absolute path inside the workspace (the
// workspace is not where the test runs). A link whose text leads outside
// the workspace is an error.
func LinkText(root, rel string) (string, error) {
	abs := root + string(filepath.Separator) + filepath.FromSlash(rel)
	text, err := os.Readlink(abs)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(text) {
		t := filepath.Clean(text)
		if !Inside(root, t) {
			// The workspace named through a symlink (root is symlink-free).
			if d, err := filepath.EvalSymlinks(filepath.Dir(t)); err == nil {
				t = filepath.Join(d, filepath.Base(t))
			}
		}
		if !Inside(root, t) {
			return "", outsideError(rel, text)
		}
		r, err := filepath.Rel(filepath.Dir(abs), t)
		if err != nil {
			return "", outsideError(rel, text)
		}
		return filepath.ToSlash(r), nil
	}
	if to := path.Join(path.Dir(rel), filepath.ToSlash(text)); to == ".." || strings.HasPrefix(to, "../") {
		return "", outsideError(rel, text)
	}
	return filepath.ToSlash(text), nil
}

// Inputs returns what an execution root needs for the declared inputs
// (workspace-relative paths that exist) to work as in the tree: each
// declared file; for a declared symlink, the symlink itself, every link its
// target's path goes through, and its target's files; for a path through a
// symlinked folder, those links and the real path. The result is sorted and
// names no path below a symlink. Suite's own reports never join it. Declared
// paths come sorted and unique (as a test's are), and when no link is among
// them they are the result.
func (s *Scan) Inputs(declared []string) ([]string, error) {
	plain := true
	for _, p := range declared {
		if f, ok := s.lookup(p); !ok || f.link {
			plain = false
			break
		}
	}
	if plain {
		return declared, nil // the common case: files the scan found, no link among them
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	todo := append([]string(nil), declared...)
	for len(todo) > 0 {
		p := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if seen[p] {
			continue
		}
		seen[p] = true
		if f, ok := s.lookup(p); ok && !f.link {
			out[p] = true // a plain file, the common case: nothing to resolve
			continue
		}
		links, real, dir, err := s.resolve(p)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			out[l] = true
		}
		if InOutputDir(real) {
			return nil, fmt.Errorf("%s: symlink leads into %s, suite's own output folder, which is never an input", p, OutputDir)
		}
		switch {
		case real == "": // a dangling link: the link alone, as in the tree
		case dir:
			files, err := s.tree(real)
			if err != nil {
				return nil, err
			}
			todo = append(todo, files...)
		default:
			out[real] = true
		}
	}
	for p := range out {
		if s.reports[p] {
			delete(out, p)
		}
	}
	list := make([]string, 0, len(out))
	for p := range out {
		list = append(list, p)
	}
	sort.Strings(list)
	return list, nil
}

// lookup finds a workspace-relative path among the scanned files.
func (s *Scan) lookup(rel string) (scanned, bool) {
	i := sort.Search(len(s.files), func(i int) bool { return s.files[i].path >= rel })
	if i < len(s.files) && s.files[i].path == rel {
		return s.files[i], true
	}
	return scanned{}, false
}

// resolve follows the workspace-relative rel one component at a time, as
// the kernel does, and returns the symlinks it met (where each one is, its
// own folder symlink-free), the symlink-free path it ends at ("" when a
// link dangles), and whether that is a folder.
func (s *Scan) resolve(rel string) (links []string, real string, dir bool, err error) {
	var done []string // the resolved, symlink-free components so far
	todo := strings.Split(rel, "/")
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 {
				return nil, "", false, fmt.Errorf("%s: symlink leads outside the workspace", rel)
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(path.Join(done...), c)
		abs := s.root + string(filepath.Separator) + filepath.FromSlash(cur)
		s.reads.Stat(abs)
		fi, err := os.Lstat(abs)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return links, "", false, nil // dangling: the links alone, as in the tree
		}
		if err != nil {
			return nil, "", false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			// A cycle of links: it leads nowhere, in the exec root as in
			// the tree (ELOOP), so it is kept as the links alone.
			return links, "", false, nil
		}
		text, err := LinkText(s.root, cur)
		if err != nil {
			return nil, "", false, err
		}
		if raw, err := os.Readlink(abs); err == nil {
			s.reads.LinkText(abs, raw)
		}
		links = append(links, cur)
		todo = append(strings.Split(text, "/"), todo...)
	}
	real = path.Join(done...)
	fi, err := os.Stat(s.root + string(filepath.Separator) + filepath.FromSlash(real))
	if err != nil {
		return links, "", false, nil
	}
	return links, real, fi.IsDir(), nil
}

// tree lists the files and symlinks below the workspace-relative folder
// dir, across package boundaries: from the scan when it covered dir, else
// (a folder the scan ignores, such as one in node_modules) from the disk.
func (s *Scan) tree(dir string) ([]string, error) {
	if dir == "" || !s.ignoredBelow(dir) {
		var out []string
		for _, f := range s.under(dir) {
			if f.err != nil {
				return nil, f.err
			}
			out = append(out, f.path)
		}
		return out, nil
	}
	var out []string
	base := s.root + string(filepath.Separator) + filepath.FromSlash(dir)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable folder holds nothing we can use
		}
		rel := dir
		if p != base {
			rel = dir + "/" + filepath.ToSlash(p[len(base)+1:])
		}
		switch t := d.Type(); {
		case t.IsDir():
			if d.Name() == OutputDir || d.Name() == ".git" {
				return filepath.SkipDir
			}
			s.reads.Stat(p)
		case t&fs.ModeSymlink != 0, t.IsRegular():
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

// InOutputDir reports whether the workspace-relative path lies in a folder
// named like suite's output folder, which is never scanned nor an input.
func InOutputDir(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if c == OutputDir {
			return true
		}
	}
	return false
}

// ignoredBelow reports whether dir or a folder above it is one the scan skipped.
func (s *Scan) ignoredBelow(dir string) bool {
	for d := dir; d != "." && d != ""; d = path.Dir(d) {
		if s.ig != nil && s.ig.Ignored(d) {
			return true
		}
	}
	return false
}
