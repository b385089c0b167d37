package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/internal/report"
	"github.com/suite-run/suite/internal/sched"
	"github.com/suite-run/suite/internal/workspace"
)

func newReportCmd(g *globalFlags) *cobra.Command {
	var htmlPath string
	cmd := &cobra.Command{
		Use:   "report [--html FILE]",
		Short: "Write the last run's report as one self-contained HTML page",
		Long: `Write the report of the workspace's last run: its header (suite, selection,
seed, workers, wall time against the prediction and the budget, counts by
status), a timeline with one lane per worker slot, every failed, timed-out or
flaky test with its failing cases and log tail, the slowest tests, and the
flakiest and slowed-down tests from history; filterable on the page.

Every 'suite run' keeps its record in ` + workspace.OutputDir + `/` + report.LastRunFile + `; the page
is one file with its style, script and data inline, for CI artifacts and
offline reading. 'suite run --html FILE' writes the same page at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := g.root()
			if err != nil {
				return err
			}
			out := filepath.Join(root, workspace.OutputDir)
			rec, err := report.LoadRecord(filepath.Join(out, report.LastRunFile))
			if errors.Is(err, fs.ErrNotExist) {
				return invalid("no run recorded in this workspace yet: 'suite run' first")
			}
			if err != nil {
				return invalid("%v", err)
			}
			path := htmlPath
			if path == "" {
				path = filepath.Join(out, "report.html")
			}
			if err := report.WriteHTMLFile(path, rec); err != nil {
				return &exitError{exitInternal, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "suite: report written to %s\n", path)
			return nil
		},
	}
	cmd.Flags().StringVar(&htmlPath, "html", "", "write the page to `FILE` (default: "+workspace.OutputDir+"/report.html at the workspace root)")
	return cmd
}

func newFlakyCmd(g *globalFlags) *cobra.Command {
	var asJSON, suggest bool
	cmd := &cobra.Command{
		Use:   "flaky [--json] [--suggest]",
		Short: "List the flakiest and the slowed-down tests from the history of runs",
		Long: fmt.Sprintf(`List the tests that were flaky (passed after a retry) or both passed and failed
over their last %d runs, by rate, with their recent results; and the tests
whose last executed pass took markedly longer than before (1.5x the median
and at least 250ms more).

--suggest lists the flaky tests not yet quarantined, as the quarantine
option of workspace() that would quarantine them.`, sched.RecentRuns),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := g.root()
			if err != nil {
				return err
			}
			h := sched.LoadHistory(filepath.Join(root, workspace.OutputDir, "history.json"))
			r := report.NewFlakyReport(h)
			switch {
			case asJSON:
				return r.WriteJSON(cmd.OutOrStdout())
			case suggest:
				r.WriteSuggest(cmd.OutOrStdout())
			default:
				r.WriteText(cmd.OutOrStdout())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document: {\"window\", \"flaky\": [...], \"slower\": [...]}")
	cmd.Flags().BoolVar(&suggest, "suggest", false, "list quarantine candidates")
	return cmd
}

// root finds the workspace root from -C or the current directory,
// without evaluating it.
func (g *globalFlags) root() (string, error) {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", invalid("-C %s: not a directory", dir)
	}
	root, err := workspace.FindRoot(abs)
	if err != nil {
		return "", invalid("%s: %v", abs, err)
	}
	return root, nil
}
