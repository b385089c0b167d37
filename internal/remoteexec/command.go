package remoteexec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/suite-run/suite/internal/action"
)

// The per-run folder of a remote action, at the top of its input root.
// The worker runs the wrapper script there; the script makes the test's
// scratch folders and points the encyclopedia variables at them. It sits at
// the root rather than in the package folder (where the canonical key's
// Command puts test.xml and outputs) so that an input named test.xml or
// outputs/ cannot collide with it, and its leading dot keeps it out of
// `go test ./...` and pytest's collection of the package.
const (
	runDir        = ".suite-run"
	remoteTmp     = runDir + "/tmp"
	remoteXML     = runDir + "/test.xml"
	remoteOutputs = runDir + "/outputs"
)

// perRunVars are set by the wrapper script, not by the Command: their
// values are paths under the worker's input root, which only the worker
// knows. In the canonical key they are placeholders.
var perRunVars = map[string]bool{
	"TEST_SRCDIR": true, "RUNFILES_DIR": true, "TEST_TMPDIR": true, "HOME": true, "TMPDIR": true,
	"XML_OUTPUT_FILE": true, "TEST_UNDECLARED_OUTPUTS_DIR": true,
}

// remoteAction is what is sent to the executor for one attempt.
type remoteAction struct {
	command       *repb.Command
	action        *repb.Action
	commandBytes  []byte
	actionBytes   []byte
	digest        *repb.Digest // of actionBytes: the remote action's name
	commandDigest *repb.Digest
}

// buildRemoteAction turns an action and its canonical key into the REAPI
// Action a worker can run.
//
// Its digest differs from the canonical key's, on purpose: the key's
// Command carries placeholders such as ${TEST_TMPDIR} so that it does not
// change from run to run, but a worker's environment is exactly the
// Command's, so the remote Command must run a wrapper that sets those
// variables to real paths, and must carry what the sandbox adds at run time
// (TEST_TIMEOUT, TEST_RANDOM_SEED, TEST_SLOT) and the Action's timeout. The
// canonical key stays the name under which the caller caches the result,
// locally and in the executor's action cache, so a remote and a local run
// of the same test share it; the remote digest only names the executor's
// own entry for this exact execution, shared only by runs with the same
// seed, slot and timeout.
func buildRemoteAction(a *action.Action, key *action.Key, slot int, seed int64, legacyOutputs bool) (*remoteAction, error) {
	if len(a.Argv) == 0 {
		return nil, fmt.Errorf("%s: empty argv", a.ID())
	}
	env := map[string]string{}
	for _, e := range key.Command.GetEnvironmentVariables() {
		if !perRunVars[e.Name] {
			env[e.Name] = e.Value
		}
	}
	if a.Timeout > 0 {
		env["TEST_TIMEOUT"] = strconv.FormatInt(int64(math.Ceil(a.Timeout.Seconds())), 10)
	}
	env["TEST_RANDOM_SEED"] = strconv.FormatInt(seed, 10)
	env["TEST_SLOT"] = strconv.Itoa(slot)

	cmd := &repb.Command{
		Arguments: append([]string{"/bin/sh", "-c", wrapperScript(key.Command.GetWorkingDirectory()), "suite-test"}, a.Argv...),
		// The key's platform, already sorted by name as REAPI requires.
		Platform:             key.Command.GetPlatform(),
		EnvironmentVariables: action.EnvironmentVariables(env),
	}
	if legacyOutputs {
		// Servers of REAPI before 2.1 know only the typed fields.
		cmd.OutputFiles = []string{remoteXML}
		cmd.OutputDirectories = []string{remoteOutputs}
	} else {
		cmd.OutputPaths = []string{remoteOutputs, remoteXML} // sorted, as REAPI requires
	}
	cmdBytes, err := action.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	act := &repb.Action{
		CommandDigest:   action.DigestOf(cmdBytes),
		InputRootDigest: key.Action.GetInputRootDigest(),
		// A test declared cache = False must never be answered from the
		// executor's action cache either.
		DoNotCache: !a.Cacheable,
		Salt:       key.Action.GetSalt(),
		Platform:   cmd.Platform,
	}
	if a.Timeout > 0 {
		act.Timeout = durationpb.New(a.Timeout)
	}
	actBytes, err := action.Marshal(act)
	if err != nil {
		return nil, err
	}
	return &remoteAction{command: cmd, action: act, commandBytes: cmdBytes, actionBytes: actBytes,
		digest: action.DigestOf(actBytes), commandDigest: act.CommandDigest}, nil
}

// wrapperScript is the sh program the worker runs before the test: it
// makes the scratch folders, exports the encyclopedia's per-run variables
// as absolute paths under the input root (the working directory, where the
// script starts), enters the package folder and execs the test's argv
// ("$@") with stderr joined to stdout, so the log interleaves them as the
// sandbox's single pipe does.
func wrapperScript(pkg string) string {
	var b strings.Builder
	b.WriteString("set -e\nr=$PWD\n")
	b.WriteString("mkdir -p " + remoteTmp + " " + remoteOutputs + "\n")
	b.WriteString("chmod 700 " + remoteTmp + "\n")
	b.WriteString(`export TEST_SRCDIR="$r" RUNFILES_DIR="$r" TEST_TMPDIR="$r/` + remoteTmp + `" HOME="$r/` + remoteTmp + `" TMPDIR="$r/` + remoteTmp +
		`" XML_OUTPUT_FILE="$r/` + remoteXML + `" TEST_UNDECLARED_OUTPUTS_DIR="$r/` + remoteOutputs + "\"\n")
	if pkg != "" {
		// The package folder exists in the input root only when it has inputs.
		q := shellQuote(pkg)
		b.WriteString("mkdir -p " + q + "\ncd " + q + "\n")
	}
	b.WriteString(`exec "$@" 2>&1` + "\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
