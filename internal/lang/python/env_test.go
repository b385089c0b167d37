package python

import (
	"os"
	"path/filepath"
	"testing"
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
