"""What the grader measures itself, shared by tracking.reproduce and tracking.evaluate.

A number in the team's tracking store is evidence to compare, never a grade's source:
`tracking.reproduce` (grader/checks/reproduce.py) retrains from the graded commit in the
sandbox, `tracking.evaluate` (grader/checks/evaluate.py) measures the champion on held-out
data. Both compare with what was logged here, within a tolerance, in the metric's direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from grader.checks.base import Params
from grader.checks.tracking import champion_subject
from grader.manifest import PrimaryMetric, Tracking
from grader.mlflowstore import StoreProblem, open_store


class Tolerance(Params):
    abs_tolerance: float = Field(
        0.01, ge=0, description="Largest absolute difference that still agrees."
    )
    rel_tolerance: float = Field(
        0.01, ge=0, description="Largest difference relative to the logged value that agrees."
    )


@dataclass(frozen=True)
class Logged:
    """The primary metric of a champion (the team's, or the grader's reproduction), and
    every other metric its run logged."""

    value: float
    run_id: str
    label: str
    metrics: dict[str, float]


def compare(metric: PrimaryMetric, logged: float, other: float, tol: Tolerance) -> str | None:
    """None when `other` agrees with `logged`; else which is better, by how much."""
    gap = abs(other - logged)
    if gap <= max(tol.abs_tolerance, tol.rel_tolerance * abs(logged)):
        return None
    logged_better = logged > other if metric.direction == "maximize" else logged < other
    limit = f"tolerance {tol.abs_tolerance:g} or {tol.rel_tolerance:.1%}"
    side = "better" if logged_better else "worse"
    return f"the logged value is {side} by {gap:.4g} ({limit})"


def logged_champion(repo: Path, tracking: Tracking) -> Logged:
    """The team's champion and its logged primary metric (StoreProblem when there is none)."""
    with open_store(repo, tracking) as store:
        subject = champion_subject(store, tracking)
    value = subject.run.data.metrics.get(tracking.primary_metric.name)
    if value is None:
        raise StoreProblem(f"{subject.label} did not log {tracking.primary_metric.name}")
    logged = {k: float(v) for k, v in subject.run.data.metrics.items()}
    return Logged(float(value), str(subject.run.info.run_id), subject.label, logged)
