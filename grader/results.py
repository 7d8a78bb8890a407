"""Result records: what a check found and what a whole grading run produced.

Results are data. Reporters render them and never compute scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.roster import Member
from grader.text import plural

Status = Literal["passed", "failed", "error", "blocked", "skipped"]
Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
TeamStatus = Literal["graded", "needs review", "error"]


class Measure(BaseModel):
    """A figure a check measured, or read from the team's tracking: what leaderboards rank
    and the expo shows. Typed, so no report reads it out of free-form evidence."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["metric", "latency_p50_ms", "latency_p95_ms"]
    name: str = Field(description="As shown: the metric's name, or 'p95 latency (ms)'.")
    value: float
    order: Literal["asc", "desc"] = Field(description="asc: lower is better.")
    measured: bool = Field(True, description="False: the team's logged value, not measured.")


class CheckResult(BaseModel):
    """The verdict of one rubric check on one commit."""

    model_config = ConfigDict(frozen=True)

    id: str
    check: str
    title: str
    status: Status
    score: float
    max_score: float
    message: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    duration: float = 0.0
    visibility: Visibility = "visible"
    tags: tuple[str, ...] = ()
    required: bool = False
    regression: bool = False
    inferred: tuple[str, ...] = Field(
        (), description="Manifest values this check read that were inferred, not written."
    )
    blocked_by: str | None = Field(
        None, description="The check whose failure blocked this one, or whose --skip left it out."
    )
    staff_points: float | None = Field(
        None, description="Skipped here: course staff grade it elsewhere, for these points."
    )
    how_to_fix: str = Field("", description="What the check verifies and how to fix it.")
    measures: tuple[Measure, ...] = Field((), description="Figures for leaderboard and expo.")


class ManualResult(BaseModel):
    """A rubric item scored by a TA from a scores file."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    score: float | None
    max_score: float
    level: str | None = None
    comment: str = ""
    visibility: Visibility = "visible"


class ManifestSource(BaseModel):
    """Which manifest a grade used: the repository's, a TA's file, or one inferred."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["repository", "file", "inferred"]
    path: str | None = None
    sha256: str | None = None
    inferred: tuple[str, ...] = Field((), description="Dotted paths of inferred values.")
    todo: dict[str, str] = Field(default_factory=dict, description="What was not found.")
    dropped: tuple[str, ...] = Field((), description="Sections left out: fields missing.")


class LatePenalty(BaseModel):
    model_config = ConfigDict(frozen=True)

    days_late: int
    percent: float
    points: float
    reason: str


class GradeResult(BaseModel):
    """Everything one `grader check` produced for one team at one commit."""

    model_config = ConfigDict(frozen=True)

    grader_version: str
    milestone: str
    rubric: str
    rubric_hash: str
    team: str | None
    target: str
    commit: str | None
    commit_time: str | None
    graded_at: str
    checks: tuple[CheckResult, ...]
    manual: tuple[ManualResult, ...] = ()
    automated_score: float
    manual_score: float
    late: LatePenalty | None = None
    gate: str | None = Field(None, description="Why a required check zeroed the score.")
    score: float
    max_score: float
    execution_time: float
    needs_review: tuple[str, ...] = Field(
        (), description="Why a TA must look (errors, unscored manual items)."
    )
    manifest: ManifestSource | None = None


@dataclass(frozen=True)
class TeamOutcome:
    """What the batch knows about one team: always present, even when grading failed."""

    id: str
    name: str
    source: str
    status: TeamStatus
    reason: str = ""
    commit: str | None = None
    key: str | None = None
    members: tuple[Member, ...] = ()
    duration: float = 0.0
    result: GradeResult | None = field(default=None, compare=False)
    cached: bool = False


def best_measures(result: GradeResult) -> list[Measure]:
    """One measure per name from the checks that ran: a value the grader measured beats one
    the team logged; otherwise the first check's wins."""
    best: dict[str, Measure] = {}
    for r in result.checks:
        if r.status not in ("passed", "failed"):
            continue
        for m in r.measures:
            if m.name not in best or (m.measured and not best[m.name].measured):
                best[m.name] = m
    return list(best.values())


def errored_checks(result: GradeResult) -> tuple[CheckResult, ...]:
    """The checks the grader could not judge: while any is left, the score is not a grade."""
    return tuple(r for r in result.checks if r.status == "error")


def review_reason(result: GradeResult) -> str:
    """Which checks are in error and why, for a TA: '' when none is."""
    errors = errored_checks(result)
    if not errors:
        return ""
    points = sum(r.max_score for r in errors)
    details = "; ".join(f"{r.id}: {_short(r.message)}" for r in errors)
    count = f"{len(errors)} check{'s' if len(errors) != 1 else ''}"
    return (
        f"{count} in error ({points:g} points not graded; {result.score:g}/{result.max_score:g}"
        f" if they count as 0): {details}"
    )


def points(value: float) -> str:
    """Points as people write them: at most two decimals, no trailing zeros (0.37, 10)."""
    return f"{round(value, 2):g}"


def score_text(result: GradeResult) -> str:
    """'65.37 / 100', or with manual items not scored yet '65.37 of 85 automated points
    (15 manual points pending)': a pending item is not a zero."""
    pending = sum(m.max_score for m in result.manual if m.score is None)
    if not pending:
        return f"{points(result.score)} / {points(result.max_score)}"
    scored = result.max_score - pending
    return (
        f"{points(result.score)} of {points(scored)} automated points"
        f" ({points(pending)} manual points pending)"
    )


def accepted_note(result: GradeResult) -> str:
    """The note of a score whose checks in error a TA accepted as zero: '' when none is."""
    errors = errored_checks(result)
    if not errors:
        return ""
    points = sum(r.max_score for r in errors)
    ids = ", ".join(r.id for r in errors)
    return f"errors accepted as zero: {ids} ({points:g} points)"


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def inferred_note(result: GradeResult) -> str:
    """'' unless the grade used an inferred manifest; else what a TA should review."""
    source = result.manifest
    if source is None or source.kind != "inferred":
        return ""
    marked = [r.id for r in result.checks if r.inferred]
    found = len(source.inferred)
    text = (
        f"the repository has no capstone.yaml; {plural(found, 'value')}"
        f" {'was' if found == 1 else 'were'} inferred from its files"
        f" and {len(source.todo)} could not be found"
    )
    if source.dropped:
        text += f" (left out: {', '.join(source.dropped)})"
    if marked:
        text += f"; {plural(len(marked), 'check')} used inferred values: {', '.join(marked)}"
    return text + ". Review them: grader manifest init REPO --out FILE, then --manifest FILE."
