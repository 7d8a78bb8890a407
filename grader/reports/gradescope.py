"""results.json: Gradescope's autograder format, plus our own record in `extra_data`.

Gradescope reads score, execution_time, output, visibility, stdout_visibility, tests[]
and leaderboard; test status is only `passed` or `failed` there, so our five statuses
go into each test's extra_data. The file uploads to Gradescope unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.reports.files import write_atomic
from grader.results import CheckResult, GradeResult, ManualResult


def _test(r: CheckResult, commit: str | None) -> dict[str, Any]:
    output = r.message
    if r.status == "error":
        output = f"GRADER ERROR (a TA will review): {r.message}"
    return {
        "name": f"{r.id}: {r.title}",
        "score": r.score,
        "max_score": r.max_score,
        "status": "passed" if r.status == "passed" else "failed",
        "output": output,
        "visibility": r.visibility,
        "tags": list(r.tags),
        "extra_data": {
            "id": r.id,
            "check": r.check,
            "status": r.status,
            "evidence": r.evidence,
            "duration": r.duration,
            "commit": commit,
            "required": r.required,
        },
    }


def _manual(m: ManualResult) -> dict[str, Any]:
    level = f" ({m.level})" if m.level else ""
    return {
        "name": f"{m.id}: {m.title}",
        "score": m.score or 0.0,
        "max_score": m.max_score,
        "status": "passed" if (m.score or 0) >= m.max_score else "failed",
        "output": f"scored by staff{level}. {m.comment}".strip(),
        "visibility": m.visibility,
        "tags": ["manual"],
        "extra_data": {"id": m.id, "status": "manual", "level": m.level},
    }


def _leaderboard(result: GradeResult) -> list[dict[str, Any]]:
    entries = []
    for r in result.checks:
        entry = r.evidence.get("leaderboard")
        if isinstance(entry, dict) and {"name", "value"} <= entry.keys():
            entries.append(entry)
    return entries


def _output(result: GradeResult) -> str:
    lines = [
        f"Milestone {result.milestone} graded at commit {result.commit or '(not a git repo)'}",
        f"Score {result.score:g} / {result.max_score:g}",
    ]
    if result.gate:
        lines.append(f"Score set to 0 by a required check: {result.gate}")
    if result.late:
        lines.append(f"Late: {result.late.reason}")
    return "\n".join(lines)


def results_json(result: GradeResult) -> dict[str, Any]:
    tests = [_test(r, result.commit) for r in result.checks]
    tests += [_manual(m) for m in result.manual if m.score is not None]
    return {
        "score": result.score,
        "execution_time": round(result.execution_time, 3),
        "output": _output(result),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "leaderboard": _leaderboard(result),
        "extra_data": {"grader": result.model_dump(mode="json")},
    }


def write_results_json(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, json.dumps(results_json(result), indent=2) + "\n")


def read_grade(path: Path) -> GradeResult:
    """The GradeResult stored in a results.json this grader wrote."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return GradeResult.model_validate(data["extra_data"]["grader"])
