"""The test suite and the Python it runs on: pytest configuration, CI steps, test folders,
requirement files, `.python-version` and `requires-python`."""

from __future__ import annotations

import configparser
import re
import tomllib
from typing import Any

import yaml

from grader.infer.draft import Draft
from grader.infer.files import RepoFiles

PYTEST_LINE = re.compile(r"^(?:python3?\s+-m\s+)?pytest(?:\s|$)")
REQUIRES_PYTHON = re.compile(r"(\d+\.\d+)")


def infer_project(files: RepoFiles, draft: Draft) -> None:
    _python(files, draft)
    _test_paths(files, draft)
    _test_command(files, draft)
    _requirements(files, draft)


def _python(files: RepoFiles, draft: Draft) -> None:
    version = (files.text(".python-version") or "").strip()
    if re.match(r"^\d+\.\d+", version):
        draft.set("tests.python", ".".join(version.split(".")[:2]), ".python-version")
        return
    project = _pyproject(files).get("project", {})
    requires = project.get("requires-python") if isinstance(project, dict) else None
    if isinstance(requires, str) and (match := REQUIRES_PYTHON.search(requires)):
        draft.set("tests.python", match.group(1), "pyproject.toml (requires-python)", "medium")


def _pyproject(files: RepoFiles) -> dict[str, Any]:
    try:
        return tomllib.loads(files.text("pyproject.toml") or "")
    except tomllib.TOMLDecodeError:
        return {}


def _test_paths(files: RepoFiles, draft: Draft) -> None:
    options = _pyproject(files).get("tool", {}).get("pytest", {}).get("ini_options", {})
    testpaths = options.get("testpaths") if isinstance(options, dict) else None
    if testpaths:
        paths = [testpaths] if isinstance(testpaths, str) else list(testpaths)
        draft.set("tests.paths", paths, "pyproject.toml (tool.pytest.ini_options.testpaths)")
        return
    for name, section in (
        ("pytest.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
        ("tox.ini", "pytest"),
    ):
        parser = configparser.ConfigParser()
        try:
            parser.read_string(files.text(name) or "")
        except configparser.Error:
            continue
        if parser.has_option(section, "testpaths"):
            draft.set(
                "tests.paths", parser.get(section, "testpaths").split(), f"{name} (testpaths)"
            )
            return
    tests = sorted({p.split("/")[0] for p in files.glob("test_*.py", "*_test.py") if "/" in p})
    folders = [t for t in tests if t in ("tests", "test", "testing")]
    if folders:
        draft.set("tests.paths", folders, f"{folders[0]}/ holds test files", "medium")
    elif files.glob("test_*.py"):
        draft.set("tests.paths", ["."], "test files at the repository root", "medium")
    else:
        draft.missing("tests.paths", "no test files (test_*.py)")


def _test_command(files: RepoFiles, draft: Draft) -> None:
    for rel in files.workflows():
        try:
            data = yaml.safe_load(files.text(rel) or "")
        except yaml.YAMLError:
            continue
        for number, command in _run_lines(data, files.text(rel) or ""):
            if PYTEST_LINE.match(command):
                draft.set("tests.command", command, f"{rel}:{number}", "medium")
                return
    if files.glob("test_*.py", "*_test.py"):
        draft.set("tests.command", "pytest", "pytest runs the test files it finds", "medium")


def _run_lines(data: Any, text: str) -> list[tuple[int, str]]:
    """Each line of each `run:` step, with its line number in the workflow file."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    jobs = data.get("jobs") if isinstance(data, dict) else None
    for job in (jobs or {}).values():
        for step in (job or {}).get("steps") or [] if isinstance(job, dict) else []:
            run = step.get("run") if isinstance(step, dict) else None
            if not isinstance(run, str):
                continue
            for command in run.splitlines():
                command = command.strip()
                number = next((i for i, t in enumerate(lines, 1) if command and command in t), 0)
                if command:
                    out.append((number, command))
    return out


def _requirements(files: RepoFiles, draft: Draft) -> None:
    found = [p for p in files.glob("requirements*.txt", "requirements/*.txt") if p.count("/") <= 1]
    if isinstance(_pyproject(files).get("project"), dict):
        draft.note("tests", "pyproject.toml declares the project: the suite installs it")
    elif found:
        ordered = sorted(found, key=lambda p: ("dev" not in p and "test" not in p, p))
        draft.set("tests.requirements", sorted(ordered), ordered[0], "medium")
