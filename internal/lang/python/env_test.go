package python

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suite-run/suite/internal/workspace"
)

func TestSplitDistName(t *testing.T) {
	for in, want := range map[string][2]string{
		"greet-1.0":               {"greet", "1.0"},
		"Typing_Extensions-4.7.1": {"typing-extensions", "4.7.1"},
		"pytest-7.2.1.egg":        {"pytest", "7.2.1.egg"},
		"six-1.16.0-py3.11":       {"six", "1.16.0"},
		"noversion":               {"noversion", ""},
	} {
		name, version := splitDistName(in)
		if name != want[0] || version != want[1] {
			t.Errorf("splitDistName(%q) = %q, %q; want %q, %q", in, name, version, want[0], want[1])
		}
	}
}

func TestInterpreterFromShebang(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.MkdirAll(bin, 0o755)
	write := func(name, body string) string {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	python := write("python3.11", "")
	direct := write("pytest", "#!"+python+"\nimport pytest\n")
	viaEnv := write("tox", "#!/usr/bin/env python3.11\n")
	shell := write("run", "#!/bin/sh\nexec true\n")
	for program, want := range map[string]string{python: python, direct: python, viaEnv: python, shell: ""} {
		got, ok := Interpreter(program, bin)
		if got != want || ok != (want != "") {
			t.Errorf("Interpreter(%s) = %q, %v; want %q", filepath.Base(program), got, ok, want)
		}
	}
}

func TestFindVenv(t *testing.T) {
	files := map[string]bool{".venv/pyvenv.cfg": true, "svc/venv/pyvenv.cfg": true}
	isFile := func(rel string) bool { return files[rel] }
	for dir, want := range map[string]string{
		"":          ".venv",
		"svc":       "svc/venv",
		"svc/a/b":   "svc/venv",
		"other/pkg": ".venv",
	} {
		if got := FindVenv(dir, isFile); got != want {
			t.Errorf("FindVenv(%q) = %q, want %q", dir, got, want)
		}
	}
	if got := FindVenv("x", func(string) bool { return false }); got != "" {
		t.Errorf("no virtualenv: got %q", got)
	}
}

// TestProbeRememberedAcrossRuns: a rerun does not start the interpreter
// again while nothing its sys.path depends on changed, and does once a
// folder on its path changes. The interpreter is a shell script standing
// in for Python, counting its starts.
func TestProbeRememberedAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site-packages")
	os.MkdirAll(filepath.Join(site, "greet-1.0.dist-info"), 0o755)
	os.WriteFile(filepath.Join(site, "greet-1.0.dist-info", "RECORD"), []byte("greet/__init__.py,,\n"), 0o644)
	starts := filepath.Join(dir, "starts")
	interp := filepath.Join(dir, "bin", "python3")
	os.MkdirAll(filepath.Dir(interp), 0o755)
	script := "#!/bin/sh\necho x >> " + starts + "\necho '{\"version\": \"3.11.2 (main)\", \"prefix\": \"" + dir + "\", \"path\": [\"\", \"" + site + "\"]}'\n"
	if err := os.WriteFile(interp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // older than the racy window, as a real installation is
	memo := filepath.Join(dir, "memo")
	run := func() *Environment {
		dc, err := workspace.OpenDigestCache(filepath.Join(dir, "digests"))
		if err != nil {
			t.Fatal(err)
		}
		env, err := (&Prober{Digests: dc, MemoPath: memo}).Environment(interp, "")
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	count := func() int {
		b, _ := os.ReadFile(starts)
		return len(b) / 2
	}
	if env := run(); env.Packages["greet"] == "" || !strings.HasPrefix(env.Packages[InterpreterKey], "3.11.2 ") {
		t.Fatalf("packages %v: want greet and the interpreter", env.Packages)
	}
	run()
	if n := count(); n != 1 {
		t.Errorf("interpreter started %d times for two runs with nothing changed, want 1", n)
	}
	os.WriteFile(filepath.Join(site, "editable.pth"), []byte(dir+"\n"), 0o644)
	if env := run(); env.Packages["editable.pth"] == "" {
		t.Errorf("a .pth file added: not in %v", env.Packages)
	}
	if n := count(); n != 2 {
		t.Errorf("interpreter started %d times after its site-packages changed, want 2", n)
	}
}
