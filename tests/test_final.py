"""`grader final`: hand-computed final grades from three milestones of batch results.

The results are written as a batch writes them (GRADES/<milestone>/teams/<team>/
results.json, batch.json for an error), without grading anything. Every expected number
below is worked out by hand in the comments; docs/instructor-guide.md walks through the
same class.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from grader import __version__
from grader.main import main
from grader.reports.gradescope import write_results_json
from grader.results import GradeResult, LatePenalty
from grader.rubric import KIT_RUBRICS, load_rubric

D0 = datetime.fromisoformat("2026-09-20T23:59:00-04:00")
D1 = datetime.fromisoformat("2026-10-11T23:59:00-04:00")
D2 = datetime.fromisoformat("2026-11-01T23:59:00-04:00")

COURSE = """\
course: Capstone
roster: roster.csv
milestones:
  m0: {rubric: m0, deadline: 2026-09-20T23:59:00-04:00, weight: 20}
  m1: {rubric: m1, deadline: 2026-10-11T23:59:00-04:00, weight: 30}
  m2: {rubric: m2, deadline: 2026-11-01T23:59:00-04:00, weight: 50}
grace_days: 2
extensions:
  team-alpha: {m1: 2}
"""

ROSTER = """\
team,name,email,github
Team Alpha,Ann Lee,ann@example.edu,ann-lee
Team Alpha,Bo Chen,bo@example.edu,bochen
Beta,Cy Dee,cy@example.edu,cydee
Beta,Di Eve,di@example.edu,di-eve
Gamma,Ed Fox,ed@example.edu,edfox
Gamma,Flo Gil,flo@example.edu,flo
Gamma,Gus Ho,gus@example.edu,gusho
"""

CONTRIBUTIONS = """\
team,github,share
Team Alpha,ann-lee,0.6
Team Alpha,@BoChen,0.4
gamma,edfox,0.5
gamma,flo,0.3
gamma,gusho,0.2
"""


def _late(days: int, percent: float, points: float) -> LatePenalty:
    return LatePenalty(days_late=days, percent=percent, points=points, reason="late")


def _write(
    root: Path,
    mid: str,
    team: str,
    score: float,
    max_score: float,
    committed: datetime,
    late: LatePenalty | None = None,
    review: tuple[str, ...] = (),
) -> None:
    rubric = load_rubric(KIT_RUBRICS / f"{mid}.yaml")
    result = GradeResult(
        grader_version=__version__,
        milestone=mid,
        rubric=str(rubric.path),
        rubric_hash=rubric.hash,
        team=team,
        target=f"repos/{team}",
        commit="0" * 40,
        commit_time=committed.isoformat(),
        graded_at="2026-12-01T00:00:00+00:00",
        checks=(),
        automated_score=score,
        manual_score=0.0,
        late=late,
        score=score,
        max_score=max_score,
        execution_time=1.0,
        needs_review=review,
    )
    write_results_json(result, root / mid / "teams" / team / "results.json")


def _class(tmp_path: Path) -> Path:
    """Three teams, three milestones, as the docs' worked example."""
    (tmp_path / "course.yaml").write_text(COURSE, encoding="utf-8")
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "shares.csv").write_text(CONTRIBUTIONS, encoding="utf-8")
    g = tmp_path / "grades"
    hour = timedelta(hours=1)
    # Team Alpha. m0: 45/50 on time = 90. m1: committed 36 h after m1's deadline, inside
    # its 2-day extension: not late, 80/100 = 80. m2: 60 h late = 3 started days; earned
    # 70, the result took 30% (21 points, score 49). Bank 2 pays 2 days, 1 is left: 10%,
    # 70 * 0.9 = 63. Total (20*90 + 30*80 + 50*63) / 100 = 73.5.
    _write(g, "m0", "team-alpha", 45, 50, D0 - hour)
    _write(g, "m1", "team-alpha", 80, 100, D1 + 36 * hour)
    _write(g, "m2", "team-alpha", 49, 100, D2 + 60 * hour, _late(3, 30, 21))
    # Beta. m0: 5 h late = 1 day; earned 40, result 36 (-10%). Bank pays it: 40/50 = 80,
    # 1 grace day left. m1: grading error (an empty cell, not a 0). m2: never graded.
    _write(g, "m0", "beta", 36, 50, D0 + 5 * hour, _late(1, 10, 4))
    record = {"status": "error", "reason": "the grader exited with code 3: engine down"}
    (g / "m1" / "teams" / "beta").mkdir(parents=True)
    (g / "m1" / "teams" / "beta" / "batch.json").write_text(json.dumps(record))
    # Gamma. m0: 50/50 = 100, a manual item unscored (kept, flagged). m1: 26 h late = 2
    # days, earned 90 (result 72, -20%): the bank pays both, 90. m2: 5 days 1 h late = 6
    # days, earned 80, the result took the 50% cap: the bank is empty, 40/100 = 40.
    # Total (20*100 + 30*90 + 50*40) / 100 = 67.
    _write(g, "m0", "gamma", 50, 50, D0 - 24 * hour, review=("proposal: manual item not scored",))
    _write(g, "m1", "gamma", 72, 100, D1 + 26 * hour, _late(2, 20, 18))
    _write(g, "m2", "gamma", 40, 100, D2 + 121 * hour, _late(6, 50, 40))
    return tmp_path


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _final(*extra: str) -> int:
    return main(["final", "--course", "course.yaml", "grades", "--out", "final.csv", *extra])


