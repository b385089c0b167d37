package action

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/protobuf/proto"

	"github.com/suite-run/suite/internal/lang/python"
	"github.com/suite-run/suite/internal/workspace"
)

// KeyVersion changes whenever what goes into a key changes meaning, so old
// cache entries are never mistaken for new ones.
const KeyVersion = "suite-key-1"

// Per-run paths are replaced by these placeholders in the Command, so the
// key does not change with the scratch directory a run happens to use.
const (
	placeholderExecRoot = "${TEST_SRCDIR}"
	placeholderTmp      = "${TEST_TMPDIR}"
	placeholderXML      = "${XML_OUTPUT_FILE}"
	placeholderOutputs  = "${TEST_UNDECLARED_OUTPUTS_DIR}"
)

// Output paths, relative to the working directory, as the Command declares them.
const (
	OutputXML     = "test.xml"
	OutputOutputs = "outputs"
)

// Key is an action's identity in the cache: the SHA-256 of its REAPI
// Action, which covers the Command (argv, sorted environment, outputs,
// platform), the Merkle tree of its inputs and tools (a symlink input as
// its link text, a REAPI SymlinkNode), and a salt for the
// settings REAPI has no field for (network mode, skip exit codes).
//
// Not in the key, by design: the timeout, the seed, the worker slot, the
// attempt, the marks (except through argv), and the cpus/exclusive
// scheduling hints. None of them changes what a passing test computes.
type Key struct {
	Hash    string // hex SHA-256 of the serialized Action
	Digest  *repb.Digest
	Action  *repb.Action
	Command *repb.Command
	// Dirs are the input tree's Directory messages by digest hash, for
	// uploading to a remote executor.
	Dirs map[string]*repb.Directory

	inputs     []namedDigest // sorted by path, as Action.Inputs are
	toolInputs []namedDigest
	tools      map[string]string
	envs       []envState
	salt       string
}

type namedDigest struct {
	path string // in the input tree
	host string // where its content is on this machine
	d    workspace.FileDigest
	link string // a symlink's text; d is then empty
}

// Files maps each input blob's hash to a host path holding its content, for
// uploading to a remote executor. It is derived on demand, off the path of
// a rerun that needs only the key.
func (k *Key) Files() map[string]string {
	files := make(map[string]string, len(k.inputs)+len(k.toolInputs))
	for _, list := range [][]namedDigest{k.inputs, k.toolInputs} {
		for _, in := range list {
			if in.link == "" {
				files[in.d.Hash] = in.host
			}
		}
	}
	return files
}

// Manifest returns the key's material in plain form. It is built only on
// demand: a no-change rerun never needs it.
func (k *Key) Manifest() Manifest {
	m := Manifest{Key: k.Hash, Argv: k.Command.Arguments, Env: map[string]string{},
		Inputs: make(map[string]string, len(k.inputs)), Tools: k.tools, Envs: envManifest(k.envs), Salt: k.salt}
	for _, in := range k.inputs {
		if in.link != "" {
			m.Inputs[in.path] = "symlink -> " + in.link
			continue
		}
		m.Inputs[in.path] = describe(in.d)
	}
	for _, e := range k.Command.EnvironmentVariables {
		m.Env[e.Name] = e.Value
	}
	return m
}

// Manifest is the key's material in plain form, kept to explain a miss.
type Manifest struct {
	Key    string            `json:"key"`
	Argv   []string          `json:"argv"`
	Env    map[string]string `json:"env"`
	Inputs map[string]string `json:"inputs"` // path -> "sha256/size", "+x" when executable; "symlink -> text"
	Tools  map[string]string `json:"tools"`  // name -> "path sha256/size"
	// Envs are the installed packages of the environments the test reads:
	// "environment\x00package" -> "version digest".
	Envs map[string]string `json:"envs,omitempty"`
	Salt string            `json:"salt"`
}

