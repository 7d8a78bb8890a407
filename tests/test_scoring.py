"""Scoring: required gates, manual scores and the late policy."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.results import CheckResult
from grader.rubric import LatePolicy, load_rubric
from grader.scoring import late_penalty, load_manual_scores, manual_results, total
from tests.helpers import write_rubric

DEADLINE = datetime(2026, 10, 1, 23, 59, tzinfo=UTC)


def _result(cid: str, status: str, score: float, required: bool = False) -> CheckResult:
    return CheckResult(
        id=cid,
        check="repo.files",
        title=cid,
        status=status,
        score=score,
        max_score=10,  # type: ignore[arg-type]
        message=f"{cid} {status}",
        required=required,
    )


@pytest.fixture
def rubric(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_rubric(
        write_rubric(
            tmp_path / "r.yaml",
            "milestone: r\ntitle: R\ndeadline: 2026-10-01T23:59:00Z\n"
            "late_policy: {percent_per_day: 10, grace_days: 1, max_percent: 30}\n"
            "checks:\n  - {id: build, check: repo.manifest, points: 10, required: true}\n"
            "  - {id: other, check: repo.manifest, points: 10}\n"
            "manual:\n  - id: demo\n    title: Demo\n    points: 10\n"
            "    levels: [{label: great, points: 10}, {label: ok, points: 6}]\n",
        )
    )


def test_on_time_full_score(rubric) -> None:  # type: ignore[no-untyped-def]
    results = [_result("build", "passed", 10, True), _result("other", "failed", 4)]
    manual = manual_results(rubric, None)
    t = total(rubric, results, manual, DEADLINE)
    assert (t.automated, t.manual, t.score, t.late, t.gate) == (14, 0, 14, None, None)
    assert t.needs_review == ("demo: manual item not scored",)


def test_required_check_failure_zeroes_automated_score(rubric) -> None:  # type: ignore[no-untyped-def]
    results = [_result("build", "failed", 0, True), _result("other", "passed", 10)]
    t = total(rubric, results, manual_results(rubric, None), None)
    assert t.automated == 0
    assert t.gate == "required check build failed: build failed"


def test_error_needs_review_not_zero(rubric) -> None:  # type: ignore[no-untyped-def]
    results = [_result("build", "error", 0, True), _result("other", "passed", 10)]
    t = total(rubric, results, [], None)
    assert (t.automated, t.gate) == (10, None)
    assert t.needs_review == ("build: grader error: build error",)


def test_late_policy_days_grace_and_cap() -> None:
    policy = LatePolicy(percent_per_day=10, grace_days=1, max_percent=30)
    at = lambda d, h=0: datetime(2026, 10, d, h, tzinfo=UTC)  # noqa: E731
    assert late_penalty(DEADLINE, policy, at(2, 12), 50) is None  # inside the grace day
    one = late_penalty(DEADLINE, policy, at(3, 1), 50)
    assert one is not None
    assert (one.days_late, one.percent, one.points) == (1, 10, 5.0)
    capped = late_penalty(DEADLINE, policy, at(20), 50)
    assert capped is not None
    assert (capped.percent, capped.points) == (30, 15.0)


def test_manual_scores_from_yaml_and_csv(rubric, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    yml = tmp_path / "s.yaml"
    yml.write_text("demo: {level: OK, comment: fine}\n")
    assert load_manual_scores(yml, rubric)["demo"].score == 6
    csv = tmp_path / "s.csv"
    csv.write_text("team,item,score,comment\nBeta,demo,2,\nAlpha,demo,9,nice\n")
    got = load_manual_scores(csv, rubric, team="Alpha")["demo"]
    assert (got.score, got.comment) == (9, "nice")


def test_manual_score_errors_name_the_line(rubric, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from grader.errors import ConfigError

    yml = tmp_path / "s.yaml"
    yml.write_text("# scores\ndemo: {level: stellar}\n")
    with pytest.raises(ConfigError) as info:
        load_manual_scores(yml, rubric)
    assert info.value.problems == [f"{yml}:2: demo: unknown level 'stellar' (levels: great, ok)"]
