// Command gen writes a synthetic monorepo for benchmarking suite against the
// test runners a user would otherwise pick: P packages of T tests, each test
// reading its own F input files and then sleeping for a duration drawn from a
// long-tailed mix, with marks set as a pytest user would set them.
//
// The same logical tests are written once per tool, each in its own tree, so
// every tool sees the same work and a one-file change touches the same
// logical test everywhere:
//
//	OUT/suite/    WORKSPACE, SUITES.star per package (test() + sh -c)
//	OUT/go/       one Go module, a package per package, Test functions
//	              reading testdata/ (go test's cache tracks those reads)
//	OUT/pytest/   pytest.ini registering the marks, a test_*.py per package
//	OUT/bazel/    WORKSPACE, BUILD files with sh_test (only with -bazel)
//	OUT/bazel-stubs/  empty stand-ins for the repositories Bazel would
//	              download for sh_test (rules_cc, rules_java, coverage tools),
//	              so Debian's bazel-bootstrap runs offline
//	OUT/tests.tsv one line per logical test: what each tree calls it, its
//	              intended duration and marks (bench/run.sh reads it)
//
// Everything is a pure function of the flags: the same seed writes the same
// bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	out       string
	packages  int
	tests     int
	files     int
	fileBytes int
	seed      uint64
	durations string
	bazel     bool
	tools     map[string]bool
}

// logicalTest is one test, as every tree declares it.
type logicalTest struct {
	pkg, name string // "p0007", "t3"
	duration  time.Duration
	marks     []string
}

// goName is the Go test function: Go has no marks, so a Go user encodes
// the interesting ones in the name and selects with -run.
func (t logicalTest) goName() string {
	n := "Test" + strings.ToUpper(t.name[:1]) + t.name[1:]
	for _, m := range t.marks {
		n += "_" + strings.ToUpper(m[:1]) + m[1:]
	}
	return n
}

