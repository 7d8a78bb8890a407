"""What a team's test suite run reports: the JUnit and coverage files the grader collects.

The grader adds a small pytest plugin to every run (it records each test's markers and node
id), points pytest's JUnit and coverage reports at `OUT_DIR` through `PYTEST_ADDOPTS`
(`pytest_env`), and reads them back into a `SuiteReport` (`read_report`): plain data, so it
passes between check processes. `is_kind` tells a test's kind (data, model, api) by path or
marker.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader import fs
from grader.text import tail

if TYPE_CHECKING:
    from grader.sandbox import SandboxResult

OUT_DIR = "/tmp/grader"
JUNIT = f"{OUT_DIR}/junit.xml"
COVERAGE = f"{OUT_DIR}/coverage.xml"
TEAM_COVERAGE = "coverage.xml"  # the suite's own report, if it writes one (coverage xml)
PLUGIN = "grader_pytest_plugin"
# tests.sensitivity's swap of the model, run by the plugin before the team's conftest files
# load (in the pytest process the suite starts anyway: its imports are paid once, not twice):
# the swap's code (base64) and its arguments (JSON) come in these variables.
SWAP_ENV, SWAP_ARGS_ENV = "GRADER_SWAP", "GRADER_SWAP_ARGS"
SWAP_OUT = f"{OUT_DIR}/swap.txt"  # what the swap did: written by the swap alone
SWAPPED_IN = f"{OUT_DIR}/swapped-in.txt"  # written when the plugin did it
# Added to the team's pytest run: records each test's markers and node id in the report,
# so kinds of tests can be told apart by marker as well as by path; swaps the model when
# tests.sensitivity asks.
PLUGIN_CODE = f"""\
import os
import sys

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        names = sorted({{m.name for m in item.iter_markers()}})
        item.user_properties.append(("grader_markers", ",".join(names)))
        item.user_properties.append(("grader_nodeid", item.nodeid))


def pytest_load_initial_conftests(early_config, parser, args):
    code = os.environ.pop("{SWAP_ENV}", None)
    if not code or os.path.exists("{SWAP_OUT}"):
        return
    import base64
    import json

    argv, path = sys.argv, list(sys.path)
    sys.argv = ["swap"] + json.loads(os.environ.get("{SWAP_ARGS_ENV}", "[]"))
    sys.path.insert(0, os.getcwd())  # as for `python -c` in the checkout
    try:
        exec(compile(base64.b64decode(code), "grader-swap", "exec"), {{"__name__": "swap"}})
    except SystemExit as exc:
        if exc.code:  # the swap could not be done, and said why: no tests to run
            raise
    except BaseException as exc:  # not said: a process of its own tries it
        sys.__stderr__.write("grader: the swap failed in pytest (%r)\\n" % (exc,))
        raise SystemExit(70)
    finally:
        sys.argv, sys.path[:] = argv, path
    with open("{SWAPPED_IN}", "w") as handle:
        handle.write("the test run (its pytest process)")
"""


@dataclass(frozen=True)
class SuiteCase:
    nodeid: str
    outcome: str  # passed, failed, error, skipped
    markers: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class SuiteReport:
    """What the suite's run produced; plain data, so it passes between check processes."""

    cases: tuple[SuiteCase, ...]
    coverage: float | None
    exit_code: int | None
    seconds: float
    output: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)


def pytest_env(repo: Path, command: str) -> dict[str, str]:
    """Options every pytest run in the container picks up, whatever the command calls."""
    options = [f"-p {PLUGIN}", f"--junitxml={JUNIT}", "-o junit_family=xunit1"]
    if _measures_coverage(repo, command):
        options.append(f"--cov-report=xml:{COVERAGE}")
    return {"PYTEST_ADDOPTS": " ".join(options)}


def _measures_coverage(repo: Path, command: str) -> bool:
    configs = ("pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini")
    texts = [command, *(fs.read_text(repo, c) or "" for c in configs)]
    return any(re.search(r"--cov\b", t) for t in texts)


def read_report(result: SandboxResult) -> SuiteReport:
    junit = result.files.get(JUNIT, b"")
    cases = tuple(_cases(junit)) if junit else ()
    return SuiteReport(
        cases=cases,
        coverage=_coverage(result.files.get(COVERAGE) or result.files.get(TEAM_COVERAGE, b"")),
        exit_code=result.exit_code,
        seconds=result.seconds,
        output=tail(result.output, 4000),
    )


def _cases(xml: bytes) -> list[SuiteCase]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return []  # cut at the size limit, or not a report
    return [_case(element) for element in root.iter("testcase")]


def _case(element: ET.Element) -> SuiteCase:
    props = {p.get("name"): p.get("value") or "" for p in element.iter("property")}
    nodeid = props.get("grader_nodeid") or _nodeid(element)
    markers = tuple(m for m in (props.get("grader_markers") or "").split(",") if m)
    for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        child = element.find(tag)
        if child is not None:
            message = (child.get("message") or child.text or "").strip()
            if outcome == "error" and child.get("message") and child.text:
                message = message[:200] + "\n" + child.text.strip()[-300:]  # the cause is last
            return SuiteCase(nodeid, outcome, markers, message[:500])
    return SuiteCase(nodeid, "passed", markers)


def _nodeid(element: ET.Element) -> str:
    file = element.get("file")
    classname = element.get("classname") or ""
    if file:
        return f"{file}::{element.get('name')}"
    return f"{classname.replace('.', '/')}.py::{element.get('name')}"


def _coverage(xml: bytes) -> float | None:
    if not xml:
        return None
    try:
        rate = ET.fromstring(xml).get("line-rate")
    except ET.ParseError:
        return None
    return round(float(rate) * 100, 2) if rate is not None else None


def is_kind(case: SuiteCase, selectors: list[str]) -> bool:
    path = case.nodeid.split("::", 1)[0]
    for selector in selectors:
        if "/" in selector or selector.endswith(".py"):
            prefix = selector.rstrip("/")
            if path == prefix or path.startswith(prefix + "/"):
                return True
        elif selector in case.markers:
            return True
    return False
