// Package python reads what a Python project says about itself to the
// tools that run its tests: pytest's configuration (which file pytest takes
// its options from, addopts, markers, pythonpath) and where setuptools
// finds the project's own packages. It reads files as pytest and
// setuptools do (iniconfig, tomllib, shlex), so that suite runs a project
// as `pytest` would, never by guesses about the text. It also finds the
// interpreter that runs a test and fingerprints the distributions installed
// where that interpreter imports from (env.go).
package python

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// PytestConfigFiles are the files pytest looks for in each folder, in the
// order it looks; the first that configures pytest is its inifile and
// its folder the rootdir.
var PytestConfigFiles = []string{"pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"}

// PytestConfig is the pytest section of one configuration file.
type PytestConfig struct {
	File string // the file's name as given to ParsePytestConfig
	// Options are the raw values: a string, or a list of strings from a
	// TOML array.
	Options map[string]any
}

// ParsePytestConfig reads the pytest options of one configuration file,
// named by its base name. It returns nil when the file does not configure
// pytest (a pyproject.toml without [tool.pytest.ini_options], a tox.ini
// without [pytest], a setup.cfg without [tool:pytest]); pytest.ini always
// does, even empty. A file pytest could not parse is an error.
func ParsePytestConfig(name string, src []byte) (*PytestConfig, error) {
	switch path.Base(name) {
	case "pyproject.toml":
		var doc struct {
			Tool struct {
				Pytest struct {
					IniOptions map[string]any `toml:"ini_options"`
				} `toml:"pytest"`
			} `toml:"tool"`
		}
		md, err := toml.Decode(string(src), &doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		if !md.IsDefined("tool", "pytest", "ini_options") {
			return nil, nil
		}
		opts := map[string]any{}
		for k, v := range doc.Tool.Pytest.IniOptions {
			opts[k] = tomlValue(v)
		}
		return &PytestConfig{File: name, Options: opts}, nil
	case "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg":
		sections, err := ParseINI(src)
		if err != nil {
			return nil, fmt.Errorf("%s:%v", name, err)
		}
		section := "pytest"
		if path.Base(name) == "setup.cfg" {
			section = "tool:pytest"
		}
		s, ok := sections[section]
		if !ok {
			if b := path.Base(name); b == "pytest.ini" || b == ".pytest.ini" {
				return &PytestConfig{File: name, Options: map[string]any{}}, nil
			}
			return nil, nil
		}
		opts := map[string]any{}
		for k, v := range s {
			opts[k] = v
		}
		return &PytestConfig{File: name, Options: opts}, nil
	}
	return nil, fmt.Errorf("%s: not a pytest configuration file", name)
}

// tomlValue keeps strings and lists of strings (what pytest accepts) and
// renders anything else as TOML would print it.
func tomlValue(v any) any {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return fmt.Sprint(v)
}

// Args returns an option of pytest's "args" or "paths" type (addopts,
// pythonpath, testpaths): a string is split as shlex.split does, a list
// taken as is.
func (c *PytestConfig) Args(name string) ([]string, error) {
	switch v := c.Options[name].(type) {
	case string:
		return ShlexSplit(v)
	case []string:
		return v, nil
	}
	return nil, nil
}

// Lines returns an option of pytest's "linelist" type (markers): each
// non-blank line of a string, or the items of a list.
func (c *PytestConfig) Lines(name string) []string {
	switch v := c.Options[name].(type) {
	case string:
		var out []string
		for _, l := range strings.Split(v, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	case []string:
		return v
	}
	return nil
}

// MarkExpr returns the mark expression addopts gives with -m (the last
// one, as argparse keeps), "" when it gives none.
func (c *PytestConfig) MarkExpr() (string, error) {
	args, err := c.Args("addopts")
	if err != nil {
		return "", fmt.Errorf("%s: addopts: %v", c.File, err)
	}
	return MarkExprOfArgs(args), nil
}

// MarkExprOfArgs returns the value of the last -m in pytest arguments
// ("-m EXPR" or "-mEXPR"), "" when there is none.
func MarkExprOfArgs(args []string) string {
	expr := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return expr
		case a == "-m" && i+1 < len(args):
			expr = args[i+1]
			i++
		case strings.HasPrefix(a, "-m") && len(a) > 2 && a[2] != '-':
			expr = strings.TrimPrefix(a[2:], "=")
		}
	}
	return expr
}

