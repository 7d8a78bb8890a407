"""A draft manifest: each inferred value with where it came from and how sure the guess is.

Inference never runs team code: it reads files. A value is kept with its source (file and
line) and a confidence; a field it could not find is a TODO with the reason, never a guess
that looks like a fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Sure = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class Finding:
    value: Any
    source: str  # "Dockerfile:4", "app/main.py:12", "git log"
    sure: Sure = "high"


@dataclass
class Draft:
    """Dotted manifest paths ("service.port") to findings, and TODOs for what is missing."""

    found: dict[str, Finding] = field(default_factory=dict)
    todo: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)  # section -> comment lines

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    def set(self, path: str, value: Any, source: str, sure: Sure = "high") -> None:
        """Keep the first finding for a path: callers try the strongest evidence first."""
        if path not in self.found:
            self.found[path] = Finding(value, source, sure)
            self.todo.pop(path, None)

    def missing(self, path: str, reason: str) -> None:
        if path not in self.found:
            self.todo.setdefault(path, reason)

    def value(self, path: str, default: Any = None) -> Any:
        finding = self.found.get(path)
        return default if finding is None else finding.value

    def has(self, path: str) -> bool:
        return path in self.found

    def inferred_paths(self) -> list[str]:
        return sorted(self.found)

    def data(self) -> dict[str, Any]:
        """The nested manifest data the findings make (TODOs left out)."""
        out: dict[str, Any] = {"version": 1}
        for path, finding in self.found.items():
            node = out
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = finding.value
        return out