func main() {
	c := config{}
	var tools string
	flag.StringVar(&c.out, "out", "", "directory to write the trees into (created; must be empty or missing)")
	flag.IntVar(&c.packages, "packages", 20, "number of packages")
	flag.IntVar(&c.tests, "tests", 5, "tests per package")
	flag.IntVar(&c.files, "files", 5, "input files per test (0: the test runs `true` and reads nothing)")
	flag.IntVar(&c.fileBytes, "file-bytes", 64, "bytes per input file")
	seed := flag.Uint64("seed", 1, "seed of durations, marks and file contents")
	flag.StringVar(&c.durations, "durations", "mixed", "zero (every test only reads its files) | mixed (long-tailed: most 10-100 ms, some 0.1-0.5 s, a few 0.5-2 s)")
	flag.StringVar(&tools, "tools", "suite,go,pytest,bazel", "trees to write; bazel only when -bazel or bazel is on PATH")
	bazelFlag := flag.String("bazel", "auto", "write the Bazel tree: auto (when bazel is on PATH) | yes | no")
	flag.Parse()
	c.seed = *seed
	if c.out == "" || c.packages < 1 || c.tests < 1 || c.files < 0 || (c.durations != "zero" && c.durations != "mixed") {
		fmt.Fprintln(os.Stderr, "gen: want -out DIR, -packages >= 1, -tests >= 1, -files >= 0, -durations zero|mixed")
		os.Exit(2)
	}
	c.tools = map[string]bool{}
	for _, t := range strings.Split(tools, ",") {
		c.tools[strings.TrimSpace(t)] = true
	}
	switch *bazelFlag {
	case "yes":
		c.bazel = true
	case "auto":
		_, err := exec.LookPath("bazel")
		c.bazel = err == nil
	}
	c.bazel = c.bazel && c.tools["bazel"]
	if err := generate(c); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func generate(c config) error {
	if entries, err := os.ReadDir(c.out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", c.out)
	}
	tests := plan(c)
	w := &writer{}
	if c.tools["suite"] {
		writeSuite(w, c, tests)
	}
	if c.tools["go"] {
		writeGo(w, c, tests)
	}
	if c.tools["pytest"] {
		writePytest(w, c, tests)
	}
	if c.bazel {
		writeBazel(w, c, tests)
	}
	writeManifest(w, c, tests)
	return w.err
}

// plan draws every test's duration and marks from the seed.
func plan(c config) []logicalTest {
	r := rand.New(rand.NewPCG(c.seed, 0xbe7c4))
	var out []logicalTest
	for p := 0; p < c.packages; p++ {
		for t := 0; t < c.tests; t++ {
			lt := logicalTest{pkg: fmt.Sprintf("p%04d", p), name: fmt.Sprintf("t%d", t)}
			if c.durations == "mixed" {
				lt.duration = drawDuration(r)
			}
			// As a pytest user marks them: about 20% smoke, 10% slow
			// (the long tail first), 5% e2e; the draws are independent.
			if r.Float64() < 0.20 {
				lt.marks = append(lt.marks, "smoke")
			}
			if slow := r.Float64() < 0.07; slow || lt.duration >= 500*time.Millisecond {
				lt.marks = append(lt.marks, "slow")
			}
			if r.Float64() < 0.05 {
				lt.marks = append(lt.marks, "e2e")
			}
			out = append(out, lt)
		}
	}
	return out
}

// drawDuration is the long-tailed mix of a real unit-test suite: 92% of
// tests take 10-100 ms, 5% 100-500 ms and 3% 0.5-2 s, log-uniform within
// each class, rounded to the millisecond.
func drawDuration(r *rand.Rand) time.Duration {
	lo, hi := 0.010, 0.100
	switch u := r.Float64(); {
	case u >= 0.97:
		lo, hi = 0.5, 2.0
	case u >= 0.92:
		lo, hi = 0.1, 0.5
	}
	s := math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}

// seconds formats a duration for sleep(1) and Python: "0.053".
func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// content is the deterministic body of one input file.
func content(c config, t logicalTest, i int) []byte {
	line := fmt.Sprintf("%s/%s/f%d seed %d\n", t.pkg, t.name, i, c.seed)
	b := make([]byte, 0, c.fileBytes)
	for len(b) < c.fileBytes {
		b = append(b, line...)
	}
	return b[:c.fileBytes]
}

func writeInputs(w *writer, dir string, c config, t logicalTest) {
	for i := 0; i < c.files; i++ {
		w.file(filepath.Join(dir, t.name, fmt.Sprintf("f%d.txt", i)), content(c, t, i), 0o644)
	}
}

// byPackage groups tests in declaration order.
func byPackage(tests []logicalTest) [][]logicalTest {
	var out [][]logicalTest
	for i, t := range tests {
		if i == 0 || tests[i-1].pkg != t.pkg {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], t)
	}
	return out
}

// shellWork is what a test does in a shell: read its inputs, then sleep.
func shellWork(c config, t logicalTest, dir string) string {
	var parts []string
	if c.files > 0 {
		parts = append(parts, fmt.Sprintf("cat %s/* >/dev/null", dir))
	}
	if t.duration > 0 {
		parts = append(parts, "sleep "+seconds(t.duration))
	}
	if len(parts) == 0 {
		return "true"
	}
	return strings.Join(parts, "; ")
}

func starList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

const markDocs = `mark("smoke", doc = "critical path: run before deployment")
mark("slow", doc = "slow: excluded from fast runs")
mark("e2e", doc = "end to end")
`

func writeSuite(w *writer, c config, tests []logicalTest) {
	root := filepath.Join(c.out, "suite")
	w.file(filepath.Join(root, "WORKSPACE"), []byte(`workspace(name = "bench")
`+markDocs), 0o644)
	w.file(filepath.Join(root, "SUITES.star"), []byte(`suite(name = "smoke", marks = "smoke", doc = "the smoke tests")
suite(name = "regression", marks = "not slow and not e2e", doc = "what a developer runs")
suite(name = "all", doc = "every test")
`), 0o644)
	for _, pkg := range byPackage(tests) {
		var b strings.Builder
		for _, t := range pkg {
			var cmd string
			switch work := shellWork(c, t, t.name); work {
			case "true":
				cmd = `["true"]`
			default:
				cmd = starList([]string{"sh", "-c", work})
			}
			fmt.Fprintf(&b, "test(\n    name = %q,\n    cmd = %s,\n", t.name, cmd)
			if c.files > 0 {
				fmt.Fprintf(&b, "    srcs = glob([%q]),\n", t.name+"/**")
			}
			if len(t.marks) > 0 {
				fmt.Fprintf(&b, "    marks = %s,\n", starList(t.marks))
			}
			b.WriteString(")\n\n")
			writeInputs(w, filepath.Join(root, t.pkg), c, t)
		}
		w.file(filepath.Join(root, pkg[0].pkg, "SUITES.star"), []byte(strings.TrimSuffix(b.String(), "\n")), 0o644)
	}
}