// Keyer computes keys. It is safe for concurrent use.
type Keyer struct {
	Root          string // absolute workspace root
	WorkspaceName string
	Digests       *workspace.DigestCache
	// Platform is remote_exec_properties with --remote-exec-property: the
	// REAPI platform exactly as configured, nothing added, since engines
	// such as Buildbarn route by exact match and refuse an action whose
	// platform no worker advertises. The host's OS and CPU go in the salt.
	Platform map[string]string
	// Memo, when set, remembers keys across runs (see Digest).
	Memo *KeyMemo
	// EnvironmentFiles puts the content of every installed file of an
	// environment in the key, not only its packages' records
	// (workspace(environment_fingerprint = "files")).
	EnvironmentFiles bool
	// ProbeMemo, when set, is the file where what Python interpreters
	// answered about their sys.path is kept across runs.
	ProbeMemo string

	// now is the clock; tests move it past the racy window.
	now func() time.Time

	tools        sync.Map // "PATH\x00name" -> toolInfo
	envs         envTools
	platformOnce sync.Once
	platformMsg  *repb.Platform
}

// toolInfo is a tool as the test's PATH finds it.
type toolInfo struct {
	path string // where PATH finds it
	real string // path with symlinks resolved: the file that runs
	st   workspace.FileStat
	err  error
	// python is the interpreter that runs it when Python does (see
	// envs.go), "" otherwise.
	python string
}

// stats is what a key is computed from on disk: a stat of each input (or
// the text of an input that is a symlink) and tool, all taken after
// recorded (Unix ns); changed is the latest change time among them.
type stats struct {
	inputs            []workspace.FileStat
	links             []string // by input: a symlink's text, "" for a file
	tools             []toolInfo
	envs              []envState
	envDigest         string
	recorded, changed int64
}

func (k *Keyer) stat(a *Action) (*stats, error) {
	now := time.Now
	if k.now != nil {
		now = k.now
	}
	s := &stats{inputs: make([]workspace.FileStat, len(a.Inputs)), recorded: now().UnixNano()}
	for i, in := range a.Inputs {
		st, link, err := workspace.LstatFile(k.inputPath(in))
		if err != nil {
			return nil, fmt.Errorf("%s: input %s: %w", a.ID(), in, err)
		}
		if link {
			// The text is read on every run, as a file's stat is: it is
			// all a symlink's key holds, and there is no racy window.
			text, err := workspace.LinkText(k.Root, in)
			if err != nil {
				return nil, fmt.Errorf("%s: input %v", a.ID(), err)
			}
			if s.links == nil {
				s.links = make([]string, len(a.Inputs))
			}
			s.links[i] = text
			continue
		}
		s.inputs[i] = st
		s.changed = max(s.changed, st.Changed())
	}
	for _, name := range a.Test.Tools {
		t := k.tool(a.Env["PATH"], name)
		s.tools = append(s.tools, t)
		if t.err == nil {
			s.changed = max(s.changed, t.st.Changed())
		}
	}
	s.envs = k.environments(a, s.tools)
	s.envDigest = envDigest(s.envs)
	return s, nil
}

// inputPath is where a workspace-relative input is on this machine. Inputs
// are clean paths; filepath.Join's cleaning would cost more than the rest
// of the key.
func (k *Keyer) inputPath(in string) string {
	return k.Root + string(filepath.Separator) + filepath.FromSlash(in)
}

// Key computes the action's key in full, hashing only files whose stat
// changed since they were last hashed.
func (k *Keyer) Key(a *Action) (*Key, error) {
	s, err := k.stat(a)
	if err != nil {
		return nil, err
	}
	return k.compute(a, s)
}

