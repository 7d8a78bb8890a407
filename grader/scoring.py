"""Turn check results into a grade: required gates, manual scores, the late policy."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grader.errors import ConfigError
from grader.results import CheckResult, LatePenalty, ManualResult
from grader.rubric import LatePolicy, ManualItem, Rubric
from grader.yamlsrc import load_yaml


@dataclass(frozen=True)
class ManualScore:
    score: float | None
    level: str | None
    comment: str


@dataclass(frozen=True)
class Totals:
    automated: float
    manual: float
    late: LatePenalty | None
    gate: str | None
    score: float
    needs_review: tuple[str, ...]


def total(
    rubric: Rubric,
    results: list[CheckResult],
    manual: list[ManualResult],
    commit_time: datetime | None,
) -> Totals:
    automated = sum(r.score for r in results)
    review = [f"{r.id}: grader error: {r.message}" for r in results if r.status == "error"]
    review += [f"{m.id}: manual item not scored" for m in manual if m.score is None]
    gate = next(
        (
            f"required check {r.id} {r.status}: {r.message}"
            for r in results
            if r.required and r.status in ("failed", "blocked")
        ),
        None,
    )
    if gate:
        automated = 0.0
    manual_points = sum(m.score or 0.0 for m in manual)
    late = late_penalty(rubric.deadline, rubric.late_policy, commit_time, automated + manual_points)
    score = max(0.0, automated + manual_points - (late.points if late else 0.0))
    return Totals(
        round(automated, 4),
        round(manual_points, 4),
        late,
        gate,
        round(score, 4),
        tuple(review),
    )


def late_penalty(
    deadline: datetime | None,
    policy: LatePolicy | None,
    commit_time: datetime | None,
    points: float,
) -> LatePenalty | None:
    """Percent per started day after deadline + grace, capped; None when on time."""
    if deadline is None or policy is None or commit_time is None:
        return None
    deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=UTC)
    late_by = commit_time - deadline - timedelta(days=policy.grace_days)
    if late_by <= timedelta(0):
        return None
    days = math.ceil(late_by / timedelta(days=1))
    percent = min(policy.max_percent, days * policy.percent_per_day)
    reason = f"committed {days} day{'s' if days != 1 else ''} after the deadline: -{percent:g}%"
    return LatePenalty(
        days_late=days, percent=percent, points=round(points * percent / 100, 4), reason=reason
    )


def manual_results(rubric: Rubric, scores: dict[str, ManualScore] | None) -> list[ManualResult]:
    out = []
    for item in rubric.manual:
        got = (scores or {}).get(item.id)
        out.append(
            ManualResult(
                id=item.id,
                title=item.title,
                score=got.score if got else None,
                max_score=item.points,
                level=got.level if got else None,
                comment=got.comment if got else "",
                visibility=item.visibility,
            )
        )
    return out


def load_manual_scores(
    path: Path, rubric: Rubric, team: str | None = None
) -> dict[str, ManualScore]:
    """Read manual scores from YAML (`item: score` or `item: {level|score, comment}`) or CSV.

    A CSV has columns item, score or level, optional comment, and an optional team
    column (rows of other teams are ignored). Every problem names its line.
    """
    items = {m.id: m for m in rubric.manual}
    if path.suffix.lower() == ".csv":
        rows, problems = _csv_rows(path, team)
    else:
        rows, problems = _yaml_rows(path)
    scores: dict[str, ManualScore] = {}
    for line, item_id, raw in rows:
        item = items.get(item_id)
        if item is None:
            problems.append(f"{path}:{line}: {item_id}: not a manual item of {rubric.milestone}")
            continue
        try:
            scores[item_id] = _score(item, raw)
        except ValueError as exc:
            problems.append(f"{path}:{line}: {item_id}: {exc}")
    if problems:
        raise ConfigError("scores file", path, problems)
    return scores


def _score(item: ManualItem, raw: dict[str, Any]) -> ManualScore:
    comment = str(raw.get("comment") or "")
    level = raw.get("level")
    if level not in (None, ""):
        match = next((lv for lv in item.levels if lv.label.lower() == str(level).lower()), None)
        if match is None:
            labels = ", ".join(lv.label for lv in item.levels) or "none defined"
            raise ValueError(f"unknown level {level!r} (levels: {labels})")
        return ManualScore(match.points, match.label, comment)
    try:
        value = float(raw.get("score"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"score must be a number, got {raw.get('score')!r}") from None
    if not 0 <= value <= item.points:
        raise ValueError(f"score {value:g} is outside 0..{item.points:g}")
    return ManualScore(value, None, comment)


def _csv_rows(
    path: Path, team: str | None
) -> tuple[list[tuple[int, str, dict[str, Any]]], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        return [], [f"{path}: cannot read: {exc.strerror}"]
    reader = csv.DictReader(text.splitlines())
    fields = reader.fieldnames or []
    if "item" not in fields or not ({"score", "level"} & set(fields)):
        return [], [f"{path}:1: header must have `item` and `score` or `level` columns"]
    rows = []
    for row in reader:
        if team and row.get("team") and row["team"] != team:
            continue
        rows.append((reader.line_num, (row.get("item") or "").strip(), dict(row)))
    return rows, []


def _yaml_rows(path: Path) -> tuple[list[tuple[int, str, dict[str, Any]]], list[str]]:
    source = load_yaml(path, "scores file")
    if not isinstance(source.data, dict):
        return [], [f"{path}:1: expected a mapping of item id to score"]
    rows = []
    for key, value in source.data.items():
        raw = value if isinstance(value, dict) else {"score": value}
        rows.append((source.line_of((str(key),)), str(key), raw))
    return rows, []


def now_utc() -> datetime:
    return datetime.now(UTC)
