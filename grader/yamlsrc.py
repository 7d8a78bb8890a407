"""Load YAML while remembering the line of every node, for `file:line: field: message` errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.errors import ConfigError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    """One problem found in a config file, at a location inside it."""

    loc: Loc
    message: str


@dataclass
class YamlSource:
    """A parsed YAML document and the line (1-based) of each path in it."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest part of `loc` that exists in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1

    def format(self, issue: Issue) -> str:
        where = format_loc(issue.loc) or "(top level)"
        return f"{self.path}:{self.line_of(issue.loc)}: {where}: {issue.message}"

    def fail(self, issues: list[Issue], kind: str) -> ConfigError:
        ordered = sorted(issues, key=lambda i: (self.line_of(i.loc), format_loc(i.loc)))
        return ConfigError(kind, self.path, [self.format(i) for i in ordered])


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*loc, key.value)
                _walk(value, child, lines)
                lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*loc, index), lines)


def load_yaml(path: Path, kind: str) -> YamlSource:
    """Parse `path`; a syntax error becomes a ConfigError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(kind, path, [f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(kind, path, [f"{path}:{line}: invalid YAML: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(kind, path, [f"{path}:1: invalid YAML: {exc}"]) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return YamlSource(path=path, data=data, lines=lines)


def pydantic_issues(exc: Any) -> list[Issue]:
    """Turn a pydantic ValidationError into Issues (locations kept, messages cleaned)."""
    issues = []
    errors = exc.errors(include_url=False)
    inner = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and loc in inner:
            continue  # the items failed and were dropped; their own errors say why
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        issues.append(Issue(loc, msg))
    return issues
