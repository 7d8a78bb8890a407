"""The course file: its loader's errors name file, line and field; its API; `grader init`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.course import find_course, grading_cutoff, load_course
from grader.errors import ConfigError, UsageError
from grader.main import main
from grader.reports.gradescope import read_grade
from grader.results import GradeResult
from grader.rubric import KIT_RUBRICS, load_rubric
from tests.helpers import git

EDT = timezone(timedelta(hours=-4))

GOOD = """\
course: "CS 6220 MLOps Capstone, Fall 2026"
github_org: my-course-2026
template_url: https://github.com/my-course-2026/capstone-kit.git
template_ref: v2026.1
roster: roster.csv
canvas:
  base_url: https://canvas.example.edu
  course_id: 12345
milestones:
  m0: {rubric: m0, deadline: 2026-09-20T23:59:00-04:00, weight: 5, canvas_assignment_id: 1001}
  m3: {rubric: rubrics/m3-custom.yaml, deadline: "2026-11-01T23:59:00-04:00", weight: 25}
  expo: {weight: 10}
late_policy: {percent_per_day: 10, grace_days: 0, max_percent: 50}
grace_days: 2
extensions:
  team-alpha: {m3: 2}
"""

ROSTER = """\
team,name,email,github
Team Alpha,Ann Lee,ann@example.edu,ann-lee
Beta,Cy,cy@example.edu,cy
"""


def _course_dir(tmp_path: Path, text: str = GOOD) -> Path:
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "rubrics").mkdir(exist_ok=True)
    custom = (KIT_RUBRICS / "m0.yaml").read_text(encoding="utf-8").replace("late_policy:", "#")
    (tmp_path / "rubrics" / "m3-custom.yaml").write_text(custom, encoding="utf-8")
    path = tmp_path / "course.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_course(path)
    return [p.replace(f"{path.parent}/", "") for p in info.value.problems]


def test_a_valid_course_file_loads_with_its_order_paths_and_deadlines(tmp_path: Path) -> None:
    course = load_course(_course_dir(tmp_path))
    assert course.milestone_ids == ("m0", "m3", "expo")
    assert course.roster_path == tmp_path / "roster.csv"
    assert course.rubric_path("m0") == KIT_RUBRICS / "m0.yaml"
    assert course.rubric_path("m3") == tmp_path / "rubrics" / "m3-custom.yaml"
    assert course.rubric_path("expo") == KIT_RUBRICS / "expo.yaml"
    assert course.canvas is not None
    assert course.canvas.course_id == 12345
    assert course.milestone("m0").canvas_assignment_id == 1001
    m3 = datetime(2026, 11, 1, 23, 59, tzinfo=EDT)
    assert course.deadline_for("beta", "m3") == m3
    assert course.deadline_for("team-alpha", "m3") == m3 + timedelta(days=2)
    assert course.deadline_for("Team Alpha", "m3") == m3 + timedelta(days=2)  # a roster name
    assert course.deadline_for("team-alpha", "m0") == datetime(2026, 9, 20, 23, 59, tzinfo=EDT)
    assert course.deadline_for("team-alpha", "expo") is None


def test_an_unknown_milestone_is_a_usage_error_listing_the_known_ones(tmp_path: Path) -> None:
    course = load_course(_course_dir(tmp_path))
    with pytest.raises(UsageError, match=r"no milestone 'm9' \(the course has m0, m3, expo\)"):
        course.milestone("m9")


def test_rubric_for_takes_the_course_deadline_and_late_policy_keeps_the_hash(
    tmp_path: Path,
) -> None:
    course = load_course(_course_dir(tmp_path))
    custom = load_rubric(course.rubric_path("m3"))
    assert custom.late_policy is None
    assert custom.deadline is None
    graded = course.rubric_for(custom, "m3", "team-alpha")
    assert graded.deadline == datetime(2026, 11, 3, 23, 59, tzinfo=EDT)
    assert graded.late_policy == course.late_policy
    assert graded.hash == custom.hash
    kit = load_rubric(course.rubric_path("m0"))  # has its own policy: it stays
    assert kit.late_policy is not None
    assert course.rubric_for(kit, "m0").late_policy is kit.late_policy


def test_grading_cutoff_moves_later_never_earlier() -> None:
    due = datetime(2026, 11, 1, tzinfo=UTC)
    later = due + timedelta(days=5)
    assert grading_cutoff(due, None) == due
    assert grading_cutoff(None, later) == later
    assert grading_cutoff(due, later) == later
    assert grading_cutoff(later, due) == later
    assert grading_cutoff(None, None) is None


BAD = """\
course: ""
roster: missing.csv
milestones:
  m0: {rubric: m0, deadline: 2026-09-20T23:59:00, weight: 5}
  M1: {rubric: m1, deadline: 2026-10-01, weight: -1}
  m2: {rubric: rubrics/nope.yaml, weight: 1, colour: red}
  m3: {rubric: m3, deadline: next friday, weight: 1}
