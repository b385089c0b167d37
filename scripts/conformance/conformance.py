#!/usr/bin/env python3
"""Runs real public projects natively and under suite, and writes docs/CONFORMANCE.md.

Started by run.sh (which builds suite and installs what the projects need).
For each project, from one fresh copy of its source:

1. its own runner, per package or file: `go test -json -count=1 ./...`
   (after a warm-up build, so Go's build cache is warm for both sides),
   `pytest` with a recording plugin, or `node --test` on each test file;
   the wall time of that run, and of a second run with nothing changed
   (`go test ./...` answers from its test cache; pytest and node rerun all);
2. `suite init`, then `suite run --json` with an empty cache (cold), again with
   nothing changed, and again after appending a comment to one source file;
3. what depends on that file, from the native tools: `go list -test -deps`
   for Go, the modules a pytest file has imported once collected, the files a
   node test file has loaded through require().

Per project, a JSON file in results/ keeps the outcome; the report is written
from every results file, and a mismatch is explained by EXPLAINED below or
shown as unexplained.
"""

import argparse
import datetime
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
REPOS = os.environ.get("CONFORMANCE_REPOS", "/work/.mirror")
LONG = 3600  # seconds any one command may take

# The projects. "go": module@version from the module proxy, laid out at the
# given folders (several modules of one repository rebuild its layout);
# "repo": a public repository at an exact commit, read from REPOS.
PROJECTS = [
    {
        "name": "starlark",
        "kind": "go",
        "shape": "Bazel-aware: starlarktest.DataFile opens $TEST_SRCDIR/net_starlark_go/<pkg>/testdata/... when TEST_SRCDIR and TEST_WORKSPACE are set",
        "go": {".": "go.starlark.net@v0.0.0-20260908191801-89a6a09411d5"},
        "edit": "syntax/scan.go",
    },
    {
        "name": "toml",
        "kind": "go",
        "shape": "testdata/ folders and //go:embed (internal/toml-test embeds tests/*)",
        "go": {".": "github.com/BurntSushi/toml@v1.6.0"},
        "edit": "internal/tz.go",
    },
    {
        "name": "otel",
        "kind": "go",
        "shape": "multi-module repository: the root module and its trace/ and metric/ modules, joined by local replace directives",
        "go": {
            ".": "go.opentelemetry.io/otel@v1.38.0",
            "trace": "go.opentelemetry.io/otel/trace@v1.38.0",
            "metric": "go.opentelemetry.io/otel/metric@v1.38.0",
        },
        "edit": "trace/config.go",
    },
    {
        "name": "x-text",
        "kind": "go",
        "shape": "large: 80 packages, 48 of them with tests, shared testdata read through ../..",
        "go": {".": "golang.org/x/text@v0.31.0"},
        "edit": "transform/transform.go",
    },
    {
        "name": "tqdm",
        "kind": "pytest",
        "shape": "pytest, custom marks (slow, asyncio), addopts with -W=error, pytest-timeout and pytest-asyncio plugins, flat layout",
        "repo": "tqdm/tqdm",
        "commit": "v4.65.0",
        "edit": "tqdm/utils.py",
    },
    {
        "name": "black",
        "kind": "pytest",
        "shape": "pytest, src layout (not installed), custom marks (incompatible_with_mypyc, and no_blackd / no_jupyter from its own plugin), a tests/data folder of .py fixtures",
        "repo": "psf/black",
        "commit": "23.1.0",
        # what `pip install -e .` would generate with hatch-vcs
        "files": {"src/_black_version.py": 'version = "23.1.0"\n'},
        "pythonpath": "src",
        "edit": "src/black/brackets.py",
    },
    {
        "name": "webidl-conversions",
        "kind": "node",
        "shape": "node --test, CommonJS, no runtime dependencies, a test helper module under test/",
        "repo": "jsdom/webidl-conversions",
        "commit": "1c40227f0875ab17fbf5df0ea7590e837e4365c0",
        "edit": "test/helpers/assertThrows.js",
    },
    {
        "name": "whatwg-mimetype",
        "kind": "node",
        "shape": "node --test, tests that require devDependencies from node_modules, and web-platform-tests data a pretest script downloads",
        "repo": "jsdom/whatwg-mimetype",
        "commit": "76b29fb2635157c72a68bf9fa44d32b890bc655c",
        "edit": "lib/sniff.js",
    },
    {
        "name": "data-urls",
        "kind": "node",
        "shape": "node --test, a library whose runtime dependencies (whatwg-mimetype, whatwg-url) come from node_modules, and web-platform-tests data a pretest script downloads",
        "repo": "jsdom/data-urls",
        "commit": "99af36f6fb489a397ed0d48e31dd18031233ab83",
        "edit": "lib/utils.js",
    },
]

