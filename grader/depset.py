"""The dependency set a `pyproject.toml` declares: what the environment cache is keyed by.

Teams generated from one template differ in their project's name, authors, description and
tool settings, not in what they install. Keying a dependency environment by the whole file
would give every team its own; keying it by what installs dependencies (the build system,
the project's dependencies, extras and Python range, and any tool table that is not only
configuration of a linter, test runner or packager's file discovery) lets every team with
the same dependencies share one. A project that lists itself (`dev = ["name[train]"]`) is
named `<self>` there, so the name does not split the set.

A `uv.lock` counts the same way (`lock_view`): every package it pins, with the project's own
entry (the one whose source is the checkout) named `<self>` and without its version.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from grader import fs

# What a project says about itself, not about what it installs.
PROJECT_ONLY = {
    "name", "version", "description", "readme", "authors", "maintainers", "license",
    "license-files", "keywords", "classifiers", "urls", "scripts", "gui-scripts",
    "entry-points",
}  # fmt: skip
# Tools whose settings are read when they run (from the checkout), never at install time.
CONFIG_ONLY = {
    "ruff", "black", "isort", "mypy", "pytest", "coverage", "pylint", "flake8", "pyright",
    "codespell", "bandit", "pydocstyle", "docformatter", "interrogate", "commitizen",
}  # fmt: skip
# Where setuptools finds the project's own files: the project is installed anew each run.
SETUPTOOLS_OWN = {"packages", "package-data", "package-dir", "py-modules", "include-package-data"}
SELF = "<self>"
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical_name(name: str) -> str:
    """PEP 503's normalized form: `Wine_Quality.Service` is `wine-quality-service`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_name(text: str) -> str | None:
    project = _parse(text).get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) and NAME.match(name) else None


def dependency_view(text: str) -> bytes | None:
    """The file's dependency set as canonical bytes, or None when it is not valid TOML
    (the raw bytes are then the key)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    own = canonical_name(name) if isinstance(name, str) else None
    view: dict[str, Any] = {k: v for k, v in data.items() if k not in ("project", "tool")}
    if isinstance(project, dict):
        view["project"] = {
            k: _named_self(v, own) for k, v in project.items() if k not in PROJECT_ONLY
        }
    tools = data.get("tool")
    if isinstance(tools, dict):
        view["tool"] = {k: _tool(k, v) for k, v in tools.items() if k not in CONFIG_ONLY}
    return json.dumps(view, sort_keys=True, default=str).encode()


@functools.lru_cache(maxsize=4)
def lock_view(text: str) -> bytes | None:
    """A uv.lock's pinned set as canonical bytes, the project's own name left out; None when
    it is not valid TOML."""
    data = _lock(text)
    if data is None:
        return None
    packages = data.get("package")
    if not isinstance(packages, list):
        return json.dumps(data, sort_keys=True, default=str).encode()
    own = {canonical_name(str(p.get("name"))) for p in packages if _is_checkout(p)}
    pinned = [_locked_self(p, own) for p in packages if isinstance(p, dict)]
    view = {**data, "package": sorted(pinned, key=lambda p: json.dumps(p, sort_keys=True))}
    return json.dumps(view, sort_keys=True, default=str).encode()


def parse_lock(repo: Path) -> None:
    """Read the checkout's uv.lock into this process's caches (a class's lock is about 1 MB
    of TOML: 0.1 to 0.3 s each time it is parsed on a 2-core machine). Done before the
    checks' processes fork, none of them parses it again."""
    text = fs.read_text(repo, "uv.lock")
    if text is not None:
        lock_view(text)  # parses it (`_lock`), and keeps the view the cache keys read


def locked_versions(text: str) -> dict[str, set[str]]:
    """Every version a uv.lock pins of each package, by canonical name (a lock may pin two
    versions of one package, for different Pythons or platforms); empty when it is not
    valid TOML."""
    found: dict[str, set[str]] = {}
    for name, pinned, _ in _pinned(text):
        found.setdefault(name, set()).add(pinned)
    return found


def locked_pins(text: str) -> frozenset[str]:
    """`name==version` of every package a uv.lock pins but the project itself (from the
    checkout); empty when it is not valid TOML."""
    return frozenset(
        f"{name}=={pinned}" for name, pinned, p in _pinned(text) if not _is_checkout(p)
    )


def _pinned(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(canonical name, version, entry) of each package of a uv.lock that names both."""
    data = _lock(text)
    packages = data.get("package") if data is not None else None
    return [
        (canonical_name(package["name"]), package["version"], package)
        for package in (packages if isinstance(packages, list) else ())
        if isinstance(package, dict)
        and isinstance(package.get("name"), str)
        and isinstance(package.get("version"), str)
    ]


@functools.lru_cache(maxsize=4)
def _lock(text: str) -> dict[str, Any] | None:
    """A uv.lock's TOML, parsed once per text (shared: never changed), None when not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _is_checkout(package: Any) -> bool:
    source = package.get("source") if isinstance(package, dict) else None
    return isinstance(source, dict) and any(source.get(k) == "." for k in ("editable", "virtual"))


def _locked_self(value: Any, own: set[str]) -> Any:
    """A lock entry with every `name` of the project itself replaced by `<self>` (and its
    own version dropped)."""
    if isinstance(value, list):
        return [_locked_self(v, own) for v in value]
    if not isinstance(value, dict):
        return value
    named = isinstance(value.get("name"), str) and canonical_name(value["name"]) in own
    entry = {k: _locked_self(v, own) for k, v in value.items()}
    if named:
        entry["name"] = SELF
        if _is_checkout(value):
            entry.pop("version", None)
    return entry


def _tool(name: str, table: Any) -> Any:
    if name == "setuptools" and isinstance(table, dict):
        return {k: v for k, v in table.items() if k not in SETUPTOOLS_OWN}
    return table


def _named_self(value: Any, own: str | None) -> Any:
    """Requirements on the project itself, with its name replaced by `<self>`."""
    if own is None:
        return value
    if isinstance(value, str):
        match = NAME.match(value)
        if match and canonical_name(match.group(1)) == own:
            return SELF + value[match.end() :]
        return value
    if isinstance(value, list):
        return [_named_self(v, own) for v in value]
    if isinstance(value, dict):
        return {k: _named_self(v, own) for k, v in value.items()}
    return value


def _parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
