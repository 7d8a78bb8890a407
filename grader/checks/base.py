"""What every check shares: its params base, its outcome, the context it reads.

A check is one function `(ctx, params) -> Outcome`. It never knows its points: it
reports the fraction of the credit earned, and the runner turns that into a score.
It raises `CheckError` when it cannot judge (the result becomes `error`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from grader.errors import CheckError
from grader.manifest import Manifest
from grader.results import ManifestSource


class Params(BaseModel):
    """Base of every check's params model: unknown params are rubric errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """For checks that take no params."""


class Unmet(Exception):
    """The team's work lacks what the check judges (no `service` section): the check fails
    with this message. Not the grader's problem, unlike CheckError."""


@dataclass(frozen=True)
class Outcome:
    status: Literal["passed", "failed", "skipped"]
    fraction: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    provides: dict[str, Any] = field(default_factory=dict)


def passed(message: str, evidence: dict[str, Any] | None = None, **provides: Any) -> Outcome:
    return Outcome("passed", 1.0, message, evidence or {}, provides)


def failed(message: str, evidence: dict[str, Any] | None = None, fraction: float = 0.0) -> Outcome:
    return Outcome("failed", max(0.0, min(1.0, fraction)), message, evidence or {})


def skipped(message: str, evidence: dict[str, Any] | None = None) -> Outcome:
    return Outcome("skipped", 0.0, message, evidence or {})


def graded(fraction: float, message: str, evidence: dict[str, Any] | None = None) -> Outcome:
    """Passed at full credit, failed (with partial credit) below it."""
    return passed(message, evidence) if fraction >= 1.0 else failed(message, evidence, fraction)


@dataclass
class RunSettings:
    """How checks may reach the outside world (set by the CLI, not by rubrics)."""

    network_mode: str = "published"
    url: str | None = None
    work_dir: Path | None = None
    run_id: str = "local"
    # False where no container engine exists (Gradescope): the checks that need one are
    # skipped as graded by course staff, with nothing at stake in this run.
    engine: bool = True


@dataclass
class Context:
    """What a check reads: the checkout of the graded commit and what earlier checks found."""

    repo: Path
    commit: str | None
    manifest: Manifest | None
    manifest_problem: str | None = None
    settings: RunSettings = field(default_factory=RunSettings)
    # Where the manifest came from: the repository's, a TA's file, or inferred.
    manifest_source: ManifestSource | None = None
    provided: dict[str, Any] = field(default_factory=dict)
    check_id: str = ""

    def need_manifest(self) -> Manifest:
        if self.manifest is None:
            raise CheckError(f"needs a valid capstone.yaml: {self.manifest_problem}")
        return self.manifest

    def need(self, key: str) -> Any:
        """A value an earlier check provided (e.g. the built image), or a CheckError."""
        if key not in self.provided:
            raise CheckError(f"no {key!r} from an earlier check: add it to `needs`")
        return self.provided[key]


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class CheckDef(Generic[P]):
    """One registry entry: the function, its params model and its time limit.

    `listens`: the check starts the team's service on its port (see `grader.hostport`).
    `engine`: the check builds or runs containers, so it cannot run without a container
    engine (checks that need its results depend on it through the rubric's `needs`).
    `exclusive`: the check measures time (latency), so it runs with no other check of the
    team running beside it.
    """

    func: Callable[[Context, P], Outcome]
    params: type[P]
    timeout: float = 60.0
    listens: bool = False
    engine: bool = False
    exclusive: bool = False

    @property
    def title(self) -> str:
        return (inspect.getdoc(self.func) or self.func.__name__).splitlines()[0].rstrip(".")

    @property
    def explanation(self) -> str:
        """What the check means and how to fix it: the docstring after its first line."""
        doc = inspect.getdoc(self.func) or ""
        return "\n".join(doc.splitlines()[1:]).strip()
