"""Grade the class on GitHub Actions runners the course staff control.

Example: grader classroom workflow roster.csv --milestone m2 --deadline 2026-10-01T23:59-04:00
  --out .github/workflows/grade-m2.yml
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import typer
import yaml

from grader import __version__
from grader.batchplan import discover, resolve_commit
from grader.classroom import KEY_SECRET, TOKEN_SECRET, Plan, job_conclusions, workflow
from grader.commands.check import parse_deadline
from grader.commands.output import reporting, result, wrote
from grader.errors import EXIT_OK, UsageError
from grader.reports.files import write_atomic
from grader.target import is_url
from grader.trust import CONCLUSION

app = typer.Typer(
    help="Grade the class on GitHub Actions in the staff's grading repository.",
    no_args_is_help=True,
)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the steps' scripts) as literal blocks, readable in the file."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


@app.command("workflow", no_args_is_help=True)
@reporting
def workflow_command(
    roster: Path = typer.Argument(
        ..., help="Roster CSV with team and repo columns (repo: a URL runners can clone)."
    ),
    milestone: str = typer.Option(..., "--milestone", "-m", help="Milestone id: m0..m4, expo."),
    deadline: str | None = typer.Option(
        None, help="Grade each team's last commit before this; also schedules a run an hour after."
    ),
    max_parallel: int = typer.Option(20, min=1, help="Team jobs running at once."),
    rubric: str | None = typer.Option(
        None, help="Rubric file in the grading repository (default: the kit's for the milestone)."
    ),
    kit_repository: str = typer.Option("my-course/capstone-kit", help="The kit's GitHub repo."),
    kit_ref: str = typer.Option(
        f"v{__version__}", help="The kit's pinned tag or commit (default: this grader's release)."
    ),
    timeout_minutes: int = typer.Option(60, min=1, max=360, help="Time limit of a team's job."),
    out: Path = typer.Option(..., help="Workflow file to write (.github/workflows/grade-m2.yml)."),
) -> int:
    """Write the staff grading repository's workflow: one job per roster team, signed results,
    one job that verifies them and builds gradebook, canvas.csv, dashboard and summary.

    Secrets: TEAMS_READ_TOKEN (read-only access to the teams' repositories) and
    GRADER_SIGNING_KEY (any long random string).

    Example: grader classroom workflow roster.csv -m m2 --deadline 2026-10-01T23:59-04:00
    --kit-ref v2026.1 --out .github/workflows/grade-m2.yml
    """
    teams = discover(roster)
    local = [t.id for t in teams if not is_url(t.source)]
    if local:
        raise UsageError(
            f"{roster}: repo of {', '.join(local)} is not a URL a runner can clone"
            " (https://github.com/ORG/REPO.git)"
        )
    plan = Plan(
        milestone=milestone,
        roster=roster.as_posix(),
        teams=tuple(teams),
        deadline=parse_deadline(deadline),
        rubric=rubric,
        max_parallel=max_parallel,
        timeout_minutes=timeout_minutes,
        kit_repository=kit_repository,
        kit_ref=kit_ref,
    )
    text = yaml.dump(workflow(plan), Dumper=_Dumper, sort_keys=False, width=100)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, f"# Written by grader classroom workflow {milestone}.\n" + text)
    wrote(out, f"{len(teams)} team jobs; secrets needed: {TOKEN_SECRET}, {KEY_SECRET}")
    result(teams=[t.id for t in teams], secrets=[TOKEN_SECRET, KEY_SECRET])
    return EXIT_OK


@app.command("resolve", no_args_is_help=True)
@reporting
def resolve(
    repo: str = typer.Argument(..., help="A team's clone (or URL)."),
    deadline: str | None = typer.Option(None, help="The last commit before this time."),
) -> int:
    """Print the commit `grader batch` grades for this repository at this deadline.

    Example: grader classroom resolve team --deadline 2026-10-01T23:59-04:00
    """
    commit = resolve_commit(repo, parse_deadline(deadline))
    if commit is None:
        raise UsageError(f"{repo} is not a git repository")
    typer.echo(commit)
    result(commit=commit)
    return EXIT_OK


@app.command("gather", no_args_is_help=True)
@reporting
def gather(
    roster: Path = typer.Argument(..., help="The roster CSV."),
    artifacts: Path = typer.Option(..., help="Folder of downloaded results-<team> artifacts."),
    jobs: Path = typer.Option(..., help="The grading jobs' conclusions (JSON lines)."),
    out: Path = typer.Option(..., help="Folder for <team>/results.json, for --from-results."),
) -> int:
    """Lay out every team's results; a team whose job uploaded none gets its job's
    conclusion as the reason of its error row.

    Example: grader classroom gather roster.csv --artifacts artifacts --jobs jobs.jsonl
    --out results
    """
    conclusions = job_conclusions(jobs)
    found: dict[str, str] = {}
    for team in discover(roster):
        source, target = artifacts / f"results-{team.id}", out / team.id
        target.mkdir(parents=True, exist_ok=True)
        if (source / "results.json").is_file():
            shutil.copytree(source, target, dirs_exist_ok=True)
            found[team.id] = "results"
            continue
        ended = conclusions.get(team.id, "unknown (no such job in this run)")
        found[team.id] = f"no results: job {ended}"
        (target / CONCLUSION).write_text(
            f"the team's grading job ended with conclusion {ended} and uploaded no results\n",
            encoding="utf-8",
        )
    result(teams=found)
    return EXIT_OK


@app.command("summary", no_args_is_help=True)
@reporting
def summary(grades: Path = typer.Argument(..., help="The class outputs folder.")) -> int:
    """Print the class table in Markdown (for $GITHUB_STEP_SUMMARY).

    Example: grader classroom summary grades >> "$GITHUB_STEP_SUMMARY"
    """
    path = grades / "gradebook.csv"
    if not path.is_file():
        raise UsageError(f"{path} does not exist: the class outputs were not built")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] == "team"]
    typer.echo(_markdown(rows))
    result(teams=rows)
    return EXIT_OK


def _markdown(rows: list[dict[str, Any]]) -> str:
    graded = sum(r["status"] == "graded" for r in rows)
    lines = [
        f"### {graded} of {len(rows)} teams graded",
        "",
        "| team | status | score | commit | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        score = f"{r['score']}/{r['max_score']}" if r["score"] else "—"
        reason = str(r["reason"]).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['team']} | {r['status']} | {score} | {r['commit'][:10]} | {reason} |")
    return "\n".join(lines)