// Digest returns the action's key digest. When the memo holds a key for
// the same action definition and the same input and tool stats, that key
// is the answer and no key is built (full is nil); otherwise the full key
// is computed, remembered and returned too.
func (k *Keyer) Digest(a *Action) (d *repb.Digest, full *Key, err error) {
	s, err := k.stat(a)
	if err != nil {
		return nil, nil, err
	}
	var fp fingerprint
	if k.Memo != nil {
		fp = k.fingerprint(a, s)
		if d, ok := k.Memo.get(fp); ok {
			return d, nil, nil
		}
	}
	if full, err = k.compute(a, s); err != nil {
		return nil, nil, err
	}
	if k.Memo != nil {
		k.Memo.put(fp, full.Digest, s.recorded, s.changed)
	}
	return full.Digest, full, nil
}

// fingerprint hashes everything compute reads: the action's definition as
// the key sees it and the stats of its inputs and tools. Fields are length-
// prefixed, so no two different lists of them hash alike.
func (k *Keyer) fingerprint(a *Action, s *stats) fingerprint {
	b := make([]byte, 0, 1024+64*len(a.Inputs))
	str := func(v string) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	str(KeyVersion)
	str(a.Label.Pkg)
	b = binary.AppendUvarint(b, uint64(len(a.Argv)))
	for _, arg := range a.Argv {
		str(arg)
	}
	env := k.environment(a)
	b = binary.AppendUvarint(b, uint64(len(env)))
	for _, n := range slices.Sorted(maps.Keys(env)) {
		str(n)
		str(env[n])
	}
	props := k.platform().GetProperties()
	b = binary.AppendUvarint(b, uint64(len(props)))
	for _, p := range props {
		str(p.Name)
		str(p.Value)
	}
	str(salt(a))
	str(s.envDigest)
	if a.Cacheable {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Inputs)))
	for i, in := range a.Inputs {
		str(in)
		if s.links != nil && s.links[i] != "" {
			b = append(b, 'l')
			str(s.links[i])
			continue
		}
		b = append(b, 'f')
		b = s.inputs[i].Append(b)
	}
	b = binary.AppendUvarint(b, uint64(len(s.tools)))
	for i, t := range s.tools {
		str(a.Test.Tools[i])
		if t.err != nil {
			str("error: " + t.err.Error())
			continue
		}
		str(t.path)
		str(t.real)
		b = t.st.Append(b)
	}
	return sha256.Sum256(b)
}

// compute builds the key from the stats s: the Command, the Merkle tree of
// the inputs and tools, and the Action.
func (k *Keyer) compute(a *Action, s *stats) (*Key, error) {
	key := &Key{inputs: make([]namedDigest, 0, len(a.Inputs)), tools: map[string]string{}}
	for i, in := range a.Inputs {
		p := k.inputPath(in)
		if s.links != nil && s.links[i] != "" {
			key.inputs = append(key.inputs, namedDigest{path: in, host: p, link: s.links[i]})
			continue
		}
		d, err := k.Digests.DigestStat(p, s.inputs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: input %s: %w", a.ID(), in, err)
		}
		key.inputs = append(key.inputs, namedDigest{path: in, host: p, d: d})
	}
	for i, name := range a.Test.Tools {
		t := s.tools[i]
		if t.err != nil {
			key.tools[name] = "not found: " + t.err.Error()
			continue
		}
		d, err := k.Digests.DigestStat(t.real, t.st)
		if err != nil {
			key.tools[name] = "not found: " + err.Error()
			continue
		}
		key.tools[name] = t.path + " " + describe(d)
		// Tools live in the key's tree under a folder no input can use
		// (labels may not start with "."), so a changed binary misses.
		key.toolInputs = append(key.toolInputs, namedDigest{path: path.Join(".suite-tools", name), host: t.path, d: d})
	}

	cmd := &repb.Command{
		Arguments:        a.Argv,
		WorkingDirectory: a.Label.Pkg,
		OutputPaths:      []string{OutputXML, OutputOutputs},
		Platform:         k.platform(),
	}
	cmd.EnvironmentVariables = EnvironmentVariables(k.environment(a))
	cmdBytes, err := Marshal(cmd)
	if err != nil {
		return nil, err
	}
	dirs := map[string]*repb.Directory{}
	all := key.inputs
	if len(key.toolInputs) > 0 {
		all = append(append([]namedDigest(nil), key.inputs...), key.toolInputs...)
		sort.Slice(all, func(i, j int) bool { return all[i].path < all[j].path })
	}
	root, err := buildDir(all, 0, dirs)
	if err != nil {
		return nil, err
	}
	key.salt = salt(a)
	if s.envDigest != "" {
		key.salt += ";environments=" + s.envDigest
		key.envs = s.envs
	}
	act := &repb.Action{
		CommandDigest:   DigestOf(cmdBytes),
		InputRootDigest: root,
		DoNotCache:      !a.Cacheable,
		Salt:            []byte(key.salt),
		Platform:        cmd.Platform,
	}
	actBytes, err := Marshal(act)
	if err != nil {
		return nil, err
	}
	d := DigestOf(actBytes)
	key.Hash, key.Digest, key.Action, key.Command, key.Dirs = d.Hash, d, act, cmd, dirs
	return key, nil
}

