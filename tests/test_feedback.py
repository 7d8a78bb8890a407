"""`grader feedback push`: each team's feedback.md as an issue in its repository, through a
stand-in `gh` on PATH (or printed commands when gh cannot run)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from grader.main import main
from tests.classroom import fake_tool, path_with
from tests.helpers import git, init_repo
from tests.test_canvas import grade_class

TITLE = "Grader feedback: milestone t1"

# Alpha was graded from its GitHub URL, Beta from a clone whose origin is on GitHub, Delta
# from a folder with no remote (its repository is ORG/delta), Gamma's grading errored.
ROSTER = """\
team,name,email,github,repo
Alpha,Ann Lee,ann@example.edu,ann-lee,https://github.com/course-26/team-alpha.git
Beta,Cy Dee,cy@example.edu,cydee,{beta}
Gamma,Ed Fox,ed@example.edu,edfox,repos/gamma
Delta,Gus Ho,gus@example.edu,gusho,repos/delta
"""
SCORES = {"alpha": (25.0, "Alpha"), "beta": (20.0, "Beta"), "delta": (30.0, "Delta")}

# Logs every call, one argument per field; Alpha already has an issue with the exact title
# (and one whose title only contains it); creating in course-26/delta fails when asked to.
GH = """\
printf '%s\\t' "$@" >> {log}; echo >> {log}
case "$1 $2" in
  "auth status") exit {auth} ;;
  "issue list")
    case "$*" in
      *course-26/team-alpha*)
        echo '[{{"number":3,"title":"{title} (draft)"}},{{"number":7,"title":"{title}"}}]' ;;
      *) echo '[]' ;;
    esac ;;
  "issue create")
    case "$*" in *course-26/delta*)
      [ -n "{fail}" ] && {{ echo "HTTP 410: issues are disabled" >&2; exit 1; }} ;;
    esac
    echo "https://github.com/x/y/issues/1" ;;
  "issue edit") echo "https://github.com/x/y/issues/7" ;;
esac
"""


@pytest.fixture
def grades(tmp_path: Path) -> Path:
    beta = init_repo(tmp_path / "beta-clone", {"README.md": "# Beta\n"})
    git(beta, "remote", "add", "origin", "git@github.com:course-26/beta-project.git")
    return grade_class(tmp_path, ROSTER.format(beta=beta), SCORES)


def _gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auth: int = 0, fail: str = "") -> Path:
    log = tmp_path / "gh.log"
    script = GH.format(log=log, auth=auth, title=TITLE, fail=fail)
    fake_tool(tmp_path / "bin", "gh", script)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    return log


def _calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [line.rstrip("\t").split("\t") for line in log.read_text().splitlines()]


def _issue_calls(log: Path) -> list[list[str]]:
    return [c for c in _calls(log) if c[:2] != ["auth", "status"]]


def test_push_opens_or_updates_one_issue_per_team(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _gh(tmp_path, monkeypatch)
    assert main(["feedback", "push", str(grades), "--org", "course-26"]) == 0
    out = capsys.readouterr().out
    body = {t: str((grades / "teams" / t / "feedback.md").resolve()) for t in SCORES}

    def create(repo: str) -> list[str]:
        return ["issue", "create", "--repo", repo, "--title", TITLE]

    assert [c for c in _issue_calls(log) if c[1] != "list"] == [
        # Alpha: the issue with exactly this title is edited, not the draft
        ["issue", "edit", "7", "--repo", "course-26/team-alpha", "--body-file", body["alpha"]],
        # Beta: the clone's origin; Delta: --org and the team's folder name
        [*create("course-26/beta-project"), "--body-file", body["beta"]],
        [*create("course-26/delta"), "--body-file", body["delta"]],
    ]
    lists = [c for c in _issue_calls(log) if c[1] == "list"]
    assert lists[0] == [
        "issue",
        "list",
        "--repo",
        "course-26/team-alpha",
        "--state",
        "all",
        "--search",
        f'"{TITLE}" in:title',
        "--json",
        "number,title",
    ]
    assert "alpha: updated issue #7 in course-26/team-alpha" in out
    assert "delta: opened an issue in course-26/delta" in out
    assert "gamma: no feedback.md (its grading errored?): nothing to send" in out
    assert "3 of 3 teams have their feedback" in out


def test_a_team_without_a_known_repository_stops_everything_before_gh_runs(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _gh(tmp_path, monkeypatch)
    assert main(["feedback", "push", str(grades)]) == 2
    err = capsys.readouterr().err
    assert "no GitHub repository known for delta" in err
    assert "give --org ORG" in err
    assert _calls(log) == []


def test_without_a_logged_in_gh_the_exact_commands_are_printed(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _gh(tmp_path, monkeypatch, auth=1)
    assert main(["feedback", "push", str(grades), "--org", "course-26"]) == 0
    out = capsys.readouterr().out
    assert "`gh` is not logged in: run `gh auth login`: run these commands yourself" in out
    delta = (grades / "teams" / "delta" / "feedback.md").resolve()
    create = ["gh", "issue", "create", "--repo", "course-26/delta", "--title", TITLE]
    assert shlex.join([*create, "--body-file", str(delta)]) in out
    edit = ["gh", "issue", "edit", "NUMBER", "--repo", "course-26/delta", "--body-file"]
    assert shlex.join([*edit, str(delta)]) in out
    assert _issue_calls(log) == []  # only `gh auth status` ran


def test_without_gh_installed_the_commands_are_printed(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bare = tmp_path / "bare-bin"
    fake_tool(bare, "git", 'exec /usr/bin/git "$@"\n')
    monkeypatch.setenv("PATH", str(bare))
    assert main(["feedback", "push", str(grades), "--org", "course-26"]) == 0
    out = capsys.readouterr().out
    assert "`gh` is not installed" in out
    assert "gh issue list --repo course-26/beta-project" in out  # the clone's origin, via git


def test_dry_run_prints_and_runs_nothing(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _gh(tmp_path, monkeypatch)
    assert main(["feedback", "push", str(grades), "--org", "course-26", "--dry-run"]) == 0
    assert "gh issue create --repo course-26/delta" in capsys.readouterr().out
    assert _calls(log) == []


def test_a_failing_gh_is_reported_and_the_other_teams_still_get_theirs(
    grades: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _gh(tmp_path, monkeypatch, fail="yes")
    assert main(["feedback", "push", str(grades), "--org", "course-26"]) == 3
    out = capsys.readouterr().out
    assert "failed:" in out
    assert "HTTP 410: issues are disabled" in out
    assert "2 of 3 teams have their feedback" in out
    assert len([c for c in _issue_calls(log) if c[1] in ("create", "edit")]) == 3


def test_a_folder_that_is_not_a_batch_output_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "push", str(tmp_path)]) == 2
    assert f"{tmp_path} has no teams/ folder" in capsys.readouterr().err


def test_the_course_file_gives_the_organization(
    grades: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _gh(tmp_path, monkeypatch)
    course = tmp_path / "course.yaml"
    course.write_text(
        'course: "Test course"\ngithub_org: course-26\n'
        "milestones:\n  t1: {rubric: rubric.yaml, weight: 1}\n"
    )
    monkeypatch.setenv("GRADER_COURSE", str(course))
    assert main(["feedback", "push", str(grades)]) == 0
    repos = {c[3] for c in _issue_calls(log) if c[1] == "create"}
    assert repos == {"course-26/beta-project", "course-26/delta"}
