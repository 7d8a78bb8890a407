"""`grader teams create`: roster validation, repos generated with cruft, gh commands."""

from __future__ import annotations

import json
from pathlib import Path

import cruft
import pytest
import yaml

from grader.main import main
from grader.roster import team_slug
from tests.classroom import fake_tool, path_with, write_roster
from tests.helpers import git

TWO_TEAMS = {
    "Team Alpha": [
        ("Ann Lee", "ann@example.edu", "ann-lee"),
        ("Bo Chen", "bo@example.edu", "bochen"),
    ],
    "07": [("Cy Dee", "cy@example.edu", "@cydee")],
}


def _create(roster: Path, out: Path, *extra: str) -> int:
    return main(["teams", "create", str(roster), "--out", str(out), *extra])


def test_missing_column_is_rejected_on_line_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("team,name,email\nAlpha,Ann Lee,ann@example.edu\n")
    assert _create(roster, tmp_path / "out") == 2
    assert f"{roster}:1: missing column 'github'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_every_bad_row_is_reported_with_its_line_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Team,Name,Email,GitHub\n"
        "Alpha,Ann Lee,ann@example.edu,ann-lee\n"
        "Alpha,Bo Chen,,bochen\n"
        "Beta,Cy Dee,cy@example.edu,not a handle\n"
        "alpha!,Di Eve,di@example.edu,di-eve\n"
        "Gamma,Ed Fox,ed@example.edu,ANN-LEE\n"
        'Delta,"Lee, Ann",dl@example.edu,dlee\n'
    )
    assert _create(roster, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{roster}:3: empty 'email'" in err
    assert f"{roster}:4: 'not a handle' is not a valid GitHub handle" in err
    assert f"{roster}:5: duplicate team: 'alpha!' and 'Alpha'" in err
    assert f"{roster}:6: duplicate github 'ann-lee' (also on line 2)" in err
    assert f"{roster}:7: name 'Lee, Ann' must not contain" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_slugs_name_valid_repositories() -> None:
    assert team_slug("Team Alpha") == "team-alpha"
    assert team_slug("07") == "team-07"
    assert team_slug("  Équipe_3 ") == "equipe-3"


@pytest.mark.slow
def test_create_generates_tagged_cruft_linked_repos_and_pushes_with_gh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A stand-in for the GitHub CLI: logged in; `repo create` makes a bare repo as the remote.
    remotes = tmp_path / "github"
    bin_dir = tmp_path / "bin"
    fake_tool(
        bin_dir,
        "gh",
        f"""echo "$@" >> {tmp_path}/gh.log
[ "$1 $2" = "auth status" ] && exit 0
name=$(basename "$3"); src=$6
git init -q --bare "{remotes}/$name.git"
git -C "$src" remote add origin "{remotes}/$name.git"
git -C "$src" push -q origin HEAD
""",
    )
    monkeypatch.setenv("PATH", path_with(bin_dir))
    roster = write_roster(tmp_path / "roster.csv", TWO_TEAMS)
    out = tmp_path / "teams"

    assert _create(roster, out, "--org", "course-26", "--push") == 0

    printed = capsys.readouterr().out
    assert f"gh repo create course-26/team-alpha --private --source {out}/team-alpha --push" in (
        printed
    )
    assert sorted(p.name for p in out.iterdir()) == ["team-07", "team-alpha"]
    repo = out / "team-alpha"
    assert git(repo, "status", "--porcelain") == ""  # .cruft.json is in the first commit
    assert git(repo, "rev-list", "--count", "HEAD") == "1"
    assert git(repo, "rev-parse", "m0-start^{commit}") == git(repo, "rev-parse", "HEAD")
    cruft_json = json.loads((repo / ".cruft.json").read_text())
    assert cruft_json["context"]["cookiecutter"]["team_name"] == "Team Alpha"
    assert cruft.check(repo)
    assert cruft.update(repo, skip_apply_ask=True)
    manifest = yaml.safe_load((repo / "capstone.yaml").read_text())
    assert [(m["github"], m["email"]) for m in manifest["team"]["members"]] == [
        ("ann-lee", "ann@example.edu"),
        ("bochen", "bo@example.edu"),
    ]
    assert (out / "team-07" / "src" / "team_07").is_dir()
    remote = remotes / "team-alpha.git"
    assert git(remote, "rev-parse", "m0-start^{commit}") == git(repo, "rev-parse", "HEAD")

    # Run again: existing repositories are kept, not regenerated.
    assert _create(roster, out) == 0
    assert "exists, kept as is" in capsys.readouterr().out


def test_push_without_gh_is_refused_before_anything_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    roster = write_roster(tmp_path / "roster.csv", TWO_TEAMS)
    assert _create(roster, tmp_path / "out", "--push") == 2
    assert "`gh` is not installed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_gh_not_logged_in_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_tool(tmp_path / "bin", "gh", "exit 1\n")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    roster = write_roster(tmp_path / "roster.csv", TWO_TEAMS)
    assert _create(roster, tmp_path / "out", "--push") == 2
    assert "gh auth login" in capsys.readouterr().err
