"""results.json in Gradescope's autograder format, with our own record in `extra_data`.

Gradescope's specification (gradescope-autograders.readthedocs.io, "Autograder
Specifications") reads, at the top level: score, execution_time, output, output_format,
test_output_format, test_name_format, visibility, stdout_visibility, extra_data, tests[]
and leaderboard[]; per test: score, max_score, status (`passed` or `failed` only),
name, name_format, number, output, output_format, tags, visibility and extra_data; per
leaderboard entry: name, value and order (`asc` or `desc`).

Our five statuses map onto that as follows. `passed` and `failed` are themselves;
`blocked` is failed at 0 points; `skipped` puts nothing at stake (0 of 0, no status);
`error` (the grader could not judge) is never shown as a 0: the test has no score, says
"pending review by course staff", and the top-level score leaves its points out until
staff grade it. The whole GradeResult rides along in `extra_data.grader` (`read_grade`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from grader.reports.files import write_atomic
from grader.results import CheckResult, GradeResult, ManualResult, best_measures

FORMAT = "md"  # Gradescope renders basic Markdown in outputs with this format
PENDING = "Pending review by course staff"
STAFF = "Graded by course staff"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|])|^([#>+-])", re.MULTILINE)


def md_text(text: str) -> str:
    """Plain text (a check's message) made safe to embed in Markdown."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def staff_points(r: CheckResult) -> float | None:
    """Points of a check skipped because course staff grade it elsewhere (needs Docker)."""
    return r.staff_points if r.status == "skipped" else None


def _explanation(r: CheckResult) -> str:
    return r.how_to_fix


def _test_output(r: CheckResult) -> str:
    message = md_text(r.message)
    if r.status == "error":
        return (
            f"**{PENDING}.** The grader could not judge this check (a problem on the grading"
            f" side, not a verdict on your work): its {r.max_score:g} points are not counted"
            f" yet.\n\nWhat happened: {message}"
        )
    if staff_points(r) is not None:
        return (
            f"**{STAFF}.** This check needs a Docker engine, which Gradescope does not have;"
            f" staff grade it with `grader check`. Its {staff_points(r):g} points are not"
            " part of the autograder score."
        )
    if r.status == "skipped":
        return f"Skipped, nothing at stake: {message}"
    if r.status in ("failed", "blocked"):
        how = _explanation(r)
        return f"**Result:** {message}" + (f"\n\n**How to fix:** {how}" if how else "")
    return message


def _visibility(r: CheckResult) -> str:
    """The rubric's, except that a staff-graded check shows no result yet: a test held back
    until the due date or publication would hide the student's whole total meanwhile."""
    if staff_points(r) is not None and r.visibility in ("after_due_date", "after_published"):
        return "visible"
    return r.visibility


def _test(r: CheckResult, number: int, commit: str | None) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": f"{r.id}: {r.title}",
        "name_format": "text",
        "number": str(number),
    }
    if r.status == "skipped":
        test.update(score=0.0, max_score=0.0)  # nothing at stake here; no pass/fail either
    elif r.status != "error":  # an error's points wait for staff: no score, not a 0
        test.update(
            score=r.score,
            max_score=r.max_score,
            status="passed" if r.status == "passed" else "failed",
        )
    else:
        test["status"] = "failed"
    test.update(
        output=_test_output(r),
        output_format=FORMAT,
        tags=list(r.tags),
        visibility=_visibility(r),
        extra_data={
            "id": r.id,
            "check": r.check,
            "status": r.status,
            "evidence": r.evidence,
            "duration": r.duration,
            "commit": commit,
            "required": r.required,
            **({"staff_note": f"grader error: {r.message}"} if r.status == "error" else {}),
        },
    )
    return test


def _manual(m: ManualResult, number: int) -> dict[str, Any]:
    score = m.score or 0.0
    level = f" ({m.level})" if m.level else ""
    comment = f" {md_text(m.comment)}" if m.comment else ""
    return {
        "name": f"{m.id}: {m.title}",
        "name_format": "text",
        "number": str(number),
        "score": score,
        "max_score": m.max_score,
        "status": "passed" if score >= m.max_score else "failed",
        "output": f"Scored by staff{level}.{comment}",
        "output_format": FORMAT,
        "tags": ["manual"],
        "visibility": m.visibility,
        "extra_data": {"id": m.id, "status": "manual", "level": m.level},
    }


