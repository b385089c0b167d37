package action

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/workspace"
	"github.com/suite-run/suite/rules"
)

// fixture is a workspace with two input files and a keyer over it.
type fixture struct {
	root  string
	keyer *Keyer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	for name, content := range map[string]string{"pkg/a.txt": "a", "pkg/b.txt": "b", "bin/tool": "#!/bin/sh\n"} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, err := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{root, &Keyer{Root: root, WorkspaceName: "ws", Digests: d}}
}

func baseTest() *rules.Test {
	return &rules.Test{
		Label: label.Label{Pkg: "pkg", Name: "t"}, Cmd: []string{"run", "it"},
		Srcs: []string{"pkg/a.txt"}, Inputs: []string{"pkg/a.txt"}, Env: map[string]string{"MODE": "x"},
		Marks: []string{"smoke"}, Timeout: time.Minute, Attempts: 1, Shards: 1, CPUs: 1, Cache: true,
		Tools: []string{"tool"},
	}
}

func (f *fixture) key(t *testing.T, test *rules.Test) string {
	t.Helper()
	g := &rules.Graph{Root: f.root, Config: rules.DefaultConfig()}
	lookup := func(name string) (string, bool) {
		if name == "PATH" {
			return filepath.Join(f.root, "bin"), true
		}
		return "", false
	}
	as := Build(g, []*rules.Test{test}, Options{LookupEnv: lookup})
	k, err := f.keyer.Key(as[0])
	if err != nil {
		t.Fatal(err)
	}
	return k.Hash
}

// TestEveryTestFieldIsClassified fails when rules.Test gains a field that
// nobody decided about: is it part of the action key or not? Each field's
// mutation must change the key exactly when the field is in it.
func TestEveryTestFieldIsClassified(t *testing.T) {
	type class struct {
		inKey  bool
		why    string
		mutate func(*rules.Test)
	}
	classes := map[string]class{
		"Label":         {true, "TEST_TARGET", func(t *rules.Test) { t.Label.Name = "u" }},
		"Pos":           {false, "where it is declared changes nothing it computes", func(t *rules.Test) { t.Pos.Line = 9 }},
		"Cmd":           {true, "argv", func(t *rules.Test) { t.Cmd = []string{"run", "other"} }},
		"Srcs":          {false, "counted through Inputs", func(t *rules.Test) { t.Srcs = nil }},
		"Deps":          {false, "counted through Inputs", func(t *rules.Test) { t.Deps = []label.Label{{Pkg: "x", Name: "y"}} }},
		"Inputs":        {true, "the input tree", func(t *rules.Test) { t.Inputs = []string{"pkg/a.txt", "pkg/b.txt"} }},
		"Env":           {true, "the environment", func(t *rules.Test) { t.Env = map[string]string{"MODE": "y"} }},
		"Marks":         {false, "selection only (through argv when $(MARK_EXPR) is used)", func(t *rules.Test) { t.Marks = nil }},
		"Timeout":       {false, "a cached pass longer than the timeout misses instead", func(t *rules.Test) { t.Timeout = time.Hour }},
		"Size":          {false, "implies a timeout only", func(t *rules.Test) { t.Size = "large" }},
		"Attempts":      {false, "only clean first-attempt passes are cached", func(t *rules.Test) { t.Attempts = 3 }},
		"Shards":        {true, "TEST_TOTAL_SHARDS", func(t *rules.Test) { t.Shards = 2 }},
		"Tools":         {true, "tool content", func(t *rules.Test) { t.Tools = nil }},
		"Exclusive":     {false, "scheduling only", func(t *rules.Test) { t.Exclusive = true }},
		"CPUs":          {false, "scheduling only", func(t *rules.Test) { t.CPUs = 4 }},
		"Network":       {true, "salt: isolated and host networks can give different results", func(t *rules.Test) { t.Network = "host" }},
		"Cache":         {true, "do_not_cache", func(t *rules.Test) { t.Cache = false }},
		"SkipExitCodes": {true, "salt: decides whether an exit code is a skip", func(t *rules.Test) { t.SkipExitCodes = []int{5} }},
		"CaseMarks":     {false, "selection only", func(t *rules.Test) { t.CaseMarks = [][]string{{"smoke"}} }},
	}
	f := newFixture(t)
	base := f.key(t, baseTest())
	typ := reflect.TypeOf(rules.Test{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		c, ok := classes[name]
		if !ok {
			t.Errorf("rules.Test.%s is not classified: decide whether it belongs in the action key and add it here", name)
			continue
		}
		test := baseTest()
		c.mutate(test)
		changed := f.key(t, test) != base
		if changed != c.inKey {
			t.Errorf("changing %s (%s): key changed = %v, want %v", name, c.why, changed, c.inKey)
		}
	}
}

// TestKeyFollowsContentNotStat: a file rewritten with the same content
// keeps the key; new content or a flipped executable bit changes it.
func TestKeyFollowsContentNotStat(t *testing.T) {
	f := newFixture(t)
	base := f.key(t, baseTest())
	p := filepath.Join(f.root, "pkg/a.txt")
	os.WriteFile(p, []byte("a"), 0o755)
	if f.key(t, baseTest()) != base {
		t.Error("rewriting the same content changed the key")
	}
	os.WriteFile(p, []byte("A"), 0o755)
	changed := f.key(t, baseTest())
	if changed == base {
		t.Error("new content kept the key")
	}
	os.Chmod(p, 0o644)
	if f.key(t, baseTest()) == changed {
		t.Error("dropping the executable bit kept the key")
	}
}

func TestKeyIgnoresPerRunAndCacheLocations(t *testing.T) {
	f := newFixture(t)
	test := baseTest()
	a := Build(&rules.Graph{Root: f.root, Config: rules.DefaultConfig()}, []*rules.Test{test}, Options{LookupEnv: func(string) (string, bool) { return "", false }})[0]
	k1, _ := f.keyer.Key(a)
	a.Env = map[string]string{"MODE": "x", "GOCACHE": "/somewhere/else"}
	a.Timeout = time.Hour
	k2, _ := f.keyer.Key(a)
	if k1.Hash != k2.Hash {
		t.Error("GOCACHE or the timeout changed the key")
	}
	for _, e := range k1.Command.EnvironmentVariables {
		if strings.Contains(e.Value, f.root) || strings.HasPrefix(e.Value, "/tmp") {
			t.Errorf("per-run path in the key: %s=%s", e.Name, e.Value)
		}
	}
}

func TestExplainNamesWhatChanged(t *testing.T) {
	old := Manifest{Key: "1", Argv: []string{"go", "test"}, Env: map[string]string{"A": "1"},
		Inputs: map[string]string{"x.go": "h1/1", "y.go": "h2/1", "run.sh": "h3/1"}}
	cur := Manifest{Key: "2", Argv: []string{"go", "vet"}, Env: map[string]string{"A": "2"},
		Inputs: map[string]string{"x.go": "h9/1", "z.go": "h4/1", "run.sh": "h3/1 +x"}}
	got := strings.Join(Explain(old, cur), "\n")
	for _, want := range []string{
		"input file changed: x.go (content)",
		"input file removed: y.go",
		"input file added: z.go",
		"input file changed: run.sh (became executable)",
		`env changed: A ("1" -> "2")`,
		`argv[1] changed: "test" -> "vet"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain says:\n%s\nwant a line %q", got, want)
		}
	}
	if Explain(old, old) != nil {
		t.Error("the same key explained as a change")
	}
}