late_policy: {percent_per_day: 120}
grace_days: 1.5
"""


def test_every_schema_mistake_is_reported_with_its_line_and_field(tmp_path: Path) -> None:
    path = _course_dir(tmp_path, BAD)
    assert _errors(path) == [
        "course.yaml:1: course: String should have at least 1 character",
        "course.yaml:4: milestones.m0.deadline: 2026-09-20T23:59:00 has no UTC offset: "
        "write it as 2026-09-20T23:59:00-04:00 (your offset), or Z for UTC",
        "course.yaml:5: milestones.M1.deadline: 2026-10-01 has no time: "
        "write 2026-10-01T23:59:00-04:00 (with offset)",
        "course.yaml:5: milestones.M1.weight: Input should be greater than or equal to 0",
        "course.yaml:6: milestones.m2.colour: unknown field",
        "course.yaml:7: milestones.m3.deadline: 'next friday' is not an ISO 8601 time "
        "(2026-09-20T23:59:00-04:00)",
        "course.yaml:8: late_policy.percent_per_day: Input should be less than or equal to 100",
        "course.yaml:9: grace_days: Input should be a valid integer, "
        "got a number with a fractional part",
    ]


MISMATCHES = """\
course: Capstone
roster: missing.csv
milestones:
  m0: {rubric: m0, deadline: 2026-09-20T23:59:00Z, weight: 0}
  M1: {rubric: rubrics/nope.yaml, weight: 0}
extensions:
  Team Alpha: {m0: 1}
  team-alpha: {m9: 2, M1: 1}
"""


def test_ids_files_weights_and_extensions_are_checked_against_each_other(
    tmp_path: Path,
) -> None:
    path = _course_dir(tmp_path, MISMATCHES)
    assert _errors(path) == [
        "course.yaml:2: roster: no roster file at missing.csv",
        "course.yaml:3: milestones: the weights add up to 0: give some a weight > 0",
        "course.yaml:5: milestones.M1: milestone ids are lowercase letters, digits, '.', "
        "'_' and '-'",
        "course.yaml:5: milestones.M1.rubric: no rubric file at rubrics/nope.yaml",
        "course.yaml:7: extensions.Team Alpha: 'Team Alpha' is not a team slug: write 'team-alpha'",
        "course.yaml:8: extensions.team-alpha.M1: milestone M1 has no deadline in the course "
        "file to extend",
        "course.yaml:8: extensions.team-alpha.m9: unknown milestone 'm9' (the course has m0, M1)",
    ]


def test_an_extension_for_a_team_not_in_the_roster_is_an_error(tmp_path: Path) -> None:
    path = _course_dir(tmp_path, GOOD.replace("team-alpha: {m3: 2}", "team-alfa: {m3: 2}"))
    assert _errors(path) == [
        "course.yaml:16: extensions.team-alfa: no team 'team-alfa' in the roster (beta, team-alpha)"
    ]


def test_a_course_file_that_is_not_a_mapping_or_not_yaml(tmp_path: Path) -> None:
    assert _errors(_course_dir(tmp_path, "- just\n- a list\n")) == [
        "course.yaml:1: (top level): a course file must be a mapping"
    ]
    assert _errors(_course_dir(tmp_path, "course: [unclosed\n")) == [
        "course.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_find_course_explicit_then_environment_then_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _course_dir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("GRADER_COURSE", raising=False)
    assert find_course(None) is None
    explicit = find_course(path)
    assert explicit is not None
    assert explicit.path == path
    monkeypatch.setenv("GRADER_COURSE", str(path))
    from_env = find_course(None)
    assert from_env is not None
    assert from_env.path == path
    monkeypatch.delenv("GRADER_COURSE")
    monkeypatch.chdir(tmp_path)
    here = find_course(None)
    assert here is not None
    assert here.course.startswith("CS 6220")
    with pytest.raises(ConfigError, match="cannot read"):
        find_course(tmp_path / "nope.yaml")


# ---- per-team deadlines reach check and batch ----------------------------------------------

DUE = datetime(2026, 10, 1, 23, 59, tzinfo=UTC)
T1 = """\
milestone: t1
title: Test milestone
checks:
  - id: fixed
    check: repo.files
    points: 10
    params: {paths: [README.md, FIXED.md]}
