"""Class-level CSVs: the gradebook (a row per team, always, and per member), a file an LMS
imports (Canvas's gradebook columns), and per-check item analysis.

A team whose grading failed keeps its row with status `error` and an empty score; a team
with a check in error has the status `needs review`, an empty score and the checks and why
in `reason`: a TA must look, and an empty cell is never mistaken for a zero.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.reports.files import write_atomic
from grader.results import CheckResult, TeamOutcome

GRADEBOOK_COLUMNS = (
    "kind",
    "team",
    "name",
    "email",
    "github",
    "canvas_user_id",
    "sis_user_id",
    "status",
    "score",
    "max_score",
    "percent",
    "late_points",
    "commit",
    "graded_at",
    "needs_review",
    "reason",
)
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
ITEM_COLUMNS = (
    "check",
    "title",
    "max_score",
    "teams",
    "passed",
    "failed",
    "error",
    "blocked",
    "skipped",
    "pass_rate",
    "mean_score",
    "most_common_failure",
    "failure_count",
)
NOT_PASSED = ("failed", "error", "blocked")


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def _team_cells(o: TeamOutcome) -> list[str]:
    r = o.result
    if r is None:
        return [o.status, "", "", "", "", o.commit or "", "", "", o.reason]
    graded = o.status == "graded"
    percent = 100 * r.score / r.max_score if r.max_score and graded else None
    late = r.late.points if r.late else None
    return [
        o.status,
        _num(r.score) if graded else "",
        _num(r.max_score),
        _num(percent),
        _num(late),
        r.commit or "",
        r.graded_at,
        "; ".join(r.needs_review),
        o.reason,
    ]


def gradebook_rows(outcomes: Sequence[TeamOutcome]) -> list[list[str]]:
    rows = []
    for o in outcomes:
        cells = _team_cells(o)
        rows.append(["team", o.id, o.name, "", "", "", "", *cells])
        rows += [
            ["member", o.id, m.name, m.email, m.github, m.canvas_user_id, m.sis_user_id, *cells]
            for m in o.members
        ]
    return rows


def gradebook_csv(outcomes: Sequence[TeamOutcome]) -> str:
    return _csv(GRADEBOOK_COLUMNS, gradebook_rows(outcomes))


def canvas_column(milestone: str, assignment_id: str | None) -> str:
    """The assignment's column as Canvas's gradebook export names it: `Title (ID)`. Canvas's
    importer matches the id in parentheses to the assignment; a bare title is matched by
    name, or makes a new assignment."""
    title = f"Milestone {milestone}"
    return f"{title} ({assignment_id})" if assignment_id else title


def canvas_csv(outcomes: Sequence[TeamOutcome], assignment: str) -> str:
    """Canvas's gradebook import: the student columns of its export (Student, ID = Canvas user
    id, SIS User ID, SIS Login ID = email, Section = team), a Points Possible row, and one
    assignment column. A team whose grading errored or that needs review keeps an empty
    cell: Canvas leaves an empty cell alone, where a 0 would overwrite a grade."""
    graded = [o for o in outcomes if o.status == "graded" and o.result is not None]
    max_score = graded[0].result.max_score if graded and graded[0].result else None
    rows: list[list[str]] = [["Points Possible", "", "", "", "", _num(max_score)]]
    for o in outcomes:
        score = _num(o.result.score) if o.status == "graded" and o.result else ""
        rows += [[m.name, m.canvas_user_id, m.sis_user_id, m.email, o.id, score] for m in o.members]
    return _csv((*CANVAS_COLUMNS, assignment), rows)


def _item_row(check_id: str, results: list[CheckResult]) -> list[str]:
    counts = Counter(r.status for r in results)
    failures = Counter(r.message for r in results if r.status in NOT_PASSED)
    common, count = failures.most_common(1)[0] if failures else ("", 0)
    graded = len(results) - counts["skipped"]
    return [
        check_id,
        results[0].title,
        _num(results[0].max_score),
        str(len(results)),
        *(str(counts[s]) for s in ("passed", "failed", "error", "blocked", "skipped")),
        _num(counts["passed"] / graded) if graded else "",
        _num(sum(r.score for r in results) / len(results)),
        common,
        str(count),
    ]


def items_csv(outcomes: Sequence[TeamOutcome]) -> str:
    """Item analysis over the teams that were graded: which checks the class struggles with."""
    by_check: dict[str, list[CheckResult]] = {}
    for o in outcomes:
        for r in o.result.checks if o.result else ():
            by_check.setdefault(r.id, []).append(r)
    return _csv(ITEM_COLUMNS, [_item_row(cid, rs) for cid, rs in by_check.items()])


def write_gradebooks(
    outcomes: Sequence[TeamOutcome], out: Path, assignment: str
) -> dict[str, Path]:
    return {
        "gradebook": write_atomic(out / "gradebook.csv", gradebook_csv(outcomes)),
        "canvas": write_atomic(out / "canvas.csv", canvas_csv(outcomes, assignment)),
        "items": write_atomic(out / "items.csv", items_csv(outcomes)),
    }
