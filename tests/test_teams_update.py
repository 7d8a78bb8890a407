"""`grader teams update`: a real template change reaches team repositories through cruft.

The kit is copied into a git repository (as a course would fork it), four teams are
generated from it with `grader teams create`, the template changes in four ways, and the
update must arrive in every team that did not touch the same lines, as a branch that
`cruft check` accepts, and be reported as a conflict (with its `.rej` file) where a team did.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cruft
import pytest
import yaml

from grader.commands.teams import current_milestone, workflow_answers
from grader.course import load_course
from grader.main import main
from tests.classroom import fake_tool, path_with, write_roster
from tests.helpers import git

KIT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = "{{cookiecutter.project_slug}}"
TEAMS = {
    "Alpha": [("Ann Lee", "ann@example.edu", "ann-lee")],
    "Beta": [("Bo Chen", "bo@example.edu", "bochen")],
    "Gamma": [("Cy Dee", "cy@example.edu", "cydee")],
    "Delta": [("Di Eve", "di@example.edu", "di-eve")],
}
README_LINE = (
    "It prints a score per check, with the evidence and what to fix. Run it before each deadline."
)
README_NEW = (
    "It prints a score per check, with the evidence and what to fix. Run it before every deadline."
)
README_TEAM = "It prints a score per check. We run it on every push."


def kit_copy(dest: Path) -> Path:
    """The kit's working tree (committed or not) as a fresh one-commit git repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=KIT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = KIT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "-m", "Course kit")
    return dest


