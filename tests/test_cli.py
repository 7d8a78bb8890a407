"""`grader check` end to end on fixture git repos, driven in-process through main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from grader import __version__
from grader.main import app, main
from tests.helpers import write_rubric

MakeRepo = Callable[..., Path]

RUBRIC = """\
milestone: t1
title: Test milestone
checks:
  - id: manifest
    check: repo.manifest
    points: 10
  - id: files
    check: repo.files
    points: 10
    params: {paths: [README.md, Dockerfile]}
  - id: readme
    check: repo.readme_sections
    points: 5
    needs: [files]
    params: {sections: [Quick start]}
  - id: secrets
    check: repo.secrets
    points: 5
    visibility: hidden
manual:
  - id: demo
    title: Live demo
    points: 10
    levels:
      - {label: excellent, points: 10}
      - {label: weak, points: 4}
"""


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    return write_rubric(tmp_path / "t1.yaml", RUBRIC)


def _check(repo: Path, rubric: Path, out: Path, *extra: str) -> int:
    return main(["check", str(repo), "--rubric", str(rubric), "--out", str(out), *extra])


def test_check_writes_three_reports_whose_scores_add_up(
    make_repo: MakeRepo, rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    scores = tmp_path / "scores.yaml"
    scores.write_text("demo: {level: weak, comment: hard to follow}\n")
    out = tmp_path / "out"
    assert _check(repo, rubric, out, "--manual", str(scores)) == 0

    data = json.loads((out / "results.json").read_text())
    tests = {t["name"].split(":")[0]: t for t in data["tests"]}
    assert set(tests) == {"manifest", "files", "readme", "secrets", "demo"}
    assert tests["files"]["score"] == 5.0  # README.md present, Dockerfile missing
    assert tests["readme"]["extra_data"]["status"] == "blocked"
    assert tests["readme"]["status"] == "failed"
    assert tests["demo"]["score"] == 4.0
    assert data["score"] == sum(t["score"] for t in data["tests"]) == 10 + 5 + 0 + 5 + 4

    junit = ET.parse(out / "junit.xml").getroot()
    assert junit.attrib["tests"] == "4"
    assert junit.attrib["failures"] == "2"
    props = {p.attrib["name"]: p.attrib["value"] for p in junit.iter("property")}
    assert float(props["score"]) == data["score"]

    feedback = (out / "feedback.md").read_text()
    assert "- Score: **24 / 40**" in feedback
    hidden = "| secrets | No secrets (keys, tokens, private keys) are committed |  | 5 / 5 |"
    assert f"{hidden} (details hidden) |" in feedback
    assert "missing: Dockerfile" in feedback
    assert "Live demo | 4 / 10 | weak | hard to follow" in feedback

    stdout = capsys.readouterr().out
    assert "Total: 24 / 40" in stdout
    assert f"results.json: {out / 'results.json'}" in stdout


def test_fail_under_exits_1(make_repo: MakeRepo, rubric: Path, tmp_path: Path) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    assert _check(repo, rubric, tmp_path / "o", "--fail-under", "30") == 1
    assert _check(repo, rubric, tmp_path / "o", "--fail-under", "10") == 0


def test_a_missing_folder_is_a_usage_error_before_anything_is_graded(
    rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(tmp_path / "nope", rubric, tmp_path / "o") == 2
    captured = capsys.readouterr()
    assert f"{tmp_path / 'nope'}: no such folder" in captured.err
    assert "Grading" not in captured.out
    assert not (tmp_path / "o").exists()


def test_a_folder_that_is_not_a_git_repository_is_a_usage_error(
    rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "README.md").write_text("# work\n")
    assert _check(folder, rubric, tmp_path / "o") == 2
    captured = capsys.readouterr()
    assert f"{folder}: not a git repository (the grader grades commits" in captured.err
    assert "Grading" not in captured.out
    assert not (tmp_path / "o").exists()


def test_uncommitted_and_untracked_files_are_named_in_a_warning(
    make_repo: MakeRepo, rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    assert _check(repo, rubric, tmp_path / "o", "--only", "manifest") == 0
    assert "warning" not in capsys.readouterr().out  # a clean checkout: nothing to say
    (repo / "README.md").write_text("# edited, not committed\n")
    (repo / "notes.txt").write_text("new\n")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "scratch/\n")
    (repo / "scratch").mkdir()
    (repo / "scratch" / "ignored.txt").write_text("ignored\n")
    assert _check(repo, rubric, tmp_path / "o", "--only", "manifest") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "warning: not graded (only the last commit is): uncommitted changes to .gitignore,"
        " README.md, notes.txt; commit them to have them graded"
    ) in out


def test_json_prints_only_the_results_and_quiet_prints_nothing(
    make_repo: MakeRepo, rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    assert _check(repo, rubric, tmp_path / "o", "--json") == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)  # stdout is the JSON and nothing else
    assert printed == json.loads((tmp_path / "o" / "results.json").read_text())
    assert "Grading" in captured.err  # the human output went to stderr
    assert _check(repo, rubric, tmp_path / "q", "--quiet") == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "q" / "results.json").is_file()
    # Errors still reach stderr with -q.
    assert _check(tmp_path / "nope", rubric, tmp_path / "q", "-q") == 2
    assert "no such folder" in capsys.readouterr().err


def test_an_unknown_milestone_lists_the_known_ones(
    make_repo: MakeRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    assert main(["check", str(make_repo(team_files())), "-m", "m9"]) == 2
    assert "no milestone 'm9' in the kit (milestones: expo, m0, m1, m2, m3, m4)" in (
        capsys.readouterr().err
    )


def test_bad_manual_scores_exit_2(
    make_repo: MakeRepo, rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    scores = tmp_path / "s.csv"
    scores.write_text("item,score\ndemo,11\nposter,3\n")
    assert _check(make_repo(team_files()), rubric, tmp_path / "o", "--manual", str(scores)) == 2
    err = capsys.readouterr().err
    assert f"{scores}:2: demo: score 11 is outside 0..10" in err
    assert f"{scores}:3: poster: not a manual item of t1" in err


def test_usage_errors_exit_2(
    make_repo: MakeRepo, rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    assert _check(repo, rubric, tmp_path / "o", "--only", "nosuch") == 2
    assert "no check 'nosuch' in rubric t1" in capsys.readouterr().err
    assert main(["check", str(repo)]) == 2
    assert main(["check", str(repo), "--rubric", str(rubric), "--bogus"]) == 2


def test_only_and_skip_select_checks(make_repo: MakeRepo, rubric: Path, tmp_path: Path) -> None:
    from tests.helpers import team_files

    out = tmp_path / "o"
    assert (
        _check(make_repo(team_files()), rubric, out, "--only", "manifest", "--only", "secrets") == 0
    )
    names = [
        t["name"].split(":")[0] for t in json.loads((out / "results.json").read_text())["tests"]
    ]
    assert names == ["manifest", "secrets"]
    # `--check`, as `grader batch` names it, selects the same.
    again = tmp_path / "again"
    assert _check(make_repo(team_files()), rubric, again, "--check", "secrets") == 0
    tests = json.loads((again / "results.json").read_text())["tests"]
    assert [t["name"].split(":")[0] for t in tests] == ["secrets"]


def test_check_dot_writes_under_the_folders_own_name(
    make_repo: MakeRepo, rubric: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.helpers import team_files

    repo = make_repo(team_files())
    monkeypatch.chdir(repo)
    assert main(["check", ".", "--rubric", str(rubric), "--only", "manifest"]) == 0
    assert (repo / "grader-out" / f"{repo.name}-t1" / "results.json").is_file()


def test_shell_completion_completes_commands_and_milestones() -> None:
    grader = str(Path(sys.executable).parent / "grader")

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_GRADER_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
        done = subprocess.run([grader], env=env, capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("grader ch") == ["check"]
    assert complete("grader check --mi") == ["--milestone"]
    assert complete("grader check . -m ") == ["expo", "m0", "m1", "m2", "m3", "m4"]
    assert complete("grader batch -m m") == ["m0", "m1", "m2", "m3", "m4"]
    script = subprocess.run(
        [grader, "--show-completion", "bash"], capture_output=True, text=True, check=True
    )
    assert "_GRADER_COMPLETE=complete_bash" in script.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"grader {__version__}"
    assert main(["-V"]) == 0
    assert capsys.readouterr().out.strip() == f"grader {__version__}"


def test_every_command_takes_h_for_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["-h"], ["check", "-h"], ["manifest", "init", "-h"], ["teams", "update", "-h"]):
        assert main(argv) == 0
        assert capsys.readouterr().out.startswith("Usage: grader")


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import typer

    command = typer.main.get_command(app) if group is app else group
    subs = getattr(command, "commands", {})
    if not subs:
        return [prefix]
    return [p for name, sub in subs.items() for p in _commands(sub, (*prefix, name))]


def test_every_command_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(app)
    assert ("check",) in commands
    assert ("rubric", "explain") in commands
    for path in commands:
        assert main([*path, "--help"]) == 0
        assert "Example: grader " in capsys.readouterr().out, path


def test_rubric_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rubric", "explain", "repo.large_files"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("repo.large_files: No large files in the tree or anywhere in git history")
    assert "max_kb (default 1024): Largest allowed file, in KiB." in out
    assert main(["rubric", "explain", "repo.nope"]) == 2


def test_manifest_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers import MANIFEST

    (tmp_path / "capstone.yaml").write_text(MANIFEST)
    assert main(["manifest", "validate", str(tmp_path)]) == 0
    assert "valid (team Team Alpha: ann-lee, bochen)" in capsys.readouterr().out
    (tmp_path / "capstone.yaml").write_text("version: 2\nteam: {}\n")
    assert main(["manifest", "validate", str(tmp_path)]) == 2
    assert "capstone.yaml:1: version: unsupported version 2; expected 1" in capsys.readouterr().err


def test_every_command_takes_json_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    missing = []
    for path in _commands(app):
        assert main([*path, "--help"]) == 0
        text = capsys.readouterr().out
        missing += [(path, flag) for flag in ("--json", "--quiet") if flag not in text]
    assert missing == []


JSON_COMMANDS = [
    (["rubric", "show", "m0"], "checks"),
    (["rubric", "validate", "m0", "m1"], "valid"),
    (["rubric", "explain", "repo.secrets"], "explanation"),
    (["rubric", "schema"], "schema"),
    (["manifest", "schema"], "schema"),
    (["init", "{tmp}/course"], "written"),
]


@pytest.mark.parametrize(("argv", "key"), JSON_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_prints_the_result_on_stdout_and_quiet_prints_nothing(
    argv: list[str], key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path / "json")) for a in argv]
    assert main([*args, "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # stdout is nothing but the JSON
    assert data[key]
    assert err.strip()  # the human output moved to stderr
    args = [a.replace("{tmp}", str(tmp_path / "quiet")) for a in argv]
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().out == ""


BAD_RUBRIC = "milestone: t1\ntitle: T\nchecks:\n  - {id: a, check: repo.nosuch, points: 1}\n"
BUILD_RUBRIC = (
    "milestone: t1\ntitle: T\nchecks:\n  - {id: manifest, check: repo.manifest, points: 1}\n"
    "  - {id: hooks, check: precommit.run, points: 1, needs: [manifest]}\n"
)

# Every exit code the README documents, each from the input that causes it (and what it
# says on stderr, or on stdout where it is a grade). For 2 (usage),
# nothing is graded and nothing is written: the message comes before any "Grading".
EXIT_CODES = [
    ("graded", [], 0, ""),
    ("score under --fail-under", ["--fail-under", "30"], 1, ""),
    ("missing folder", ["@nope"], 2, "no such folder"),
    ("not a git repository", ["@plain"], 2, "not a git repository (the grader grades commits"),
    ("unknown milestone", ["-m", "m9", "@norubric"], 2, "(milestones: expo, m0, m1, m2, m3, m4)"),
    ("unknown option", ["--bogus"], 2, "No such option: --bogus"),
    ("unknown check in --only", ["--only", "nosuch"], 2, "no check 'nosuch' in rubric t1"),
    ("bad rubric", ["@badrubric"], 2, ":4: checks[0].check: unknown check 'repo.nosuch'"),
    ("bad network mode", ["--network", "bridge"], 2, "network mode 'bridge': expected auto"),
    ("clone failed", ["@clone"], 3, "git clone failed"),
    ("unknown ref", ["--ref", "m7"], 3, "unknown ref 'm7'"),
    ("a check in error", ["@engine-down"], 3, "stdout: Needs review: not a grade"),
    ("interrupted", ["@interrupt"], 130, "interrupted"),
]


@pytest.mark.parametrize(
    ("case", "extra", "code", "says"), EXIT_CODES, ids=[c[0] for c in EXIT_CODES]
)
def test_every_documented_exit_code(
    case: str,
    extra: list[str],
    code: int,
    says: str,
    make_repo: MakeRepo,
    rubric: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.helpers import team_files

    target, rubric_args = str(make_repo(team_files())), ["--rubric", str(rubric)]
    if "@nope" in extra:
        target = str(tmp_path / "nope")
    if "@plain" in extra:
        (tmp_path / "plain").mkdir()
        target = str(tmp_path / "plain")
    if "@norubric" in extra:
        rubric_args = []
    if "@badrubric" in extra:
        rubric_args = ["--rubric", str(write_rubric(tmp_path / "bad.yaml", BAD_RUBRIC))]
    if "@engine-down" in extra:  # the grader cannot judge the build: the team needs review
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        hooks = team_files(**{".pre-commit-config.yaml": "repos: []\n"})
        target = str(make_repo(hooks, name="hooks"))
        rubric_args = ["--rubric", str(write_rubric(tmp_path / "build.yaml", BUILD_RUBRIC))]
    if "@clone" in extra:
        target = f"file://{tmp_path}/missing.git"
    if "@interrupt" in extra:

        def interrupted(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr("grader.commands.check.grade", interrupted)
    options = [a for a in extra if not a.startswith("@")]
    out = tmp_path / "out"
    argv = ["check", target, *rubric_args, "--out", str(out), *options]
    assert main(argv) == code, case
    captured = capsys.readouterr()
    # Errors go to stderr; a grade (even one that needs review) to stdout.
    if says.startswith("stdout: "):
        assert says.removeprefix("stdout: ") in captured.out
    else:
        assert says in captured.err
    if code == 2:
        assert "Grading" not in captured.out
        assert not out.exists()
