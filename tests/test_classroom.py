"""The staff's grading workflow (`grader classroom workflow`): valid for GitHub, one job per
team, and its shell steps, run as written, give the same gradebook as `grader batch`.

The test plays the runner: it parses the generated YAML, evaluates the `${{ }}` expressions
the steps use (matrix, inputs, secrets, steps' outputs, github), runs each `run:` script
with `bash -eo pipefail` (GitHub's default shell) in a fresh workspace per job, with
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_REPOSITORY and GITHUB_RUN_ID. It emulates the
`uses:` steps: actions/checkout of the grading repository (the roster and the rubric are
copied into the workspace) and of the kit (an empty `kit/`), actions/setup-python (nothing:
the test's Python is used), actions/upload-artifact (a copy into a fake artifact store) and
actions/download-artifact (a copy out of it, by pattern). On PATH, a fake `python` records
the kit's install command instead of installing, and a fake `gh` answers the jobs API with
each grading job's conclusion. Teams' repositories are file:// remotes.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import __version__
from grader.main import main
from tests.classroom import FAST_RUBRIC, FIVE_TEAMS, fake_tool, write_roster
from tests.helpers import git, init_repo, team_files, write_rubric

KEY = "staff-only-signing-key"
TEAMS = {
    "Team Alpha": FIVE_TEAMS["Team Alpha"],
    "Beta": FIVE_TEAMS["Beta"],
    "Ghost": [("Kim Lo", "kim@example.edu", "kimlo")],
}
SLUGS = {"Team Alpha": "team-alpha", "Beta": "beta", "Ghost": "ghost"}
VENV_BIN = str(Path(sys.executable).parent)  # where `grader` is installed
DEADLINE = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def staff(tmp_path: Path) -> Path:
    """The grading repository's files: a roster of file:// remotes and the rubric. Each real
    team has a commit after the deadline that must not be graded; Ghost's repo is missing."""
    later = (DEADLINE + timedelta(days=1)).isoformat()
    for slug in ("team-alpha", "beta"):
        repo = init_repo(tmp_path / "remotes" / slug, team_files())
        (repo / "FIXED.md").write_text("late\n")
        git(repo, "add", "-A")
        env = {"GIT_AUTHOR_DATE": later, "GIT_COMMITTER_DATE": later}
        git(repo, "commit", "-q", "-m", "after the deadline", env=env)
    urls = {team: (tmp_path / "remotes" / slug).as_uri() for team, slug in SLUGS.items()}
    staff = tmp_path / "staff"
    staff.mkdir()
    write_roster(staff / "roster.csv", TEAMS, urls)
    write_rubric(staff / "t1.yaml", FAST_RUBRIC)
    return staff


def _generate(staff: Path, *extra: str) -> dict[str, Any]:
    out = staff / ".github" / "workflows" / "grade.yml"
    cwd = Path.cwd()
    os.chdir(staff)
    try:
        args = ["classroom", "workflow", "roster.csv", "--milestone", "t1", "--out", str(out)]
        assert main([*args, "--kit-ref", "v2026.1", *extra]) == 0
    finally:
        os.chdir(cwd)
    data: dict[str, Any] = yaml.safe_load(out.read_text())
    return data