func writeGo(w *writer, c config, tests []logicalTest) {
	root := filepath.Join(c.out, "go")
	w.file(filepath.Join(root, "go.mod"), []byte("module bench.example\n\ngo 1.22\n"), 0o644)
	for _, pkg := range byPackage(tests) {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"os\"\n\t\"path/filepath\"\n\t\"testing\"\n\t\"time\"\n)\n\n", pkg[0].pkg)
		b.WriteString(`// work reads every input file of one test, then sleeps: the same work as
// the test's shell command in the suite tree.
func work(t *testing.T, dir string, d time.Duration) {
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := os.ReadFile(filepath.Join("testdata", dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(d)
}
`)
		for _, t := range pkg {
			fmt.Fprintf(&b, "\nfunc %s(t *testing.T) { work(t, %q, %d*time.Millisecond) }\n", t.goName(), t.name, t.duration.Milliseconds())
			writeInputs(w, filepath.Join(root, t.pkg, "testdata"), c, t)
		}
		w.file(filepath.Join(root, pkg[0].pkg, pkg[0].pkg+"_test.go"), []byte(b.String()), 0o644)
	}
}

func writePytest(w *writer, c config, tests []logicalTest) {
	root := filepath.Join(c.out, "pytest")
	w.file(filepath.Join(root, "pytest.ini"), []byte(`[pytest]
markers =
    smoke: critical path: run before deployment
    slow: slow: excluded from fast runs
    e2e: end to end
addopts = --strict-markers
`), 0o644)
	for _, pkg := range byPackage(tests) {
		var b strings.Builder
		b.WriteString(`import os
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def work(name, seconds):
    d = os.path.join(HERE, name)
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                fh.read()
    if seconds:
        time.sleep(seconds)
`)
		for _, t := range pkg {
			b.WriteString("\n\n")
			for _, m := range t.marks {
				fmt.Fprintf(&b, "@pytest.mark.%s\n", m)
			}
			fmt.Fprintf(&b, "def test_%s():\n    work(%q, %s)\n", t.name, t.name, seconds(t.duration))
			writeInputs(w, filepath.Join(root, t.pkg), c, t)
		}
		w.file(filepath.Join(root, pkg[0].pkg, "test_"+pkg[0].pkg+".py"), []byte(b.String()), 0o644)
	}
}

