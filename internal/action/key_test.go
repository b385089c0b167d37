package action

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/internal/statefile"
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

func (f *fixture) action(test *rules.Test) *Action {
	g := &rules.Graph{Root: f.root, Config: rules.DefaultConfig()}
	lookup := func(name string) (string, bool) {
		if name == "PATH" {
			return filepath.Join(f.root, "bin"), true
		}
		return "", false
	}
	return Build(g, []*rules.Test{test}, Options{LookupEnv: lookup})[0]
}

func (f *fixture) key(t *testing.T, test *rules.Test) string {
	t.Helper()
	k, err := f.keyer.Key(f.action(test))
	if err != nil {
		t.Fatal(err)
	}
	return k.Hash
}

// withMemo gives the fixture's keyer a key memo, and a clock an hour ahead
// so that the fixture's fresh files are outside the racy window. Tests
// using it change files only in ways that change their stat.
func (f *fixture) withMemo(t *testing.T) *fixture {
	f.keyer.Memo = OpenKeyMemo(filepath.Join(t.TempDir(), "keys"))
	f.keyer.now = func() time.Time { return time.Now().Add(time.Hour) }
	return f
}

// memoKey is the key as a rerun gets it through the memo: it checks that
// a second lookup comes from the memo, and that the memo's key is the one
// computing it in full gives.
func (f *fixture) memoKey(t *testing.T, test *rules.Test) string {
	t.Helper()
	d1, _, err := f.keyer.Digest(f.action(test))
	if err != nil {
		t.Fatal(err)
	}
	d2, full, err := f.keyer.Digest(f.action(test))
	if err != nil {
		t.Fatal(err)
	}
	if full != nil {
		t.Errorf("%s: the second lookup computed the key instead of taking it from the memo", test.Label)
	}
	if want := f.key(t, test); d1.Hash != want || d2.Hash != want {
		t.Errorf("%s: memo gave %s then %s, computing it gives %s", test.Label, d1.Hash, d2.Hash, want)
	}
	return d2.Hash
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
		"Sandbox":       {true, "salt: a relaxed test sees more than its inputs", func(t *rules.Test) { t.Sandbox = "relaxed" }},
		"InputMode":     {true, "salt: a traced result holds only with its traced files", func(t *rules.Test) { t.InputMode = "traced" }},
		"Cache":         {true, "do_not_cache", func(t *rules.Test) { t.Cache = false }},
		"SkipExitCodes": {true, "salt: decides whether an exit code is a skip", func(t *rules.Test) { t.SkipExitCodes = []int{5} }},
		"CaseMarks":     {false, "selection only", func(t *rules.Test) { t.CaseMarks = [][]string{{"smoke"}} }},
		"Environments":  {true, "salt: the installed packages of each environment", func(t *rules.Test) { t.Environments = []string{"node:pkg"} }},
	}
	f := newFixture(t).withMemo(t)
	base := f.memoKey(t, baseTest())
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
		changed := f.memoKey(t, test) != base
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

// TestKeyMemoFollowsInputs: through the memo, every change to what a key
// is computed from gives the key computing it in full gives, and an
// unchanged action is never recomputed.
func TestKeyMemoFollowsInputs(t *testing.T) {
	f := newFixture(t).withMemo(t)
	keys := map[string]string{}
	step := func(what string, change func()) {
		t.Helper()
		change()
		f.keyer.tools.Clear() // a Keyer looks each tool up once: this is a new run
		k := f.memoKey(t, baseTest())
		if prev, seen := keys[k]; seen {
			t.Errorf("after %s the key is the one after %s", what, prev)
		}
		keys[k] = what
	}
	a := filepath.Join(f.root, "pkg/a.txt")
	tool := filepath.Join(f.root, "bin/tool")
	step("nothing", func() {})
	step("new content", func() { os.WriteFile(a, []byte("longer"), 0o755) })
	step("dropping the executable bit", func() { os.Chmod(a, 0o644) })
	step("a new tool binary", func() { os.WriteFile(tool, []byte("#!/bin/sh\nexit 0\n"), 0o755) })
	step("replacing the input by a rename", func() {
		os.WriteFile(a+".new", []byte("LONGER"), 0o644) // same size and mode, new inode
		os.Rename(a+".new", a)
	})
	_, full, err := f.keyer.Digest(f.action(baseTest()))
	if err != nil || full != nil {
		t.Errorf("an unchanged action was recomputed (err %v)", err)
	}
}

// TestKeyMemoDistrustsRecentChanges: with the real clock, a file changed
// just now may change again within its timestamp's tick without changing
// its stat, so its key is not remembered.
func TestKeyMemoDistrustsRecentChanges(t *testing.T) {
	f := newFixture(t)
	f.keyer.Memo = OpenKeyMemo(filepath.Join(t.TempDir(), "keys"))
	for i := 0; i < 2; i++ {
		if _, full, err := f.keyer.Digest(f.action(baseTest())); err != nil || full == nil {
			t.Fatalf("lookup %d: key of just-written files taken from the memo (err %v)", i+1, err)
		}
	}
}

