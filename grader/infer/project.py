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
    _test_command(files, draft)
    _test_paths(files, draft)
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
    command = draft.value("tests.command")
    named = [a for a in _pytest_args(command) if files.exists(a)] if command else []
    if named:
        draft.set("tests.paths", named, draft.found["tests.command"].source, "medium")
        return
    folders = _test_folders(files.glob("test_*.py", "*_test.py"))
    if folders:
        where = "test files at the repository root" if folders == ["."] else "where test files are"
        draft.set("tests.paths", folders, where, "medium")
    else:
        draft.missing("tests.paths", "no test files (test_*.py)")


TEST_DIRS = ("tests", "test", "testing")


def _test_folders(tests: list[str]) -> list[str]:
    """The folders that hold the test files: each file's tests/ (or test/) folder, else its
    own folder; none inside another."""
    folders = set()
    for path in tests:
        parts = path.split("/")[:-1]
        cut = next((i for i, part in enumerate(parts) if part in TEST_DIRS), None)
        folders.add("/".join(parts[: cut + 1]) if cut is not None else "/".join(parts) or ".")
    if "." in folders:
        return ["."]
    return sorted(f for f in folders if not any(f.startswith(o + "/") for o in folders))


def _pytest_args(command: str) -> list[str]:
    """The paths a pytest command names: `pytest tests/unit -q` -> [tests/unit]."""
    words = command.split()
    start = words.index("pytest") + 1 if "pytest" in words else len(words)
    out, skip = [], False
    for word in words[start:]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in ("-k", "-m", "-c", "-p", "--rootdir", "--junitxml", "-o")
        else:
            out.append(word.split("::")[0].rstrip("/"))
    return out


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
