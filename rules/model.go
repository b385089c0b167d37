package rules

import (
	"slices"
	"time"

	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/markexpr"
	"github.com/suite-run/suite/internal/workspace"
)

// Jobs values with a special meaning; a positive value is a worker count.
const (
	JobsUnset = 0  // not set here: inherit from the workspace or the CLI
	JobsAuto  = -1 // one worker per CPU
)

// Config holds the options of workspace(). DefaultConfig gives the value of
// each one when WORKSPACE leaves it out.
type Config struct {
	Name                 string
	DefaultTimeout       time.Duration
	Jobs                 int
	EnvPassthrough       []string
	CacheDir             string // "" = $XDG_CACHE_HOME/suite, else ~/.cache/suite
	RemoteCache          string
	RemoteUpload         bool
	Network              string // "isolated" or "host"
	Ignore               []string
	RemoteExecProperties map[string]string
	// The sandbox's explicit exceptions (DESIGN §2), each an absolute path
	// or one under "~/" (the user's home), as written in WORKSPACE:
	// SandboxWritable can be written by every test, SandboxReadable is
	// visible read-only even inside the hidden home, SandboxHide stays
	// hidden even where a relaxed test sees home.
	SandboxWritable []string
	SandboxReadable []string
	SandboxHide     []string
	// EnvironmentFingerprint is what the key holds of an installed
	// environment: "installed" (each package's name, version and record of
	// installed files) or "files" (also the content of every installed
	// file, which sees a file edited in place).
	EnvironmentFingerprint string
	// InputMode is the default of test(inputs = ...): InputsDeclared or
	// InputsTraced.
	InputMode string
	// Quarantine lists tests, by label, that run and are reported but
	// never fail a run; so do tests with the mark QuarantineMark.
	Quarantine []string
	// QuarantinePos is where workspace() set quarantine, for lint.
	QuarantinePos syntax.Position
}

// QuarantineMark is the mark that quarantines a test, as WORKSPACE's
// quarantine list does.
const QuarantineMark = "quarantine"

// Quarantined reports whether a test is quarantined.
func (c *Config) Quarantined(t *Test) bool {
	return slices.Contains(t.Marks, QuarantineMark) || slices.Contains(c.Quarantine, t.Label.String())
}

// DefaultSandboxHide lists the credentials a relaxed test must still not
// read.
var DefaultSandboxHide = []string{"~/.ssh", "~/.aws", "~/.config/gcloud", "~/.docker", "~/.npmrc", "~/.netrc"}

// Input modes of a test (DESIGN §2): with InputsDeclared the test sees
// only its declared inputs, and a lookup of an undeclared workspace file
// fails and is named; with InputsTraced it sees the whole workspace
// read-only, and the files it looked up join its cached result.
const (
	InputsDeclared = "declared"
	InputsTraced   = "traced"
)

// DefaultConfig is the configuration of an empty WORKSPACE.
func DefaultConfig() Config {
	return Config{
		Name:                   "_main", // Bazel's name for the main repository under Bzlmod
		DefaultTimeout:         300 * time.Second,
		Jobs:                   JobsAuto,
		EnvPassthrough:         []string{"PATH"},
		Network:                "isolated",
		Ignore:                 slices.Clone(workspace.DefaultIgnore),
		SandboxHide:            DefaultSandboxHide,
		EnvironmentFingerprint: "installed",
		InputMode:              InputsDeclared,
	}
}

// Mark is a registered mark.
type Mark struct {
	Name, Doc string
	Pos       syntax.Position
}

// Test is one test target as declared by test() (or a rule calling it).
type Test struct {
	Label label.Label
	Pos   syntax.Position // where test() was called
	Cmd   []string        // argv; a string cmd is stored as ["/bin/sh", "-c", cmd]
	Srcs  []string        // its own inputs, workspace-relative, sorted
	Deps  []label.Label
	// Inputs is every file and symlink the test declares: Srcs plus the
	// files of its deps, transitively, with what each symlink leads to (see
	// workspace.Scan.Inputs); workspace-relative, sorted and unique.
	Inputs    []string
	Env       map[string]string
	Marks     []string
	Timeout   time.Duration // 0: not set, see Size
	Size      string        // "": not set
	Attempts  int
	Shards    int
	Tools     []string
	Exclusive bool
	CPUs      int
	Network   string // "": the workspace's
	// Sandbox is "strict" (also when "") or "relaxed": the real workspace
	// and home visible read-only, except WORKSPACE's sandbox_hide.
	Sandbox string
	// InputMode is InputsDeclared or InputsTraced; "": the workspace's.
	InputMode string
	Cache     bool
	// SkipExitCodes are exit codes that mean "nothing to run" (pytest's 5:
	// no test collected): the test is reported skipped, not failed.
	SkipExitCodes []int
	// CaseMarks are the mark sets of the cases inside the test (the tests
	// of one pytest file), each including Marks; a mark expression selects
	// the test when it matches one of them. Empty: Marks alone decide.
	CaseMarks [][]string
	// Environments are installed third-party environments the test reads,
	// beside those found from its tools: "python:PROGRAM" (the environment
	// of the interpreter that runs PROGRAM, a name looked up in the test's
	// PATH or a "//"-rooted path) and "node:DIR" (the node_modules a
	// package in workspace folder DIR imports from).
	Environments []string
}

// Group is a named group of input files declared by files().
type Group struct {
	Label label.Label
	Pos   syntax.Position
	Srcs  []string
	Deps  []label.Label
}

// Suite is a named selection of tests with its own run settings.
type Suite struct {
	Name    string
	Pkg     string
	Pos     syntax.Position
	Marks   *markexpr.Expr
	Targets []string // patterns as written
	Select  label.Set
	Timeout time.Duration // 0: not set
	Jobs    int
	Order   string // "duration", "random", "declared"
	Budget  time.Duration
	Doc     string
}

// SizeTimeouts are the timeouts implied by size, as in Bazel.
var SizeTimeouts = map[string]time.Duration{
	"small":    60 * time.Second,
	"medium":   300 * time.Second,
	"large":    900 * time.Second,
	"enormous": 3600 * time.Second,
}

// Graph is an evaluated workspace: its configuration, marks, targets and suites.
type Graph struct {
	Root   string // absolute path of the workspace root
	Config Config
	Marks  []*Mark  // in declaration order
	Tests  []*Test  // sorted by label
	Groups []*Group // sorted by label
	Suites []*Suite // sorted by name

	globWarnings []*Error // glob() calls that matched nothing or a report suite wrote, for Lint
}

// Mark returns the registered mark with that name, or nil.
func (g *Graph) Mark(name string) *Mark {
	for _, m := range g.Marks {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Suite returns the suite with that name, or nil.
func (g *Graph) Suite(name string) *Suite {
	for _, s := range g.Suites {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// EffectiveTimeout is the timeout a test runs with: its own timeout or
// size, else the command line's, else the suite's, else the workspace default.
func (g *Graph) EffectiveTimeout(t *Test, cli time.Duration, s *Suite) time.Duration {
	switch {
	case t.Timeout > 0:
		return t.Timeout
	case t.Size != "":
		return SizeTimeouts[t.Size]
	case cli > 0:
		return cli
	case s != nil && s.Timeout > 0:
		return s.Timeout
	}
	return g.Config.DefaultTimeout
}
