package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/workspace"
)

// fullWorkspace uses every attribute of every built-in, a loaded macro, a
// symlink, an ignored folder and a standard rule that reads sources, so
// that a cached graph which dropped anything would differ.
var fullWorkspace = map[string]string{
	"WORKSPACE": `
workspace(name = "w", default_timeout = "90s", jobs = 3, env_passthrough = ["PATH", "LANG"],
          cache_dir = "/tmp/nowhere", remote_cache = "http://127.0.0.1:1/c", remote_upload = True,
          network = "host", ignore = ["build"], remote_exec_properties = {"os": "linux"})
mark("smoke", doc = "fast")
mark("slow", doc = "slow")
`,
	"lib/defs.star": `
def my_test(name):
    test(name = name, cmd = ["echo", "macro_a"], marks = ["slow"])
`,
	"pkg/SUITES.star": `
load("//lib:defs.star", "my_test")
load("@suite//rules:python.star", "pytest_files")

files(name = "data", srcs = glob(["data/**"]))

test(
    name = "full",
    cmd = ["sh", "-c", "true"],
    srcs = glob(["src/*.txt"]),
    deps = [":data"],
    env = {"A": "1"},
    marks = ["smoke"],
    timeout = "30s",
    attempts = 2,
    shards = 2,
    tools = ["sh"],
    exclusive = True,
    cpus = 2,
    network = "isolated",
    cache = False,
    skip_exit_codes = [5],
    case_marks = [["slow"]],
)

test(name = "sized", cmd = "true", size = "small")

test(name = "nothing", cmd = "true", srcs = glob(["missing/*"]))

my_test(name = "viamacro")

pytest_files(name = "py")

suite(name = "nightly", marks = "smoke or slow", targets = ["//pkg/...", "-//pkg:sized"],
      timeout = "10m", jobs = 2, order = "declared", budget = "1h", doc = "every night")
`,
	"pkg/src/a.txt":     "a",
	"pkg/src/b.txt":     "b",
	"pkg/data/x.json":   "{}",
	"pkg/test_one.py":   "import pytest\n\n@pytest.mark.smoke\ndef test_one():\n    pass\n",
	"pkg/alt/one.txt":   "1",
	"build/ignored.txt": "i",
}

func writeWorkspace(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The output folder exists before the first run, as it does after
	// any run: creating it would change the root folder.
	if err := os.Mkdir(filepath.Join(root, workspace.OutputDir), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// settle waits until what a test just wrote is older than the racy
// window: only then may stats vouch for it, and the graph be cached.
func settle() { time.Sleep(2100 * time.Millisecond) }

// dump renders a value in full, unexported fields and pointed-to values
// included, with nil and empty slices and maps alike (gob does not tell
// them apart, and nothing in suite does either).
func dump(v reflect.Value) string {
	var b strings.Builder
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			b.WriteString(v.Type().String() + "{")
			for i := 0; i < v.NumField(); i++ {
				b.WriteString(v.Type().Field(i).Name + ":")
				walk(v.Field(i))
				b.WriteString(" ")
			}
			b.WriteString("}")
		case reflect.Slice, reflect.Array:
			b.WriteString("[")
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
				b.WriteString(",")
			}
			b.WriteString("]")
		case reflect.Map:
			keys := v.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
			b.WriteString("map[")
			for _, k := range keys {
				walk(k)
				b.WriteString(":")
				walk(v.MapIndex(k))
				b.WriteString(",")
			}
			b.WriteString("]")
		case reflect.String:
			fmt.Fprintf(&b, "%q", v.String())
		case reflect.Bool:
			fmt.Fprint(&b, v.Bool())
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			fmt.Fprint(&b, v.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			fmt.Fprint(&b, v.Uint())
		default:
			fmt.Fprintf(&b, "<%s>", v.Kind())
		}
	}
	walk(v)
	return b.String()
}

func dumpGraph(g *Graph) string { return dump(reflect.ValueOf(g)) }

// TestGraphCacheRoundTrip: a cached graph is the evaluated graph, every
// field of it, positions and lint findings included.
func TestGraphCacheRoundTrip(t *testing.T) {
	t.Parallel()
	root := writeWorkspace(t, fullWorkspace)
	if err := os.Symlink("../alt/one.txt", filepath.Join(root, "pkg/src/link.txt")); err != nil {
		t.Fatal(err)
	}
	settle()
	cacheFile := filepath.Join(root, workspace.OutputDir, "graph")
	want, err := LoadCached(root, cacheFile)
	if err != nil {
		t.Fatal(err)
	}
	got := readGraphCache(cacheFile, root, workspace.ExecutableIdentity())
	if got == nil {
		t.Fatal("the evaluated graph was not cached, or the cache was not used")
	}
	if dumpGraph(got) != dumpGraph(want) {
		t.Errorf("cached graph differs from the evaluated one:\ncached:    %s\nevaluated: %s", dumpGraph(got), dumpGraph(want))
	}
	if len(got.Lint()) == 0 || !hasTest(got, "//pkg:py/test_one.py") {
		t.Error("the fixture no longer exercises lint findings or source-reading rules")
	}
	if readGraphCache(cacheFile, root+"/", workspace.ExecutableIdentity()) != nil ||
		readGraphCache(cacheFile, root, "another build") != nil {
		t.Error("a graph cached for another root or another build of suite was used")
	}
}

