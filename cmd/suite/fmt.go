package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/suite-run/suite/internal/lint"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

func newFmtCmd(g *globalFlags) *cobra.Command {
	var check, diff bool
	cmd := &cobra.Command{
		Use:   "fmt [--check|--diff] [FILES]",
		Short: "Format WORKSPACE and .star files as buildifier does",
		Long: `Format WORKSPACE, SUITES.star and other .star files with buildifier's layout
(SUITES.star and WORKSPACE as BUILD files, other .star files as .bzl files).
Without FILES, every such file of the workspace is formatted.

--check lists the files that need formatting and exits 1 if there are any;
--diff prints what formatting would change and exits 1 likewise.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if check && diff {
				return invalid("--check and --diff are exclusive")
			}
			files, err := g.suiteFiles(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var parseErrs, unformatted int
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return invalid("%v", err)
				}
				formatted, err := lint.Format(displayPath(g, f), src)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					parseErrs++
					continue
				}
				if bytes.Equal(src, formatted) {
					continue
				}
				unformatted++
				switch {
				case check:
					fmt.Fprintln(out, displayPath(g, f))
				case diff:
					fmt.Fprint(out, lint.Diff(displayPath(g, f), src, formatted))
				default:
					if err := writeFileAtomic(f, formatted); err != nil {
						return &exitError{exitInternal, err}
					}
				}
			}
			switch {
			case parseErrs > 0:
				return &exitError{exitInvalid, errors.New("")}
			case unformatted > 0 && (check || diff):
				return &exitError{1, fmt.Errorf("%d file(s) need formatting; run 'suite fmt'", unformatted)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list files that need formatting; change nothing")
	cmd.Flags().BoolVar(&diff, "diff", false, "print the changes formatting would make; change nothing")
	return cmd
}

func newLintCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "lint [FILES]",
		Short: "Report buildifier warnings and suite's own (unknown marks, empty globs, empty suites)",
		Long: `Report problems in WORKSPACE and .star files: buildifier's warnings, and
suite's own — unregistered marks, duplicate names and other evaluation errors,
globs that match nothing, suites whose expression selects no test.
Exits 1 when there are warnings, 2 when the workspace does not evaluate.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := g.suiteFiles(args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var findings []string
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return invalid("%v", err)
				}
				ws, err := lint.Warnings(displayPath(g, f), src)
				if err != nil {
					findings = append(findings, err.Error())
					continue
				}
				for _, w := range ws {
					findings = append(findings, w.String())
				}
			}
			s, err := g.load()
			var el rules.ErrorList
			if errors.As(err, &el) {
				for _, f := range findings {
					fmt.Fprintln(out, f)
				}
				return err
			} else if err != nil {
				return err
			}
			for _, w := range s.graph.Lint() {
				findings = append(findings, w.Error())
			}
			for _, f := range findings {
				fmt.Fprintln(out, f)
			}
			if len(findings) > 0 {
				return &exitError{1, fmt.Errorf("%d warning(s)", len(findings))}
			}
			return nil
		},
	}
}

// suiteFiles returns the files named, or every suite file of the workspace.
func (g *globalFlags) suiteFiles(args []string) ([]string, error) {
	if len(args) > 0 {
		for _, a := range args {
			if !lint.IsSuiteFile(a) {
				return nil, invalid("%s: not a suite file (want WORKSPACE, WORKSPACE.suite, SUITES.star or a .star file)", a)
			}
		}
		return args, nil
	}
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return nil, invalid("%v", err)
	}
	ig := workspace.NewIgnorer(workspace.DefaultIgnore)
	// Only the root's own options file is suite's: another WORKSPACE (Bazel's
	// beside WORKSPACE.suite, or one in a nested repository) is left alone.
	rootFile := filepath.Join(root, workspace.RootFile(root))
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && p != root && ig.Ignored(filepath.ToSlash(rel)) {
			return filepath.SkipDir
		}
		base := d.Name()
		if (base == workspace.WorkspaceFile || base == workspace.SuiteWorkspaceFile) && p != rootFile {
			return nil
		}
		if d.Type().IsRegular() && lint.IsSuiteFile(p) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// displayPath shows a file relative to the directory the user works in.
func displayPath(g *globalFlags, f string) string {
	base := g.dir
	if base == "" {
		base, _ = os.Getwd()
	}
	abs, err := filepath.Abs(f)
	if err != nil {
		return f
	}
	if rel, err := filepath.Rel(base, abs); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return f
}

// writeFileAtomic replaces a file by renaming a complete temporary copy
// over it, keeping its permissions, so an interrupted write loses nothing.
func writeFileAtomic(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".suite-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