# Why a unit's results differ, by "project" (every unit) or "project:unit".
# Each says whose bug it is or why it is a limitation; run.sh reports any
# mismatch that is not listed here as unexplained.
EXPLAINED = {
    "otel": {
        "short": "open: module cycle through go.opentelemetry.io/auto/sdk",
        "long": "open mismatch. These packages import go.opentelemetry.io/auto/sdk, a module from the "
                "module cache that imports go.opentelemetry.io/otel/semconv/v1.26.0, a package of the "
                "main module. go_packages follows imports only through the workspace's own modules, so "
                "semconv/v1.26.0 is not among the inputs and `go test` stops with `no required module "
                "provides package go.opentelemetry.io/otel/semconv/v1.26.0` [setup failed]. The missing "
                "input is also a false-cache-hit risk: a change to semconv/v1.26.0 would not rerun them. "
                "A fix needs go_packages_info to read the imports of the module-cache packages a "
                "package imports (or, more coarsely, to declare every package of a module that a "
                "required module requires back). Fixture: "
                "scripts/conformance/open/conformance_go_module_cycle.txtar.",
    },
    "x-text:message/pipeline": {
        "short": "open: the test's own go command builds packages outside its inputs (issue 16)",
        "long": "open mismatch. TestFullCycle runs `go` in testdata/ssa, a module whose go.mod points "
                "back at the repository root, and builds golang.org/x/text/message, which "
                "message/pipeline does not import and so does not declare: `go: testdata/ssa imports "
                "golang.org/x/text/message: cannot find module providing package`. A read no import "
                "statement shows; issue 16 (undeclared reads, traced inputs) names it.",
    },
    "x-text": {
        "short": "open: undeclared ../../testdata reads (issue 16)",
        "long": "open mismatch. The encoding packages' tests read test data shared two folders up "
                "(`enctest.go: load: open ../../testdata/candide-utf-8.txt: no such file or directory`), "
                "which `go test` allows and go_packages does not declare: it declares a package's own "
                "testdata/ only. Issue 16 (undeclared reads named, `inputs = \"traced\"`). Fixture: "
                "scripts/conformance/open/conformance_undeclared_shared_testdata.txtar.",
    },
}

# Every class of mismatch found, where it was seen, its fixture, and its state.
CLASSES = [
    ("Bazel-aware test helpers open `$TEST_SRCDIR/<repository name>/<pkg>/testdata`", "starlark",
     "cmd/suite/testdata/script/conformance_bazel_datafile.txtar",
     "fixed: runfiles tree (issue 12 item 1) and the repository name from `suite init` (issue 12 item 2)"),
    ("A module-cache dependency imports a package of the main module (module cycle)", "otel", "scripts/conformance/open/conformance_go_module_cycle.txtar",
     "open: go_packages inputs (rules/source_go.go); also a false-cache-hit risk"),
    ("Test data shared through `../..` is not declared", "x-text",
     "scripts/conformance/open/conformance_undeclared_shared_testdata.txtar",
     "named since issue 16 landed (`read undeclared encoding/testdata/...`); passes and reruns exactly "
     "with `go_packages(inputs = \"traced\")` (run_traced_inputs_go.txtar); open under the default, "
     "declared inputs"),
    ("A test's own `go` command builds a package outside its inputs (message/pipeline's testdata module)", "x-text",
     "none of its own: the same undeclared read as the row above, seen through a child process",
     "as the row above: traced inputs see the child's reads (the tracer follows every process of the test)"),
    ("Go's own test result cache answered for suite's actions: `(cached)` in a cold run (36 of 48 x-text "
     "packages), and `--no-cache` or `--runs-per-test` ran nothing", "x-text",
     "cmd/suite/testdata/script/conformance_go_test_cache.txtar",
     "fixed here: go_test runs `go test -json -count=1`"),
    ("`suite init` ignores pytest's `python_files`", "tqdm",
     "cmd/suite/testdata/script/conformance_pytest_python_files.txtar",
     "fixed: init picks test files by the project's python_files"),
    ("A relative symlink chain among fixtures (`another-dir/pm -> ../other-dir/pm -> ../pm`) was copied "
     "as the file it points to, so the fixture imported from the wrong folder", "commander (by hand)",
     "cmd/suite/testdata/script/run_symlinks.txtar", "fixed by issue 20: symlinks stay symlinks"),
    ("`node_modules/.bin/vitest`, a link to `../vitest/vitest.mjs`, broke the same way "
     "(`ERR_MODULE_NOT_FOUND .../node_modules/.bin/dist/cli.js`)", "path-to-regexp (by hand)",
     "cmd/suite/testdata/script/run_symlinks.txtar", "fixed by issue 20 (376 tests pass)"),
    ("`--json run.json` written into the workspace matched `**/*.json` and made every run a miss",
     "an npm-workspaces monorepo (by hand)", "cmd/suite/testdata/script/run_reports_not_inputs.txtar",
     "fixed by issue 20: reports a run writes are never inputs"),
    ("An uninstalled src/ layout is not on the test's path", "black",
     "cmd/suite/testdata/script/conformance_pytest_src_layout.txtar", "fixed by issue 21 item 3 (pytest_files puts src/ on the path)"),
    ("A data folder of `.py` fixtures is not among the inputs (seen once src/ is on the path by hand)", "black",
     "cmd/suite/testdata/script/conformance_pytest_py_data.txtar", "fixed by issue 21 item 2"),
    ("node_modules is not visible to node tests", "data-urls, whatwg-mimetype",
     "cmd/suite/testdata/script/conformance_node_modules.txtar", "fixed by issue 13 (installed environments)"),
]

