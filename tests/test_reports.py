"""Reports render a GradeResult: Gradescope results.json field by field, feedback, JUnit."""

from __future__ import annotations

import json
from pathlib import Path

from grader.reports import write_all
from grader.reports.gradescope import read_grade, results_json
from grader.results import CheckResult, GradeResult, LatePenalty, ManualResult

GRADESCOPE_TOP = {
    "score",
    "execution_time",
    "output",
    "visibility",
    "stdout_visibility",
    "tests",
    "leaderboard",
    "extra_data",
}
GRADESCOPE_TEST = {
    "name",
    "score",
    "max_score",
    "status",
    "output",
    "visibility",
    "tags",
    "extra_data",
}


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
            evidence={"leaderboard": {"name": "f1", "value": 0.91}},
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


def test_results_json_is_a_gradescope_superset() -> None:
    data = results_json(_grade())
    assert set(data) == GRADESCOPE_TOP
    assert (data["score"], data["execution_time"]) == (15.3, 42.5)
    assert data["visibility"] == "visible"
    assert data["stdout_visibility"] == "hidden"
    assert "Late: 1 day late: -10%" in data["output"]
    assert data["leaderboard"] == [{"name": "f1", "value": 0.91}]
    tests = data["tests"]
    assert [t["name"] for t in tests] == [
        "build: Image builds",
        "latency: Fast enough",
        "secrets: No secrets",
        "demo: Demo",
    ]
    for t in tests:
        assert set(t) == GRADESCOPE_TEST
        assert t["status"] in ("passed", "failed")
    build, latency, secrets, demo = tests
    assert (build["score"], build["max_score"], build["status"]) == (10, 10, "passed")
    assert latency["visibility"] == "after_due_date"
    assert latency["output"] == "GRADER ERROR (a TA will review): engine down"
    assert latency["extra_data"]["status"] == "error"
    assert secrets["extra_data"] == {
        "id": "secrets",
        "check": "repo.secrets",
        "status": "blocked",
        "evidence": {},
        "duration": 0.0,
        "commit": "a" * 40,
        "required": False,
    }
    assert secrets["tags"] == ["security"]
    assert (demo["score"], demo["tags"]) == (7, ["manual"])
    assert data["extra_data"]["grader"]["commit"] == "a" * 40


def test_written_reports_round_trip(tmp_path: Path) -> None:
    grade = _grade()
    paths = write_all(grade, tmp_path / "out")
    assert sorted(paths) == ["feedback.md", "junit.xml", "results.json"]
    assert read_grade(paths["results.json"]) == grade
    json.loads(paths["results.json"].read_text())
    feedback = paths["feedback.md"].read_text()
    assert "Poster | not scored yet" in feedback
    assert "Late: 1 day late: -10% (1.7 points)" in feedback
    assert "a TA will review them" in feedback