func writeBazel(w *writer, c config, tests []logicalTest) {
	root := filepath.Join(c.out, "bazel")
	stubs, _ := filepath.Abs(filepath.Join(c.out, "bazel-stubs"))
	w.file(filepath.Join(root, "WORKSPACE"), []byte("workspace(name = \"bench\")\n"), 0o644)
	// sh_test's implicit dependencies name rules_cc, rules_java and the
	// coverage tools, which Bazel would download; the stubs stand in for
	// them (nothing here builds C++ or Java), so the run is offline.
	w.file(filepath.Join(root, ".bazelrc"), []byte(fmt.Sprintf(`common --override_repository=rules_cc=%[1]s/rules_cc
common --override_repository=rules_java=%[1]s/rules_java
common --override_repository=remote_coverage_tools=%[1]s/remote_coverage_tools
test --test_output=errors
`, stubs)), 0o644)
	w.file(filepath.Join(stubs, "rules_cc", "WORKSPACE"), nil, 0o644)
	w.file(filepath.Join(stubs, "rules_cc", "BUILD"), nil, 0o644)
	w.file(filepath.Join(stubs, "rules_cc", "cc", "BUILD"), nil, 0o644)
	var cc strings.Builder
	for _, r := range []string{"cc_binary", "cc_library", "cc_test", "cc_toolchain", "cc_toolchain_suite", "cc_import", "cc_proto_library", "objc_library", "objc_import"} {
		fmt.Fprintf(&cc, "%s = native.%s\n", r, r)
	}
	w.file(filepath.Join(stubs, "rules_cc", "cc", "defs.bzl"), []byte(cc.String()), 0o644)
	w.file(filepath.Join(stubs, "rules_java", "WORKSPACE"), nil, 0o644)
	w.file(filepath.Join(stubs, "rules_java", "BUILD"), nil, 0o644)
	w.file(filepath.Join(stubs, "rules_java", "java", "BUILD"), nil, 0o644)
	var java strings.Builder
	for _, r := range []string{"java_binary", "java_import", "java_library", "java_plugin", "java_test", "java_toolchain", "java_runtime", "java_package_configuration", "java_proto_library", "java_lite_proto_library"} {
		fmt.Fprintf(&java, "%s = native.%s\n", r, r)
	}
	w.file(filepath.Join(stubs, "rules_java", "java", "defs.bzl"), []byte(java.String()), 0o644)
	w.file(filepath.Join(stubs, "remote_coverage_tools", "WORKSPACE"), nil, 0o644)
	w.file(filepath.Join(stubs, "remote_coverage_tools", "BUILD"), []byte(`filegroup(name = "coverage_report_generator", srcs = [], visibility = ["//visibility:public"])
filegroup(name = "lcov_merger", srcs = [], visibility = ["//visibility:public"])
`), 0o644)

	for _, pkg := range byPackage(tests) {
		var b strings.Builder
		for _, t := range pkg {
			// Bazel runs a test in its runfiles tree, at the workspace root.
			w.file(filepath.Join(root, t.pkg, t.name+".sh"), []byte("#!/bin/sh\n"+shellWork(c, t, t.pkg+"/"+t.name)+"\n"), 0o755)
			// The target is not named like the test's data folder: Bazel puts
			// the test's executable at that path in its runfiles.
			fmt.Fprintf(&b, "sh_test(\n    name = %q,\n    srcs = [%q],\n", t.name+"_test", t.name+".sh")
			if c.files > 0 {
				fmt.Fprintf(&b, "    data = glob([%q]),\n", t.name+"/**")
			}
			if len(t.marks) > 0 {
				fmt.Fprintf(&b, "    tags = %s,\n", starList(t.marks))
			}
			b.WriteString(")\n\n")
			writeInputs(w, filepath.Join(root, t.pkg), c, t)
		}
		w.file(filepath.Join(root, pkg[0].pkg, "BUILD"), []byte(strings.TrimSuffix(b.String(), "\n")), 0o644)
	}
}

// writeManifest lists the logical tests for bench/run.sh: one line each,
// tab-separated: package, test, suite label, Go package and function,
// pytest node id, duration in ms, marks (comma-separated, "-" for none).
func writeManifest(w *writer, c config, tests []logicalTest) {
	var b strings.Builder
	b.WriteString("# package\ttest\tlabel\tgo_package\tgo_func\tpytest_id\tduration_ms\tmarks\n")
	for _, t := range tests {
		marks := strings.Join(t.marks, ",")
		if marks == "" {
			marks = "-"
		}
		fmt.Fprintf(&b, "%s\t%s\t//%s:%s\tbench.example/%s\t%s\t%s/test_%s.py::test_%s\t%d\t%s\n",
			t.pkg, t.name, t.pkg, t.name, t.pkg, t.goName(), t.pkg, t.pkg, t.name, t.duration.Milliseconds(), marks)
	}
	w.file(filepath.Join(c.out, "tests.tsv"), []byte(b.String()), 0o644)
}

// writer writes files, creating folders, and keeps the first error.
type writer struct {
	err  error
	made map[string]bool
}

func (w *writer) file(path string, data []byte, mode os.FileMode) {
	if w.err != nil {
		return
	}
	if w.made == nil {
		w.made = map[string]bool{}
	}
	dir := filepath.Dir(path)
	if !w.made[dir] {
		if w.err = os.MkdirAll(dir, 0o755); w.err != nil {
			return
		}
		w.made[dir] = true
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		w.err = err
		return
	}
	bw := bufio.NewWriter(f)
	bw.Write(data)
	if err := bw.Flush(); err != nil {
		w.err = err
	}
	if err := f.Close(); err != nil && w.err == nil {
		w.err = err
	}
}