// TestKeyMemoFile: the memo survives a save and a load; a corrupt file or
// one written by another build of suite is an empty memo.
func TestKeyMemoFile(t *testing.T) {
	f := newFixture(t).withMemo(t)
	path := filepath.Join(t.TempDir(), "keys")
	f.keyer.Memo = OpenKeyMemo(path)
	want := f.memoKey(t, baseTest())
	if err := f.keyer.Memo.Save(); err != nil {
		t.Fatal(err)
	}
	f.keyer.Memo = OpenKeyMemo(path)
	d, full, err := f.keyer.Digest(f.action(baseTest()))
	if err != nil || full != nil || d.Hash != want {
		t.Fatalf("after reloading: %v, recomputed %v, err %v; want %s from the memo", d, full != nil, err, want)
	}
	data, _ := os.ReadFile(path)
	for name, bad := range map[string][]byte{
		"truncated":     data[:len(data)-7],
		"flipped":       append(append([]byte(nil), data[:20]...), append([]byte{data[20] ^ 1}, data[21:]...)...),
		"another build": rewriteBuild(t, path),
	} {
		os.WriteFile(path, bad, 0o644)
		if m := OpenKeyMemo(path); len(m.entries) != 0 {
			t.Errorf("%s memo file: loaded %d entries", name, len(m.entries))
		}
	}
}

// rewriteBuild returns a valid memo file naming another build of suite.
func rewriteBuild(t *testing.T, path string) []byte {
	t.Helper()
	body, err := statefile.ReadSealed(path, keyMemoMagic)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := decodeKeyMemo(body, workspace.ExecutableIdentity())
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "keys")
	if err := statefile.WriteSealed(other, keyMemoMagic, encodeKeyMemo("/elsewhere/suite", entries)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The platform is exactly what the user configured, sorted by name, so an
// exact-match engine (Buildbarn) finds the workers that advertise it; the
// host's OS and CPU are in the salt, so a pass from another machine kind
// is still no hit here.
func TestPlatformIsExactlyAsConfigured(t *testing.T) {
	f := newFixture(t)
	k, err := f.keyer.Key(f.action(baseTest()))
	if err != nil {
		t.Fatal(err)
	}
	if p := k.Command.GetPlatform(); p != nil || k.Action.GetPlatform() != nil {
		t.Errorf("no property configured, but the platform is %v", p)
	}
	if want := runtime.GOOS + "/" + runtime.GOARCH; !strings.Contains(string(k.Action.Salt), want) {
		t.Errorf("salt %q lacks the host's %s", k.Action.Salt, want)
	}

	f = newFixture(t)
	f.keyer.Platform = map[string]string{"OSFamily": "linux", "container-image": "docker://debian", "Pool": "big"}
	k2, err := f.keyer.Key(f.action(baseTest()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range k2.Action.GetPlatform().GetProperties() {
		got = append(got, p.Name+"="+p.Value)
	}
	want := []string{"OSFamily=linux", "Pool=big", "container-image=docker://debian"}
	if !slices.Equal(got, want) {
		t.Errorf("Action.platform %v, want exactly %v", got, want)
	}
	if !proto.Equal(k2.Command.GetPlatform(), k2.Action.GetPlatform()) {
		t.Errorf("Command.platform %v differs from Action.platform", k2.Command.GetPlatform())
	}
	if k2.Hash == k.Hash {
		t.Error("the platform is not in the key")
	}
}

// TestSymlinkInputIsKeyedByItsText: a symlink input enters the input tree
// as a REAPI SymlinkNode holding its text, so pointing it elsewhere is a
// miss, through the memo too, while its target's content is the target's
// own input's business.
func TestSymlinkInputIsKeyedByItsText(t *testing.T) {
	f := newFixture(t).withMemo(t)
	link := filepath.Join(f.root, "pkg/link.txt")
	if err := os.Symlink("a.txt", link); err != nil {
		t.Fatal(err)
	}
	test := baseTest()
	test.Inputs = []string{"pkg/a.txt", "pkg/link.txt"}
	k, err := f.keyer.Key(f.action(test))
	if err != nil {
		t.Fatal(err)
	}
	var pkgDir *repb.Directory
	for _, d := range k.Dirs {
		for _, s := range d.Symlinks {
			if s.Name == "link.txt" {
				pkgDir = d
			}
		}
	}
	if pkgDir == nil || pkgDir.Symlinks[0].Target != "a.txt" || len(pkgDir.Files) != 1 || pkgDir.Files[0].Name != "a.txt" {
		t.Fatalf("want pkg/ to hold the file a.txt and the symlink link.txt -> a.txt, got %v", pkgDir)
	}
	if m := k.Manifest(); m.Inputs["pkg/link.txt"] != "symlink -> a.txt" {
		t.Errorf("manifest says %q for the link", m.Inputs["pkg/link.txt"])
	}
	if _, ok := k.Files()[""]; ok {
		t.Error("a symlink was offered as a blob to upload")
	}

	before := f.memoKey(t, test)
	os.Remove(link)
	if err := os.Symlink("b.txt", link); err != nil {
		t.Fatal(err)
	}
	if after := f.memoKey(t, test); after == before {
		t.Error("pointing the link elsewhere kept the key")
	}

	// An absolute link inside the workspace is keyed as its relative form.
	os.Remove(link)
	if err := os.Symlink(filepath.Join(f.root, "pkg/b.txt"), link); err != nil {
		t.Fatal(err)
	}
	k2, err := f.keyer.Key(f.action(test))
	if err != nil {
		t.Fatal(err)
	}
	if got := k2.Manifest().Inputs["pkg/link.txt"]; got != "symlink -> b.txt" {
		t.Errorf("absolute link inside the workspace keyed as %q, want its relative form", got)
	}

	// One leading outside is an error, not a key.
	os.Remove(link)
	if err := os.Symlink("/etc/hostname", link); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keyer.Key(f.action(test)); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Errorf("a link leading outside was keyed (err %v)", err)
	}
}