# What the numbers of every project have in common.
GENERAL = [
    "**Cold Go runs cost no more than `go test ./...`** with the same warm build cache (less where "
    "tests fail early, as x-text's eight do under suite): every "
    "action runs `go test` at the workspace's own path (the sandbox's fixed execution path), so Go's "
    "build cache, which keys a package's compilation by its source folder, hits for the module's "
    "packages as for the user's own runs. Before that landed, each action compiled the module again "
    "in its own execution root, and cold runs took 2 to 3 times as long (starlark: 51 s against 20 s).",
    "**A failing test is never cached**, so the no-change run of a project with failures reruns "
    "them (otel, whatwg-mimetype, data-urls): its time is the failures' time, not the cache's.",
    "**pytest and node have no result cache**: their no-change time is their cold time.",
    "**A test whose every case was skipped** exits 0, and suite counts it as passed, where pytest "
    "says skipped; the tables show it as skipped, from the cases suite reports, and mark it so.",
]

# What a reader should know about a project beyond its mismatches.
NOTES = {
    "whatwg-mimetype": "test/web-platform.js fails on both sides for the same reason: its data "
                       "(test/web-platform-tests/*.json) is missing, because `npm test` downloads it in a "
                       "pretest script and this machine reaches no host but the package registries. Before "
                       "installed environments (issue 13) landed, suite failed it earlier, on "
                       "`require(\"@exodus/bytes/encoding.js\")`, a devDependency in node_modules that the "
                       "sandbox did not show.",
    "x-text": "The edit reran two packages that do not depend on transform/transform.go by `go list`: "
              "internal/export/unicode and unicode/rangetable. Their folders hold generators (`gen.go`, "
              "`//go:build ignore`) whose imports lead to transform; go_packages does not evaluate build "
              "constraints and counts every file, by design (README: it can only add inputs, never miss "
              "one). Extra reruns, never a false hit.",
    "data-urls": "test/web-platform.js lacks the same downloaded data and fails on both sides. Before "
                 "installed environments (issue 13) landed, test/api.js failed under suite too: lib/parser.js "
                 "requires its dependencies whatwg-mimetype and whatwg-url from node_modules, which the "
                 "sandbox did not show (`Cannot find module 'whatwg-mimetype'`); "
                 "cmd/suite/testdata/script/conformance_node_modules.txtar reproduces it and now guards the fix.",
    "tqdm": "From `suite init` alone, all 17 files end as under pytest, with the same 140 cases: "
            "tests_dask, tests_keras, tests_rich and tests_tk exit 0 only because every case skips, as "
            "natively (those packages are not installed), and tests_pandas.py is skipped; the marks `slow` "
            "and `asyncio` come from setup.cfg, and addopts (`-W=error`, `--asyncio-mode=strict`) apply in "
            "every action. Before init read `python_files = tests_*.py`, it declared no test at all and "
            "`suite run` selected nothing (exit 4).",
    "black": "Before the pytest_files changes of issue 21 landed, every file failed here: first with "
             "`ModuleNotFoundError: No module named 'black'` (src/ was not on the path), and, with the path "
             "given by hand, test_black.py, test_blackd.py and test_format.py still failed because their "
             "fixtures, `.py` files under tests/data/ that no test imports, were left out of the inputs "
             "(`AssertionError: .../execroot/tests/data/miscellaneous/blackd_diff.py is not a file.`). "
             "cmd/suite/testdata/script/conformance_pytest_src_layout.txtar and "
             "conformance_pytest_py_data.txtar reproduce both and now guard the fixes.",
}


def log(msg):
    print("conformance: " + msg, file=sys.stderr, flush=True)