// TestGraphCacheFollowsTheWorkspace: after each change that evaluation
// would see, the graph LoadCached gives is the one evaluating gives, never
// the cached one.
func TestGraphCacheFollowsTheWorkspace(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(root string) error{
		"a SUITES.star edited": func(root string) error {
			return appendFile(filepath.Join(root, "pkg/SUITES.star"), "\ntest(name = \"added\", cmd = \"true\")\n")
		},
		"a loaded .star edited, same size": func(root string) error {
			return replaceIn(filepath.Join(root, "lib/defs.star"), "macro_a", "macro_b")
		},
		"a file a glob matches added": func(root string) error {
			return os.WriteFile(filepath.Join(root, "pkg/src/c.txt"), []byte("c"), 0o644)
		},
		"a file added in a new sub-folder": func(root string) error {
			if err := os.Mkdir(filepath.Join(root, "pkg/data/deep"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "pkg/data/deep/y.json"), []byte("[]"), 0o644)
		},
		"a file a glob matched removed": func(root string) error {
			return os.Remove(filepath.Join(root, "pkg/src/b.txt"))
		},
		"a new package": func(root string) error {
			if err := os.Mkdir(filepath.Join(root, "other"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "other/SUITES.star"), []byte("test(name = \"o\", cmd = \"true\")\n"), 0o644)
		},
		"WORKSPACE edited": func(root string) error {
			return replaceIn(filepath.Join(root, "WORKSPACE"), `"90s"`, `"91s"`)
		},
		"a dangling symlink's target created in an ignored folder": func(root string) error {
			return os.WriteFile(filepath.Join(root, "build/later.txt"), []byte("now"), 0o644)
		},
		"a test source's marks edited in place": func(root string) error {
			return replaceIn(filepath.Join(root, "pkg/test_one.py"), "smoke", "slow\n")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			root := writeWorkspace(t, fullWorkspace)
			if err := os.Symlink("../../build/later.txt", filepath.Join(root, "pkg/src/later.txt")); err != nil {
				t.Fatal(err)
			}
			settle()
			cacheFile := filepath.Join(root, workspace.OutputDir, "graph")
			before, err := LoadCached(root, cacheFile)
			if err != nil {
				t.Fatal(err)
			}
			if readGraphCache(cacheFile, root, workspace.ExecutableIdentity()) == nil {
				t.Fatal("the graph was not cached before the change")
			}
			if err := change(root); err != nil {
				t.Fatal(err)
			}
			got, err := LoadCached(root, cacheFile)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Load(root)
			if err != nil {
				t.Fatal(err)
			}
			if dumpGraph(want) == dumpGraph(before) {
				t.Fatal("the change does not change the graph; the case tests nothing")
			}
			if dumpGraph(got) != dumpGraph(want) {
				t.Errorf("after the change LoadCached gave a stale graph:\ngot:  %s\nwant: %s", dumpGraph(got), dumpGraph(want))
			}
		})
	}
}

// TestGraphCacheDistrustsRecentChanges: files changed within the racy
// window could change again without changing their stats, so a graph read
// from them is not kept.
func TestGraphCacheDistrustsRecentChanges(t *testing.T) {
	t.Parallel()
	root := writeWorkspace(t, fullWorkspace)
	cacheFile := filepath.Join(root, workspace.OutputDir, "graph")
	if _, err := LoadCached(root, cacheFile); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cacheFile); !os.IsNotExist(err) {
		t.Errorf("a graph of just-written files was cached (stat: %v)", err)
	}
}

// TestGraphCacheCreatesNoOutputFolder: listing a fresh checkout leaves no
// .suite folder behind; only a run makes it.
func TestGraphCacheCreatesNoOutputFolder(t *testing.T) {
	t.Parallel()
	root := writeWorkspace(t, fullWorkspace)
	if err := os.Remove(filepath.Join(root, workspace.OutputDir)); err != nil {
		t.Fatal(err)
	}
	settle()
	if _, err := LoadCached(root, filepath.Join(root, workspace.OutputDir, "graph")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, workspace.OutputDir)); !os.IsNotExist(err) {
		t.Errorf("LoadCached made %s (stat: %v)", workspace.OutputDir, err)
	}
}

// TestGraphCacheCorruptFile: a damaged cache file is evaluated around.
func TestGraphCacheCorruptFile(t *testing.T) {
	t.Parallel()
	root := writeWorkspace(t, fullWorkspace)
	settle()
	cacheFile := filepath.Join(root, workspace.OutputDir, "graph")
	want, err := LoadCached(root, cacheFile)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cacheFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": data[:len(data)/2],
		"flipped":   append(append([]byte(nil), data[:len(data)/2]...), append([]byte{data[len(data)/2] ^ 0x10}, data[len(data)/2+1:]...)...),
	} {
		if err := os.WriteFile(cacheFile, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if readGraphCache(cacheFile, root, workspace.ExecutableIdentity()) != nil {
			t.Errorf("%s cache file was used", name)
		}
		got, err := LoadCached(root, cacheFile)
		if err != nil || dumpGraph(got) != dumpGraph(want) {
			t.Errorf("%s cache file: LoadCached gave a different graph (err %v)", name, err)
		}
	}
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func replaceIn(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	// Rewritten in place, keeping the inode: only mtime and ctime change.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(strings.Replace(string(b), old, new, 1)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func hasTest(g *Graph, label string) bool {
	for _, t := range g.Tests {
		if t.Label.String() == label {
			return true
		}
	}
	return false
}