"""
T1_COURSE = """\
course: Test course
roster: roster.csv
milestones:
  t1: {rubric: t1.yaml, deadline: 2026-10-01T23:59:00Z, weight: 1}
late_policy: {percent_per_day: 10, max_percent: 50}
extensions:
  team-alpha: {t1: 2}
"""


def _dated_repo(root: Path) -> tuple[str, str]:
    """A repo with a commit a day before the deadline and one 36 hours after it."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    shas = []
    for name, when in (
        ("README.md", DUE - timedelta(days=1)),
        ("FIXED.md", DUE + timedelta(hours=36)),
    ):
        (root / name).write_text(f"{name}\n")
        stamp = when.isoformat()
        git(root, "add", name)
        git(
            root,
            "commit",
            "-q",
            "-m",
            f"Add {name}",
            env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
        )
        shas.append(git(root, "rev-parse", "HEAD"))
    return shas[0], shas[1]


@pytest.fixture
def two_teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[str, str]]:
    """Team Alpha (2 more days for t1) and Beta, each with a commit after t1's deadline."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRADER_COURSE", raising=False)
    commits = {slug: _dated_repo(tmp_path / "repos" / slug) for slug in ("team-alpha", "beta")}
    roster = "team,name,email,github,repo\n"
    roster += "Team Alpha,Ann Lee,ann@example.edu,ann-lee,repos/team-alpha\n"
    roster += "Beta,Cy Dee,cy@example.edu,cydee,repos/beta\n"
    (tmp_path / "roster.csv").write_text(roster)
    (tmp_path / "t1.yaml").write_text(T1)
    (tmp_path / "course.yaml").write_text(T1_COURSE)
    return commits


def _graded(out: Path, slug: str) -> GradeResult:
    return read_grade(out / "teams" / slug / "results.json")


def test_batch_grades_each_team_at_its_own_deadline_with_its_extension(
    two_teams: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    # No roster argument: the course's. The commit 36 h after the deadline is inside
    # team-alpha's 2-day extension, not inside beta's deadline.
    assert main(["batch", "--course", "course.yaml", "-m", "t1", "--out", "out"]) == 0
    alpha, beta = _graded(tmp_path / "out", "team-alpha"), _graded(tmp_path / "out", "beta")
    assert alpha.commit == two_teams["team-alpha"][1]
    assert (alpha.score, alpha.late) == (10, None)
    assert beta.commit == two_teams["beta"][0]
    assert (beta.score, beta.late) == (5, None)

    # A later cut-off accepts late work: beta's commit is now graded, 2 started days late
    # under the course's late policy (the rubric has none); team-alpha is still on time.
    args = ["batch", "--course", "course.yaml", "-m", "t1", "--out", "late"]
    assert main([*args, "--deadline", "2026-10-08T00:00:00Z"]) == 0
    alpha, beta = _graded(tmp_path / "late", "team-alpha"), _graded(tmp_path / "late", "beta")
    assert (alpha.commit, alpha.score, alpha.late) == (two_teams["team-alpha"][1], 10, None)
    assert beta.commit == two_teams["beta"][1]
    assert beta.late is not None
    assert (beta.late.days_late, beta.late.percent, beta.score) == (2, 20, 8)


def test_check_takes_the_extension_of_the_target_folder_or_of_team(
    two_teams: dict[str, tuple[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "repos/team-alpha", "-m", "t1", "--out", "a"]) == 0  # ./course.yaml
    assert read_grade(tmp_path / "a" / "results.json").commit == two_teams["team-alpha"][1]
    out = " ".join(capsys.readouterr().out.split())
    assert "team-alpha: t1 due 2026-10-03T23:59:00+00:00 (the course's + 2 days extension)" in out
    assert main(["check", "repos/beta", "-m", "t1", "--out", "b"]) == 0
    assert read_grade(tmp_path / "b" / "results.json").commit == two_teams["beta"][0]
    assert "beta: t1 due 2026-10-01T23:59:00+00:00" in capsys.readouterr().out
    args = ["check", "repos/beta", "-m", "t1", "--team", "team-alpha", "--out", "c"]
    assert main(args) == 0
    assert read_grade(tmp_path / "c" / "results.json").commit == two_teams["beta"][1]


def test_a_rubric_file_whose_milestone_the_course_holds_takes_the_course_deadline(
    two_teams: dict[str, tuple[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "repos/beta", "--rubric", "t1.yaml", "--out", "r"]) == 0
    assert read_grade(tmp_path / "r" / "results.json").commit == two_teams["beta"][0]
    assert "beta: t1 due 2026-10-01T23:59:00+00:00" in capsys.readouterr().out
    # A rubric for a milestone the course does not hold: no course deadline, HEAD is graded.
    (tmp_path / "t2.yaml").write_text(T1.replace("milestone: t1", "milestone: t2"))
    assert main(["check", "repos/beta", "--rubric", "t2.yaml", "--out", "s"]) == 0
    assert read_grade(tmp_path / "s" / "results.json").commit == two_teams["beta"][1]
    assert " due " not in capsys.readouterr().out


def test_a_milestone_the_course_does_not_hold_and_no_roster_are_usage_errors(
    two_teams: dict[str, tuple[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "repos/beta", "-m", "m3", "--out", "x"]) == 2
    assert "no milestone 'm3' (the course has t1)" in capsys.readouterr().err
    (tmp_path / "course.yaml").write_text(T1_COURSE.replace("roster: roster.csv\n", ""))
    assert main(["batch", "-m", "t1", "--out", "x"]) == 2
    assert "give a roster CSV or a folder of team repositories" in capsys.readouterr().err
    (tmp_path / "course.yaml").unlink()
    assert main(["batch", "--rubric", "t1.yaml", "--out", "x"]) == 2
    assert "give a roster CSV or a folder of team repositories" in capsys.readouterr().err


# ---- grader init ---------------------------------------------------------------------------


def test_init_writes_a_course_file_that_loads_and_a_roster_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "fall"
    args = ["init", str(target), "--course-name", 'CS 6220 "MLOps", Fall 2026', "--org", "c26"]
    assert main(args) == 0
    course = load_course(target / "course.yaml")
    assert course.course == 'CS 6220 "MLOps", Fall 2026'
    assert course.github_org == "c26"
    assert course.template_url == "https://github.com/c26/capstone-kit.git"
    assert course.milestone_ids == ("m0", "m1", "m2", "m3", "m4", "expo")
    assert sum(m.weight for m in course.milestones.values()) == 100
    assert all(course.rubric_path(mid).is_file() for mid in course.milestone_ids)
    deadlines = [course.milestone(mid).deadline for mid in course.milestone_ids]
    assert all(d is not None and d.tzinfo is not None for d in deadlines)
    assert deadlines == sorted(deadlines)  # type: ignore[type-var]
    assert course.late_policy is not None
    assert course.grace_days == 2
    assert course.extensions == {}
    assert (target / "roster.csv").read_text() == "team,name,email,github,repo\n"
    assert "# canvas:" in (target / "course.yaml").read_text()  # commented, for later
    assert "wrote" in capsys.readouterr().out


def test_init_refuses_to_overwrite_without_force_and_keeps_a_roster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "roster.csv").write_text(ROSTER)
    assert main(["init", str(tmp_path), "--template-url", "https://git.example.edu/kit.git"]) == 0
    first = load_course(tmp_path / "course.yaml")
    assert first.template_url == "https://git.example.edu/kit.git"
    assert first.github_org is None
    assert (tmp_path / "roster.csv").read_text() == ROSTER
    capsys.readouterr()
    assert main(["init", str(tmp_path), "--course-name", "Other"]) == 2
    assert "course.yaml exists: edit it, or give --force" in capsys.readouterr().err
    assert load_course(tmp_path / "course.yaml").course == "MLOps Capstone"
    assert main(["init", str(tmp_path), "--course-name", "Other", "--force"]) == 0
    assert load_course(tmp_path / "course.yaml").course == "Other"
