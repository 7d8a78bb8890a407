"""Signed results: `grader check --sign-key-env` signs, `grader batch --from-results
--verify-key-env` counts only untouched results graded at the team's graded commit, and
self-reported (unsigned) results never reach the gradebook or canvas.csv unless accepted."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from grader.main import main
from tests.classroom import FAST_RUBRIC, FIVE_TEAMS, write_roster
from tests.helpers import commit_all, init_repo, team_files, write_rubric

SLUGS = ["team-alpha", "beta", "gamma-rays", "delta", "epsilon"]
KEY = "s3cret-staff-key-never-shown"


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for slug in SLUGS:
        init_repo(tmp_path / "repos" / slug, team_files(**{"FIXED.md": "x\n"}))
    repos = {team: f"repos/{slug}" for team, slug in zip(FIVE_TEAMS, SLUGS, strict=True)}
    write_roster(tmp_path / "roster.csv", FIVE_TEAMS, repos)
    write_rubric(tmp_path / "t1.yaml", FAST_RUBRIC)
    monkeypatch.setenv("STAFF_KEY", KEY)
    return tmp_path


def _check(ws: Path, slug: str, out: Path, *extra: str, rubric: str = "t1.yaml") -> int:
    args = ["check", str(ws / "repos" / slug), "--rubric", str(ws / rubric), "--out", str(out)]
    return main([*args, *extra])


def _batch(ws: Path, out: str, *extra: str) -> int:
    args = ["batch", str(ws / "roster.csv"), "--rubric", str(ws / "t1.yaml"), "--out"]
    return main([*args, str(ws / out), *extra])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _team_rows(path: Path) -> dict[str, dict[str, str]]:
    rows = {}
    for r in _rows(path):
        if r["kind"] == "team":
            r.pop("graded_at")
            rows[r["team"]] = r
    return rows


def test_signed_results_that_were_altered_or_misgraded_are_error_rows(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dl = ws / "downloads"
    for slug in SLUGS:
        signed = () if slug == "delta" else ("--sign-key-env", "STAFF_KEY")
        rubric = "t2.yaml" if slug == "gamma-rays" else "t1.yaml"
        if slug == "gamma-rays":
            write_rubric(ws / "t2.yaml", FAST_RUBRIC.replace("points: 5", "points: 6"))
        assert _check(ws, slug, dl / slug, *signed, rubric=rubric) == 0
    assert KEY not in capsys.readouterr().out
    assert KEY not in (dl / "epsilon" / "results.json").read_text()
    # One check's score raised by hand after grading.
    path = dl / "team-alpha" / "results.json"
    data = json.loads(path.read_text())
    data["extra_data"]["grader"]["checks"][1]["score"] += 1
    path.write_text(json.dumps(data))
    # The team pushed again before the deadline: its graded commit is no longer this one.
    commit_all(ws / "repos" / "beta", "later work")

    assert _batch(ws, "local") == 0
    assert _batch(ws, "ci", "--from-results", str(dl), "--verify-key-env", "STAFF_KEY") == 3
    got = _team_rows(ws / "ci" / "gradebook.csv")
    assert {t: r["status"] for t, r in got.items()} == {
        "team-alpha": "error",
        "beta": "error",
        "gamma-rays": "error",
        "delta": "error",
        "epsilon": "graded",
    }
    assert "the signature does not match: the results were altered" in got["team-alpha"]["reason"]
    assert "not at the team's graded commit" in got["beta"]["reason"]
    assert "graded with another rubric" in got["gamma-rays"]["reason"]
    assert "unsigned results" in got["delta"]["reason"]
    assert all(got[t]["score"] == "" for t in SLUGS[:4])
    local = _team_rows(ws / "local" / "gradebook.csv")
    assert got["epsilon"] == local["epsilon"]
    assert KEY not in (ws / "ci" / "gradebook.csv").read_text()


def test_a_missing_key_is_a_usage_error_naming_the_variable(
    ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _check(ws, "beta", ws / "o", "--sign-key-env", "NO_SUCH_KEY")
    assert code == 2
    assert "--sign-key-env NO_SUCH_KEY: the environment variable is not set" in (
        capsys.readouterr().err
    )


def test_self_reported_results_never_reach_canvas_without_accepting_them(ws: Path) -> None:
    assert _batch(ws, "local") == 0
    dl = ws / "downloads"
    for slug in SLUGS:
        (dl / slug).mkdir(parents=True)
        shutil.copy(ws / "local" / "teams" / slug / "results.json", dl / slug)

    assert _batch(ws, "ci", "--from-results", str(dl)) == 3
    rows = _team_rows(ws / "ci" / "gradebook.csv")
    assert {r["status"] for r in rows.values()} == {"needs review"}
    assert all(r["score"] == "" for r in rows.values())
    assert all(r["reason"].startswith("self-reported") for r in rows.values())
    canvas = _rows(ws / "ci" / "canvas.csv")
    column = list(canvas[0])[-1]
    assert canvas
    assert all(r[column] == "" for r in canvas)
    assert "self-reported" in (ws / "ci" / "dashboard.html").read_text()

    assert _batch(ws, "accepted", "--from-results", str(dl), "--accept-self-reported") == 0
    accepted = _rows(ws / "accepted" / "canvas.csv")
    assert accepted == _rows(ws / "local" / "canvas.csv")
    assert all(r[column] != "" for r in accepted)
