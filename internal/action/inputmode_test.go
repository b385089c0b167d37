package action

import (
	"testing"

	"github.com/suite-run/suite/internal/label"
	"github.com/suite-run/suite/rules"
)

// A test that does not say how its inputs are seen takes the workspace's
// default; one that says keeps it.
func TestInputModeDefaultsToTheWorkspace(t *testing.T) {
	cfg := rules.DefaultConfig()
	cfg.InputMode = rules.InputsTraced
	g := &rules.Graph{Root: t.TempDir(), Config: cfg}
	test := func(mode string) *rules.Test {
		return &rules.Test{Label: label.Label{Name: "t" + mode}, Cmd: []string{"true"}, Shards: 1, InputMode: mode}
	}
	actions := Build(g, []*rules.Test{test(""), test(rules.InputsDeclared), test(rules.InputsTraced)},
		Options{LookupEnv: func(string) (string, bool) { return "", false }})
	for i, want := range []bool{true, false, true} {
		if actions[i].TracedInputs != want {
			t.Errorf("%s: TracedInputs = %v, want %v", actions[i].Label, actions[i].TracedInputs, want)
		}
	}
}
