"""The course file: its loader's errors name file, line and field; its API; `grader init`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.course import find_course, grading_cutoff, load_course
from grader.errors import ConfigError, UsageError
from grader.rubric import KIT_RUBRICS, load_rubric

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