// ParseINI reads an ini file as pytest's iniconfig does: "[section]"
// headers, "name = value" or "name: value" entries, indented continuation
// lines joined to the value with "\n", and whole-line comments starting
// with # or ;. Values keep everything else, quotes and backslashes
// included. Errors are "line: message".
func ParseINI(src []byte) (map[string]map[string]string, error) {
	sections := map[string]map[string]string{}
	var cur map[string]string
	var key string
	for i, raw := range strings.Split(string(bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))), "\n") {
		lineNo := i + 1
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		line := strings.TrimRight(raw, " \t")
		switch {
		case line[0] == '[':
			head := line
			for _, c := range "#;" {
				head, _, _ = strings.Cut(head, string(c))
			}
			head = strings.TrimSpace(head)
			if !strings.HasSuffix(head, "]") {
				return nil, fmt.Errorf("%d: unexpected line: %q", lineNo, line)
			}
			name := head[1 : len(head)-1]
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			cur, key = sections[name], ""
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil || key == "" {
				return nil, fmt.Errorf("%d: unexpected continuation line: %q", lineNo, line)
			}
			if cur[key] == "" {
				cur[key] = trimmed
			} else {
				cur[key] += "\n" + trimmed
			}
		default:
			name, value, ok := strings.Cut(line, "=")
			if !ok || strings.Contains(name, ":") {
				name, value, ok = strings.Cut(line, ":")
			}
			if !ok {
				return nil, fmt.Errorf("%d: unexpected line: %q", lineNo, line)
			}
			if cur == nil {
				return nil, fmt.Errorf("%d: no section header before %q", lineNo, line)
			}
			key = strings.TrimSpace(name)
			cur[key] = strings.TrimSpace(value)
		}
	}
	return sections, nil
}

// ShlexSplit splits a string as Python's shlex.split (POSIX mode, no
// comments) does: pytest reads addopts this way.
func ShlexSplit(s string) ([]string, error) {
	var out []string
	var tok strings.Builder
	inTok := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inTok {
				out = append(out, tok.String())
				tok.Reset()
				inTok = false
			}
		case c == '\\':
			inTok = true
			if i+1 < len(s) {
				i++
				tok.WriteByte(s[i])
			} else {
				return nil, fmt.Errorf("no escaped character")
			}
		case c == '\'':
			inTok = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("no closing quotation")
			}
			tok.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inTok = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				tok.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("no closing quotation")
			}
		default:
			inTok = true
			tok.WriteByte(c)
		}
	}
	if inTok {
		out = append(out, tok.String())
	}
	return out, nil
}

// Marker is one marker a pytest configuration registers.
type Marker struct{ Name, Doc string }

var markerNameRe = regexp.MustCompile(`^[A-Za-z_][\w]*`)

// ParseMarker reads a markers line as pytest does: "name: doc",
// "name(args): doc" or "name".
func ParseMarker(line string) (Marker, bool) {
	name, doc, _ := strings.Cut(line, ":")
	name, _, _ = strings.Cut(strings.TrimSpace(name), "(")
	name = strings.TrimSpace(name)
	if markerNameRe.FindString(name) != name || name == "" {
		return Marker{}, false
	}
	return Marker{Name: name, Doc: strings.TrimSpace(doc)}, true
}

// Markers returns the markers the configuration registers.
func (c *PytestConfig) Markers() []Marker {
	var out []Marker
	for _, l := range c.Lines("markers") {
		if m, ok := ParseMarker(l); ok {
			out = append(out, m)
		}
	}
	return out
}
