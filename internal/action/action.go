// Package action turns selected test targets into test actions: the units
// of execution and caching. A target with shards or runs-per-test becomes
// several actions; each carries everything needed to run it hermetically.
package action

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/rules"
)

// Action is one execution of one test (one shard of it, one of its runs).
type Action struct {
	Test  *rules.Test
	Label label.Label
	// Shard is the 0-based shard index, of Shards (1 when not sharded).
	Shard, Shards int
	// Run is the 1-based run number, of Runs (--runs-per-test).
	Run, Runs int

	Argv    []string
	Env     map[string]string // declared env plus env_passthrough values from the host
	Inputs  []string          // workspace-relative, sorted
	Timeout time.Duration     // the effective timeout
	Network string            // "isolated" or "host"
	// Sandbox is "strict" or "relaxed" (rules.Test.Sandbox).
	Sandbox string
	// TracedInputs: the test sees the workspace read-only, and what it
	// looks up joins its cached result (rules.InputsTraced).
	TracedInputs bool
	// WritablePaths and ReadablePaths are host folders the test reaches
	// at their own paths although the sandbox hides what is around them:
	// caches and toolchains of the tools it uses. They name where a cache
	// is, not what the test computes, so they are not in the key.
	WritablePaths, ReadablePaths []string
	CPUs                         int
	// Attempts is how often a failing action is tried before it counts as
	// failed; a pass after a failure is flaky.
	Attempts  int
	Exclusive bool
	Cacheable bool
}

// ID names the action uniquely within a run: the label, plus the shard and
// run when there are several.
func (a *Action) ID() string {
	id := a.Label.String()
	if a.Shards > 1 {
		id += fmt.Sprintf(" (shard %d/%d)", a.Shard+1, a.Shards)
	}
	if a.Runs > 1 {
		id += fmt.Sprintf(" (run %d/%d)", a.Run, a.Runs)
	}
	return id
}

// LogDir is where the action's log, XML and outputs are kept, relative to
// the workspace's .suite folder, following Bazel's testlogs layout.
func (a *Action) LogDir() string {
	d := path.Join("testlogs", a.Label.Pkg, a.Label.Name)
	if a.Shards > 1 {
		d = path.Join(d, fmt.Sprintf("shard_%d_of_%d", a.Shard+1, a.Shards))
	}
	if a.Runs > 1 {
		d = path.Join(d, fmt.Sprintf("run_%d_of_%d", a.Run, a.Runs))
	}
	return d
}

// Options are the run-wide settings that shape actions.
type Options struct {
	Suite       *rules.Suite  // the suite being run, for its timeout; may be nil
	Timeout     time.Duration // --timeout; 0 when not given
	RunsPerTest int           // --runs-per-test; 0 or 1 = once
	// LookupEnv reads the host environment for env_passthrough.
	LookupEnv func(string) (string, bool)
	// MarkExpr is the effective mark expression (the suite's and -m's,
	// ANDed), substituted for $(MARK_EXPR) in argv so a runner such as
	// pytest can deselect inside a file what the suite does not want.
	MarkExpr string
	// ToolEnv adds what tools such as go need from the host; may be nil.
	ToolEnv *ToolEnv
}

// Build returns the actions for the tests, in the tests' order, shards and
// runs of one test next to each other.
func Build(g *rules.Graph, tests []*rules.Test, o Options) []*Action {
	runs := max(o.RunsPerTest, 1)
	var out []*Action
	for _, t := range tests {
		env := make(map[string]string, len(t.Env)+len(g.Config.EnvPassthrough))
		for _, name := range g.Config.EnvPassthrough {
			if v, ok := o.LookupEnv(name); ok {
				env[name] = v
			}
		}
		if o.ToolEnv != nil {
			for k, v := range o.ToolEnv.For(t.Tools, t.Cmd) {
				if _, set := env[k]; !set && v != "" {
					env[k] = v
				}
			}
		}
		for k, v := range t.Env { // a declared value wins over the host's
			env[k] = v
		}
		network := t.Network
		if network == "" {
			network = g.Config.Network
		}
		sandboxMode := t.Sandbox
		if sandboxMode == "" {
			sandboxMode = "strict"
		}
		var writable, readable []string
		if o.ToolEnv != nil {
			writable, readable = o.ToolEnv.Paths(t.Tools, t.Cmd)
		}
		// A declared tool is part of the key, so the test may see it even
		// where the sandbox hides its folder (a bin/ in the workspace).
		for _, name := range t.Tools {
			if p, err := lookPath(env["PATH"], name); err == nil && filepath.IsAbs(p) {
				if real, err := filepath.EvalSymlinks(p); err == nil {
					readable = append(readable, real)
				}
				readable = append(readable, p)
			}
		}
		// Installed environments (a .venv, node_modules) are keyed by what
		// is installed, and visible where the test expects them.
		readable = append(readable, environmentPaths(g.Root, t, env["PATH"])...)
		inputMode := t.InputMode
		if inputMode == "" {
			inputMode = g.Config.InputMode
		}
		for shard := 0; shard < t.Shards; shard++ {
			for run := 1; run <= runs; run++ {
				out = append(out, &Action{
					Test: t, Label: t.Label,
					Shard: shard, Shards: t.Shards,
					Run: run, Runs: runs,
					Argv:         expandArgv(t.Cmd, o.MarkExpr),
					Env:          env,
					Inputs:       t.Inputs,
					Timeout:      g.EffectiveTimeout(t, o.Timeout, o.Suite),
					Network:      network,
					Sandbox:      sandboxMode,
					TracedInputs: inputMode == rules.InputsTraced,
					CPUs:         t.CPUs,

					WritablePaths: writable,
					ReadablePaths: readable,
					Attempts:      t.Attempts,
					Exclusive:     t.Exclusive,
					Cacheable:     t.Cache,
				})
			}
		}
	}
	return out
}

// MarkExprVar in an argv element is replaced by the effective mark expression.
const MarkExprVar = "$(MARK_EXPR)"

func expandArgv(argv []string, markExpr string) []string {
	var out []string
	for i, a := range argv {
		if strings.Contains(a, MarkExprVar) {
			if out == nil {
				out = append([]string(nil), argv[:i]...)
			}
			a = strings.ReplaceAll(a, MarkExprVar, markExpr)
		}
		if out != nil {
			out = append(out, a)
		}
	}
	if out == nil {
		return argv
	}
	return out
}

// CombineMarks ANDs mark expressions, skipping empty ones.
func CombineMarks(exprs ...string) string {
	var parts []string
	for _, e := range exprs {
		if strings.TrimSpace(e) != "" {
			parts = append(parts, e)
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " and ")
}
