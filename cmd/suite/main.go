// Command suite is a Bazel-style declarative test runner: tests and suites
// declared in Starlark SUITES.star files, selected by pytest-style mark
// expressions, run hermetically and in parallel, with cached results.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/rules"
)

// Exit codes, the one place they are defined. They are listed in --help.
const (
	exitOK          = 0   // every selected test passed (flaky counts as passed)
	exitTestsFailed = 1   // a test failed or timed out
	exitInvalid     = 2   // the command line, WORKSPACE or a SUITES.star is invalid; nothing ran
	exitInternal    = 3   // suite itself, or the infrastructure it runs tests on, failed
	exitNoTests     = 4   // no test was selected
	exitInterrupted = 130 // interrupted by Ctrl-C
)

const exitCodesHelp = `Exit codes:
  0    every selected test passed (flaky counts as passed)
  1    a test failed or timed out
  2    the command line, WORKSPACE or a SUITES.star is invalid (nothing ran)
  3    internal error, or a remote executor refused the tests (no test result)
  4    no test selected
  130  interrupted`

// version is set at link time with -ldflags "-X main.version=...".
var version = "devel"

// exitError carries an exit code up to main1 with the message to print.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func invalid(format string, args ...any) error {
	return &exitError{exitInvalid, fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(main1())
}

func main1() int {
	// suite is short-lived and allocates mostly while evaluating: fewer
	// collections trade a few tens of MiB for a faster start.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	defer stopProfile()
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

var stopProfile = func() {}

// run executes one command line and returns its exit code.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "suite:", ee.err)
		}
		return ee.code
	}
	var el rules.ErrorList
	if errors.As(err, &el) {
		printRuleErrors(stderr, el)
		return exitInvalid
	}
	// Anything else that reaches here is a usage error from cobra (unknown
	// flag or command, bad flag value): those are the user's, not ours.
	fmt.Fprintln(stderr, "suite:", err)
	fmt.Fprintln(stderr, "Run 'suite --help' for usage.")
	return exitInvalid
}

func printRuleErrors(w io.Writer, el rules.ErrorList) {
	for _, e := range el {
		fmt.Fprintln(w, e.Error())
		if e.Backtrace != "" {
			fmt.Fprintln(w, e.Backtrace)
		}
	}
}

// globalFlags are shared by every command.
type globalFlags struct {
	dir string // -C
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "suite",
		Short: "A declarative, cached, parallel test runner for monorepos",
		Long: `suite runs the tests declared in SUITES.star files, hermetically and in
parallel, and skips every test whose inputs have not changed since it last passed.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("suite {{.Version}}\n")
	root.PersistentFlags().StringVarP(&g.dir, "directory", "C", "", "run as if suite was started in `DIR`")
	root.AddCommand(
		newRunCmd(g),
		newListCmd(g),
		newDurationsCmd(g),
		newSuitesCmd(g),
		newMarksCmd(g),
		newFmtCmd(g),
		newLintCmd(g),
		newWhyCmd(g),
		newLogCmd(g),
		newReportCmd(g),
		newFlakyCmd(g),
		newCacheCmd(g),
		newVersionCmd(),
		newInitCmd(g),
	)
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print suite's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "suite %s\n", version)
			return nil
		},
	}
}
