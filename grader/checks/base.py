"""What every check shares: its params base, its outcome, the context it reads.

A check is one function `(ctx, params) -> Outcome`. It never knows its points: it
reports the fraction of the credit earned, and the runner turns that into a score.
It raises `CheckError` when it cannot judge (the result becomes `error`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from grader.errors import CheckError
from grader.manifest import Manifest
from grader.metrics import Measured
from grader.results import ManifestSource, Measure
from grader.suitereport import SuiteReport

if TYPE_CHECKING:
    from grader.engine import NetworkMode


class Params(BaseModel):
    """Base of every check's params model: unknown params are rubric errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(Params):
    """For checks that take no params."""


class Unmet(Exception):
    """The team's work lacks what the check judges (no `service` section): the check fails
    with this message. Not the grader's problem, unlike CheckError."""


# What one check hands the checks that need it. A check declares the keys it provides and
# requires in the registry; a rubric whose `needs` cannot supply them does not load.
Key = Literal[
    "image",
    "service_url",
    "service_container",
    "test_report",
    "measured_metric",
    "champion_examples",
]
KEYS: dict[Key, str] = {
    "image": "the team's built image",
    "service_url": "the running service's URL",
    "service_container": "the running service's container",
    "test_report": "the test suite's report",
    "measured_metric": "the primary metric the grader measured",
    "champion_examples": "the champion's predictions for the manifest's examples",
}


@dataclass(frozen=True)
class ChampionExamples:
    """What the champion predicted for the manifest's example records, in the sandbox run
    of the check that loaded it to measure it: the check that compares it with the service
    reuses them instead of loading the same model again (when all of this matches)."""

    model: str  # registered name, version and source of the model version
    sandbox: tuple[str, str | None]  # the image and setup it was loaded with
    records: tuple[dict[str, Any], ...]
    answer: list[Any] | str  # its predictions, or why it could not predict them
    environment: str
    by: str  # the id of the check that predicted them


@dataclass(frozen=True)
class Provided:
    """The typed values checks hand each other (None: not provided by any check so far)."""

    image: str | None = None  # container.build
    service_url: str | None = None  # service.starts
    service_container: str | None = None  # service.starts, when it runs the image
    test_report: SuiteReport | None = None  # tests.run
    measured_metric: Measured | None = None  # tracking.evaluate
    champion_examples: ChampionExamples | None = None  # tracking.evaluate

    def given(self) -> frozenset[Key]:
        """The keys this record sets."""
        return frozenset(k for k in KEYS if getattr(self, k) is not None)

    def merged(self, later: Provided) -> Provided:
        """This record with every value `later` sets."""
        return dataclasses.replace(self, **{k: getattr(later, k) for k in later.given()})


@dataclass(frozen=True)
class Outcome:
    status: Literal["passed", "failed", "skipped"]
    fraction: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    provides: Provided = field(default_factory=Provided)
    measures: tuple[Measure, ...] = ()  # figures for leaderboards and the expo

    def measuring(self, *measures: Measure) -> Outcome:
        """This outcome with the figures it measured."""
        return dataclasses.replace(self, measures=(*self.measures, *measures))


def passed(
    message: str, evidence: dict[str, Any] | None = None, provides: Provided | None = None
) -> Outcome:
    return Outcome("passed", 1.0, message, evidence or {}, provides or Provided())


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

    network_mode: NetworkMode = "published"  # decided once by the CLI (decide_network)
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
    provided: Provided = field(default_factory=Provided)
    check_id: str = ""

    def need_manifest(self) -> Manifest:
        if self.manifest is None:
            raise CheckError(f"needs a valid capstone.yaml: {self.manifest_problem}")
        return self.manifest

    @overload
    def need(self, key: Literal["image", "service_url", "service_container"]) -> str: ...
    @overload
    def need(self, key: Literal["test_report"]) -> SuiteReport: ...
    @overload
    def need(self, key: Literal["measured_metric"]) -> Measured: ...
    def need(self, key: Key) -> object:
        """A value an earlier check provided (e.g. the built image), or a CheckError (a
        rubric that loaded has a check in `needs` that provides it: it did not pass)."""
        value = getattr(self.provided, key)
        if value is None:
            raise CheckError(f"no {key!r} from an earlier check: add it to `needs`")
        return value


P = TypeVar("P", bound=Params)


@dataclass(frozen=True)
class CheckDef(Generic[P]):
    """One registry entry: the function, its params model and its time limit.

    `listens`: the check starts the team's service on its port (see `grader.hostport`).
    `engine`: the check builds or runs containers, so it cannot run without a container
    engine (checks that need its results depend on it through the rubric's `needs`).
    `exclusive`: the check measures time (latency), so it runs with no other check of the
    team running beside it.
    `provides`: the values its outcome hands the checks that need it; `requires`: the
    values it reads, which a check in its `needs` (directly or through theirs) must provide.
    `preload`: heavy modules it imports, loaded once before the checks' processes fork (in
    a batch, once in the fork server for the class); a module of the grader's may do a
    one-time set-up when imported (`grader.mlflowwarm`);
    `http`: it makes HTTP(S) calls (the TLS context is built once, before forking).
    """

    func: Callable[[Context, P], Outcome]
    params: type[P]
    timeout: float = 60.0
    listens: bool = False
    engine: bool = False
    exclusive: bool = False
    provides: frozenset[Key] = frozenset()
    requires: frozenset[Key] = frozenset()
    preload: tuple[str, ...] = ()
    http: bool = False

    @property
    def title(self) -> str:
        return (inspect.getdoc(self.func) or self.func.__name__).splitlines()[0].rstrip(".")

    @property
    def explanation(self) -> str:
        """What the check means and how to fix it: the docstring after its first line."""
        doc = inspect.getdoc(self.func) or ""
        return "\n".join(doc.splitlines()[1:]).strip()

    def explanation_for(self, params: Params) -> str:
        """The explanation with each `param` it names replaced by this rubric's value
        ("at least 150 words", not "at least `min_words` words"); unset ones stay named."""
        values = params.model_dump()

        def value(match: re.Match[str]) -> str:
            found = values.get(match[1])
            if isinstance(found, bool) or not isinstance(found, int | float | str):
                return match[0]  # unset, or not one value (a list, a mapping)
            return f"{found:g}" if isinstance(found, float) else str(found)

        return re.sub(r"`(\w+)`", value, self.explanation)
