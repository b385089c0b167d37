package cases

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// requireTool skips a test whose runner is missing from this machine, except
// on CI, where the runner must be installed and its absence is a failure.
func requireTool(t *testing.T, what string, found bool) {
	t.Helper()
	if found {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI must have it", what)
	}
	t.Skipf("%s is not installed", what)
}

// runToXML runs a test runner in dir, which fails because some tests fail,
// and returns the JUnit XML it wrote to dir/out.xml.
func runToXML(t *testing.T, dir string, argv ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%v passed, want a failure exit status:\n%s", argv, out)
	}
	xml, err := os.ReadFile(filepath.Join(dir, "out.xml"))
	if err != nil {
		t.Fatalf("%v wrote no XML: %v\n%s", argv, err, out)
	}
	return xml
}

func TestParseJUnitFromNode(t *testing.T) {
	node, err := exec.LookPath("node")
	requireTool(t, "node", err == nil)
	dir := t.TempDir()
	const script = `const { test, describe, it } = require('node:test');
const assert = require('node:assert');
test('top passes', () => {});
test('top fails', () => { assert.strictEqual(1, 2); });
test('skipped one', { skip: 'not today' }, () => {});
test('todo one', { todo: true }, () => {});
describe('group', () => {
  it('inner ok', () => {});
  it('inner bad', () => { throw new Error('boom <&>'); });
});
`
	if err := os.WriteFile(filepath.Join(dir, "sample.test.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	xml := runToXML(t, dir, node, "--test", "--test-reporter=junit", "--test-reporter-destination=out.xml", "sample.test.js")
	got, err := ParseJUnit(xml)
	if err != nil {
		t.Fatalf("%v\n%s", err, xml)
	}
	checkCases(t, got, []want{
		{"top passes", "test", StatusPassed, -1, ""},
		{"top fails", "test", StatusFailed, -1, "1 !== 2"},
		{"skipped one", "test", StatusSkipped, -1, "not today"},
		{"todo one", "test", StatusSkipped, -1, ""},
		{"inner ok", "test", StatusPassed, -1, ""},
		{"inner bad", "test", StatusFailed, -1, "boom <&>"},
	})
}

// pytestCommand returns the argv prefix that runs pytest, or nil.
func pytestCommand() []string {
	if python, err := exec.LookPath("python3"); err == nil {
		if exec.Command(python, "-c", "import pytest").Run() == nil {
			return []string{python, "-m", "pytest"}
		}
	}
	for _, name := range []string{"pytest", "pytest-3"} {
		if path, err := exec.LookPath(name); err == nil {
			return []string{path}
		}
	}
	return nil
}

func TestParseJUnitFromPytest(t *testing.T) {
	pytest := pytestCommand()
	requireTool(t, "pytest", pytest != nil)
	dir := t.TempDir()
	const tests = `import pytest

def test_ok():
    pass

def test_bad():
    assert 1 == 2

@pytest.mark.skip(reason="not today")
def test_skip():
    pass

@pytest.fixture
def db():
    raise ValueError("no db")

def test_db(db):
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

class TestGroup:
    def test_in_class(self):
        pass

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1
`
	if err := os.WriteFile(filepath.Join(dir, "test_sample.py"), []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	argv := append(pytest, "-p", "no:cacheprovider", "--junitxml=out.xml", "test_sample.py")
	xml := runToXML(t, dir, argv...)
	got, err := ParseJUnit(xml)
	if err != nil {
		t.Fatalf("%v\n%s", err, xml)
	}
	checkCases(t, got, []want{
		{"test_ok", "test_sample", StatusPassed, -1, ""},
		{"test_bad", "test_sample", StatusFailed, -1, "assert 1 == 2"},
		{"test_skip", "test_sample", StatusSkipped, -1, "not today"},
		{"test_db", "test_sample", StatusError, -1, "ValueError: no db"},
		{"test_xfail", "test_sample", StatusSkipped, -1, "known bug"},
		{"test_in_class", "test_sample.TestGroup", StatusPassed, -1, ""},
		{"test_param[1]", "test_sample", StatusPassed, -1, ""},
		{"test_param[2]", "test_sample", StatusFailed, -1, "assert 2 == 1"},
	})
}
