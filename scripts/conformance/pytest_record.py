"""A pytest plugin for the conformance script (loaded with -p pytest_record).

Writes to $CONFORMANCE_PYTEST_OUT, at the end of the session, each test file's
outcomes and the source files of every module imported by then: the native
side of the per-file comparison, and (with --collect-only on one file) what
that file depends on.
"""

import json
import os
import sys

_outcomes = {}


def _note(nodeid, outcome):
    path = nodeid.split("::")[0]
    _outcomes.setdefault(path, []).append(outcome)


def pytest_collectreport(report):
    if report.failed:
        _note(report.nodeid or "<session>", "error")
    elif report.skipped and report.nodeid:  # a module-level skip (importorskip)
        _note(report.nodeid, "skipped")


def pytest_runtest_logreport(report):
    if report.when == "call":
        _note(report.nodeid, report.outcome)
    elif report.failed:
        _note(report.nodeid, "error")
    elif report.skipped:
        _note(report.nodeid, "skipped")


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("CONFORMANCE_PYTEST_OUT")
    if not out:
        return
    modules = sorted({os.path.realpath(m.__file__) for m in list(sys.modules.values())
                      if getattr(m, "__file__", None)})
    with open(out, "w") as f:
        json.dump({"exitstatus": int(exitstatus), "files": _outcomes, "modules": modules}, f)
