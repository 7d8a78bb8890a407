"""Gradescope: results.json field by field, the autograder zip, and run_autograder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.reports.gradescope import (
    pending_review_json,
    read_grade,
    results_json,
    write_results_json,
)
from grader.results import CheckResult, GradeResult, ManualResult
from tests import gradescope_spec

STAFF = {"graded_by": "course staff", "needs": "a Docker engine", "points": 10.0}


def _check(id: str, check: str, status: str, score: float, max_score: float, **kw: object):
    return CheckResult(
        id=id,
        check=check,
        title=id.capitalize(),
        status=status,  # type: ignore[arg-type]
        score=score,
        max_score=max_score,
        message=kw.pop("message", f"{id} {status}"),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _grade() -> GradeResult:
    checks = (
        _check(
            "quality",
            "tracking.metric",
            "passed",
            10,
            10,
            message="f1_macro of the champion = 0.91 (need >= 0.85)",
            evidence={"leaderboard": {"name": "f1_macro", "value": 0.91, "order": "desc"}},
        ),
        _check(
            "files",
            "repo.files",
            "failed",
            2.5,
            5,
            message="missing: tests/*.py",
            tags=("docs",),
        ),
        _check("lineage", "tracking.lineage", "error", 0, 5, message="MLflow store unreadable"),
        _check("deployed", "service.deployed", "skipped", 0, 0, message="no service.url"),
        _check(
            "build",
            "container.build",
            "skipped",
            0,
            0,
            message="graded by course staff (needs a Docker engine)",
            evidence=STAFF,
        ),
        _check(
            "tests-pass",
            "tests.pass",
            "blocked",
            0,
            15,
            message="blocked: files failed (missing: tests/*.py)",
            evidence={"root_cause": "files"},
            visibility="after_due_date",
        ),
        _check(
            "latency",
            "service.latency",
            "failed",
            2,
            5,
            message="p50 80 ms, p95 600 ms (budget 300 ms)",
            evidence={
                "leaderboard": [
                    {"name": "p95 latency (ms)", "value": 600.0, "order": "asc"},
                    {"name": "p50 latency (ms)", "value": 80.0, "order": "asc"},
                ]
            },
        ),
    )
    manual = (
        ManualResult(id="demo", title="Demo", score=7, max_score=10, level="good", comment="ok"),
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
        automated_score=14.5,
        manual_score=7,
        score=21.5,
        max_score=65,
        execution_time=42.5,
        needs_review=("lineage: grader error: MLflow store unreadable",),
    )


def test_every_field_of_the_specification_is_written_and_valid() -> None:
    data = results_json(_grade())
    assert gradescope_spec.problems(data) == []
    assert set(data) == set(gradescope_spec.TOP_LEVEL)  # every top-level field, no other
    assert (data["score"], data["execution_time"]) == (21.5, 42.5)
    assert (data["output_format"], data["test_output_format"], data["test_name_format"]) == (
        "md",
        "md",
        "text",
    )
    assert (data["visibility"], data["stdout_visibility"]) == ("visible", "hidden")
    assert data["extra_data"]["needs_review"] == ["lineage: grader error: MLflow store unreadable"]
    assert [t["number"] for t in data["tests"]] == [str(i) for i in range(1, 9)]
    for test in data["tests"]:
        assert {"name", "name_format", "number", "output", "output_format"} <= test.keys()
        assert {"tags", "visibility", "extra_data"} <= test.keys()
        assert (test["name_format"], test["output_format"]) == ("text", "md")


def test_each_status_maps_onto_gradescope() -> None:
    tests = {t["extra_data"]["id"]: t for t in results_json(_grade())["tests"]}
    quality, files, lineage = tests["quality"], tests["files"], tests["lineage"]
    assert (quality["score"], quality["max_score"], quality["status"]) == (10, 10, "passed")
    assert quality["output"] == r"f1\_macro of the champion = 0.91 (need >= 0.85)"
    assert (files["score"], files["max_score"], files["status"]) == (2.5, 5, "failed")
    assert files["tags"] == ["docs"]
    # A failed check says what happened and how to fix it (the check's explanation).
    assert files["output"].startswith("**Result:** missing: tests/\\*.py\n\n**How to fix:** ")
    assert "Fix: add the\nmissing files" in files["output"]
    # A grader error is not a 0: no score, a visible note, and a note for staff.
    assert "score" not in lineage
    assert "max_score" not in lineage
    assert lineage["status"] == "failed"
    assert lineage["visibility"] == "visible"
    assert lineage["output"].startswith("**Pending review by course staff.**")
    assert "its 5 points are not counted yet" in lineage["output"]
    assert lineage["extra_data"]["staff_note"] == "grader error: MLflow store unreadable"
    # Skipped: nothing at stake; a staff-graded check says so.
    deployed, build = tests["deployed"], tests["build"]
    assert (deployed["score"], deployed["max_score"]) == (0.0, 0.0)
    assert "status" not in deployed
    assert deployed["output"] == "Skipped, nothing at stake: no service.url"
    assert (build["score"], build["max_score"]) == (0.0, 0.0)
    assert build["output"].startswith("**Graded by course staff.** This check needs a Docker")
    assert "Its 10 points are not part of the autograder score." in build["output"]
    blocked = tests["tests-pass"]
    assert (blocked["score"], blocked["max_score"], blocked["status"]) == (0, 15, "failed")
    assert blocked["visibility"] == "after_due_date"
    assert blocked["output"].startswith("**Result:** blocked: files failed")
    assert "**How to fix:** Counts the tests the suite ran" in blocked["output"]
    assert blocked["extra_data"]["status"] == "blocked"
    demo = tests["demo"]
    assert (demo["score"], demo["max_score"], demo["status"]) == (7, 10, "failed")
    assert (demo["output"], demo["tags"]) == ("Scored by staff (good). ok", ["manual"])
    assert "poster" not in tests  # not scored yet: listed in the summary instead


def test_summary_names_pending_and_staff_graded_points() -> None:
    output = results_json(_grade())["output"]
    assert "**Score: 21.5 / 65**" in output
    assert (
        "- **Pending review by course staff:** lineage could not be graded automatically;"
        " their 5 points are not counted yet. This is not a 0: staff will grade them."
    ) in output
    assert (
        "- **Graded by course staff:** build (10 points) need a Docker engine, which"
        " Gradescope does not have. Their points are not part of this score"
    ) in output
    assert "- Scored by staff later: poster (5 points)." in output


def test_leaderboard_has_the_measured_metric_and_latencies_with_their_order() -> None:
    board = results_json(_grade())["leaderboard"]
    assert board == [
        {"name": "f1_macro", "value": 0.91, "order": "desc"},
        {"name": "p95 latency (ms)", "value": 600.0, "order": "asc"},
        {"name": "p50 latency (ms)", "value": 80.0, "order": "asc"},
    ]


def test_malformed_leaderboard_evidence_is_left_out() -> None:
    grade = _grade()
    bad = _check(
        "odd",
        "repo.files",
        "passed",
        1,
        1,
        evidence={
            "leaderboard": [
                {"name": "no value"},
                {"name": "flag", "value": True},
                {"name": "sideways", "value": 1, "order": "up"},
                {"name": "default order", "value": 3},
            ]
        },
    )
    grade = grade.model_copy(update={"checks": (bad,)})
    assert results_json(grade)["leaderboard"] == [
        {"name": "default order", "value": 3, "order": "desc"}
    ]


def test_our_record_round_trips_through_extra_data(tmp_path: Path) -> None:
    grade = _grade()
    path = write_results_json(grade, tmp_path / "results.json")
    assert read_grade(path) == grade


def test_pending_review_is_valid_and_keeps_the_score_from_students() -> None:
    data = pending_review_json("grader crashed: boom", "Traceback ...")
    assert gradescope_spec.problems(data) == []
    assert set(data) == set(gradescope_spec.TOP_LEVEL)
    assert data["visibility"] == "after_published"  # the 0 is not shown until staff publish
    (note,) = data["tests"]
    assert note["name"] == "Pending review by course staff"
    assert note["visibility"] == "visible"
    assert "score" not in note
    assert note["output"].startswith("**Pending review by course staff.**")
    assert data["extra_data"]["grader_error"] == "grader crashed: boom"
    assert data["extra_data"]["detail"] == "Traceback ..."


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("output_format", "markdown", "results.output_format: invalid value 'markdown'"),
        ("visibility", "public", "results.visibility: invalid value 'public'"),
        ("colour", "red", "results.colour: not in Gradescope's specification"),
    ],
)
def test_the_validator_rejects_what_the_specification_does_not_allow(
    field: str, value: str, problem: str
) -> None:
    data = json.loads(json.dumps(results_json(_grade())))
    data[field] = value
    assert gradescope_spec.problems(data) == [problem]
