"""Class outputs from outcome records: gradebook, Canvas import, item analysis, dashboard."""

from __future__ import annotations

import csv
import io
from typing import Any

from grader.reports.dashboard import dashboard_html
from grader.reports.gradebook import canvas_csv, gradebook_csv, items_csv
from grader.results import CheckResult, GradeResult, TeamOutcome
from grader.roster import Member
from tests.htmlcheck import parse


def _check(cid: str, status: str, score: float, message: str = "") -> CheckResult:
    return CheckResult(
        id=cid,
        check=f"repo.{cid}",
        title=f"{cid} title",
        status=status,  # type: ignore[arg-type]
        score=score,
        max_score=10,
        message=message or status,
    )


def _result(team: str, *checks: CheckResult, **extra: Any) -> GradeResult:
    score = sum(c.score for c in checks)
    fields: dict[str, Any] = {
        "grader_version": "0.1.0",
        "milestone": "m0",
        "rubric": "rubrics/m0.yaml",
        "rubric_hash": "abc",
        "team": team,
        "target": f"/repos/{team}",
        "commit": "a" * 40,
        "commit_time": None,
        "graded_at": "2026-11-25T10:00:00+00:00",
        "checks": checks,
        "automated_score": score,
        "manual_score": 0,
        "score": score,
        "max_score": 10 * len(checks),
        "execution_time": 1.0,
    }
    return GradeResult(**{**fields, **extra})


ANN = Member("Ann Lee", "ann@example.edu", "ann-lee")
BO = Member("Bo Chen", "bo@example.edu", "bochen")
CY = Member("Cy <b>Dee</b>", "cy@example.edu", "cydee")

OUTCOMES = [
    TeamOutcome(
        "alpha",
        "Alpha",
        "/repos/alpha",
        "graded",
        members=(ANN, BO),
        result=_result(
            "Alpha", _check("files", "passed", 10), _check("readme", "failed", 0, "no Usage")
        ),
    ),
    TeamOutcome(
        "beta",
        "Beta <script>alert(1)</script>",
        "/repos/beta",
        "graded",
        members=(CY,),
        result=_result(
            "Beta",
            _check("files", "failed", 5, "missing: Dockerfile"),
            _check("readme", "failed", 0, "no Usage"),
        ),
    ),
    TeamOutcome(
        "gamma",
        "Gamma",
        "/repos/gamma",
        "error",
        "grading took longer than the time limit of 60s",
        members=(Member("Di Eve", "di@example.edu", "di-eve"),),
    ),
]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_gradebook_has_a_row_per_team_always_and_per_member() -> None:
    rows = _rows(gradebook_csv(OUTCOMES))
    assert [(r["kind"], r["team"]) for r in rows] == [
        ("team", "alpha"),
        ("member", "alpha"),
        ("member", "alpha"),
        ("team", "beta"),
        ("member", "beta"),
        ("team", "gamma"),
        ("member", "gamma"),
    ]
    alpha = rows[1]
    assert (alpha["name"], alpha["email"], alpha["github"]) == (
        "Ann Lee",
        "ann@example.edu",
        "ann-lee",
    )
    assert (alpha["score"], alpha["max_score"], alpha["percent"]) == ("10", "20", "50")
    gamma = rows[5]
    assert gamma["status"] == "error"
    assert gamma["score"] == ""  # never a silent zero
    assert gamma["reason"] == "grading took longer than the time limit of 60s"


def test_canvas_file_has_canvas_columns_points_possible_and_one_row_per_student() -> None:
    rows = list(csv.reader(io.StringIO(canvas_csv(OUTCOMES, "Milestone m0"))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Milestone m0"]
    assert rows[1] == ["Points Possible", "", "", "", "", "20"]
    assert rows[2] == ["Ann Lee", "", "", "ann@example.edu", "alpha", "10"]
    assert rows[-1] == ["Di Eve", "", "", "di@example.edu", "gamma", ""]
    assert len(rows) == 2 + 4


def test_item_analysis_gives_pass_rate_mean_and_most_common_failure() -> None:
    items = {r["check"]: r for r in _rows(items_csv(OUTCOMES))}
    assert items["files"]["pass_rate"] == "0.5"
    assert items["files"]["mean_score"] == "7.5"
    assert items["files"]["most_common_failure"] == "missing: Dockerfile"
    assert items["readme"]["pass_rate"] == "0"
    assert (items["readme"]["most_common_failure"], items["readme"]["failure_count"]) == (
        "no Usage",
        "2",
    )
    assert items["readme"]["teams"] == "2"  # the team that errored is not counted


def test_dashboard_is_well_formed_links_feedback_and_escapes_team_text() -> None:
    html = dashboard_html(OUTCOMES, "m0: Setup")
    page = parse(html)
    assert "<script>" not in html
    assert "Beta <script>alert(1)</script>" in page.body_text  # shown as text, not run
    links = [a["href"] for a in page.all("a")]
    assert links[:4] == [
        "teams/alpha/feedback.html",
        "teams/alpha/feedback.md",
        "teams/beta/feedback.html",
        "teams/beta/feedback.md",
    ]
    # Each heat-map cell links to its check's row in the team's HTML feedback.
    assert links[4:] == [
        f"teams/{team}/feedback.html#check-{check}"
        for team in ("alpha", "beta")
        for check in ("files", "readme")
    ]
    text = page.body_text
    # Status in words and symbols, not colour alone; a legend; each check's points.
    assert "Alpha ✓ 10 ✗ 0 Beta <script>alert(1)</script> ◐ 5 ✗ 0 Gamma · ·" in text
    for words in ("✓ passed: full points", "◐ partial:", "⚠ error:", "⊘ blocked:"):
        assert words in text
    assert "files 10 pts" in text
    assert "5 / 20 25%" in text  # Beta's score and share
    assert "error : grading took longer than the time limit of 60s" in text
    cells = [td for td in page.all("td") if "cell" in (td.get("class") or "")]
    assert len(cells) == 3 * 2  # a heat-map cell per team and check
    assert {td["class"] for td in cells} == {
        "cell passed",
        "cell failed",
        "cell partial",
        "cell missing",
    }
    assert "2 of 3 teams graded, 1 need a TA" in page.body_text
