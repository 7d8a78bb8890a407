"""The team's feedback, in Markdown (feedback.md) and HTML (feedback.html): what passed,
what failed and how to fix it. Both render the same rows from templates/.

Hidden and after-publication checks show only their name and score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.reports.dashboard import SYMBOL, kind_of
from grader.reports.files import write_atomic
from grader.reports.render import render
from grader.results import CheckResult, GradeResult, points, score_text

ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "blocked": "⛔", "skipped": "⏭️"}


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    status: str  # '' when the check's details are hidden
    icon: str
    symbol: str
    kind: str
    points: str
    details: str
    fix: bool


@dataclass(frozen=True)
class Fix:
    id: str
    title: str
    message: str
    how: str


def _secret(r: CheckResult) -> bool:
    return r.visibility in ("hidden", "after_published")


def _details(r: CheckResult) -> str:
    if _secret(r):
        return "(details hidden)"
    text = r.message
    if r.inferred:
        shown = ", ".join(r.inferred[:6]) + (", …" if len(r.inferred) > 6 else "")
        text += f" (graded with inferred values: {shown})"
    return text


def _needs_fix(r: CheckResult) -> bool:
    return r.status in ("failed", "blocked") and not _secret(r)


def _row(r: CheckResult) -> Row:
    kind = kind_of(r)
    return Row(
        id=r.id,
        title=r.title,
        status="" if _secret(r) else r.status,
        icon=ICON[r.status],
        symbol=SYMBOL[kind],
        kind="" if _secret(r) else kind,
        points=f"{points(r.score)} / {points(r.max_score)}",
        details=_details(r),
        fix=_needs_fix(r),
    )


def _context(result: GradeResult) -> dict[str, Any]:
    inferred = result.manifest if result.manifest and result.manifest.kind == "inferred" else None
    manual = [
        {
            "title": m.title,
            "points": "not scored yet"
            if m.score is None
            else f"{points(m.score)} / {points(m.max_score)}",
            "level": m.level or "",
            "comment": m.comment,
        }
        for m in result.manual
    ]
    fixes = [Fix(r.id, r.title, r.message, r.how_to_fix) for r in result.checks if _needs_fix(r)]
    return {
        "r": result,
        "score": score_text(result),
        "errors": any(r.status == "error" for r in result.checks),
        "inferred": inferred,
        "rows": [_row(r) for r in result.checks],
        "manual": manual,
        "fixes": fixes,
    }


def feedback_markdown(result: GradeResult) -> str:
    return render("feedback.md", **_context(result)).rstrip() + "\n"


def feedback_html(result: GradeResult) -> str:
    return render("feedback.html", **_context(result))


def write_feedback(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, feedback_markdown(result))


def write_feedback_html(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, feedback_html(result))
