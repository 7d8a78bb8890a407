"""A self-contained HTML dashboard of a batch: each team's score, a check-by-team table with
a legend, and links to each team's feedback. Plain HTML and inline CSS, no script, no network.

Rendered from templates/dashboard.html with autoescaping: no team text becomes markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.reports.files import write_atomic
from grader.reports.render import render
from grader.results import CheckResult, TeamOutcome, points

# kind, symbol, meaning: the legend, in the order a TA reads it.
LEGEND = (
    ("passed", "✓", "full points"),
    ("partial", "◐", "failed with partial points"),
    ("failed", "✗", "no points"),
    ("blocked", "⊘", "not run: a check it needs did not pass"),
    ("error", "⚠", "the grader could not judge it; a TA reviews it"),
    ("skipped", "○", "left out of this run"),
    ("missing", "·", "no result for this team (it was not graded)"),
)
SYMBOL = {kind: symbol for kind, symbol, _ in LEGEND}


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    max_points: str


@dataclass(frozen=True)
class Cell:
    id: str
    kind: str
    symbol: str
    points: str
    tip: str


@dataclass(frozen=True)
class TeamRow:
    id: str
    name: str
    status: str
    reason: str
    score: str
    percent: int | None
    commit: str
    has_feedback: bool
    alert: bool


def _name(o: TeamOutcome) -> str:
    """The roster's name for the team; without a roster (the name is the folder's), the name
    the team gave itself in its manifest."""
    if o.name != o.id or o.result is None or not o.result.team:
        return o.name
    return o.result.team


def _team_row(o: TeamOutcome) -> TeamRow:
    r = o.result
    counted = r is not None and o.status != "needs review"
    return TeamRow(
        id=o.id,
        name=_name(o),
        status=o.status,
        reason=o.reason,
        score=f"{points(r.score)} / {points(r.max_score)}" if r and counted else "—",
        percent=round(100 * r.score / r.max_score) if r and counted and r.max_score else None,
        commit=((r.commit if r else o.commit) or "")[:10],
        has_feedback=r is not None,
        alert=r is None or o.status == "needs review",
    )


def kind_of(r: CheckResult) -> str:
    """The legend's kind of a result: a failed check that earned points is `partial`."""
    return "partial" if r.status == "failed" and r.score > 0 else r.status


def _cell(r: CheckResult) -> Cell:
    kind = kind_of(r)
    tip = f"{r.id}: {r.status} {points(r.score)}/{points(r.max_score)}: {r.message}"
    return Cell(r.id, kind, SYMBOL[kind], points(r.score), tip)


def _columns(outcomes: Sequence[TeamOutcome]) -> list[Column]:
    columns: dict[str, Column] = {}
    for o in outcomes:
        for r in o.result.checks if o.result else ():
            columns.setdefault(r.id, Column(r.id, r.title, points(r.max_score)))
    return list(columns.values())


def _summary(outcomes: Sequence[TeamOutcome]) -> str:
    graded = sum(o.status == "graded" and o.result is not None for o in outcomes)
    review = sum(o.status == "needs review" for o in outcomes)
    errors = len(outcomes) - graded
    summary = f"{graded} of {len(outcomes)} teams graded"
    summary += f", {errors} need a TA" if errors else ""
    if review:
        summary += f" ({review} with checks in error: needs review, no score)"
    return summary


def dashboard_html(outcomes: Sequence[TeamOutcome], title: str) -> str:
    columns = _columns(outcomes)
    teams = [_team_row(o) for o in outcomes]
    heat = []
    for o, row in zip(outcomes, teams, strict=True):
        found = {r.id: _cell(r) for r in (o.result.checks if o.result else ())}
        heat.append({"id": o.id, "name": row.name, "cells": [found.get(c.id) for c in columns]})
    return render(
        "dashboard.html",
        title=title,
        summary=_summary(outcomes),
        teams=teams,
        legend=LEGEND,
        columns=columns,
        heat=heat,
    )


def write_dashboard(outcomes: Sequence[TeamOutcome], out: Path, title: str) -> Path:
    return write_atomic(out / "dashboard.html", dashboard_html(outcomes, title))
