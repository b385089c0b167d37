package sched

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/internal/sandbox"
	"github.com/suite-run/suite/internal/workspace"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		abs := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Where lookups cannot be traced, the not-found paths of a failed test's
// log name its undeclared reads, in each runner's spelling; paths that do
// not exist, lie outside the workspace or were declared are left out.
func TestUndeclaredFromLog(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"testdata/x.txt":     "x",
		"py/data/p.json":     "{}",
		"shared/x.json":      "{}",
		"enc/jp/jp_test.go":  "package jp",
		"web/app/a.test.js":  "",
		"declared/input.txt": "",
	})
	for _, c := range []struct{ name, pkg, log, want string }{
		{"go", "", `{"Action":"output","Output":"    jp_test.go:12: load: open ../../testdata/x.txt: no such file or directory\n"}`, "testdata/x.txt"},
		{"python", "py/tests", "E   FileNotFoundError: [Errno 2] No such file or directory: '" + root + "/py/data/p.json'", "py/data/p.json"},
		{"node", "web/app", "Error: Cannot find module '../../shared/x.json'", "shared/x.json"},
		{"shell", "web/app", "cat: ../../shared/x.json: No such file or directory", "shared/x.json"},
		{"absent", "web/app", "cat: ../../shared/none.json: No such file or directory", ""},
		{"outside", "web/app", "cat: /etc/none: No such file or directory", ""},
		{"declared", "", "open declared/input.txt: no such file or directory", ""},
		{"unrelated line", "", "reading ../../testdata/x.txt went fine", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "test.log")
			os.WriteFile(log, []byte(c.log+"\n"), 0o644)
			got := strings.Join(undeclaredFromLog(root, c.pkg, log, []string{"enc/jp/jp_test.go", "web/app/a.test.js", "declared/input.txt"}), ",")
			if got != c.want {
				t.Errorf("named %q, want %q", got, c.want)
			}
		})
	}
}

// A manifest holds while nothing it lists changed; a changed file, an
// absent path that appears and a listed folder that gains a file each break
// it, and the first that breaks is named.
func TestManifestNamesTheFirstChange(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"pkg/a.txt": "a", "testdata/x.txt": "x", "data/one": "1"})
	digests, err := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	if err != nil {
		t.Fatal(err)
	}
	ctime := func(p string) int64 {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return statCtime(fi)
	}
	a := &action.Action{Inputs: []string{"pkg/a.txt"}}
	o := Outcome{Traced: true,
		TracedReads: []sandbox.TracedFile{
			{Path: "pkg/a.txt", Changed: ctime("pkg/a.txt")},
			{Path: "testdata/x.txt", Changed: ctime("testdata/x.txt")},
			{Path: ".suite/testlogs/x/test.log", Changed: 1},
		},
		TracedMissing: []string{"web/package.json"},
		TracedListed:  []sandbox.TracedFile{{Path: "data", Changed: ctime("data")}},
	}
	m, err := tracedManifest(digests, root, a, o)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := parseManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.path)
	}
	if !slices.Equal(paths, []string{"testdata/x.txt", "web/package.json", "data"}) {
		t.Fatalf("manifest lists %q: want the undeclared reads, without declared inputs or suite's own files", paths)
	}
	if c := firstChange(digests, root, entries); c != "" {
		t.Fatalf("nothing changed, but: %s", c)
	}
	writeFiles(t, root, map[string]string{"data/two": "2"})
	if c := firstChange(digests, root, entries); c != "traced directory data gained or lost files" {
		t.Errorf("after adding data/two: %q", c)
	}
	os.Remove(filepath.Join(root, "data/two"))
	writeFiles(t, root, map[string]string{"web/package.json": "{}"})
	if c := firstChange(digests, root, entries); c != "traced input web/package.json appeared" {
		t.Errorf("after creating web/package.json: %q", c)
	}
	os.Remove(filepath.Join(root, "web/package.json"))
	writeFiles(t, root, map[string]string{"testdata/x.txt": "changed"})
	if c := firstChange(digests, root, entries); c != "traced input testdata/x.txt changed" {
		t.Errorf("after changing testdata/x.txt: %q", c)
	}

	// A file that changed while the test ran is not recorded.
	o.TracedReads[1].Changed--
	if _, err := tracedManifest(digests, root, a, o); err == nil || !strings.Contains(err.Error(), "changed while the test ran") {
		t.Errorf("a file changed during the run: err = %v", err)
	}
}

// A manifest that names a path outside the workspace, or is damaged, is
// refused (and its entry is then a miss).
func TestManifestRejectsEscapes(t *testing.T) {
	for _, body := range []string{
		manifestHeader + "file\tabc/1\t../outside\n",
		manifestHeader + "file\tabc/1\t/etc/passwd\n",
		manifestHeader + "weird\t\tx\n",
		"# another format\n",
	} {
		if _, err := parseManifest([]byte(body)); err == nil {
			t.Errorf("accepted %q", body)
		}
	}
}