BETA_REVIEW = (
    "m1: grading error: the grader exited with code 3: engine down; "
    "m2: not graded (no grades/m2/teams/beta/results.json)"
)
GAMMA_REVIEW = "m0: proposal: manual item not scored"  # a number, but a TA must look


STUDENTS = f"""\
team,name,email,github,m0,m1,m2,team_total,factor,total,needs_review
Team Alpha,Ann Lee,ann@example.edu,ann-lee,90,80,63,73.5,1,73.5,
Team Alpha,Bo Chen,bo@example.edu,bochen,90,80,63,73.5,0.8,58.8,
Beta,Cy Dee,cy@example.edu,cydee,80,,,,1,,{BETA_REVIEW}
Beta,Di Eve,di@example.edu,di-eve,80,,,,1,,{BETA_REVIEW}
Gamma,Ed Fox,ed@example.edu,edfox,100,90,40,67,1,67,{GAMMA_REVIEW}
Gamma,Flo Gil,flo@example.edu,flo,100,90,40,67,0.9,60.3,{GAMMA_REVIEW}
Gamma,Gus Ho,gus@example.edu,gusho,100,90,40,67,0.6,40.2,{GAMMA_REVIEW}
"""
TEAMS = f"""\
team,slug,members,\
m0,m0_late_days,m0_grace_days,m0_penalty,\
m1,m1_late_days,m1_grace_days,m1_penalty,\
m2,m2_late_days,m2_grace_days,m2_penalty,\
grace_days_left,team_total,needs_review
Team Alpha,team-alpha,2,90,0,0,0,80,0,0,0,63,3,2,10,0,73.5,
Beta,beta,2,80,1,1,0,,,,,,,,,1,,{BETA_REVIEW}
Gamma,gamma,3,100,0,0,0,90,2,2,0,40,6,0,50,0,67,{GAMMA_REVIEW}
"""


def test_final_grades_by_hand_with_grace_days_extension_missing_and_contributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    _write(tmp_path / "grades", "m0", "zeta", 50, 50, D0)  # graded, but not in the roster
    assert _final("--contributions", "shares.csv") == 0
    # Alpha: Ann 0.6 * 2 = 1.2, capped at 1 -> 73.5; Bo 0.4 * 2 = 0.8 -> 58.8.
    # Gamma: Ed 0.5 * 3 = 1.5 -> 1 -> 67; Flo 0.3 * 3 = 0.9 -> 60.3; Gus 0.6 -> 40.2.
    # Beta is not in the contributions file: factor 1; no total (m1 and m2 are missing).
    assert (tmp_path / "final.csv").read_text() == STUDENTS
    assert (tmp_path / "final-teams.csv").read_text() == TEAMS
    out = capsys.readouterr().out
    assert "7 students, 5 to review" in out
    assert "not in the roster, left out: zeta" in out


