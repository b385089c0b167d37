// Package sandbox runs one test action hermetically: in an execution root that
// holds only the declared inputs, laid out as Bazel's runfiles tree and mounted
// at the workspace's own path, in a file system that is read-only outside it
// with the source tree and home hidden, with exactly the environment of the
// Bazel test encyclopedia, stdin from /dev/null, a bounded combined log, and a
// process tree that is killed whole on timeout, on cancellation and when the
// test's main process exits. See README.md for the lifecycle and for what a
// test can touch.
//
// A binary that calls Run needs no hook in main: the package's init function
// turns a re-executed copy of the binary into the sandbox's pid-1 init (see
// initmode_linux.go). Only Linux is supported; elsewhere Run returns an error.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Status is how a test action ended.
type Status int

const (
	Passed      Status = iota // exit status 0
	Failed                    // non-zero exit, death by a signal, or a command that cannot start
	Timeout                   // killed because Spec.Timeout elapsed
	Interrupted               // killed because the context was cancelled (Ctrl-C)
)

func (s Status) String() string {
	switch s {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	case Timeout:
		return "timeout"
	case Interrupted:
		return "interrupted"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Network modes of Spec.Network.
const (
	NetworkIsolated = "isolated" // a private network namespace whose loopback is up
	NetworkHost     = "host"     // the host's network
)

// Defaults for zero Spec fields.
const (
	DefaultGrace    = 5 * time.Second
	DefaultLogLimit = 16 << 20
)

// Spec describes one test action.
type Spec struct {
	Label string // "//pkg:name", exported as TEST_TARGET
	// Workspace is the absolute workspace root on the host. Inputs are read
	// from here, and inside the mount namespace the exec root is mounted
	// here, so every action of a workspace sees its files at the paths the
	// user's own tools do.
	Workspace string
	// WorkspaceName is TEST_WORKSPACE and the exec root's folder in the
	// runfiles tree; DefaultWorkspaceName when empty.
	WorkspaceName string
	Package       string // package directory, workspace-relative ("" = root); the test's cwd
	// Inputs are workspace-relative paths of regular files and symlinks
	// (made again with the same text); only these exist in the exec root.
	Inputs []string
	// Argv is the command. An argv[0] without a slash is looked up in the PATH
	// of Env (not the host's); one with a slash is relative to the package
	// directory inside the exec root.
	Argv []string
	Env  map[string]string // declared env plus passthrough values, already merged
	// Timeout bounds the run; TEST_TIMEOUT is it in whole seconds, rounded
	// up. Zero or negative means no limit and no TEST_TIMEOUT.
	Timeout time.Duration
	Grace   time.Duration // SIGTERM -> SIGKILL delay; DefaultGrace when 0
	Network string        // NetworkIsolated (also when "") or NetworkHost
	// TEST_SHARD_INDEX and TEST_TOTAL_SHARDS are exported only when
	// TotalShards > 1.
	ShardIndex, TotalShards int
	Seed                    int64 // TEST_RANDOM_SEED
	Slot                    int   // TEST_SLOT
	// ScratchDir is a private directory for this action (created if
	// missing); the exec root, TEST_TMPDIR and the outputs live under it.
	// Run removes it at the end unless KeepScratch.
	ScratchDir  string
	KeepScratch bool
	LogPath     string // the combined stdout+stderr log is written here
	// LogLimit is the most log bytes kept (DefaultLogLimit when 0). The tail
	// is kept, under a first line that says how many bytes were dropped.
	LogLimit   int64
	XMLPath    string // XML_OUTPUT_FILE is copied here if the test wrote one ("" = not kept)
	OutputsDir string // files of TEST_UNDECLARED_OUTPUTS_DIR are moved here if there are any ("" = not kept)

	// What the test may see and write outside its exec root (README.md,
	// "What a test can touch"). Paths are absolute; missing ones are
	// skipped.

	// ReadOnlyPaths are host directories (or files) the test sees
	// read-only at the same absolute path, even inside the hidden workspace
	// or home: an installed environment such as a .venv, node_modules or a
	// site-packages, and WORKSPACE's sandbox_readable.
	ReadOnlyPaths []string
	// WritablePaths are host directories the test may write at the same
	// path: caches a rule declares (the Go build cache) and WORKSPACE's
	// sandbox_writable.
	WritablePaths []string
	// HidePaths stay invisible even where their parent is visible
	// (WORKSPACE's sandbox_hide).
	HidePaths []string
	// Home is the user's real home directory, hidden unless Relaxed.
	Home string
	// Relaxed shows the real workspace and Home read-only (except
	// HidePaths) instead of hiding them; the test then runs in the real
	// package folder. Everything else stays as in the strict mode.
	Relaxed bool

	// TracedInputs shows the real workspace read-only at its path, as
	// Relaxed does, but keeps home hidden; the test runs in the real
	// package folder. With Trace, Result.Reads then lists what it read.
	TracedInputs bool
	// Trace records every lookup under the workspace (trace_linux.go):
	// Result.Reads and Result.Missing. In the strict view, a missing path
	// that exists in the real workspace is an undeclared read.
	Trace bool
}

// showsWorkspace tells whether the test sees the real workspace
// (read-only) rather than its exec root at the workspace's path.
func (s *Spec) showsWorkspace() bool { return s.Relaxed || s.TracedInputs }

// DefaultWorkspaceName is TEST_WORKSPACE when Spec.WorkspaceName is empty:
// Bzlmod's name for the main repository.
const DefaultWorkspaceName = "_main"

// Result is how a test action went.
type Result struct {
	Status       Status
	ExitCode     int    // -1 when the test died by a signal
	Signal       string // "SIGSEGV" etc. when the test died by a signal
	Duration     time.Duration
	LogBytes     int64 // bytes the test wrote in all
	LogTruncated bool  // LogBytes exceeded the limit; only the tail was kept
	WroteXML     bool  // the test wrote XML_OUTPUT_FILE (now at Spec.XMLPath)
	// Warnings are for the caller to print once per run, e.g. that the kernel
	// refused namespaces; execution code never prints.
	Warnings []string

	// Traced says the lookups of the test were recorded (Spec.Trace, and
	// the kernel allowed it); then Reads are the workspace-relative files
	// that were there when the test looked them up, and Missing the paths
	// that were not. Both are sorted and hold no directories that were
	// there.
	Traced  bool
	Reads   []TracedFile
	Missing []string
	Listed  []TracedFile // directories the test opened, so may have listed
}

// TracedFile is a workspace file (or directory) a test looked up.
type TracedFile struct {
	Path    string // workspace-relative
	Changed int64  // its ctime, in nanoseconds, when the test first looked it up
}

// options are knobs for the package's own tests; Run uses the zero value.
type options struct {
	noNamespaces bool // behave as if the kernel refused namespaces
	noMounts     bool // namespaces, but the host's file system (to measure what the view costs)
}

// Run executes the action described by s and waits until it and every
// process it started are gone. Cancelling ctx kills the test like a timeout
// and yields Interrupted. The error is for failures of the sandbox itself
// (bad Spec, unreadable input, unwritable log); a test that fails, cannot be
// started or times out is a Result.
func Run(ctx context.Context, s Spec) (Result, error) {
	return run(ctx, s, options{})
}

func (s *Spec) normalize() error {
	if len(s.Argv) == 0 {
		return errors.New("sandbox: empty argv")
	}
	if !filepath.IsAbs(s.Workspace) {
		return fmt.Errorf("sandbox: workspace %q is not absolute", s.Workspace)
	}
	if s.ScratchDir == "" || s.LogPath == "" {
		return errors.New("sandbox: ScratchDir and LogPath are required")
	}
	var err error
	if s.ScratchDir, err = filepath.Abs(s.ScratchDir); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if s.WorkspaceName == "" {
		s.WorkspaceName = DefaultWorkspaceName
	}
	if !filepath.IsLocal(s.WorkspaceName) || strings.Contains(s.WorkspaceName, "/") {
		return fmt.Errorf("sandbox: workspace name %q is not a single folder name", s.WorkspaceName)
	}
	for _, list := range [][]string{s.ReadOnlyPaths, s.WritablePaths, s.HidePaths} {
		for _, p := range list {
			if !filepath.IsAbs(p) {
				return fmt.Errorf("sandbox: path %q is not absolute", p)
			}
		}
	}
	if s.Home != "" && !filepath.IsAbs(s.Home) {
		return fmt.Errorf("sandbox: home %q is not absolute", s.Home)
	}
	if s.Package != "" && !filepath.IsLocal(s.Package) {
		return fmt.Errorf("sandbox: package %q is not a workspace-relative directory", s.Package)
	}
	switch s.Network {
	case "":
		s.Network = NetworkIsolated
	case NetworkIsolated, NetworkHost:
	default:
		return fmt.Errorf("sandbox: network %q: want %q or %q", s.Network, NetworkIsolated, NetworkHost)
	}
	if s.Grace <= 0 {
		s.Grace = DefaultGrace
	}
	if s.LogLimit <= 0 {
		s.LogLimit = DefaultLogLimit
	}
	return nil
}
