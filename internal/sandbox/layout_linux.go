//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// layout names the directories of one action under its ScratchDir.
type layout struct {
	runfiles   string // TEST_SRCDIR = RUNFILES_DIR: Bazel's runfiles root
	execRoot   string // runfiles/<workspace name>: the declared inputs, nothing else
	cwd        string // execRoot/Package
	tmpDir     string // TEST_TMPDIR, HOME, TMPDIR
	xmlFile    string // XML_OUTPUT_FILE
	outputsDir string // TEST_UNDECLARED_OUTPUTS_DIR
	hiddenFile string // an empty file, mounted over each hidden file
}

func newLayout(scratch, workspaceName, pkg string) layout {
	runfiles := filepath.Join(scratch, "runfiles")
	root := filepath.Join(runfiles, workspaceName)
	return layout{
		runfiles:   runfiles,
		execRoot:   root,
		cwd:        filepath.Join(root, pkg),
		tmpDir:     filepath.Join(scratch, "tmp"),
		xmlFile:    filepath.Join(scratch, "test.xml"),
		outputsDir: filepath.Join(scratch, "undeclared"),
		hiddenFile: filepath.Join(scratch, "hidden"),
	}
}

// create makes the directories and fills the exec root with copies of the
// inputs.
//
// Why copies: the test must not be able to change the workspace, and we run
// as root, so file modes protect nothing. A symlink lets the test write
// through it, and tools that resolve symlinks (CPython computes sys.path[0]
// from the script's real path) would then import undeclared files next to
// the target. A hard link shares the inode, so writing it writes the
// workspace. A read-only bind mount per input would need a mount namespace and
// one mount per file. A copy has none of these problems; it is made with
// FICLONE (copy-on-write, O(1)) where the filesystem supports it, else with
// copy_file_range inside the kernel (io.Copy between files), which costs
// about 20µs for a small source file. Modes and mtimes are preserved, so
// executables stay executable and mtime-based tools see the sources' ages.
//
// An input that is a symlink is made again as a symlink with the same text,
// not copied: a relative link then resolves inside the exec root as it does
// in the workspace, to its target's copy (the inputs hold every target), so
// a tool that follows it, as Node does to resolve a module's imports, sees
// the same folders as in the tree.
func (l layout) create(workspace string, inputs []string) error {
	// A leftover exec root would hold files the test did not declare.
	if _, err := os.Lstat(l.runfiles); err == nil {
		return fmt.Errorf("sandbox: scratch directory %s is not fresh", filepath.Dir(l.runfiles))
	}
	for _, d := range []string{l.cwd, l.tmpDir, l.outputsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	// TEST_TMPDIR is private to the test.
	if err := os.Chmod(l.tmpDir, 0o700); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	made := map[string]bool{l.execRoot: true, l.cwd: true}
	for _, in := range inputs {
		if !filepath.IsLocal(in) {
			return fmt.Errorf("sandbox: input %q is not a workspace-relative path", in)
		}
		dst := filepath.Join(l.execRoot, in)
		if dir := filepath.Dir(dst); !made[dir] {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			made[dir] = true
		}
		if err := copyInput(workspace, filepath.Join(workspace, in), dst); err != nil {
			return fmt.Errorf("sandbox: input %s: %w", in, err)
		}
	}
	return nil
}

func copyInput(workspace, src, dst string) error {
	st, err := copyFile(src, dst, unix.O_EXCL)
	if errors.Is(err, unix.ELOOP) { // src is a symlink (copyFile opens with O_NOFOLLOW)
		return linkInput(workspace, src, dst)
	}
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("declared twice")
	}
	if err != nil {
		return err
	}
	return unix.UtimesNano(dst, []unix.Timespec{st.Mtim, st.Mtim})
}

// linkInput makes dst a symlink with src's text. An absolute text, inside
// the workspace, is made relative: the workspace is hidden from the test.
func linkInput(workspace, src, dst string) error {
	text, err := os.Readlink(src)
	if err != nil {
		return err
	}
	if filepath.IsAbs(text) {
		t := filepath.Clean(text)
		if t != workspace && !strings.HasPrefix(t, workspace+string(filepath.Separator)) {
			return fmt.Errorf("symlink leads outside the workspace (to %s)", text)
		}
		if text, err = filepath.Rel(filepath.Dir(src), t); err != nil {
			return err
		}
	}
	if err := os.Symlink(text, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("declared twice")
		}
		return err
	}
	return nil
}

