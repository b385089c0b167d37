package main

import (
	"fmt"
	"github.com/spf13/pflag"
	"io"

	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/markexpr"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

// session is a loaded workspace and where the user stands in it.
type session struct {
	graph  *rules.Graph
	cwd    string // absolute directory suite works from (-C or the process's)
	cwdPkg string // the cwd as a package path
}

func (g *globalFlags) load() (*session, error) {
	cwd := g.dir
	if cwd == "" {
		var err error
		if cwd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(cwd); err != nil || !fi.IsDir() {
		return nil, invalid("-C %s: not a directory", cwd)
	}
	root, err := workspace.FindRoot(cwd)
	if errors.Is(err, workspace.ErrNoWorkspace) {
		return nil, invalid("%s: %v", cwd, err)
	}
	if err != nil {
		return nil, err
	}
	cwdPkg, err := workspace.RelPackage(root, cwd)
	if err != nil {
		return nil, invalid("%v", err)
	}
	graph, err := rules.LoadCached(root, filepath.Join(root, workspace.OutputDir, "graph"))
	if err != nil {
		return nil, err
	}
	return &session{graph: graph, cwd: cwd, cwdPkg: cwdPkg}, nil
}

// recordReports lists the report files a run will write (paths relative
// to the process's directory, as the files are opened; "" for none) that
// lie inside the workspace, so that evaluation leaves them out of every
// glob. Without a workspace it does nothing: load says what is wrong. A
// failure costs a warning: at worst a report becomes an input and a miss.
func (g *globalFlags) recordReports(warn io.Writer, files ...string) {
	dir := g.dir
	if dir == "" {
		dir = "."
	}
	root, err := workspace.FindRoot(dir)
	if err != nil {
		return
	}
	cwd, err := os.Getwd()
	if err == nil {
		_, err = workspace.RecordReports(root, cwd, files)
	}
	if err != nil {
		fmt.Fprintf(warn, "suite: warning: recording where reports go: %v\n", err)
	}
}

// filterFlags are -m and -k, shared by the commands that select tests.
type filterFlags struct {
	marks, keywords string
}

func (f *filterFlags) add(fl *pflag.FlagSet) {
	fl.StringVarP(&f.marks, "marks", "m", "", "only tests whose marks match `EXPR` (pytest -m grammar), ANDed with the suite's")
	fl.StringVarP(&f.keywords, "keyword", "k", "", "only tests whose label or marks match `EXPR` (pytest -k: substrings, and/or/not)")
}

// selection is what [SUITE] [PATTERN...] -m -k chose.
type selection struct {
	suite *rules.Suite
	tests []*rules.Test
}

// selectTests interprets [SUITE] [PATTERN...]: the first argument names a
// suite when one of that name exists, otherwise every argument is a target
// pattern. With neither, the current package and everything below it.
func (s *session) selectTests(args []string, marks, keywords string) (*selection, error) {
	q := rules.Query{}
	if len(args) > 0 {
		if su := s.graph.Suite(args[0]); su != nil {
			q.Suite = su
			args = args[1:]
		} else if !looksLikePattern(args[0]) {
			var names []string
			for _, su := range s.graph.Suites {
				names = append(names, su.Name)
			}
			return nil, invalid("%q is neither a suite nor a target pattern (suites: %s)", args[0], strings.Join(names, ", "))
		}
	}
	patterns := args
	if len(patterns) == 0 && q.Suite == nil {
		patterns = []string{"..."}
	}
	if len(patterns) > 0 {
		set, err := label.ParseSet(patterns, s.cwdPkg)
		if err != nil {
			return nil, invalid("%v", err)
		}
		q.Patterns = set
	}
	var names []string
	marksByName := map[string]*rules.Mark{}
	for _, m := range s.graph.Marks {
		names = append(names, m.Name)
		marksByName[m.Name] = m
	}
	if marks != "" {
		e, err := rules.ParseMarkExpr("-m", marks, marksByName, names)
		if err != nil {
			return nil, invalid("%v", err)
		}
		q.Marks = e
	}
	if keywords != "" {
		e, err := markexpr.Parse(keywords)
		if err != nil {
			return nil, invalid("-k %q: %v", keywords, err)
		}
		q.Keywords = e
	}
	return &selection{suite: q.Suite, tests: s.graph.Select(q)}, nil
}

func looksLikePattern(s string) bool {
	return strings.ContainsAny(s, "/:") || strings.HasPrefix(s, "-") || s == "..."
}
