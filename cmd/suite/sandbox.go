package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/suite-run/suite/internal/action"
	"github.com/suite-run/suite/rules"
)

// sandboxPolicy is WORKSPACE's sandbox exceptions with "~/" expanded to
// the user's home, which strict tests do not see.
type sandboxPolicy struct {
	home                     string
	writable, readable, hide []string
}

func newSandboxPolicy(c rules.Config) sandboxPolicy {
	home, _ := os.UserHomeDir()
	expand := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if rest, ok := strings.CutPrefix(p, "~/"); ok {
				if home == "" {
					continue // no home: nothing there to show or hide
				}
				p = filepath.Join(home, rest)
			}
			out = append(out, filepath.Clean(p))
		}
		return out
	}
	return sandboxPolicy{home: home, writable: expand(c.SandboxWritable), readable: expand(c.SandboxReadable), hide: expand(c.SandboxHide)}
}

// relaxations are the lines that tell, once per run, where the actions'
// sandbox is weaker than the strict default.
func (p sandboxPolicy) relaxations(actions []*action.Action) []string {
	var lines []string
	if len(p.writable) > 0 {
		lines = append(lines, "sandbox_writable: every test can write "+strings.Join(p.writable, ", "))
	}
	if len(p.readable) > 0 {
		lines = append(lines, "sandbox_readable: every test can read "+strings.Join(p.readable, ", "))
	}
	var relaxed []string
	seen := map[string]bool{}
	for _, a := range actions {
		if l := a.Label.String(); a.Sandbox == "relaxed" && !seen[l] {
			seen[l] = true
			relaxed = append(relaxed, l)
		}
	}
	if len(relaxed) > 0 {
		const most = 5
		more := ""
		if len(relaxed) > most {
			more = fmt.Sprintf(" and %d more", len(relaxed)-most)
			relaxed = relaxed[:most]
		}
		lines = append(lines, fmt.Sprintf("sandbox = \"relaxed\": %s%s see the workspace and home read-only (except sandbox_hide)", strings.Join(relaxed, ", "), more))
	}
	return lines
}

// sandboxView describes one test's sandbox for `suite why` and
// `suite list --json`.
type sandboxView struct {
	Mode     string   `json:"mode"`               // "strict" or "relaxed"
	Writable []string `json:"writable,omitempty"` // besides the exec root, TEST_TMPDIR, outputs, /tmp
	Readable []string `json:"readable,omitempty"` // shown read-only although home or the workspace is hidden
	Hidden   []string `json:"hidden,omitempty"`   // hidden even from a relaxed test
}

func (p sandboxPolicy) view(a *action.Action) sandboxView {
	v := sandboxView{
		Mode:     a.Sandbox,
		Writable: append(append([]string(nil), p.writable...), a.WritablePaths...),
		Readable: append(append([]string(nil), p.readable...), a.ReadablePaths...),
	}
	if a.Sandbox == "relaxed" {
		v.Hidden = p.hide
	}
	return v
}

func (v sandboxView) String() string {
	s := v.Mode
	if len(v.Writable) > 0 {
		s += "; writable: " + strings.Join(v.Writable, ", ")
	}
	if len(v.Readable) > 0 {
		s += "; readable: " + strings.Join(v.Readable, ", ")
	}
	if len(v.Hidden) > 0 {
		s += "; hidden: " + strings.Join(v.Hidden, ", ")
	}
	return s
}