def test_workflow_is_valid_for_github_with_one_job_per_team(staff: Path) -> None:
    _generate(
        staff, "--rubric", "t1.yaml", "--deadline", DEADLINE.isoformat(), "--max-parallel", "7"
    )
    path = staff / ".github" / "workflows" / "grade.yml"
    schema = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [str(schema), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(path.read_text())
    grade = data["jobs"]["grade"]
    assert [e["team"] for e in grade["strategy"]["matrix"]["include"]] == list(SLUGS.values())
    assert grade["strategy"]["max-parallel"] == 7
    assert data["on"]["schedule"] == [{"cron": _cron(DEADLINE + timedelta(hours=1))}]
    kit = next(s for s in grade["steps"] if s.get("name") == "Check out the course kit")
    assert kit["with"]["ref"] == "v2026.1"
    assert "secrets.TEAMS_READ_TOKEN" in path.read_text()
    default = _generate(staff)["env"]  # no --rubric: the kit's rubric of the chosen milestone
    assert _eval(default["RUBRIC_ARGS"], {"inputs": {"milestone": "m3"}}) == "--milestone m3"
    assert _eval(default["RUBRIC_ARGS"], {"inputs": {}}) == "--milestone t1"


def _cron(when: datetime) -> str:
    return f"{when.minute} {when.hour} {when.day} {when.month} *"


def test_the_kit_is_pinned_to_this_graders_release_by_default(staff: Path) -> None:
    out = staff / "grade.yml"
    args = ["classroom", "workflow", str(staff / "roster.csv"), "-m", "m2", "--out", str(out)]
    assert main(args) == 0
    refs = [
        s["with"]["ref"]
        for job in yaml.safe_load(out.read_text())["jobs"].values()
        for s in job["steps"]
        if s.get("name") == "Check out the course kit"
    ]
    assert refs == [f"v{__version__}", f"v{__version__}"]


def test_a_roster_of_local_paths_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_roster(tmp_path / "r.csv", {"Beta": FIVE_TEAMS["Beta"]}, {"Beta": "repos/beta"})
    args = ["classroom", "workflow", str(tmp_path / "r.csv"), "-m", "m1", "--out", "x.yml"]
    assert main(args) == 2
    assert "repo of beta is not a URL a runner can clone" in capsys.readouterr().err


# ---- playing the runner ----------------------------------------------------------------------

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, ctx: dict[str, Any]) -> str:
    for part in (p.strip() for p in expr.split("||")):
        if part.startswith("'"):
            value: Any = part.strip("'")
        else:
            value = ctx
            for name in part.split("."):
                value = value.get(name, "") if isinstance(value, dict) else ""
        if value:
            return str(value)
    return ""


def _eval(text: Any, ctx: dict[str, Any]) -> str:
    return EXPR.sub(lambda m: _value(m.group(1), ctx), str(text))


class Runner:
    def __init__(self, tmp: Path, staff: Path, workflow: dict[str, Any]) -> None:
        self.tmp, self.staff, self.workflow = tmp, staff, workflow
        self.store = tmp / "artifact-store"
        self.bin = tmp / "bin"
        self.conclusions: dict[str, str] = {}
        fake_tool(self.bin, "python", f'echo "$@" >> {tmp}/installs.txt\n')
        fake_tool(self.bin, "gh", f"cat {tmp}/jobs.jsonl\n")

    def job(self, name: str, ctx: dict[str, Any], label: str) -> str:
        """Run a job's steps; return its conclusion as GitHub would."""
        ws = self.tmp / "runs" / label
        shutil.copytree(self.staff, ws)
        steps: dict[str, Any] = {}
        ctx = {
            **ctx,
            "steps": steps,
            "secrets": {"TEAMS_READ_TOKEN": "", "GRADER_SIGNING_KEY": KEY},
        }
        ctx["env"] = {k: _eval(v, ctx) for k, v in self.workflow["env"].items()}
        failed = False
        for step in self.workflow["jobs"][name]["steps"]:
            if failed and step.get("if") != "always()":
                continue
            if "uses" in step:
                self._uses(
                    step["uses"], {k: _eval(v, ctx) for k, v in step.get("with", {}).items()}, ws
                )
                continue
            out = ws / ".output"
            out.write_text("")
            env = {
                **os.environ,
                "PATH": os.pathsep.join([str(self.bin), VENV_BIN, os.environ["PATH"]]),
                **ctx["env"],
                **{k: _eval(v, ctx) for k, v in step.get("env", {}).items()},
                "GITHUB_OUTPUT": str(out),
                "GITHUB_STEP_SUMMARY": str(self.tmp / "summary.md"),
                "GITHUB_REPOSITORY": "staff/grading",
                "GITHUB_RUN_ID": "42",
            }
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=ws,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            (self.tmp / "logs.txt").open("a").write(done.stdout + done.stderr)
            failed = failed or done.returncode != 0
            if "id" in step:
                lines = out.read_text().splitlines()
                steps[step["id"]] = {"outputs": dict(ln.split("=", 1) for ln in lines)}
        return "failure" if failed else "success"

    def _uses(self, action: str, args: dict[str, str], ws: Path) -> None:
        if action.startswith("actions/checkout@"):
            if args.get("path") == "kit":
                (ws / "kit").mkdir()
        elif action.startswith("actions/setup-python@"):
            pass  # the test's own Python runs `grader`
        elif action.startswith("actions/upload-artifact@"):
            source = ws / args["path"]
            if source.exists():
                shutil.copytree(source, self.store / args["name"])
        elif action.startswith("actions/download-artifact@"):
            target = ws / args["path"]
            target.mkdir(parents=True, exist_ok=True)
            for art in self.store.iterdir():
                if fnmatch.fnmatch(art.name, args["pattern"]):
                    shutil.copytree(art, target / art.name)
        else:
            raise AssertionError(f"the test does not emulate {action}")


