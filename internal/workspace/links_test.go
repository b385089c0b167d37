package workspace

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tree makes files (content = path) and symlinks ("-> text") under a fresh root.
func tree(t *testing.T, entries map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, v := range entries {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if text, ok := strings.CutPrefix(v, "-> "); ok {
			if err := os.Symlink(strings.ReplaceAll(text, "$ROOT", root), p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, p, v, 0o644)
	}
	return root
}

func scan(t *testing.T, root string) *Scan {
	t.Helper()
	s, err := ScanWorkspace(root, NewIgnorer(DefaultIgnore), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInputsFollowLinksToWhatTheyLeadTo(t *testing.T) {
	root := tree(t, map[string]string{
		"WORKSPACE":                         "",
		"t/fixtures/pm":                     "pm",
		"t/fixtures/other-dir/pm":           "-> ../pm",
		"t/fixtures/another-dir/pm":         "-> ../other-dir/pm",
		"t/node_modules/x/x.mjs":            "x",
		"t/node_modules/.bin/x":             "-> ../x/x.mjs",
		"packages/a/index.js":               "a",
		"packages/a/lib/util.js":            "u",
		"t/linked":                          "-> ../packages/a",
		"t/abs":                             "-> $ROOT/packages/a/index.js",
		"t/loop/up":                         "-> ..",
		"t/ping":                            "-> pong",
		"t/pong":                            "-> ping",
		"t/gone":                            "-> nowhere",
		"t/through-file":                    "-> plain/x",
		"o/out":                             "-> /etc/hostname",
		"t/plain":                           "p",
		"packages/a/node_modules/.bin/self": "-> ../../index.js",
		// pnpm's layout: links into its store inside node_modules, which
		// the scan ignores.
		"t/node_modules/.pnpm/pn@1/node_modules/pn/index.js":   "pn",
		"t/node_modules/.pnpm/pn@1/node_modules/pn/lib/x.js":   "x",
		"t/node_modules/.pnpm/pn@1/node_modules/dep":           "-> ../../dep@2/node_modules/dep",
		"t/node_modules/.pnpm/dep@2/node_modules/dep/index.js": "dep",
		"t/node_modules/pn": "-> .pnpm/pn@1/node_modules/pn",
	})
	s := scan(t, root)
	cases := []struct {
		declared []string
		want     []string
	}{
		{[]string{"t/plain"}, []string{"t/plain"}},
		{[]string{"t/fixtures/another-dir/pm"},
			[]string{"t/fixtures/another-dir/pm", "t/fixtures/other-dir/pm", "t/fixtures/pm"}},
		{[]string{"t/node_modules/.bin/x"}, []string{"t/node_modules/.bin/x", "t/node_modules/x/x.mjs"}},
		// A folder link brings its files, at their real paths.
		{[]string{"t/linked"}, []string{"packages/a/index.js", "packages/a/lib/util.js", "t/linked"}},
		// A path through a folder link is the link plus the real file.
		{[]string{"t/linked/lib/util.js"}, []string{"packages/a/lib/util.js", "t/linked"}},
		{[]string{"t/abs"}, []string{"packages/a/index.js", "t/abs"}},
		{[]string{"t/node_modules/pn"}, []string{
			"t/node_modules/.pnpm/pn@1/node_modules/pn/index.js", "t/node_modules/.pnpm/pn@1/node_modules/pn/lib/x.js", "t/node_modules/pn"}},
		{[]string{"t/node_modules/.pnpm/pn@1/node_modules/dep"}, []string{
			"t/node_modules/.pnpm/dep@2/node_modules/dep/index.js", "t/node_modules/.pnpm/pn@1/node_modules/dep"}},
		// A link to a folder above it, and a cycle, end.
		{[]string{"t/loop/up"}, nil},
		{[]string{"t/ping"}, []string{"t/ping", "t/pong"}},
		{[]string{"t/gone"}, []string{"t/gone"}},
		{[]string{"t/through-file"}, []string{"t/through-file"}},
	}
	for _, c := range cases {
		got, err := s.Inputs(c.declared)
		if err != nil {
			t.Errorf("%v: %v", c.declared, err)
			continue
		}
		if c.want == nil { // t/loop/up leads to t: all of t that is inside the workspace
			for _, must := range []string{"t/loop/up", "t/plain", "t/fixtures/pm", "packages/a/index.js"} {
				if !contains(got, must) {
					t.Errorf("%v: %v lacks %s", c.declared, got, must)
				}
			}
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: got %v, want %v", c.declared, got, c.want)
		}
	}
	if _, err := s.Inputs([]string{"o/out"}); err == nil || !strings.Contains(err.Error(), "outside the workspace") {
		t.Errorf("a link leading outside: err %v", err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestScanKeepsSymlinksAsEntriesWithoutDescending(t *testing.T) {
	root := tree(t, map[string]string{
		"WORKSPACE":      "",
		"p/SUITES.star":  "",
		"p/real/f":       "f",
		"p/dirlink":      "-> real",
		"p/self":         "-> .",
		"p/dangling":     "-> missing",
		"p/out":          "-> /etc",
		"p/out-dangling": "-> /nonexistent/x",
		".suite/reports": "p/report.json\n",
		"p/report.json":  "{}",
	})
	s := scan(t, root)
	got := map[string]Entry{}
	for _, e := range s.PackageEntries("p") {
		got[e.Path] = e
	}
	for _, want := range []string{"real/f", "dirlink", "self", "dangling", "out", "report.json", "SUITES.star"} {
		if _, ok := got[want]; !ok {
			t.Errorf("scan lacks %s: %v", want, got)
		}
	}
	if len(got) != 7 {
		t.Errorf("scan descended into a link: %v", got)
	}
	if got["out"].Err == nil || got["dirlink"].Err != nil {
		t.Errorf("errors: out %v, dirlink %v", got["out"].Err, got["dirlink"].Err)
	}
	if !got["report.json"].Report || got["real/f"].Report {
		t.Error("reports not marked as such")
	}
	if files := s.PackageFiles("p"); contains(files, "out") || contains(files, "report.json") || !contains(files, "dirlink") {
		t.Errorf("PackageFiles: %v", files)
	}
}

func TestRecordReports(t *testing.T) {
	root := tree(t, map[string]string{"WORKSPACE": "", "pkg/keep.json": "{}"})
	mine, err := RecordReports(root, filepath.Join(root, "pkg"), []string{"run.json", "/tmp/elsewhere.json", "../junit.xml"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pkg/run.json", "junit.xml"}; !reflect.DeepEqual(mine, want) {
		t.Errorf("recorded %v, want %v", mine, want)
	}
	// Not written yet: a listed report that does not exist is dropped on
	// the next record, so write one of them.
	writeFile(t, filepath.Join(root, "pkg/run.json"), "{}", 0o644)
	st1, _ := os.Stat(filepath.Join(root, OutputDir, ReportsFile))
	if _, err := RecordReports(root, root, []string{"pkg/run.json"}); err != nil {
		t.Fatal(err)
	}
	got := ReadReports(root, nil)
	if !got["pkg/run.json"] || got["junit.xml"] {
		t.Errorf("after the second run the list is %v", got)
	}
	// The same flags again: the list is not rewritten, so a kept graph stays valid.
	st2, _ := os.Stat(filepath.Join(root, OutputDir, ReportsFile))
	if _, err := RecordReports(root, root, []string{"pkg/run.json"}); err != nil {
		t.Fatal(err)
	}
	st3, _ := os.Stat(filepath.Join(root, OutputDir, ReportsFile))
	if st1 == nil || !os.SameFile(st2, st3) || !st2.ModTime().Equal(st3.ModTime()) {
		t.Error("an unchanged list was rewritten")
	}
}

func TestReadsNoticeAChangedLinkText(t *testing.T) {
	root := tree(t, map[string]string{"WORKSPACE": "", "a": "a", "b": "-> a", "l": "-> b"})
	r := NewReads()
	s, err := ScanWorkspace(root, NewIgnorer(nil), r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Inputs([]string{"l"}); err != nil {
		t.Fatal(err)
	}
	if !r.Unchanged() {
		t.Fatal("nothing changed, yet the record says so")
	}
	// l now leads to a directly: same end, other links on the way.
	os.Remove(filepath.Join(root, "l"))
	os.Symlink("a", filepath.Join(root, "l"))
	if r.Unchanged() {
		t.Error("a link's new text went unnoticed")
	}
}

func TestLinkTextNamesTheWorkspaceThroughALink(t *testing.T) {
	root := tree(t, map[string]string{"WORKSPACE": "", "pkg/f": "f"})
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(alias, "pkg", "f"), filepath.Join(root, "pkg", "l")); err != nil {
		t.Fatal(err)
	}
	if text, err := LinkText(root, "pkg/l"); err != nil || text != "f" {
		t.Errorf("LinkText = %q, %v; want \"f\"", text, err)
	}
}
