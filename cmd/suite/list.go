package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/cache"
	"github.com/suite-run/suite/internal/par"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

type listFlags struct {
	filterFlags
	json bool
}

func newListCmd(g *globalFlags) *cobra.Command {
	f := &listFlags{}
	cmd := &cobra.Command{
		Use:   "list [SUITE] [PATTERN...]",
		Short: "List the selected tests with their marks and timeouts",
		Long: `List the tests that 'suite run' with the same arguments would select.

SUITE names a suite declared in any SUITES.star; PATTERNs are target patterns
(//..., //pkg/..., //pkg:all, //pkg:name, or relative: ..., pkg/..., :name).
With neither, the current package and everything below it are listed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := g.load()
			if err != nil {
				return err
			}
			sel, err := s.selectTests(args, f.marks, f.keywords)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			status := s.cacheStatus(sel)
			if f.json {
				enc := json.NewEncoder(out)
				policy := newSandboxPolicy(s.graph.Config)
				views := map[*rules.Test]sandboxView{}
				for _, a := range action.Build(s.graph, sel.tests, action.Options{LookupEnv: os.LookupEnv, ToolEnv: &action.ToolEnv{}}) {
					views[a.Test] = policy.view(a)
				}
				for _, t := range sel.tests {
					srcs := t.Inputs
					if srcs == nil {
						srcs = []string{}
					}
					marks := t.Marks
					if marks == nil {
						marks = []string{}
					}
					if err := enc.Encode(listEntry{
						Label:     t.Label.String(),
						Package:   t.Label.Pkg,
						Name:      t.Label.Name,
						Marks:     marks,
						TimeoutS:  s.graph.EffectiveTimeout(t, 0, sel.suite).Seconds(),
						Srcs:      srcs,
						Cmd:       t.Cmd,
						Shards:    t.Shards,
						Exclusive: t.Exclusive,
						ExpectedS: status[t].expected.Seconds(),
						Cached:    status[t].cached,
						Sandbox:   views[t],
						Inputs:    inputMode(s.graph, t),
					}); err != nil {
						return err
					}
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				for _, t := range sel.tests {
					st := status[t]
					expected, cached := "-", ""
					if st.known {
						expected = st.expected.Round(time.Millisecond).String()
					}
					if st.cached {
						cached = "cached"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Label, strings.Join(t.Marks, ","), s.graph.EffectiveTimeout(t, 0, sel.suite), expected, cached)
				}
				tw.Flush()
			}
			if len(sel.tests) == 0 {
				return &exitError{exitNoTests, fmt.Errorf("no test selected")}
			}
			return nil
		},
	}
	f.filterFlags.add(cmd.Flags())
	cmd.Flags().BoolVar(&f.json, "json", false, "print one JSON object per test")
	return cmd
}

type listEntry struct {
	Label     string   `json:"label"`
	Package   string   `json:"package"`
	Name      string   `json:"name"`
	Marks     []string `json:"marks"`
	TimeoutS  float64  `json:"timeout_s"`
	Srcs      []string `json:"srcs"`
	Cmd       []string `json:"cmd"`
	Shards    int      `json:"shards"`
	Exclusive bool     `json:"exclusive"`
	ExpectedS float64  `json:"expected_s"` // from history; 0 when never run
	Cached    bool     `json:"cached"`     // suite run would reuse a cached pass
	// Sandbox is what the test can touch beyond its exec root.
	Sandbox sandboxView `json:"sandbox"`
	// Inputs is "declared" or "traced" (docs/TRACING.md).
	Inputs string `json:"inputs"`
}

// inputMode is how a test's inputs are seen: its own mode, else the
// workspace's.
func inputMode(g *rules.Graph, t *rules.Test) string {
	if t.InputMode != "" {
		return t.InputMode
	}
	return g.Config.InputMode
}

type testStatus struct {
	expected time.Duration
	known    bool
	cached   bool
}

// cacheStatus says, per selected test, its expected duration from history
// and whether every one of its actions would be a cache hit.
func (s *session) cacheStatus(sel *selection) map[*rules.Test]testStatus {
	out := make(map[*rules.Test]testStatus, len(sel.tests))
	history := sched.LoadHistory(filepath.Join(s.graph.Root, workspace.OutputDir, "history.json"))
	actions := action.Build(s.graph, sel.tests, action.Options{Suite: sel.suite, LookupEnv: os.LookupEnv, ToolEnv: &action.ToolEnv{}})
	var rc *sched.ResultCache
	if res, err := s.openResults(); err == nil {
		rc = &sched.ResultCache{Keyer: res.keyer, Store: cache.NewTiered(res.store, nil, false), Index: res.index}
		defer res.digests.Save()
	}
	hits := make([]bool, len(actions))
	if rc != nil {
		par.Each(len(actions), func(i int) { hits[i] = rc.Peek(actions[i]) })
	}
	for i, a := range actions {
		st, seen := out[a.Test]
		if !seen {
			st = testStatus{known: true, cached: true}
		}
		d, known := history.Duration(a.ID())
		st.expected += d
		st.known = st.known && known
		st.cached = st.cached && hits[i]
		out[a.Test] = st
	}
	return out
}

func newSuitesCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "suites",
		Short: "List the declared suites with their mark expressions and docs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.load()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, su := range s.graph.Suites {
				expr := su.Marks.String()
				if expr == "" {
					expr = "(all)"
				}
				n := len(s.graph.Select(rules.SuiteQuery(su)))
				fmt.Fprintf(tw, "%s\t%s\t%d tests\t%s\t%s\n", su.Name, expr, n, strings.Join(su.Targets, " "), su.Doc)
			}
			return tw.Flush()
		},
	}
}

func newMarksCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "marks",
		Short: "List the registered marks with their docs and how many tests carry each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.load()
			if err != nil {
				return err
			}
			count := map[string]int{}
			for _, t := range s.graph.Tests {
				for _, m := range t.Marks {
					count[m]++
				}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, m := range s.graph.Marks {
				fmt.Fprintf(tw, "%s\t%d tests\t%s\n", m.Name, count[m.Name], m.Doc)
			}
			return tw.Flush()
		},
	}
}