def change_template(kit: Path) -> None:
    """Four kinds of change a course makes: a README line, a Makefile target, a new file,
    a dependency pin."""
    root = kit / TEMPLATE_DIR
    readme = root / "README.md"
    assert README_LINE in readme.read_text()
    readme.write_text(readme.read_text().replace(README_LINE, README_NEW))
    with (root / "Makefile").open("a") as makefile:
        makefile.write("\n.PHONY: hello\nhello:  ## Say hello from the course template\n")
        makefile.write("\t@echo hello from the template\n")
    (root / "docs" / "office-hours.md").write_text("# Office hours\n\nTuesdays 2-4 pm.\n")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pinned = next(line for line in text.splitlines() if '"pyyaml==' in line.lower())
    pyproject.write_text(text.replace(pinned, pinned.split("==")[0] + '==6.0.2",'))
    git(kit, "add", "--all")
    git(kit, "commit", "--quiet", "-m", "Template fixes for the second milestone")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Four teams generated from a kit copy; Delta rewrote the README line; the template
    then changed; `grader teams update` ran once. Shared: each test reads the result."""
    root = tmp_path_factory.mktemp("update")
    kit = kit_copy(root / "kit")
    roster = write_roster(root / "roster.csv", TEAMS)
    out = root / "teams"
    url = kit.as_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for role in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{role}_NAME", "Course Staff")
            mp.setenv(f"GIT_{role}_EMAIL", "staff@example.edu")
        created = main(
            [
                "teams",
                "create",
                str(roster),
                "--out",
                str(out),
                "--template",
                str(kit),
                "--template-url",
                url,
            ]
        )
        assert created == 0
        delta = out / "delta"
        readme = delta / "README.md"
        readme.write_text(readme.read_text().replace(README_LINE, README_TEAM))
        git(delta, "commit", "--quiet", "-am", "Our own README")
        change_template(kit)
        capture = subprocess.run(
            [str(KIT / ".venv" / "bin" / "grader"), "teams", "update", str(out)],
            capture_output=True,
            text=True,
            check=False,
            cwd=root,
        )
    return {
        "root": root,
        "kit": kit,
        "out": out,
        "url": url,
        "code": capture.returncode,
        "output": capture.stdout + capture.stderr,
    }


def branch_of(repo: Path) -> str:
    branches = git(repo, "branch", "--list", "template-*", "--format=%(refname:short)").split()
    assert len(branches) == 1, branches
    return branches[0]


def test_every_change_arrives_on_a_branch_that_cruft_accepts(classroom: dict[str, object]) -> None:
    out, kit = classroom["out"], classroom["kit"]
    assert isinstance(out, Path)
    assert isinstance(kit, Path)
    assert classroom["code"] == 0, classroom["output"]
    head = git(kit, "rev-parse", "HEAD")
    for slug in ("alpha", "beta", "gamma"):
        repo = out / slug
        branch = branch_of(repo)
        assert branch == f"template-{head[:10]}"
        assert README_NEW in git(repo, "show", f"{branch}:README.md")
        assert "hello from the template" in git(repo, "show", f"{branch}:Makefile")
        assert "Tuesdays" in git(repo, "show", f"{branch}:docs/office-hours.md")
        assert "==6.0.2" in git(repo, "show", f"{branch}:pyproject.toml")
        state = json.loads(git(repo, "show", f"{branch}:.cruft.json"))
        assert state["commit"] == head
        assert state["template"] == classroom["url"]
        # The instructor's checkout is untouched: still on main, clean, no worktree left.
        assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
        assert git(repo, "status", "--porcelain") == ""
        assert len(git(repo, "worktree", "list").splitlines()) == 1
        git(repo, "checkout", "--quiet", branch)
        assert cruft.check(repo)
        assert not list(repo.rglob("*.rej"))
        assert not (repo / ".git" / "index").is_file() or git(repo, "ls-files", ".git") == ""
        git(repo, "checkout", "--quiet", "main")
        assert f"{slug}: applied on {branch} (5 files changed)" in str(classroom["output"])


def test_a_team_that_edited_the_same_line_gets_a_rej_file(classroom: dict[str, object]) -> None:
    out = classroom["out"]
    assert isinstance(out, Path)
    delta = out / "delta"
    branch = branch_of(delta)
    output = str(classroom["output"])
    assert f"delta: conflicted on {branch}" in output
    assert "conflict: README.md.rej" in output
    assert "3 applied, 1 conflicted" in output
    # The team's line is kept; the template's change to it is the .rej diff; the rest applied.
    assert README_TEAM in git(delta, "show", f"{branch}:README.md")
    assert README_NEW not in git(delta, "show", f"{branch}:README.md")
    rejected = git(delta, "show", f"{branch}:README.md.rej")
    assert f"-{README_LINE}" in rejected
    assert f"+{README_NEW}" in rejected
    assert "Tuesdays" in git(delta, "show", f"{branch}:docs/office-hours.md")
    message = git(delta, "log", "-1", "--format=%B", branch)
    assert "README.md.rej" in message


def test_a_fresh_clone_checks_against_the_template_url(
    classroom: dict[str, object], tmp_path: Path
) -> None:
    out, url = classroom["out"], classroom["url"]
    assert isinstance(out, Path)
    clone = tmp_path / "student"
    git(tmp_path, "clone", "--quiet", "--branch", branch_of(out / "alpha"), str(out / "alpha"))
    (tmp_path / "alpha").rename(clone)
    done = subprocess.run(
        [str(KIT / ".venv" / "bin" / "cruft"), "check"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "up to date" in done.stdout
    assert json.loads((clone / ".cruft.json").read_text())["template"] == url


def test_a_student_takes_the_update_with_cruft_itself(
    classroom: dict[str, object], tmp_path: Path
) -> None:
    """What the student guide says to do: `cruft update` in a clone of the team repo. The
    template's renders for the update must not contain a git repository of their own."""
    out = classroom["out"]
    assert isinstance(out, Path)
    git(tmp_path, "clone", "--quiet", "--branch", "main", str(out / "beta"), "student")
    clone = tmp_path / "student"
    done = subprocess.run(
        [str(KIT / ".venv" / "bin" / "cruft"), "update", "--skip-apply-ask"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "invalid path" not in done.stdout + done.stderr
    assert README_NEW in (clone / "README.md").read_text()
    assert (clone / "docs" / "office-hours.md").is_file()
    assert not list(clone.rglob("*.rej"))
    assert git(clone, "ls-files", "--others", "--exclude-standard") == ""


def test_a_second_update_reports_the_existing_branch_and_a_current_repo(
    classroom: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    out = classroom["out"]
    assert isinstance(out, Path)
    git(out / "gamma", "merge", "--quiet", "--ff-only", branch_of(out / "gamma"))
    assert main(["teams", "update", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gamma: already current" in printed
    assert f"alpha: {branch_of(out / 'alpha')} branch exists" in printed


def test_a_repo_with_broken_cruft_state_is_an_error_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teams = tmp_path / "teams"
    repo = teams / "broken"
    repo.mkdir(parents=True)
    (repo / ".cruft.json").write_text("{not json")
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "start")
    assert main(["teams", "update", str(teams)]) == 3
    printed = capsys.readouterr().out
    assert "broken: error:" in printed
    assert ".cruft.json: not valid JSON" in printed
    assert "Traceback" not in printed


def test_an_empty_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["teams", "update", str(tmp_path)]) == 2
    assert "holds no team repository" in capsys.readouterr().err


def test_push_opens_a_pull_request_with_gh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Generated at the kit's first commit, pushed to a bare remote; the update's branch
    is pushed there and `gh pr create` gets the branch, the base and the body."""
    kit = kit_copy(tmp_path / "kit")
    roster = write_roster(tmp_path / "roster.csv", {"Alpha": TEAMS["Alpha"]})
    out = tmp_path / "teams"
    assert main(["teams", "create", str(roster), "--out", str(out), "--template", str(kit)]) == 0
    repo = out / "alpha"
    remote = tmp_path / "alpha.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "--quiet", "--set-upstream", "origin", "main")
    change_template(kit)
    log = tmp_path / "gh.log"
    fake_tool(tmp_path / "bin", "gh", f'echo "$@" >> {log}\n[ "$1" = auth ] && exit 0\nexit 0\n')
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    capsys.readouterr()

    assert main(["teams", "update", str(out), "--push"]) == 0

    branch = branch_of(repo)
    assert git(remote, "rev-parse", branch) == git(repo, "rev-parse", branch)
    calls = log.read_text()
    assert f"pr create --repo alpha --head {branch} --base main" in calls
    body = Path(calls.split("--body-file ")[1].split()[0]).read_text()
    assert "latest template changes" in body


def test_create_warns_when_it_would_record_a_local_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit = kit_copy(tmp_path / "kit")
    roster = write_roster(tmp_path / "roster.csv", {"Alpha": TEAMS["Alpha"]})
    out = tmp_path / "teams"
    assert main(["teams", "create", str(roster), "--out", str(out), "--template", str(kit)]) == 0
    printed = capsys.readouterr().out
    assert f"record the local path {kit}" in printed
    assert "--template-url" in printed
    assert not (out / "alpha" / ".github" / "workflows" / "grade.yml").exists()


def test_grade_workflow_follows_the_course_milestone(tmp_path: Path) -> None:
    """grade.yml calls the kit's reusable workflow at the course's current milestone;
    `teams update --milestone` moves it, with no template change at all."""
    kit = kit_copy(tmp_path / "kit")
    roster = write_roster(tmp_path / "roster.csv", {"Alpha": TEAMS["Alpha"]})
    out = tmp_path / "teams"
    args = ["teams", "create", str(roster), "--out", str(out), "--template", str(kit)]
    args += ["--template-url", kit.as_uri(), "--kit-repository", "my-course/capstone-kit"]
    assert main([*args, "--checkout", "main", "--milestone", "m1"]) == 0
    repo = out / "alpha"
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "grade.yml").read_text())
    job = workflow["jobs"]["grade"]
    assert job["uses"] == "my-course/capstone-kit/.github/workflows/self-grade.yml@main"
    assert job["with"]["milestone"] == "m1"
    assert job["with"]["kit-ref"] == "main"

    assert main(["teams", "update", str(out), "--milestone", "m2"]) == 0
    moved = git(repo, "show", f"{branch_of(repo)}:.github/workflows/grade.yml")
    assert yaml.safe_load(moved)["jobs"]["grade"]["with"]["milestone"] == "m2"


def test_workflow_answers_read_the_kit_from_a_github_url() -> None:
    answers = workflow_answers("https://github.com/my-course/capstone-kit.git", "v2026.1", "m3")
    assert answers == {
        "kit_repository": "my-course/capstone-kit",
        "kit_ref": "v2026.1",
        "milestone": "m3",
    }
    assert workflow_answers("git@github.com:c/kit", None, "m0")["kit_repository"] == "c/kit"
    assert workflow_answers("file:///srv/kit", None, "m0")["kit_repository"] == ""


def test_current_milestone_is_the_first_not_yet_due(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    path = tmp_path / "course.yaml"
    path.write_text(
        "course: MLOps\n"
        "milestones:\n"
        "  m0: {deadline: 2026-09-20T23:59:00-04:00, weight: 10}\n"
        "  m1: {deadline: 2026-10-04T23:59:00-04:00, weight: 90}\n"
    )
    course = load_course(path)
    assert current_milestone(course, datetime(2026, 9, 1, tzinfo=UTC)) == "m0"
    assert current_milestone(course, datetime(2026, 9, 30, tzinfo=UTC)) == "m1"
    assert current_milestone(course, datetime(2026, 12, 30, tzinfo=UTC)) == "m1"
    assert current_milestone(None) is None
