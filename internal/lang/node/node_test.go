package node

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/suite-run/suite/internal/workspace"
)

type dirFiles string

func (d dirFiles) ReadFile(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), rel))
}

func (d dirFiles) IsFile(rel string) bool {
	fi, err := os.Stat(filepath.Join(string(d), rel))
	return err == nil && fi.Mode().IsRegular()
}

func (d dirFiles) Dirs(rel string) []string {
	es, _ := os.ReadDir(filepath.Join(string(d), rel))
	var out []string
	for _, e := range es {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, body := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func packageDirs(ws *Workspace) map[string][]string {
	out := map[string][]string{}
	for _, p := range ws.Packages {
		out[p.Dir] = p.WorkspaceDeps
	}
	return out
}

func TestReadWorkspaceForms(t *testing.T) {
	pkgs := map[string]string{
		"packages/a/package.json":                `{"name": "a", "dependencies": {"b": "*"}}`,
		"packages/b/package.json":                `{"name": "b", "devDependencies": {"c": "*"}, "dependencies": {"d": "*"}}`,
		"packages/c/package.json":                `{"name": "c"}`,
		"tools/d/package.json":                   `{"name": "d"}`,
		"packages/notes/README.md":               `not a package`,
		"packages/a/node_modules/x/package.json": `{"name": "x"}`,
	}
	for _, tc := range []struct {
		name, file, body, manager string
	}{
		{"npm", "package.json", `{"workspaces": ["packages/*", "tools/d"]}`, "npm"},
		{"yarn", "package.json", `{"workspaces": {"packages": ["packages/**", "tools/*"]}}`, "yarn"},
		{"pnpm", "pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n  - \"tools/*\"\n  - '!tools/nothing'\n", "pnpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{tc.file: tc.body}
			if tc.file != "package.json" {
				files["package.json"] = `{"name": "root"}`
			}
			switch tc.manager {
			case "yarn":
				files["yarn.lock"] = ""
			case "pnpm":
				files["pnpm-lock.yaml"] = ""
			}
			for k, v := range pkgs {
				files[k] = v
			}
			ws, err := ReadWorkspace(dirFiles(writeTree(t, files)), "")
			if err != nil {
				t.Fatal(err)
			}
			if ws.Manager != tc.manager {
				t.Errorf("manager %q, want %q", ws.Manager, tc.manager)
			}
			want := map[string][]string{
				// a imports b, b imports d; b's dev dependency c is b's own
				"packages/a": {"packages/b", "tools/d"},
				"packages/b": {"packages/c", "tools/d"},
				"packages/c": nil,
				"tools/d":    nil,
			}
			if got := packageDirs(ws); !reflect.DeepEqual(got, want) {
				t.Errorf("packages and their workspace dependencies:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestReadWorkspaceSinglePackage(t *testing.T) {
	root := writeTree(t, map[string]string{"app/package.json": `{"name": "app", "scripts": {"test": "jest"}}`})
	ws, err := ReadWorkspace(dirFiles(root), "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(ws.Packages) != 1 || ws.Packages[0].Dir != "app" || ws.Packages[0].Manifest.Scripts["test"] != "jest" {
		t.Errorf("a repo without workspaces is one package: got %+v", ws.Packages)
	}
}

// hiddenLock is npm's node_modules/.package-lock.json for a workspace
// where a imports b (a workspace package) and ms, ms is installed twice
// (a needs 2.0.0 nested, the root has 2.1.3 hoisted for c), and b imports
// debug, which imports ms from the root.
const hiddenLock = `{"packages": {
  "node_modules/a": {"resolved": "packages/a", "link": true},
  "node_modules/b": {"resolved": "packages/b", "link": true},
  "node_modules/c": {"resolved": "packages/c", "link": true},
  "node_modules/ms": {"version": "2.1.3", "integrity": "sha512-new"},
  "packages/a/node_modules/ms": {"version": "2.0.0", "integrity": "sha512-old"},
  "node_modules/debug": {"version": "4.3.4", "integrity": "sha512-debug", "dependencies": {"ms": "^2.1.1"}},
  "node_modules/jest": {"version": "29.0.0", "integrity": "sha512-jest"}
}}`

func TestFingerprintFollowsImports(t *testing.T) {
	root := writeTree(t, map[string]string{
		"package.json":                    `{"workspaces": ["packages/*"], "devDependencies": {"jest": "*"}}`,
		"package-lock.json":               `{}`,
		"node_modules/.package-lock.json": hiddenLock,
		"packages/a/package.json":         `{"name": "a", "dependencies": {"b": "*", "ms": "2.0.0"}}`,
		"packages/b/package.json":         `{"name": "b", "dependencies": {"debug": "*"}, "devDependencies": {"left-pad": "*"}}`,
		"packages/c/package.json":         `{"name": "c", "dependencies": {"ms": "*"}}`,
	})
	dc, err := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	if err != nil {
		t.Fatal(err)
	}
	f := &Fingerprinter{Root: root, Digests: dc}
	for pkg, want := range map[string]map[string]string{
		"packages/a": {"b": "workspace:packages/b", "debug": "4.3.4 sha512-debug", "jest": "29.0.0 sha512-jest",
			"ms": "2.0.0,2.1.3 sha512-old,sha512-new"},
		"packages/b": {"debug": "4.3.4 sha512-debug", "jest": "29.0.0 sha512-jest", "ms": "2.1.3 sha512-new",
			"left-pad": "(not installed)"},
		"packages/c": {"jest": "29.0.0 sha512-jest", "ms": "2.1.3 sha512-new"},
	} {
		got, err := f.Fingerprint(pkg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", pkg, got, want)
		}
	}
}

func TestFingerprintWithoutNodeModules(t *testing.T) {
	root := writeTree(t, map[string]string{"package.json": `{"name": "x"}`, "package-lock.json": `{"packages": {}}`})
	dc, _ := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	got, err := (&Fingerprinter{Root: root, Digests: dc}).Fingerprint("")
	if err != nil {
		t.Fatal(err)
	}
	if _, lock := got["package-lock.json"]; got[NotInstalled] != "absent" || !lock || len(got) != 2 {
		t.Errorf("no node_modules: got %v, want the lockfile and %s", got, NotInstalled)
	}
}

func TestModulesDirs(t *testing.T) {
	root := writeTree(t, map[string]string{
		"package.json":                   `{}`,
		"package-lock.json":              `{}`,
		"node_modules/x/index.js":        ``,
		"packages/a/package.json":        `{}`,
		"packages/a/node_modules/y/i.js": ``,
		"packages/b/package.json":        `{}`,
	})
	got := ModulesDirs(root, "packages/a")
	want := []string{filepath.Join(root, "packages/a/node_modules"), filepath.Join(root, "node_modules")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestFingerprintFiles: with Files, an installed file edited in place
// changes the package's entry, and only its own.
func TestFingerprintFiles(t *testing.T) {
	root := writeTree(t, map[string]string{
		"package.json":                    `{"name": "x", "dependencies": {"ms": "*", "left": "*"}}`,
		"package-lock.json":               `{}`,
		"node_modules/.package-lock.json": `{"packages": {"node_modules/ms": {"version": "2.1.3"}, "node_modules/left": {"version": "1.0.0"}}}`,
		"node_modules/ms/index.js":        `module.exports = 1;`,
		"node_modules/left/index.js":      `module.exports = 2;`,
	})
	dc, _ := workspace.OpenDigestCache(filepath.Join(t.TempDir(), "digests"))
	take := func(files bool) map[string]string {
		fp, err := (&Fingerprinter{Root: root, Digests: dc, Files: files}).Fingerprint("")
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	installed, before := take(false), take(true)
	os.WriteFile(filepath.Join(root, "node_modules/ms/index.js"), []byte(`module.exports = 3;`), 0o644)
	if got := take(false); !reflect.DeepEqual(got, installed) {
		t.Errorf("without Files an edit in place is not seen (documented): got %v, was %v", got, installed)
	}
	after := take(true)
	if after["ms"] == before["ms"] || after["left"] != before["left"] {
		t.Errorf("with Files: ms %q -> %q (want a change), left %q -> %q (want none)", before["ms"], after["ms"], before["left"], after["left"])
	}
}