// environment is what the test will see, with per-run values replaced by
// placeholders and cache locations left out.
func (k *Keyer) environment(a *Action) map[string]string {
	env := map[string]string{}
	for n, v := range a.Env {
		if !CacheOnlyVars[n] {
			env[n] = v
		}
	}
	env["TEST_TARGET"] = a.Label.String()
	env["TEST_WORKSPACE"] = k.WorkspaceName
	env["TEST_SRCDIR"] = placeholderExecRoot
	env["RUNFILES_DIR"] = placeholderExecRoot
	env["TEST_TMPDIR"] = placeholderTmp
	env["HOME"] = placeholderTmp
	env["TMPDIR"] = placeholderTmp
	env["TZ"] = "UTC"
	env["XML_OUTPUT_FILE"] = placeholderXML
	env["TEST_UNDECLARED_OUTPUTS_DIR"] = placeholderOutputs
	if a.Shards > 1 {
		env["TEST_SHARD_INDEX"] = strconv.Itoa(a.Shard)
		env["TEST_TOTAL_SHARDS"] = strconv.Itoa(a.Shards)
	}
	return env
}

// EnvironmentVariables is env in a Command's form: sorted by name, as REAPI
// requires.
func EnvironmentVariables(env map[string]string) []*repb.Command_EnvironmentVariable {
	out := make([]*repb.Command_EnvironmentVariable, 0, len(env))
	for _, n := range slices.Sorted(maps.Keys(env)) {
		out = append(out, &repb.Command_EnvironmentVariable{Name: n, Value: env[n]})
	}
	return out
}

// platform lists the configured properties sorted by name, as REAPI
// requires; nil when none is configured. It is built once per Keyer.
func (k *Keyer) platform() *repb.Platform {
	k.platformOnce.Do(func() {
		if len(k.Platform) == 0 {
			return
		}
		k.platformMsg = &repb.Platform{}
		for _, n := range slices.Sorted(maps.Keys(k.Platform)) {
			k.platformMsg.Properties = append(k.platformMsg.Properties, &repb.Platform_Property{Name: n, Value: k.Platform[n]})
		}
	})
	return k.platformMsg
}

// hostPlatform is the OS and CPU of the machine suite runs on. It is in
// the salt, not the platform, so that a pass cached on another OS or CPU
// never stands for a local run while the platform sent to an executor
// stays exactly what the user configured. A remotely executed result is
// keyed like a local run from this machine (the key is one for both);
// remote_exec_properties that pick workers of another OS or CPU are the
// user's statement that those results stand for this machine's.
const hostPlatform = "host=" + runtime.GOOS + "/" + runtime.GOARCH