def test_a_higher_contribution_cap_lifts_strong_contributors_up_to_100(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    assert _final("--contributions", "shares.csv", "--contribution-cap", "1.1") == 0
    totals = {r[3]: (r[8], r[9]) for r in _rows(tmp_path / "final.csv")[1:]}
    # Ann: min(1.1, 1.2) = 1.1 -> 73.5 * 1.1 = 80.85; Ed: min(1.1, 1.5) -> 67 * 1.1 = 73.7.
    assert totals["ann-lee"] == ("1.1", "80.85")
    assert totals["edfox"] == ("1.1", "73.7")
    assert totals["flo"] == ("0.9", "60.3")


def test_without_contributions_every_student_gets_the_team_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    assert _final() == 0
    totals = {r[3]: r[9] for r in _rows(tmp_path / "final.csv")[1:]}
    assert totals == {
        "ann-lee": "73.5",
        "bochen": "73.5",
        "cydee": "",
        "di-eve": "",
        "edfox": "67",
        "flo": "67",
        "gusho": "67",
    }


def test_a_result_graded_before_an_extension_changed_is_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    # Beta got a 1-day extension on m0 after m0 was graded 1 day late.
    course = (tmp_path / "course.yaml").read_text()
    (tmp_path / "course.yaml").write_text(course + "  beta: {m0: 1}\n")
    assert _final() == 0
    beta = _rows(tmp_path / "final-teams.csv")[2]
    assert beta[3] == "80"  # the result's late days still come from results.json
    assert beta[-1].startswith(
        "m0: graded 1 day late, the course's deadline now makes it 0: "
        "regrade (grader batch -m m0 --only beta); m1: grading error"
    )


def test_a_result_of_another_milestone_or_rubric_version_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    grades = tmp_path / "grades"
    (grades / "m2" / "teams" / "team-alpha" / "results.json").write_bytes(
        (grades / "m1" / "teams" / "team-alpha" / "results.json").read_bytes()
    )
    data = json.loads((grades / "m0" / "teams" / "gamma" / "results.json").read_text())
    data["extra_data"]["grader"]["rubric_hash"] = "0123456789abcdef"
    (grades / "m0" / "teams" / "gamma" / "results.json").write_text(json.dumps(data))
    assert _final() == 0
    teams = {r[1]: r for r in _rows(tmp_path / "final-teams.csv")[1:]}
    assert teams["team-alpha"][11] == ""  # m2: no number
    assert teams["team-alpha"][-2] == ""  # so no total
    assert teams["team-alpha"][-1] == (
        "m2: grades/m2/teams/team-alpha/results.json is a result for m1, not m2"
    )
    assert teams["gamma"][3] == "100"  # kept, but a TA is told
    assert "m0: graded with another version of m0.yaml" in teams["gamma"][-1]


BAD_SHARES = """\
team,github,share
Team Alpha,ann-lee,0.7
Team Alpha,ann-lee,0.3
Team Omega,zed,0.5
gamma,edfox,half
gamma,flo,1.5
gamma,bochen,0.1
"""


def test_contribution_file_errors_name_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_class(tmp_path))
    (tmp_path / "shares.csv").write_text(BAD_SHARES)
    assert _final("--contributions", "shares.csv") == 2
    err = " ".join(capsys.readouterr().err.split())
    for problem in (
        "shares.csv:3: 'ann-lee' is listed twice for Team Alpha",
        "shares.csv:4: no team 'Team Omega' in the roster",
        "shares.csv:5: share 'half' is not a number",
        "shares.csv:6: share 1.5 is outside 0..1 (a fraction of the team's work)",
        "shares.csv:7: 'bochen' is not a member of Gamma in the roster",
        "shares.csv:2: Team Alpha: no share for bochen",
    ):
        assert problem in err
    assert not (tmp_path / "final.csv").exists()
    (tmp_path / "shares.csv").write_text("team,github,share\nbeta,cydee,0.5\nbeta,di-eve,0.4\n")
    assert _final("--contributions", "shares.csv") == 2
    assert "shares.csv:2: Beta: the shares add up to 0.9, not 1" in capsys.readouterr().err


def test_final_needs_a_course_with_a_roster_and_a_grades_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRADER_COURSE", raising=False)
    assert main(["final", "grades", "--out", "final.csv"]) == 2
    assert "no course file: give --course FILE" in capsys.readouterr().err
    _class(tmp_path)
    assert main(["final", "--course", "course.yaml", "nope", "--out", "f.csv"]) == 2
    assert "nope is not a folder of batch outputs" in capsys.readouterr().err
    (tmp_path / "course.yaml").write_text(COURSE.replace("roster: roster.csv\n", ""))
    assert _final() == 2
    assert "names no roster: final grades are per student" in capsys.readouterr().err


def test_a_milestone_that_needs_review_is_an_empty_cell_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's `needs review` row (a check in error) is not a grade, even with a score."""
    monkeypatch.chdir(_class(tmp_path))
    reason = "1 check in error (20 points not graded; 49/100 if they count as 0): build: down"
    record = {"status": "needs review", "reason": reason}
    (tmp_path / "grades/m2/teams/team-alpha/batch.json").write_text(json.dumps(record))
    assert _final() == 0
    teams = {r[1]: r for r in _rows(tmp_path / "final-teams.csv")[1:]}
    alpha = teams["team-alpha"]
    assert alpha[11] == ""  # m2
    assert alpha[-1] == f"m2: needs review: {reason}"