def leaderboard(result: GradeResult) -> list[dict[str, Any]]:
    """Gradescope's leaderboard: one entry per measure name (a value the grader measured
    beats one the team logged)."""
    return [{"name": m.name, "value": m.value, "order": m.order} for m in best_measures(result)]


def _output(result: GradeResult) -> str:
    commit = f"`{result.commit[:12]}`" if result.commit else "(not a git repository)"
    lines = [
        f"**Milestone {md_text(result.milestone)}**, graded at commit {commit}.",
        "",
        f"**Score: {result.score:g} / {result.max_score:g}**",
        "",
    ]
    errors = [r for r in result.checks if r.status == "error"]
    if errors:
        ids = ", ".join(md_text(r.id) for r in errors)
        points = sum(r.max_score for r in errors)
        lines.append(
            f"- **{PENDING}:** {ids} could not be graded automatically; their {points:g}"
            " points are not counted yet. This is not a 0: staff will grade them."
        )
    staff = [r for r in result.checks if staff_points(r) is not None]
    if staff:
        ids = ", ".join(md_text(r.id) for r in staff)
        points = sum(staff_points(r) or 0.0 for r in staff)
        lines.append(
            f"- **{STAFF}:** {ids} ({points:g} points) need a Docker engine, which Gradescope"
            " does not have. Their points are not part of this score; staff grade them"
            " separately."
        )
    unscored = [m for m in result.manual if m.score is None]
    if unscored:
        ids = ", ".join(md_text(m.id) for m in unscored)
        points = sum(m.max_score for m in unscored)
        lines.append(f"- Scored by staff later: {ids} ({points:g} points).")
    if result.gate:
        lines.append(f"- Score set to 0 by a required check: {md_text(result.gate)}")
    if result.late:
        lines.append(f"- Late: {md_text(result.late.reason)}")
    return "\n".join(lines).rstrip() + "\n"


def results_json(result: GradeResult) -> dict[str, Any]:
    tests = [_test(r, i, result.commit) for i, r in enumerate(result.checks, 1)]
    scored = [m for m in result.manual if m.score is not None]
    tests += [_manual(m, i) for i, m in enumerate(scored, len(tests) + 1)]
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 3),
        "output": _output(result),
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "grader": result.model_dump(mode="json"),
            "needs_review": list(result.needs_review),
        },
        "tests": tests,
        "leaderboard": leaderboard(result),
    }


def pending_review_json(
    reason: str, detail: str = "", execution_time: float = 0.0
) -> dict[str, Any]:
    """results.json for a submission the grader could not grade at all (it crashed).

    Gradescope needs a score; it is kept from students until staff publish grades (the
    top-level visibility), and the one visible test says the grade is pending review.
    """
    note = (
        f"**{PENDING}.** The autograder could not grade this submission (a problem on the"
        " grading side, not a verdict on your work). Your score is not shown until course"
        " staff have looked at it; you do not need to resubmit."
    )
    return {
        "score": 0.0,
        "execution_time": execution_time,
        "output": note,
        "output_format": FORMAT,
        "test_output_format": FORMAT,
        "test_name_format": "text",
        "visibility": "after_published",
        "stdout_visibility": "hidden",
        "extra_data": {"grader_error": reason, "detail": detail, "needs_review": [reason]},
        "tests": [
            {
                "name": PENDING,
                "name_format": "text",
                "number": "1",
                "status": "failed",
                "output": note,
                "output_format": FORMAT,
                "tags": ["pending-review"],
                "visibility": "visible",
                "extra_data": {"staff_note": reason},
            }
        ],
        "leaderboard": [],
    }


def write_results_json(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, json.dumps(results_json(result), indent=2) + "\n")


def write_pending_review(
    path: Path, reason: str, detail: str = "", execution_time: float = 0.0
) -> Path:
    data = pending_review_json(reason, detail, execution_time)
    return write_atomic(path, json.dumps(data, indent=2) + "\n")


def read_grade(path: Path) -> GradeResult:
    """The GradeResult stored in a results.json this grader wrote."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return GradeResult.model_validate(data["extra_data"]["grader"])
