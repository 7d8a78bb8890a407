"""Reports render a GradeResult: feedback, JUnit, and results.json read back.

tests/test_gradescope.py checks results.json against Gradescope's specification.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.reports import write_all
from grader.reports.gradescope import read_grade
from grader.results import CheckResult, GradeResult, LatePenalty, ManualResult, Measure


def _grade() -> GradeResult:
    checks = (
        CheckResult(
            id="build",
            check="container.build",
            title="Image builds",
            status="passed",
            score=10,
            max_score=10,
            message="built in 12s",
            measures=(Measure(kind="metric", name="f1", value=0.91, order="desc"),),
        ),
        CheckResult(
            id="latency",
            check="service.latency",
            title="Fast enough",
            status="error",
            score=0,
            max_score=5,
            message="engine down",
            visibility="after_due_date",
        ),
        CheckResult(
            id="secrets",
            check="repo.secrets",
            title="No secrets",
            status="blocked",
            score=0,
            max_score=5,
            message="blocked: build failed",
            tags=("security",),
        ),
    )
    manual = (
        ManualResult(id="demo", title="Demo", score=7, max_score=10, level="good"),
        ManualResult(id="poster", title="Poster", score=None, max_score=5),
    )
    return GradeResult(
        grader_version="0.1.0",
        milestone="m3",
        rubric="rubrics/m3.yaml",
        rubric_hash="abc",
        team="Alpha",
        target="../alpha",
        commit="a" * 40,
        commit_time="2026-10-02T10:00:00+00:00",
        graded_at="2026-10-03T00:00:00+00:00",
        checks=checks,
        manual=manual,
        automated_score=10,
        manual_score=7,
        late=LatePenalty(days_late=1, percent=10, points=1.7, reason="1 day late: -10%"),
        score=15.3,
        max_score=35,
        execution_time=42.5,
        needs_review=("latency: grader error",),
    )


def test_written_reports_round_trip(tmp_path: Path) -> None:
    grade = _grade()
    paths = write_all(grade, tmp_path / "out")
    assert sorted(paths) == ["feedback.html", "feedback.md", "junit.xml", "results.json"]
    assert {path.stat().st_mode & 0o777 for path in paths.values()} == {0o644}
    assert read_grade(paths["results.json"]) == grade
    json.loads(paths["results.json"].read_text())
    feedback = paths["feedback.md"].read_text()
    assert "Poster | not scored yet" in feedback
    assert "Late: 1 day late: -10% (1.7 points)" in feedback
    assert "a TA will review them" in feedback
