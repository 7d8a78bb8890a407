"""`grader batch` and `grader diff` on five teams generated from a roster by `grader teams`.

Acceptance of the class workflow: parallel grading, resume after SIGINT without regrading
finished teams, a team that times out keeps its row, `--from-results` matches local grading.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from grader.main import main
from grader.reports.gradescope import read_grade
from tests.classroom import FAST_RUBRIC, FIVE_TEAMS, fake_tool, path_with, write_roster
from tests.helpers import commit_all, write_rubric

SLUGS = ["team-alpha", "beta", "gamma-rays", "delta", "epsilon"]
KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five team repositories made once by `grader teams create` (read-only for the tests)."""
    root = tmp_path_factory.mktemp("class")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{var}_NAME", "Course Staff")
            mp.setenv(f"GIT_{var}_EMAIL", "staff@example.edu")
        roster = write_roster(root / "people.csv", FIVE_TEAMS)
        assert main(["teams", "create", str(roster), "--out", str(root / "repos")]) == 0
    return root / "repos"


@pytest.fixture
def workspace(generated: Path, tmp_path: Path) -> Path:
    """A writable copy of the five repos, a roster with a repo column, and the rubric."""
    shutil.copytree(generated, tmp_path / "repos")
    repos = {team: f"repos/{slug}" for team, slug in zip(FIVE_TEAMS, SLUGS, strict=True)}
    write_roster(tmp_path / "roster.csv", FIVE_TEAMS, repos)
    write_rubric(tmp_path / "t1.yaml", FAST_RUBRIC)
    return tmp_path


def _batch(ws: Path, out: str, *extra: str) -> int:
    args = ["batch", str(ws / "roster.csv"), "--rubric", str(ws / "t1.yaml"), "--out"]
    return main([*args, str(ws / out), *extra])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _graded_at(out: Path) -> dict[str, str]:
    return {
        d.name: read_grade(d / "results.json").graded_at
        for d in sorted((out / "teams").iterdir())
        if (d / "results.json").is_file()
    }


