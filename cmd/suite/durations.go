package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
)

type durationsFlags struct {
	filterFlags
	from []string
	path string
}

func newDurationsCmd(g *globalFlags) *cobra.Command {
	f := &durationsFlags{}
	cmd := &cobra.Command{
		Use:   "durations [SUITE] [PATTERN...]",
		Short: "Write the durations file that --shard balances CI machines by",
		Long: `Record how long each selected test takes in the durations file
(` + sched.DurationsFile + ` at the workspace root unless --durations-path says
otherwise), which 'suite run --shard I/N' splits the selection by.

Durations come from this workspace's last runs, or, with --from, from the
--json event files of CI runs (one per shard). Tests of the selection
with a known duration are updated, tests no longer declared anywhere are
removed, and every other entry is kept. Commit the file: every shard must
read the same one, which is why a run never writes it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeDurations(cmd, g, f, args)
		},
	}
	fl := cmd.Flags()
	f.filterFlags.add(fl)
	fl.StringArrayVar(&f.from, "from", nil, "read durations from the `FILE` of 'suite run --json' (repeatable: one per CI shard) instead of local history")
	fl.StringVar(&f.path, "durations-path", "", "the durations file to write (default: "+sched.DurationsFile+" at the workspace root)")
	return cmd
}

func durationsPath(root, flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(root, sched.DurationsFile)
}

// relPath names path from dir when it is below it, else absolutely.
func relPath(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func writeDurations(cmd *cobra.Command, g *globalFlags, f *durationsFlags, args []string) error {
	// The file written is suite's own output: never an input (the default
	// one is never one anyway).
	g.recordReports(cmd.ErrOrStderr(), f.path)
	s, err := g.load()
	if err != nil {
		return err
	}
	sel, err := s.selectTests(args, f.marks, f.keywords)
	if err != nil {
		return err
	}
	root := s.graph.Root
	path := durationsPath(root, f.path)
	d, err := sched.LoadDurations(path)
	if err != nil {
		return invalid("%v", err)
	}

	var recorded map[string]time.Duration
	if len(f.from) > 0 {
		recorded = map[string]time.Duration{}
		for _, file := range f.from {
			ds, err := sched.EventDurations(file)
			if err != nil {
				return invalid("--from: %v", err)
			}
			for l, v := range ds {
				recorded[l] = v
			}
		}
	} else {
		history := sched.LoadHistory(filepath.Join(root, workspace.OutputDir, "history.json"))
		actions := action.Build(s.graph, sel.tests, action.Options{Suite: sel.suite, LookupEnv: os.LookupEnv})
		recorded = sched.TestDurations(actions, history)
	}

	declared := map[string]bool{}
	for _, t := range s.graph.Tests {
		declared[t.Label.String()] = true
	}
	removed := 0
	for l := range d.Tests {
		if !declared[l] {
			delete(d.Tests, l)
			removed++
		}
	}
	updated := 0
	var missing []string
	for _, t := range sel.tests {
		l := t.Label.String()
		v, ok := recorded[l]
		if !ok {
			missing = append(missing, l)
			continue
		}
		d.Set(l, v)
		updated++
	}
	if err := d.Save(path); err != nil {
		return &exitError{exitInternal, err}
	}
	out := cmd.OutOrStdout()
	rel := relPath(s.cwd, path)
	fmt.Fprintf(out, "suite: wrote %s: %d tests (%d updated, %d removed, %d selected without a recorded duration)\n",
		rel, len(d.Tests), updated, removed, len(missing))
	slices.Sort(missing)
	for _, l := range missing {
		fmt.Fprintf(out, "  no duration: %s\n", l)
	}
	return nil
}