// environ is the test's whole environment: the caller's Env plus the
// variables of the Bazel test encyclopedia, which win over the caller's.
func (s *Spec) environ(l layout) []string {
	m := make(map[string]string, len(s.Env)+16)
	for k, v := range s.Env {
		m[k] = v
	}
	m["TEST_TARGET"] = s.Label
	m["TEST_WORKSPACE"] = s.WorkspaceName
	// Bazel's runfiles libraries (rules_go's go/runfiles, Python's
	// runfiles, runfiles.bash) look for RUNFILES_MANIFEST_FILE first, then
	// RUNFILES_DIR (TEST_SRCDIR for some). There is no manifest: the tree
	// itself holds every file, which is what those libraries fall back to.
	m["TEST_SRCDIR"] = l.runfiles
	m["RUNFILES_DIR"] = l.runfiles
	m["TEST_TMPDIR"] = l.tmpDir
	m["HOME"] = l.tmpDir
	m["TMPDIR"] = l.tmpDir
	m["TZ"] = "UTC"
	m["XML_OUTPUT_FILE"] = l.xmlFile
	m["TEST_UNDECLARED_OUTPUTS_DIR"] = l.outputsDir
	if s.Timeout > 0 {
		m["TEST_TIMEOUT"] = strconv.FormatInt(int64(math.Ceil(s.Timeout.Seconds())), 10)
	}
	if s.TotalShards > 1 {
		m["TEST_SHARD_INDEX"] = strconv.Itoa(s.ShardIndex)
		m["TEST_TOTAL_SHARDS"] = strconv.Itoa(s.TotalShards)
	}
	m["TEST_RANDOM_SEED"] = strconv.FormatInt(s.Seed, 10)
	m["TEST_SLOT"] = strconv.Itoa(s.Slot)
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// lookPath resolves argv[0] the way execvp would in the test's cwd with the
// test's PATH, so the host's PATH never decides which program runs.
func lookPath(argv0, cwd string, env map[string]string) (string, error) {
	if strings.Contains(argv0, "/") {
		p := argv0
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if err := isExecutable(p); err != nil {
			return "", err
		}
		return p, nil
	}
	path, ok := env["PATH"]
	if !ok {
		return "", fmt.Errorf("%s: not found: the test's environment has no PATH (declare it in env or env_passthrough)", argv0)
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		p := filepath.Join(dir, argv0)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in the test's PATH=%s", argv0, path)
}

func isExecutable(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable file", p)
	}
	return nil
}

// collectXML copies the XML the test wrote to dst. Only a regular file
// counts: a test that leaves a symlink there must not make us copy its target.
func collectXML(src, dst string) (bool, error) {
	info, err := os.Lstat(src)
	if err != nil || !info.Mode().IsRegular() {
		return false, nil
	}
	if dst == "" {
		return true, nil
	}
	if err := moveFile(src, dst); err != nil {
		return true, fmt.Errorf("sandbox: keeping XML output: %w", err)
	}
	return true, nil
}

// moveOutputs moves every entry of the undeclared outputs directory into dst,
// which is created only when there is something to move.
func moveOutputs(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil || len(entries) == 0 || dst == "" {
		return nil
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("sandbox: keeping undeclared outputs: %w", err)
	}
	for _, e := range entries {
		if err := moveTree(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return fmt.Errorf("sandbox: keeping undeclared outputs: %w", err)
		}
	}
	return nil
}

// moveTree renames src to dst, copying when they are on different
// filesystems. Symlinks are recreated, never followed.
func moveTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, unix.EXDEV) {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			_, err := copyFile(p, to, unix.O_TRUNC)
			return err
		}
		return nil // sockets, fifos: not outputs
	})
}

func moveFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, unix.EXDEV) {
		return err
	}
	_, err = copyFile(src, dst, unix.O_TRUNC)
	return err
}

// copyFile copies the regular file src, with its mode, to dst, opened with
// O_WRONLY|O_CREAT|flag, never following a symlink at src (ELOOP): by reflink (FICLONE) where the file system can,
// else inside the kernel (sendfile, which unlike copy_file_range also
// copies between file systems: from the workspace to /dev/shm). It returns
// src's stat.
//
// Raw system calls rather than os.File: a test's inputs are copied on every
// run, and os.Open and os.OpenFile each spend five more calls offering the
// file to the network poller, which refuses regular files. That, and the
// reflink and copy_file_range attempts that fail across file systems,
// made some twenty calls of a small file's nine.
func copyFile(src, dst string, flag int) (unix.Stat_t, error) {
	var st unix.Stat_t
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return st, &os.PathError{Op: "open", Path: src, Err: err}
	}
	defer unix.Close(in)
	if err := unix.Fstat(in, &st); err != nil {
		return st, &os.PathError{Op: "stat", Path: src, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return st, fmt.Errorf("%s: not a regular file", src)
	}
	out, err := unix.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|flag, st.Mode&0o777)
	if err != nil {
		return st, &os.PathError{Op: "open", Path: dst, Err: err}
	}
	if unix.IoctlFileClone(out, in) != nil {
		for {
			n, err := unix.Sendfile(out, in, nil, 1<<30)
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			if err != nil {
				unix.Close(out)
				return st, &os.PathError{Op: "copy", Path: dst, Err: err}
			}
			if n == 0 {
				break
			}
		}
	}
	if err := unix.Close(out); err != nil {
		return st, &os.PathError{Op: "close", Path: dst, Err: err}
	}
	return st, nil
}

// removeAll removes a scratch tree even when the test made parts of it
// unwritable (which stops RemoveAll for a non-root user).
func removeAll(dir string) error {
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.Chmod(dir, 0o700)
	return os.RemoveAll(dir)
}