// salt carries what changes a result but has no REAPI field.
func salt(a *Action) string {
	var codes []string
	for _, c := range a.Test.SkipExitCodes {
		codes = append(codes, strconv.Itoa(c))
	}
	s := fmt.Sprintf("%s;%s;network=%s;sandbox=%s;skip=%s", KeyVersion, hostPlatform, a.Network, a.Sandbox, strings.Join(codes, ","))
	if a.TracedInputs {
		// A traced result is valid only with its manifest of traced
		// files; a declared-inputs run must never take it, nor the
		// reverse.
		s += ";inputs=traced"
	}
	return s
}

func (k *Keyer) tool(pathVar, name string) toolInfo {
	id := pathVar + "\x00" + name
	if t, ok := k.tools.Load(id); ok {
		return t.(toolInfo)
	}
	t := toolInfo{}
	t.path, t.err = lookPath(pathVar, name)
	if t.err == nil {
		if t.real, t.err = filepath.EvalSymlinks(t.path); t.err == nil {
			t.st, t.err = workspace.StatFile(t.real)
		}
		t.python, _ = python.Interpreter(t.path, pathVar)
	}
	k.tools.Store(id, t)
	return t
}

// lookPath finds an executable in the test's PATH, not the host's.
func lookPath(pathVar, name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathVar) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q is not in the test's PATH", name)
}

func describe(d workspace.FileDigest) string {
	s := d.Hash + "/" + strconv.FormatInt(d.Size, 10)
	if d.Executable {
		s += " +x"
	}
	return s
}

// Marshal serializes a REAPI message deterministically, as digests of
// Actions, Commands and Directories require.
func Marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// DigestOf is the SHA-256 digest of a blob.
func DigestOf(b []byte) *repb.Digest {
	sum := sha256.Sum256(b)
	return &repb.Digest{Hash: hex.EncodeToString(sum[:]), SizeBytes: int64(len(b))}
}

// buildDir builds the REAPI Directory of the inputs below one folder (all
// of whose paths share the first prefixLen bytes) and returns its digest,
// recording every Directory message in out. Sorted input paths keep each
// subfolder's entries together, so the tree is built in one pass without
// intermediate maps; REAPI wants children sorted by name.
func buildDir(inputs []namedDigest, prefixLen int, out map[string]*repb.Directory) (*repb.Digest, error) {
	dir := &repb.Directory{}
	for i := 0; i < len(inputs); {
		rest := inputs[i].path[prefixLen:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 && inputs[i].link != "" {
			dir.Symlinks = append(dir.Symlinks, &repb.SymlinkNode{Name: rest, Target: inputs[i].link})
			i++
			continue
		}
		if slash < 0 {
			d := inputs[i].d
			dir.Files = append(dir.Files, &repb.FileNode{Name: rest, Digest: &repb.Digest{Hash: d.Hash, SizeBytes: d.Size}, IsExecutable: d.Executable})
			i++
			continue
		}
		sub := rest[:slash+1] // "name/"
		j := i + 1
		for j < len(inputs) && strings.HasPrefix(inputs[j].path[prefixLen:], sub) {
			j++
		}
		d, err := buildDir(inputs[i:j], prefixLen+len(sub), out)
		if err != nil {
			return nil, err
		}
		dir.Directories = append(dir.Directories, &repb.DirectoryNode{Name: sub[:slash], Digest: d})
		i = j
	}
	sort.Slice(dir.Files, func(i, j int) bool { return dir.Files[i].Name < dir.Files[j].Name })
	sort.Slice(dir.Directories, func(i, j int) bool { return dir.Directories[i].Name < dir.Directories[j].Name })
	sort.Slice(dir.Symlinks, func(i, j int) bool { return dir.Symlinks[i].Name < dir.Symlinks[j].Name })
	b, err := Marshal(dir)
	if err != nil {
		return nil, err
	}
	d := DigestOf(b)
	out[d.Hash] = dir
	return d, nil
}
