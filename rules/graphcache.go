package rules

// This file keeps the evaluated graph between runs. Evaluating every
// SUITES.star of a large workspace is most of what a rerun with nothing
// changed would otherwise spend before it can look anything up. The graph
// is reused only when every folder the evaluation listed, every file it
// read and every symlink it followed stats as it did then (see
// workspace.Reads), and only by the build of suite that wrote it: a graph
// that might be stale is never used.

import (
	"bytes"
	"encoding/gob"
	"errors"
	"os"
	"path/filepath"
	"time"

	"go.starlark.net/syntax"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/markexpr"
	"github.com/suite-run/suite/internal/statefile"
	"github.com/suite-run/suite/internal/workspace"
)

// LoadCached is Load, reusing the graph kept in cacheFile when the
// workspace's files say evaluating again would give the same, and keeping
// a freshly evaluated graph there for the next run. A missing, corrupt or
// stale cache file only means evaluating; failing to write one is not an
// error either. The graph is kept only if cacheFile's folder exists: a
// command that only reads the workspace (suite list) does not create the
// output folder, which would also change the root folder it just recorded.
func LoadCached(root, cacheFile string) (*Graph, error) {
	build := workspace.ExecutableIdentity()
	if g := readGraphCache(cacheFile, root, build); g != nil {
		return g, nil
	}
	reads := workspace.NewReads()
	g, err := load(root, reads)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Dir(cacheFile)); err == nil && fi.IsDir() && build != "" && reads.Trustworthy() {
		_ = writeGraphCache(cacheFile, root, build, g, reads)
	}
	return g, nil
}

// The cache file's body, sealed by statefile:
//
//	string build | string root | reads (workspace.Reads.Append) | gob of graphRecord
const graphCacheMagic = "suitegr1"

// graphRecord is a Graph in gob's terms. gob keeps a Position's line and
// column but not its file, which is unexported; the files travel beside
// each list. Suites keep their mark expression and patterns as written and
// are parsed again.
type graphRecord struct {
	Config                      Config
	Marks                       []*Mark
	Tests                       []*Test
	Groups                      []*Group
	Suites                      []suiteRecord
	GlobWarnings                []*Error
	MarkFiles, TestFiles, Files []string // Files: the groups'
	GlobWarningFiles            []string
}

type suiteRecord struct {
	Name, Pkg, File string
	Line, Col       int32
	Marks           string
	Targets         []string
	Timeout, Budget time.Duration
	Jobs            int
	Order, Doc      string
}

func writeGraphCache(path, root, build string, g *Graph, reads *workspace.Reads) error {
	rec := graphRecord{Config: g.Config, Marks: g.Marks, Tests: g.Tests, Groups: g.Groups, GlobWarnings: g.globWarnings}
	for _, e := range g.globWarnings {
		rec.GlobWarningFiles = append(rec.GlobWarningFiles, e.Pos.Filename())
	}
	for _, m := range g.Marks {
		rec.MarkFiles = append(rec.MarkFiles, m.Pos.Filename())
	}
	for _, t := range g.Tests {
		rec.TestFiles = append(rec.TestFiles, t.Pos.Filename())
	}
	for _, gr := range g.Groups {
		rec.Files = append(rec.Files, gr.Pos.Filename())
	}
	for _, s := range g.Suites {
		rec.Suites = append(rec.Suites, suiteRecord{
			Name: s.Name, Pkg: s.Pkg, File: s.Pos.Filename(), Line: s.Pos.Line, Col: s.Pos.Col,
			Marks: marksSource(s.Marks), Targets: s.Targets, Timeout: s.Timeout, Budget: s.Budget,
			Jobs: s.Jobs, Order: s.Order, Doc: s.Doc,
		})
	}
	b := statefile.AppendString(nil, build)
	b = statefile.AppendString(b, root)
	buf := bytes.NewBuffer(reads.Append(b))
	if err := gob.NewEncoder(buf).Encode(&rec); err != nil {
		return err
	}
	return statefile.WriteSealed(path, graphCacheMagic, buf.Bytes())
}

var errStaleGraph = errors.New("graph cache does not apply")

// readGraphCache returns the cached graph of root, or nil.
func readGraphCache(path, root, build string) *Graph {
	body, err := statefile.ReadSealed(path, graphCacheMagic)
	if err != nil || build == "" {
		return nil
	}
	g, err := decodeGraphCache(body, root, build)
	if err != nil {
		return nil
	}
	return g
}

func decodeGraphCache(body []byte, root, build string) (*Graph, error) {
	d := statefile.NewDecoder(body)
	if d.String() != build || d.String() != root || d.Err() != nil {
		return nil, errStaleGraph
	}
	reads, err := workspace.DecodeReads(d)
	if err != nil || !reads.Unchanged() {
		return nil, errStaleGraph
	}
	var rec graphRecord
	if err := gob.NewDecoder(bytes.NewReader(d.Rest())).Decode(&rec); err != nil {
		return nil, errStaleGraph
	}
	if len(rec.MarkFiles) != len(rec.Marks) || len(rec.TestFiles) != len(rec.Tests) ||
		len(rec.Files) != len(rec.Groups) || len(rec.GlobWarningFiles) != len(rec.GlobWarnings) {
		return nil, errStaleGraph
	}
	g := &Graph{Root: root, Config: rec.Config, Marks: rec.Marks, Tests: rec.Tests, Groups: rec.Groups, globWarnings: rec.GlobWarnings}
	// Positions share one string per file, as evaluation's do.
	files := map[string]*string{}
	file := func(name string) *string {
		if p, ok := files[name]; ok {
			return p
		}
		p := &name
		files[name] = p
		return p
	}
	at := func(name string, line, col int32) syntax.Position {
		return syntax.MakePosition(file(name), line, col)
	}
	for i, m := range g.Marks {
		m.Pos = at(rec.MarkFiles[i], m.Pos.Line, m.Pos.Col)
	}
	for i, t := range g.Tests {
		t.Pos = at(rec.TestFiles[i], t.Pos.Line, t.Pos.Col)
	}
	for i, gr := range g.Groups {
		gr.Pos = at(rec.Files[i], gr.Pos.Line, gr.Pos.Col)
	}
	for i, e := range g.globWarnings {
		e.Pos = at(rec.GlobWarningFiles[i], e.Pos.Line, e.Pos.Col)
	}
	for _, r := range rec.Suites {
		s := &Suite{Name: r.Name, Pkg: r.Pkg, Pos: at(r.File, r.Line, r.Col), Targets: r.Targets,
			Timeout: r.Timeout, Budget: r.Budget, Jobs: r.Jobs, Order: r.Order, Doc: r.Doc}
		if s.Marks, err = markexpr.Parse(r.Marks); err != nil {
			return nil, errStaleGraph
		}
		if s.Select, err = label.ParseSet(s.Targets, s.Pkg); err != nil {
			return nil, errStaleGraph
		}
		g.Suites = append(g.Suites, s)
	}
	return g, nil
}

func marksSource(e *markexpr.Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}