def _rows(path: Path, teams: set[str]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r.get("team", r.get("Student")) in teams or not teams
        ]
    for r in rows:
        r.pop("graded_at", None)
    return rows


def test_the_workflow_steps_as_written_grade_the_class_like_a_local_batch(
    staff: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _generate(staff, "--rubric", "t1.yaml", "--deadline", DEADLINE.isoformat())
    runner = Runner(tmp_path, staff, workflow)
    jobs = []
    for entry in workflow["jobs"]["grade"]["strategy"]["matrix"]["include"]:
        ctx = {"matrix": entry, "inputs": {}, "github": {"token": "gh-token"}}
        conclusion = runner.job("grade", ctx, f"grade-{entry['team']}")
        jobs.append({"name": f"grade {entry['team']}", "conclusion": conclusion})
    assert [j["conclusion"] for j in jobs] == ["success", "success", "failure"]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    assert sorted(p.name for p in runner.store.iterdir()) == ["results-beta", "results-team-alpha"]
    ctx = {"matrix": {}, "inputs": {}, "github": {"token": "gh-token"}}
    assert runner.job("classlist", ctx, "classlist") == "success", (
        tmp_path / "logs.txt"
    ).read_text()

    assert "-m pip install --quiet ./kit" in (tmp_path / "installs.txt").read_text()
    grades = runner.store / "grades-t1"
    assert (grades / "dashboard.html").is_file()
    monkeypatch.chdir(staff)
    args = ["batch", "roster.csv", "--rubric", "t1.yaml", "--deadline", DEADLINE.isoformat()]
    assert main([*args, "--out", str(tmp_path / "local")]) == 3  # Ghost cannot be fetched
    good = {"team-alpha", "beta"}
    local = tmp_path / "local"
    assert _rows(grades / "gradebook.csv", good) == _rows(local / "gradebook.csv", good)
    assert _rows(grades / "canvas.csv", set()) == _rows(local / "canvas.csv", set())
    ghost = next(r for r in _rows(grades / "gradebook.csv", {"ghost"}) if r["kind"] == "team")
    assert ghost["status"] == "error"
    assert ghost["reason"] == (
        "the team's grading job ended with conclusion failure and uploaded no results"
    )
    alpha = [r for r in _rows(grades / "gradebook.csv", {"team-alpha"}) if r["kind"] == "team"]
    assert alpha[0]["status"] == "graded"
    summary = (tmp_path / "summary.md").read_text()
    assert "### 2 of 3 teams graded" in summary
    assert "| team-alpha | graded |" in summary
    assert KEY not in (tmp_path / "logs.txt").read_text()