@pytest.mark.slow
def test_batch_grades_five_teams_with_two_jobs_then_only_regrades_what_changed(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _batch(workspace, "out", "--jobs", "2") == 0
    out = workspace / "out"
    rows = _rows(out / "gradebook.csv")
    assert [r["team"] for r in rows if r["kind"] == "team"] == SLUGS
    members = [r for r in rows if r["kind"] == "member"]
    assert len(members) == 10
    assert {r["email"] for r in members} >= {"ann@example.edu", "jan@example.edu"}
    assert all(r["status"] == "graded" and r["score"] for r in rows)
    for slug in SLUGS:
        assert {"results.json", "feedback.md", "junit.xml", "batch.json"} <= {
            p.name for p in (out / "teams" / slug).iterdir()
        }
    items = {r["check"]: r for r in _rows(out / "items.csv")}
    assert items["files"]["most_common_failure"] == "missing: FIXED.md"
    assert items["manifest"]["pass_rate"] == "1"
    first = _graded_at(out)
    capsys.readouterr()

    # Nothing changed: every team comes from the cache, nothing is regraded.
    assert _batch(workspace, "out", "--jobs", "2") == 0
    assert _graded_at(out) == first
    assert capsys.readouterr().out.count("(cached)") == 5
    # --json: one row per team on stdout, the progress on stderr; --quiet: nothing.
    assert _batch(workspace, "out", "--json") == 0
    captured = capsys.readouterr()
    rows = {row["team"]: row for row in json.loads(captured.out)}
    assert set(rows) == set(SLUGS)
    assert rows["beta"]["status"] == "graded"
    assert rows["beta"]["score"] == read_grade(out / "teams" / "beta" / "results.json").score
    assert rows["beta"]["results"] == str(out / "teams" / "beta" / "results.json")
    assert captured.err.count("(cached)") == 5
    assert _batch(workspace, "out", "--quiet") == 0
    assert capsys.readouterr() == ("", "")

    # One team commits a fix: only that team is graded again, and diff shows the change.
    old = out / "teams" / "beta" / "results.json"
    shutil.copy(old, workspace / "beta-before.json")
    (workspace / "repos" / "beta" / "FIXED.md").write_text("fixed\n")
    commit_all(workspace / "repos" / "beta", "Add FIXED.md", author=("Cy Dee", "cy@example.edu"))
    assert _batch(workspace, "out") == 0
    after = _graded_at(out)
    assert {t for t in SLUGS if after[t] != first[t]} <= {"beta"}
    assert read_grade(old).commit != read_grade(workspace / "beta-before.json").commit
    capsys.readouterr()
    assert main(["diff", str(workspace / "beta-before.json"), str(old)]) == 0
    shown = capsys.readouterr().out
    assert "files" in shown
    assert "failed 7.5/10" in shown
    assert "passed 10/10" in shown
    # Two teams' results are not one team's change, unless asked for with --any.
    other = out / "teams" / "delta" / "results.json"
    assert main(["diff", str(old), str(other)]) == 2
    assert (
        f"{old} and {other} are results of two teams ('Beta', 'Delta'): compare one team's"
    ) in " ".join(capsys.readouterr().err.split())
    assert main(["diff", "--any", str(old), str(other)]) == 0
    assert capsys.readouterr().out.startswith("comparing results of two teams ('Beta', 'Delta')")
    assert main(["diff", "--json", str(workspace / "beta-before.json"), str(old)]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["team"] == "Beta"
    assert changed["compared"] is None
    assert {"check": "files", "before": "failed 7.5/10", "after": "passed 10/10"}.items() <= (
        next(c for c in changed["changes"] if c["check"] == "files").items()
    )

    # --only regrades one team even though it is cached.
    assert _batch(workspace, "out", "--only", "delta") == 0
    assert {t for t in SLUGS if _graded_at(out)[t] != after[t]} == {"delta"}
    # --force grades every team again: none comes from the cache.
    capsys.readouterr()
    assert _batch(workspace, "out", "--force") == 0
    shown = capsys.readouterr().out
    assert "(cached)" not in shown
    assert all(slug in shown for slug in SLUGS)


@pytest.mark.slow
def test_sigint_stops_cleanly_and_the_rerun_resumes_without_regrading(workspace: Path) -> None:
    out = workspace / "out"
    cmd = [sys.executable, "-m", "grader", "batch", "roster.csv", "--rubric", "t1.yaml"]
    proc = subprocess.Popen(
        [*cmd, "--out", "out", "--jobs", "1"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(KIT)},
    )
    deadline = time.monotonic() + 120
    while len(list(out.glob("teams/*/batch.json"))) < 2:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, output
    assert "run the same command again to resume" in output
    finished = _graded_at(out)
    assert 2 <= len(finished) < 5
    assert not (out / "gradebook.csv").exists()
    assert not list((out / "teams" / ".staging").iterdir())  # no half-written team

    assert _batch(workspace, "out", "--jobs", "2") == 0
    resumed = _graded_at(out)
    assert set(resumed) == set(SLUGS)
    assert {t: resumed[t] for t in finished} == finished  # finished teams were not regraded


@pytest.mark.slow
def test_a_team_that_times_out_or_cannot_be_fetched_still_gets_its_row(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Delta's clone hangs (a huge repository, a dead server): a git that never answers for it.
    real_git = shutil.which("git")
    fake_tool(
        workspace / "bin",
        "git",
        f"""case "$*" in *clone*repos/delta*) sleep 120;; esac
exec {real_git} "$@"
""",
    )
    monkeypatch.setenv("PATH", path_with(workspace / "bin"))
    shutil.rmtree(workspace / "repos" / "epsilon")  # and Epsilon's repo is gone
    started = time.monotonic()
    assert _batch(workspace, "out", "--jobs", "2", "--timeout", "15") == 3
    assert time.monotonic() - started < 60
    teams = {
        r["team"]: r for r in _rows(workspace / "out" / "gradebook.csv") if r["kind"] == "team"
    }
    assert list(teams) == SLUGS
    assert teams["delta"]["status"] == "error"
    assert teams["delta"]["score"] == ""
    assert "time limit of 15s" in teams["delta"]["reason"]
    assert teams["epsilon"]["status"] == "error"
    assert "is not a folder" in teams["epsilon"]["reason"]
    assert all(teams[t]["status"] == "graded" for t in ("team-alpha", "beta", "gamma-rays"))
    members = [r for r in _rows(workspace / "out" / "gradebook.csv") if r["team"] == "delta"]
    assert len(members) == 3  # the team row and both members, even without a grade


@pytest.mark.slow
def test_from_results_gives_the_same_class_outputs_as_local_grading(workspace: Path) -> None:
    assert _batch(workspace, "local", "--jobs", "2") == 0
    # What a TA downloads from each team's self-grade workflow run: one folder per team.
    downloads = workspace / "downloads"
    for slug in SLUGS:
        (downloads / slug).mkdir(parents=True)
        shutil.copy(workspace / "local" / "teams" / slug / "results.json", downloads / slug)
    # Unsigned results are self-reported: counted only when the TA accepts them.
    assert _batch(workspace, "ci", "--from-results", str(downloads), "--accept-self-reported") == 0
    for name in ("canvas.csv", "items.csv"):
        local = (workspace / "local" / name).read_text()
        assert (workspace / "ci" / name).read_text() == local, name
    ci = _rows(workspace / "ci" / "gradebook.csv")
    assert all(r.pop("reason").startswith("self-reported") for r in ci)
    local_rows = _rows(workspace / "local" / "gradebook.csv")
    assert ci == [{k: v for k, v in r.items() if k != "reason"} for r in local_rows]
    assert (workspace / "ci" / "teams" / "beta" / "feedback.md").is_file()


def test_from_results_flags_missing_files_and_other_rubrics(
    workspace: Path, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    assert _batch(workspace, "ci", "--from-results", str(downloads)) == 3
    rows = _rows(workspace / "ci" / "gradebook.csv")
    assert {r["status"] for r in rows} == {"error"}
    assert "no results.json for this team" in rows[0]["reason"]


def test_roster_without_repo_column_is_a_usage_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_roster(workspace / "roster.csv", FIVE_TEAMS)
    assert _batch(workspace, "out") == 2
    assert "missing column 'repo'" in capsys.readouterr().err


def test_only_an_unknown_team_is_a_usage_error(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _batch(workspace, "out", "--only", "omega") == 2
    assert "no team 'omega'" in capsys.readouterr().err


WORKFLOW = KIT / ".github" / "workflows" / "self-grade.yml"


def test_self_grade_workflow_is_valid_and_reusable() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    call = workflow[True]["workflow_call"]  # YAML 1.1 reads the key `on` as True
    assert call["inputs"]["milestone"]["required"] is True
    steps = workflow["jobs"]["grade"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert "actions/upload-artifact@v4" in uses
    assert any("GITHUB_STEP_SUMMARY" in s.get("run", "") for s in steps)


@pytest.mark.slow
def test_self_grade_step_script_grades_and_sets_the_score(workspace: Path) -> None:
    """Run the workflow's Grade step as the runner would, on a team repo and a kit stand-in."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    step = next(s for s in workflow["jobs"]["grade"]["steps"] if s.get("id") == "grade")
    run = workspace / "runner"
    (run / "kit" / "rubrics").mkdir(parents=True)
    shutil.copy(workspace / "t1.yaml", run / "kit" / "rubrics" / "t1.yaml")
    shutil.copytree(workspace / "repos" / "beta", run / "team")
    env = {
        **os.environ,
        "MILESTONE": "t1",
        "DEADLINE": "",
        "FAIL_UNDER": "0",
        "GITHUB_OUTPUT": str(run / "output"),
        "PATH": path_with(Path(sys.executable).parent),
    }
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=run, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    score = read_grade(run / "grader-out" / "results.json").score
    assert (run / "output").read_text() == f"score={score}\n"
