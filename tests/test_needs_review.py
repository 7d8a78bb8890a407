"""A check in `error` is never a grade: `grader check` and `grader batch` say the team needs
review, leave its Canvas cell empty and exit 3 after writing every report, unless the TA
accepts errors as zero.

The engine is made unreachable the way it fails on a TA's laptop: DOCKER_HOST names a socket
nobody listens on, so `grader.engineruns.connect` fails inside the team's real grading process.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from grader.main import main
from tests.helpers import MANIFEST, init_repo, team_files, write_rubric

DEAD_ENGINE = "unix:///nonexistent-grader-test.sock"

# Repo checks plus one engine check. A team without a Dockerfile fails `dockerfile`, so its
# build is blocked and never asks the engine; a team with one builds, and the dead engine
# makes that check an `error`.
RUBRIC = """\
milestone: t1
title: Engine down
checks:
  - id: manifest
    check: repo.manifest
    points: 10
  - id: dockerfile
    check: repo.files
    points: 10
    params: {paths: [Dockerfile]}
  - id: build
    check: container.build
    points: 20
    needs: [dockerfile]
"""

SERVICE = """\
service:
  examples:
    - {name: one, body: {x: 1}}
"""

ROSTER = """\
team,name,email,github,canvas_user_id,repo
Alpha,Ann Lee,ann@example.edu,ann-lee,11,repos/alpha
Alpha,Bo Chen,bo@example.edu,bochen,12,repos/alpha
Beta,Cy Dee,cy@example.edu,cydee,13,repos/beta
Gamma,Ed Fox,ed@example.edu,edfox,15,repos/gamma
Gamma,Flo Gil,flo@example.edu,flo,16,repos/gamma
"""


def _with_dockerfile() -> dict[str, str | bytes]:
    return team_files(
        **{"capstone.yaml": MANIFEST + SERVICE, "Dockerfile": "FROM python:3.11-slim\n"}
    )


@pytest.fixture
def dead_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", DEAD_ENGINE)


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    """Alpha and Beta have no Dockerfile (graded without the engine); Gamma has one."""
    init_repo(tmp_path / "repos" / "alpha", team_files())
    init_repo(tmp_path / "repos" / "beta", team_files())
    init_repo(tmp_path / "repos" / "gamma", _with_dockerfile())
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    write_rubric(tmp_path / "t1.yaml", RUBRIC)
    return tmp_path


def _batch(ws: Path, *extra: str) -> int:
    argv = ["batch", str(ws / "roster.csv"), "--rubric", str(ws / "t1.yaml")]
    return main([*argv, "--out", str(ws / "out"), "--network", "host", *extra])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _canvas(out: Path) -> dict[str, str]:
    rows = _rows(out / "canvas.csv")
    column = next(c for c in rows[0] if c.startswith("Milestone"))
    return {r["Student"]: r[column] for r in rows if r["Student"] != "Points Possible"}


def _teams(out: Path) -> dict[str, dict[str, str]]:
    return {r["team"]: r for r in _rows(out / "gradebook.csv") if r["kind"] == "team"}


# ---- grader batch ---------------------------------------------------------------------------


@pytest.mark.slow
def test_batch_with_the_engine_down_marks_the_team_needs_review_and_exits_3(
    classroom: Path, dead_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _batch(classroom) == 3
    output = capsys.readouterr().out
    out = classroom / "out"

    teams = _teams(out)
    assert {t: r["status"] for t, r in teams.items()} == {
        "alpha": "graded",
        "beta": "graded",
        "gamma": "needs review",
    }
    gamma = teams["gamma"]
    assert (gamma["score"], gamma["percent"]) == ("", "")
    assert gamma["max_score"] == "40"
    assert gamma["reason"].startswith(
        "1 check in error (20 points not graded; 20/40 if they count as 0): build: no Docker"
        f" engine answers at {DEAD_ENGINE}"
    )
    assert "build: grader error: no Docker engine answers" in gamma["needs_review"]
    assert (teams["alpha"]["score"], teams["alpha"]["reason"]) == ("10", "")

    # Canvas: an empty cell for every member of Gamma, a score for everyone else.
    assert _canvas(out) == {
        "Ann Lee": "10",
        "Bo Chen": "10",
        "Cy Dee": "10",
        "Ed Fox": "",
        "Flo Gil": "",
    }

    # The terminal says it in words, with the check and why.
    assert "needs review gamma: 1 check in error" in output
    assert "1 of 3 teams need a TA (1 needs review, 0 error)" in output
    [row] = [ln for ln in output.splitlines() if ln.startswith("│ gamma")]
    assert "│ needs review │ —" in row

    # The dashboard: the status as text, no score, the reason.
    page = (out / "dashboard.html").read_text(encoding="utf-8")
    assert "<strong>needs review</strong>" in page
    assert "1 with checks in error: needs review, no score" in page
    assert "build: no Docker engine answers at" in page

    # results.json stays Gradescope's: the check in error is pending review, not a 0.
    data = json.loads((out / "teams" / "gamma" / "results.json").read_text())
    assert "could not be graded automatically" in data["output"]
    assert json.loads((out / "teams" / "gamma" / "batch.json").read_text())["status"] == (
        "needs review"
    )


@pytest.mark.slow
def test_a_rerun_regrades_a_team_that_needs_review_and_accepting_errors_fills_its_score(
    classroom: Path, dead_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _batch(classroom) == 3
    first = json.loads((classroom / "out/teams/gamma/results.json").read_text())
    capsys.readouterr()

    # The same batch again: the graded teams are reused, Gamma is graded again.
    assert _batch(classroom) == 3
    output = capsys.readouterr().out
    assert "graded alpha: 10/40 (cached)" in output
    assert "needs review gamma" in output
    again = json.loads((classroom / "out/teams/gamma/results.json").read_text())
    assert again["extra_data"]["grader"]["graded_at"] >= first["extra_data"]["grader"]["graded_at"]

    # The TA accepts the error as zero: Gamma's stored result becomes its grade.
    assert _batch(classroom, "--accept-errors-as-zero") == 0
    output = capsys.readouterr().out
    assert "graded gamma: 20/40 (cached; errors accepted as zero: build (20 points))" in output
    gamma = _teams(classroom / "out")["gamma"]
    assert (gamma["status"], gamma["score"]) == ("graded", "20")
    assert gamma["reason"] == "errors accepted as zero: build (20 points)"
    assert _canvas(classroom / "out")["Ed Fox"] == "20"

    # Without the option, the class outputs say it needs review again.
    assert _batch(classroom) == 3
    assert _teams(classroom / "out")["gamma"]["status"] == "needs review"
    assert _canvas(classroom / "out")["Ed Fox"] == ""


# ---- grader check ---------------------------------------------------------------------------


def test_check_with_a_check_in_error_writes_every_report_then_exits_3(
    tmp_path: Path, dead_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = init_repo(tmp_path / "gamma", _with_dockerfile())
    rubric = write_rubric(tmp_path / "t1.yaml", RUBRIC)
    out = tmp_path / "out"
    argv = ["check", str(repo), "--rubric", str(rubric), "--out", str(out), "--network", "host"]
    assert main(argv) == 3
    output = capsys.readouterr().out
    assert {p.name for p in out.iterdir()} >= {"results.json", "feedback.md", "junit.xml"}
    assert "Needs review: not a grade" in output
    assert "1 check in error (20 points not graded; 20/40 if they count as 0): build:" in output
    assert "Total:" not in output
    assert "could not be graded" in (out / "feedback.md").read_text()
    data = json.loads((out / "results.json").read_text())
    assert [t["status"] for t in data["tests"]] == ["passed", "passed", "failed"]
    assert "pending" in data["tests"][2]["output"].lower()


def test_check_with_accept_errors_as_zero_exits_0_and_says_so(
    tmp_path: Path, dead_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = init_repo(tmp_path / "gamma", _with_dockerfile())
    rubric = write_rubric(tmp_path / "t1.yaml", RUBRIC)
    argv = ["check", str(repo), "--rubric", str(rubric), "--out", str(tmp_path / "out")]
    assert main([*argv, "--network", "host", "--accept-errors-as-zero"]) == 0
    output = capsys.readouterr().out
    assert "Total: 20 / 40" in output
    assert "errors accepted as zero: build (20 points)" in output
    assert "Needs review" not in output


def test_check_without_errors_exits_0_and_a_pending_manual_item_is_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = init_repo(tmp_path / "alpha", team_files())
    rubric = write_rubric(
        tmp_path / "t1.yaml",
        "milestone: t1\ntitle: Manual\nchecks:\n"
        "  - {id: manifest, check: repo.manifest, points: 10}\n"
        "manual:\n  - {id: demo, title: Demo, points: 5}\n",
    )
    argv = ["check", str(repo), "--rubric", str(rubric), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    output = capsys.readouterr().out
    assert "Total: 10 of 10 automated points (5 manual points pending)" in output
    assert "Pending: demo: manual item not scored yet" in output
    assert "Needs review" not in output


def test_an_engine_failure_a_check_does_not_expect_is_an_error_not_a_crash(
    tmp_path: Path, dead_engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = init_repo(tmp_path / "alpha", team_files())
    rubric = write_rubric(
        tmp_path / "t1.yaml",
        "milestone: t1\ntitle: Tests\nchecks:\n  - {id: tests, check: tests.run, points: 10}\n",
    )
    out = tmp_path / "out"
    assert main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)]) == 3
    [check] = json.loads((out / "results.json").read_text())["extra_data"]["grader"]["checks"]
    assert check["status"] == "error"
    assert check["message"].startswith(f"no Docker engine answers at {DEAD_ENGINE}")
