package rules

import (
	"fmt"
	"sort"

	"github.com/suite-run/suite/internal/label"
)

// link runs once every package is evaluated: it sorts the targets, checks
// that suite names are unique and every dep exists, and computes each
// test's Inputs: its declared files, deps' included, as inputs expands
// them (nil: as declared).
func (g *Graph) link(inputs func(declared []string) ([]string, error)) ErrorList {
	var errs ErrorList
	sort.Slice(g.Tests, func(i, j int) bool { return label.Less(g.Tests[i].Label, g.Tests[j].Label) })
	sort.Slice(g.Groups, func(i, j int) bool { return label.Less(g.Groups[i].Label, g.Groups[j].Label) })
	sort.SliceStable(g.Suites, func(i, j int) bool { return g.Suites[i].Name < g.Suites[j].Name })
	for i := 1; i < len(g.Suites); i++ {
		if a, b := g.Suites[i-1], g.Suites[i]; a.Name == b.Name {
			errs = append(errs, &Error{Pos: b.Pos, Msg: fmt.Sprintf("suite: %q is already declared at %s; suite names are unique in the workspace", b.Name, a.Pos)})
		}
	}

	type node struct {
		srcs   []string
		deps   []label.Label
		inputs []string
		state  int // 0 new, 1 visiting, 2 done
	}
	nodes := map[label.Label]*node{}
	var names []string
	for _, t := range g.Tests {
		nodes[t.Label] = &node{srcs: t.Srcs, deps: t.Deps}
		names = append(names, t.Label.String())
	}
	for _, gr := range g.Groups {
		nodes[gr.Label] = &node{srcs: gr.Srcs, deps: gr.Deps}
		names = append(names, gr.Label.String())
	}
	var declared func(l label.Label, chain []label.Label) ([]string, error)
	declared = func(l label.Label, chain []label.Label) ([]string, error) {
		n := nodes[l]
		switch n.state {
		case 2:
			return n.inputs, nil
		case 1:
			return nil, fmt.Errorf("deps cycle: %v -> %s", chain, l)
		}
		n.state = 1
		all := append([]string(nil), n.srcs...)
		for _, d := range n.deps {
			if nodes[d] == nil {
				return nil, fmt.Errorf("dep %q (of %s) does not exist%s", d.String(), l, didYouMean(d.String(), names))
			}
			in, err := declared(d, append(chain, l))
			if err != nil {
				return nil, err
			}
			all = append(all, in...)
		}
		sort.Strings(all)
		n.inputs, n.state = dedup(all), 2
		return n.inputs, nil
	}
	for _, t := range g.Tests {
		in, err := declared(t.Label, nil)
		if err == nil && inputs != nil {
			in, err = inputs(in)
		}
		if err != nil {
			errs = append(errs, &Error{Pos: t.Pos, Msg: fmt.Sprintf("test %q: %v", t.Label.Name, err)})
			continue
		}
		t.Inputs = in
	}
	for _, gr := range g.Groups {
		if _, err := declared(gr.Label, nil); err != nil {
			errs = append(errs, &Error{Pos: gr.Pos, Msg: fmt.Sprintf("files %q: %v", gr.Label.Name, err)})
		}
	}
	return errs
}