def run(cmd, cwd, env=None, out=None, check=False, timeout=LONG):
    """Runs cmd; returns (exit code, wall seconds). Output goes to the file out."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.monotonic()
    with open(out or os.devnull, "w") as f:
        p = subprocess.run(cmd, cwd=cwd, env=full_env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
    wall = time.monotonic() - start
    if check and p.returncode != 0:
        raise RuntimeError("%s in %s exited %d (see %s)" % (" ".join(cmd), cwd, p.returncode, out))
    return p.returncode, wall


def output(cmd, cwd, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=cwd, env=full_env, check=True, capture_output=True, text=True).stdout


# ---------- sources


def fresh_tree(proj, root):
    """Lays out the project's source at root; returns a description of where it came from, or raises Skip."""
    if os.path.exists(root):
        subprocess.run(["chmod", "-R", "u+w", root], check=False)
        shutil.rmtree(root)
    os.makedirs(root)
    if "go" in proj:
        for sub, modver in sorted(proj["go"].items()):
            info = json.loads(output(["go", "mod", "download", "-json", modver], root, env={"GOFLAGS": "-mod=mod"}))
            if info.get("Error"):
                raise RuntimeError("go mod download %s: %s" % (modver, info["Error"]))
            dst = os.path.normpath(os.path.join(root, sub))
            shutil.copytree(info["Dir"], dst, dirs_exist_ok=True)
        subprocess.run(["chmod", "-R", "u+w", root], check=True)
        source = ", ".join("%s at %s" % (mv, sub) if sub != "." else mv for sub, mv in sorted(proj["go"].items()))
    else:
        gitdir = os.path.join(REPOS, proj["repo"].replace("/", "+"), "repo")
        if not os.path.isdir(gitdir):
            raise Skip("repository %s not found at %s: clone it there (git clone --bare https://github.com/%s %s)"
                       % (proj["repo"], gitdir, proj["repo"], gitdir))
        commit = output(["git", "--git-dir", gitdir, "rev-parse", proj["commit"] + "^{commit}"], root).strip()
        archive = subprocess.run(["git", "--git-dir", gitdir, "archive", commit], check=True, capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as t:
            t.extractall(root, filter="data") if sys.version_info >= (3, 12) else t.extractall(root)
        source = "github.com/%s at %s (%s)" % (proj["repo"], proj["commit"], commit[:12])
    for rel, content in proj.get("files", {}).items():
        with open(os.path.join(root, rel), "w") as f:
            f.write(content)
    return source


class Skip(Exception):
    pass


# ---------- native runners


def go_modules(root):
    return sorted(os.path.relpath(os.path.dirname(p), root) for p in glob.glob(os.path.join(root, "**/go.mod"), recursive=True))


def go_test_packages(root):
    """{import path: folder relative to root} of every package with tests, per module."""
    pkgs = {}
    for mod in go_modules(root):
        text = output(["go", "list", "-f", "{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}", "./..."],
                      os.path.join(root, mod))
        for line in text.splitlines():
            if line.strip():
                ip, d = line.split(" ", 1)
                pkgs[ip] = os.path.relpath(d, root)
    return pkgs


def native_go(proj, root, logs):
    pkgs = go_test_packages(root)
    by_path = {}
    cold = 0.0
    nochange = 0.0
    for mod in go_modules(root):
        mdir = os.path.join(root, mod)
        run(["go", "test", "-count=1", "-run", "^$", "./..."], mdir, out=os.path.join(logs, "native-warm.log"))
        jl = os.path.join(logs, "native-%s.jsonl" % ("root" if mod == "." else mod.replace("/", "_")))
        _, wall = run(["go", "test", "-json", "-count=1", "./..."], mdir, out=jl)
        cold += wall
        for line in open(jl):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("Test") or ev.get("Action") not in ("pass", "fail", "skip") or "Package" not in ev:
                continue
            if ev["Package"] in pkgs:
                by_path[ev["Package"]] = {"pass": "passed", "fail": "failed", "skip": "skipped"}[ev["Action"]]
        run(["go", "test", "./..."], mdir, out=os.path.join(logs, "native-populate.log"))
        _, wall = run(["go", "test", "./..."], mdir, out=os.path.join(logs, "native-nochange.log"))
        nochange += wall
    units = {pkgs[ip]: by_path.get(ip, "no result") for ip in pkgs}
    return units, cold, nochange


def go_depends(proj, root, edited):
    """The package folders whose tests depend on the edited file, from go list -test -deps."""
    edited_dir = os.path.dirname(os.path.join(root, edited))
    edited_ip = output(["go", "list", "-f", "{{.ImportPath}}", "."], edited_dir).strip()
    pkgs = go_test_packages(root)
    depends = set()
    for mod in go_modules(root):
        text = output(["go", "list", "-test", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}", "./..."], os.path.join(root, mod))
        for line in text.splitlines():
            ip, deps = line.split("|", 1)
            if not ip.endswith(".test"):
                continue
            pkg = ip[: -len(".test")]
            deps = {d.split(" ")[0] for d in deps.split(" ") if d and not d.startswith("[")}
            if pkg in pkgs and (pkg == edited_ip or edited_ip in deps):
                depends.add(pkgs[pkg])
    return depends, "go list -test -deps: the test binaries whose dependencies include %s" % edited_ip


def go_unit_of(label, root):
    """The package folder of a go_packages label //P:N (N is a folder below P, or the package in P)."""
    pkg, _, name = label[2:].partition(":")
    cand = os.path.normpath(os.path.join(pkg, name))
    if glob.glob(os.path.join(root, cand, "*_test.go")):
        return cand
    return os.path.normpath(pkg or ".")


def pytest_env(proj):
    paths = [HERE]
    if proj.get("pythonpath"):
        paths.insert(0, proj["pythonpath"])
    return {"PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}


def file_outcome(outcomes):
    if not outcomes:
        return "no result"
    if "failed" in outcomes or "error" in outcomes:
        return "failed"
    if "passed" in outcomes:
        return "passed"
    return "skipped"


def native_pytest(proj, root, logs):
    rec = os.path.join(logs, "native-pytest.json")
    env = dict(pytest_env(proj), CONFORMANCE_PYTEST_OUT=rec)
    _, wall = run(["pytest", "-p", "pytest_record", "-p", "no:cacheprovider"], root, env=env,
                  out=os.path.join(logs, "native.log"))
    data = json.load(open(rec)) if os.path.exists(rec) else {"files": {}}
    units = {f: file_outcome(o) for f, o in data["files"].items() if f != "<session>"}
    return units, wall, None


def recorded_depends(root, edited, test_files, logs, record):
    """The test files that load the edited file: record(f, out) runs f alone,
    writing what it loaded (a list of paths) to out."""
    target = os.path.realpath(os.path.join(root, edited))
    depends = set()
    for f in test_files:
        out = os.path.join(logs, "deps.json")
        if os.path.exists(out):
            os.remove(out)
        record(f, out)
        loaded = {os.path.realpath(p) for p in json.load(open(out))} if os.path.exists(out) else set()
        if os.path.realpath(os.path.join(root, f)) == target or target in loaded:
            depends.add(f)
    return depends


def pytest_depends(proj, root, edited, test_files, logs):
    def record(f, out):
        env = dict(pytest_env(proj), CONFORMANCE_PYTEST_OUT=out)
        run(["pytest", "-p", "pytest_record", "-p", "no:cacheprovider", "--collect-only", "-q", f], root, env=env)
        if os.path.exists(out):  # keep only the modules pytest loaded
            json.dump(json.load(open(out))["modules"], open(out + ".tmp", "w"))
            os.replace(out + ".tmp", out)
    return (recorded_depends(root, edited, test_files, logs, record),
            "the modules loaded once pytest has collected the file alone (imports inside test functions are not seen)")


def node_test_files(root):
    """The files `node --test` finds by itself (Node 20's default patterns)."""
    found = set()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "node_modules" and not d.startswith(".")]
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not re.search(r"\.[cm]?js$", name):
                continue
            norm = re.sub(r"\.[cm]?js$", ".js", rel)
            base = os.path.basename(norm)
            if (base in ("test.js",) or base.startswith("test-") or re.search(r"[.\-_]test\.js$", base)
                    or "/test/" in "/" + norm or norm.startswith("test/")):
                found.add(rel)
    return sorted(found)


def native_node(proj, root, logs):
    units = {}
    wall = 0.0
    for f in node_test_files(root):
        code, w = run(["node", "--test", f], root, out=os.path.join(logs, "native-%s.log" % f.replace("/", "_")))
        wall += w
        units[f] = "passed" if code == 0 else "failed"
    return units, wall, None


def node_depends(proj, root, edited, test_files, logs):
    def record(f, out):
        run(["node", "--require", os.path.join(HERE, "node_record.cjs"), f], root, env={"CONFORMANCE_NODE_OUT": out})
    return (recorded_depends(root, edited, test_files, logs, record),
            "the files a test file has loaded through require() when run alone")


# ---------- suite


def suite_results(path):
    results = []
    end = {}
    if not os.path.exists(path):  # nothing selected (exit 4), or suite failed before running
        return results, end
    for line in open(path):
        ev = json.loads(line)
        if ev.get("event") == "test_result":
            results.append(ev)
        elif ev.get("event") == "run_end":
            end = ev
    return results, end


def suite_side(proj, root, logs, suite):
    # An empty result cache for suite, but the user's own Go build cache: the
    # go command would otherwise follow XDG_CACHE_HOME to an empty one too.
    env = {"XDG_CACHE_HOME": os.path.join(logs, "xdg"),
           "GOCACHE": output(["go", "env", "GOCACHE"], root).strip()}
    shutil.rmtree(env["XDG_CACHE_HOME"], ignore_errors=True)
    run([suite, "init"], root, env=env, out=os.path.join(logs, "suite-init.log"), check=True)
    side = {"init": open(os.path.join(logs, "suite-init.log")).read()}
    for phase in ("cold", "nochange"):
        js = os.path.join(logs, "suite-%s.jsonl" % phase)
        code, wall = run([suite, "run", "--output", "errors", "--json", js], root, env=env,
                         out=os.path.join(logs, "suite-%s.log" % phase))
        results, end = suite_results(js)
        side[phase] = {"exit": code, "wall": wall, "results": results, "end": end}
    side["env"] = env
    return side


def suite_rerun(root, logs, suite, env):
    js = os.path.join(logs, "suite-edit.jsonl")
    code, wall = run([suite, "run", "--output", "errors", "--json", js], root, env=env,
                     out=os.path.join(logs, "suite-edit.log"))
    results, end = suite_results(js)
    return {"exit": code, "wall": wall, "results": results, "end": end}


def append_comment(path):
    mark = "#" if path.endswith(".py") else "//"
    with open(path, "a") as f:
        f.write("\n%s edited by the conformance script\n" % mark)


# ---------- one project


def run_project(proj, work, suite, commit):
    name = proj["name"]
    root = os.path.join(work, name, "src")
    logs = os.path.join(work, name, "logs")
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    result = {"name": name, "kind": proj["kind"], "shape": proj["shape"], "suite_commit": commit,
              "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        result["source"] = fresh_tree(proj, root)
    except Skip as e:
        result["skipped"] = str(e)
        log("%s: skipped: %s" % (name, e))
        return result
    if proj["kind"] == "node":
        run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], root, out=os.path.join(logs, "npm-ci.log"), check=True)

    log("%s: native run" % name)
    native = {"go": native_go, "pytest": native_pytest, "node": native_node}[proj["kind"]]
    units, ncold, nnochange = native(proj, root, logs)
    result["native"] = {"cold": ncold, "nochange": nnochange}

    log("%s: suite init and run" % name)
    side = suite_side(proj, root, logs, suite)

    def unit_of(label):
        if proj["kind"] == "go":
            return go_unit_of(label, root)
        if proj["kind"] == "pytest":
            return label.split(":", 1)[1].split("/", 1)[1] if "/" in label.split(":", 1)[1] else label
        return label

    rows = {}
    for u, st in units.items():
        rows.setdefault(u, {"unit": u, "native": st, "suite": "not run", "labels": []})
    for r in side["cold"]["results"]:
        u = unit_of(r["label"])
        row = rows.setdefault(u, {"unit": u, "native": "not run", "suite": "not run", "labels": []})
        row["labels"].append(r["label"])
        st = {"flaky": "passed"}.get(r["status"], r["status"])
        cases = r.get("cases") or []
        if proj["kind"] == "pytest" and st == "passed" and cases and all(c.get("status") == "skipped" for c in cases):
            # suite says passed (exit status 0); the project's runner says
            # skipped, and so do the cases suite reports
            st = "skipped"
            row["all_cases_skipped"] = True
        row["suite"] = st if row["suite"] in ("not run", st) else "failed"
        row.setdefault("failed_cases", [])
        row["failed_cases"] += [c["name"] for c in r.get("cases") or [] if c.get("status") in ("failed", "error")]
    node_files = {}  # for node: the suite label running each test file
    if proj["kind"] == "node":
        # suite runs a package's node tests as one action, natively each file
        # is a unit: a file failed under suite when Node reported it by path
        # (it failed to load), passed when its action passed, and is
        # unattributed when its action failed on a test inside some file.
        actions = [r for r in rows.values() if r["labels"]]
        rows = {}
        for f, st in units.items():
            row = {"unit": f, "native": st, "suite": "not run", "labels": []}
            for a in actions:
                row["labels"] = a["labels"]
                node_files[f] = a["labels"][0]
                if any(c.endswith("/" + f) for c in a.get("failed_cases", [])):
                    row["suite"] = "failed"
                    row["failed_cases"] = [c for c in a["failed_cases"] if c.endswith("/" + f)]
                elif a["suite"] == "passed":
                    row["suite"] = "passed"
                elif a.get("failed_cases") and all(any(c.endswith("/" + g) for g in units) for c in a["failed_cases"]):
                    row["suite"] = "passed"  # every failure is another file's
                else:
                    row["suite"] = "failed (unattributed: %s)" % a["suite"]
            rows[f] = row
    result["units"] = sorted(rows.values(), key=lambda r: r["unit"])

    cold, nochange = side["cold"], side["nochange"]
    result["suite"] = {
        "init": side["init"],
        "cold": cold["wall"], "cold_exit": cold["exit"], "cold_end": cold["end"],
        "nochange": nochange["wall"], "nochange_end": nochange["end"],
        "nochange_cached": sum(1 for r in nochange["results"] if r.get("cached")),
        "nochange_total": len(nochange["results"]),
    }

    log("%s: one-file edit" % name)
    edited = proj["edit"]
    append_comment(os.path.join(root, edited))
    if proj["kind"] == "go":
        depends, how = go_depends(proj, root, edited)
    elif proj["kind"] == "pytest":
        depends, how = pytest_depends(proj, root, edited, sorted(r["unit"] for r in result["units"]), logs)
    else:
        depends, how = node_depends(proj, root, edited, sorted(units), logs)
        how += "; suite runs all of a package's node test files in one action, so it reruns them all or none"
    rerun = suite_rerun(root, logs, suite, side["env"])
    reran = {unit_of(r["label"]) for r in rerun["results"] if not r.get("cached")}
    if proj["kind"] == "node":
        reran = {f for f, label in node_files.items() if label in reran}
    result["edit"] = {"file": edited, "depends": sorted(depends), "reran": sorted(reran), "how": how,
                      "wall": rerun["wall"]}
    return result


# ---------- report


def fmt_s(s):
    if s is None:
        return "—"
    return "%.1f s" % s


def mismatches(res):
    return [u for u in res.get("units", []) if u["native"] != u["suite"]]


def missed_units(res):
    """Units that depend on the edited file but were not rerun: those suite
    runs (a false cache hit) and those it does not declare at all."""
    e = res["edit"]
    declared = {u["unit"] for u in res["units"] if u["labels"]}
    missed = set(e["depends"]) - set(e["reran"])
    return sorted(missed & declared), sorted(missed - declared)


def explanation(name, unit):
    return EXPLAINED.get("%s:%s" % (name, unit)) or EXPLAINED.get(name)


def render(top, results, commit):
    out = []
    w = out.append
    w("# Conformance: real projects under their own runner and under suite")
    w("")
    runs = sorted({r.get("suite_commit", "?") for r in results if not r.get("skipped")})
    w("Generated by `scripts/conformance/run.sh`; written at commit `%s`, from runs of suite at %s" % (
        commit, ", ".join("`%s`" % c for c in runs)))
    w("(each project below names its own). Do not edit by hand:")
    w("causes of mismatches live in `EXPLAINED` in `scripts/conformance/conformance.py`.")
    w("")
    w("## How this is made, and what it needs")
    w("")
    w("- **One command**: `scripts/conformance/run.sh` (all projects) or `scripts/conformance/run.sh NAME...`")
    w("  (some; the others keep their results in `scripts/conformance/results/`), then the report is")
    w("  rewritten from every results file. It needs the network and tens of minutes, so `./test.sh` never runs it.")
    w("- **Where the sources come from**: Go modules are downloaded by the script from the Go module proxy")
    w("  (`go mod download -json module@version`, exact versions; a multi-module repository is rebuilt")
    w("  by placing each module at its folder). npm devDependencies are installed by `npm ci` from each")
    w("  project's lock file. The Python and Node projects are public repositories that no registry")
    w("  serves with their tests: the script reads each from a bare git directory,")
    w("  `$CONFORMANCE_REPOS/OWNER+NAME/repo` (default `/work/.mirror`), at a pinned tag or commit, and")
    w("  **skips a project whose repository is not there**, saying which repository to clone where.")
    w("  The Python projects' dependencies come from Debian packages, which run.sh installs as root.")
    w("- **Native side**: `go test -json -count=1 ./...` in each module after a warm-up build (so Go's")
    w("  build cache is warm for both sides), `pytest` with a small recording plugin")
    w("  (`scripts/conformance/pytest_record.py`), `node --test FILE` for each file `node --test` finds.")
    w("  Native no-change time: a second `go test ./...` after one that filled Go's test cache;")
    w("  pytest and node have no result cache, so theirs equals the cold run and is not repeated.")
    w("- **suite side**: `suite init`, then `suite run --json` with an empty cache (`XDG_CACHE_HOME` in")
    w("  scratch space), again with nothing changed, and again after appending a comment to one source")
    w("  file. \"Reran\" is the set of tests the third run did not take from the cache.")
    w("- **Depends**: approximated from native tools, per project below: `go list -test -deps` for Go,")
    w("  the modules imported once pytest has collected one file alone, the files a node test file")
    w("  loads through `require()`. A rerun set larger than it costs time; a smaller one is a false")
    w("  cache hit, the worst bug suite can have.")
    w("- Times are wall-clock on a shared 2-core machine with other work running: compare the columns of")
    w("  one row, not rows of different days.")
    w("")
    w("## Summary")
    w("")
    w("| project | kind | units | match | native cold | native no-change | suite cold | suite no-change (cached) | edit: depends / reran |")
    w("|---|---|---|---|---|---|---|---|---|")
    for res in results:
        if res.get("skipped"):
            w("| %s | %s | skipped: %s |||||||" % (res["name"], res["kind"], res["skipped"]))
            continue
        units = res["units"]
        mm = mismatches(res)
        s = res["suite"]
        e = res["edit"]
        missed, undeclared = missed_units(res)
        w("| [%s](#%s) | %s | %d | %d/%d | %s | %s | %s | %s (%d/%d) | %d / %d%s |" % (
            res["name"], res["name"], res["kind"], len(units), len(units) - len(mm), len(units),
            fmt_s(res["native"]["cold"]), fmt_s(res["native"]["nochange"]), fmt_s(s["cold"]),
            fmt_s(s["nochange"]), s["nochange_cached"], s["nochange_total"],
            len(e["depends"]), len(e["reran"]),
            (" **missed %d**" % len(missed) if missed else "") + (" (%d not declared)" % len(undeclared) if undeclared else "")))
    w("")
    for g in GENERAL:
        w("- " + g)
    w("")
    w("## Classes of mismatch")
    w("")
    w("Every mismatch below belongs to one of these classes. A fixture reproduces each without the")
    w("network: it passes under the project's own runner and fails under suite until the class is fixed;")
    w("open ones wait in `scripts/conformance/open/` (see its README) so that `./test.sh` stays green.")
    w("")
    w("| class | seen in | fixture | state |")
    w("|---|---|---|---|")
    for cls, seen, fixture, state in CLASSES:
        w("| %s | %s | %s | %s |" % (cls, seen, "`%s`" % fixture if fixture.endswith(".txtar") else fixture, state))
    w("")
    for res in results:
        w("## %s" % res["name"])
        w("")
        w("%s." % res["shape"])
        w("")
        if res.get("skipped"):
            w("Skipped: %s" % res["skipped"])
            w("")
            continue
        w("Source: %s. Run at %s from suite `%s`." % (res["source"], res["generated"], res["suite_commit"]))
        w("")
        w("| unit | native | suite | |")
        w("|---|---|---|---|")
        for u in res["units"]:
            note = ""
            if u["native"] != u["suite"]:
                ex = explanation(res["name"], u["unit"])
                note = "mismatch: " + (ex["short"] if ex else "**unexplained**")
            elif u.get("failed_cases"):
                note = "both fail"
            cases = ""
            if u.get("failed_cases"):
                shown = u["failed_cases"][:4]
                cases = " (failed: %s%s)" % (", ".join(shown), ", …" if len(u["failed_cases"]) > 4 else "")
            if u.get("all_cases_skipped"):
                cases += " (suite: passed, every case skipped)"
            w("| `%s` | %s | %s%s | %s |" % (u["unit"], u["native"], u["suite"], cases, note))
            if u.get("files"):
                for f, st in sorted(u["files"].items()):
                    w("| &nbsp;&nbsp;`%s` | %s | (in the action above) | |" % (f, st))
        w("")
        s = res["suite"]
        w("Wall time: native %s cold, %s with nothing changed; suite %s cold, %s with nothing changed (%d of %d tests cached)." % (
            fmt_s(res["native"]["cold"]), fmt_s(res["native"]["nochange"]) if res["native"]["nochange"] is not None else "the same (no result cache)",
            fmt_s(s["cold"]), fmt_s(s["nochange"]), s["nochange_cached"], s["nochange_total"]))
        w("")
        e = res["edit"]
        missed, undeclared = missed_units(res)
        extra = sorted(set(e["reran"]) - set(e["depends"]))
        w("After appending a comment to `%s`: %d depend on it, suite reran %d (in %s)." % (
            e["file"], len(e["depends"]), len(e["reran"]), fmt_s(e["wall"])))
        w("Depends from %s." % e["how"])
        if missed:
            w("**Not rerun although they depend on it: %s.**" % ", ".join("`%s`" % m for m in missed))
        if undeclared:
            w("Not declared as suite tests at all, so neither run nor rerun: %s." % ", ".join("`%s`" % m for m in undeclared))
        if extra:
            w("Rerun without depending on it: %s." % ", ".join("`%s`" % m for m in extra))
        if not missed and not extra and not undeclared:
            w("The two sets are equal.")
        w("")
        if NOTES.get(res["name"]):
            w(NOTES[res["name"]])
            w("")
        notes = [l for l in s["init"].splitlines() if l.startswith("note:")]
        if notes:
            w("`suite init` said:")
            w("")
            w("```")
            out.extend(notes)
            w("```")
            w("")
        explained = {}
        for u in mismatches(res):
            ex = explanation(res["name"], u["unit"])
            if ex:
                explained.setdefault(ex["long"], []).append(u["unit"])
        for text, us in explained.items():
            which = "every unit" if len(us) == len(res["units"]) else ", ".join("`%s`" % x for x in us)
            w("- %s: %s" % (which, text))
        if explained:
            w("")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--suite")
    ap.add_argument("--report", action="store_true", help="only rewrite the report from results/")
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    commit = output(["git", "rev-parse", "--short=12", "HEAD"], args.top).strip()
    # the report's own files change while it runs; anything else means suite itself differs from the commit
    dirty = output(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                    ":!scripts/conformance", ":!docs/CONFORMANCE.md"], args.top).strip()
    if dirty:
        commit += " with uncommitted changes"
    os.makedirs(RESULTS, exist_ok=True)
    known = {p["name"]: p for p in PROJECTS}
    if not args.report:
        for n in args.names:
            if n not in known:
                sys.exit("conformance: unknown project %s (known: %s)" % (n, ", ".join(known)))
        for proj in [known[n] for n in args.names] or PROJECTS:
            log("%s: start" % proj["name"])
            try:
                res = run_project(proj, args.work, args.suite, commit)
            except Exception as e:  # one broken project must not cost the others' results
                log("%s: %s" % (proj["name"], e))
                res = {"name": proj["name"], "kind": proj["kind"], "shape": proj["shape"],
                       "skipped": "the script failed: %s" % e}
            with open(os.path.join(RESULTS, proj["name"] + ".json"), "w") as f:
                json.dump(res, f, indent=1, sort_keys=True)
    results = []
    for proj in PROJECTS:
        p = os.path.join(RESULTS, proj["name"] + ".json")
        if os.path.exists(p):
            res = json.load(open(p))
            for u in res.get("units", []):
                if res["kind"] == "go" and u.pop("all_cases_skipped", False):
                    u["suite"] = "passed"  # go test says ok for a package whose tests all skip
            results.append(res)
    with open(os.path.join(args.top, "docs", "CONFORMANCE.md"), "w") as f:
        f.write(render(args.top, results, commit))
    unexplained = [(r["name"], u["unit"]) for r in results for u in mismatches(r) if not explanation(r["name"], u["unit"])]
    for name, unit in unexplained:
        log("unexplained mismatch: %s %s" % (name, unit))
    log("wrote docs/CONFORMANCE.md (%d projects)" % len(results))


if __name__ == "__main__":
    main()
