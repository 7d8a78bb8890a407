"""Feedback where teams work: each team's feedback.md as an issue in its GitHub repository.

Example: grader feedback push grades/m3 --org my-course-2026

One issue per team and title: pushing again (after a regrade) edits that issue's body
instead of opening another. Everything goes through the GitHub CLI `gh`; when it is missing
or not logged in, or with --dry-run, the exact commands are printed instead.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from grader.batchstore import load_outcome, team_dir
from grader.commands.output import reporting, result
from grader.commands.teams import gh_ready, run_push
from grader.course import find_course
from grader.errors import EXIT_INFRA, EXIT_OK, UsageError
from grader.github import parse_remote
from grader.gitrepo import origin

FEEDBACK = "feedback.md"
JSON = ("--json", "number,title")
HEADING = re.compile(r"^#\s*Feedback:\s*milestone\s+(\S+)", re.MULTILINE)

app = typer.Typer(help="Feedback to teams.", no_args_is_help=True, rich_markup_mode=None)


@dataclass(frozen=True)
class Delivery:
    """One team's feedback and where it goes: `repo` is OWNER/NAME on GitHub."""

    team: str
    repo: str
    title: str
    body: Path

    def list_command(self) -> list[str]:
        search = f'"{self.title}" in:title'
        repo = ["--repo", self.repo]
        return ["gh", "issue", "list", *repo, "--state", "all", "--search", search, *JSON]

    def create_command(self) -> list[str]:
        title = ["--title", self.title]
        return ["gh", "issue", "create", "--repo", self.repo, *title, "--body-file", str(self.body)]

    def edit_command(self, number: int | str) -> list[str]:
        return [
            "gh",
            "issue",
            "edit",
            str(number),
            "--repo",
            self.repo,
            "--body-file",
            str(self.body),
        ]


def team_repo(source: str, team: str, org: str | None) -> str | None:
    """OWNER/NAME: the GitHub URL the batch graded, else a graded clone's origin, else
    ORG/<team folder> (the slug `grader teams create --org` named the repository)."""
    found = parse_remote(source) if source else None
    if found is None and source and Path(source).is_dir():
        remote = origin(Path(source))
        found = parse_remote(remote) if remote else None
    if found is not None:
        return f"{found[0]}/{found[1]}"
    return f"{org}/{team}" if org else None


def _title(milestone: str | None, body: str) -> str:
    found = milestone or next(iter(HEADING.findall(body)), None)
    return f"Grader feedback: milestone {found}" if found else "Grader feedback"


def plan(grades: Path, org: str | None, console: Console) -> list[Delivery]:
    """Every team folder with a feedback.md; a team without a repository is a usage error,
    found before anything is sent."""
    root = grades / "teams"
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise UsageError(f"{root} holds no team folders: give the --out folder of grader batch")
    deliveries: list[Delivery] = []
    homeless: list[str] = []
    for folder in folders:
        body = folder / FEEDBACK
        if not body.is_file():
            console.print(f"{folder.name}: no {FEEDBACK} (its grading errored?): nothing to send")
            continue
        outcome = load_outcome(team_dir(grades, folder.name))
        source = outcome.source if outcome else ""
        milestone = outcome.result.milestone if outcome and outcome.result else None
        repo = team_repo(source, folder.name, org)
        if repo is None:
            homeless.append(folder.name)
            continue
        title = _title(milestone, body.read_text(encoding="utf-8", errors="replace"))
        deliveries.append(Delivery(folder.name, repo, title, body.resolve()))
    if homeless:
        raise UsageError(
            f"no GitHub repository known for {', '.join(homeless)}: their batch graded no "
            "GitHub URL or clone with an origin; give --org ORG (repositories ORG/<team>)"
        )
    return deliveries


def _existing(delivery: Delivery, console: Console) -> tuple[bool, int | None]:
    """(gh answered, the number of the team's issue with exactly this title). `gh issue
    list --search` matches words, not titles: the exact title is checked here."""
    cmd = delivery.list_command()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        console.print(f"  [red]failed:[/] {shlex.join(cmd)}\n  {done.stderr.strip()[:400]}")
        return False, None
    try:
        issues = json.loads(done.stdout or "[]")
    except ValueError:
        console.print(f"  [red]failed:[/] {shlex.join(cmd)}: not JSON: {done.stdout[:200]!r}")
        return False, None
    for issue in issues if isinstance(issues, list) else []:
        if isinstance(issue, dict) and issue.get("title") == delivery.title:
            return True, int(issue["number"])
    return True, None


def _send(delivery: Delivery, console: Console) -> bool:
    answered, number = _existing(delivery, console)
    if not answered:
        return False
    if number is None:
        ok = run_push([delivery.create_command()], console)
        verb = "opened an issue"
    else:
        ok = run_push([delivery.edit_command(number)], console)
        verb = f"updated issue #{number}"
    if ok:
        console.print(f"{delivery.team}: {verb} in {delivery.repo}: {delivery.title}")
    return ok


def _print(delivery: Delivery, console: Console) -> None:
    console.print(f"{delivery.team}: {delivery.repo}: {delivery.title}", markup=False)
    for line in (
        shlex.join(delivery.list_command()),
        f"{shlex.join(delivery.create_command())}   # when the list is empty",
        f"{shlex.join(delivery.edit_command('NUMBER'))}   # else, NUMBER from the list",
    ):
        console.print(f"  {line}", markup=False)


def _json(delivery: Delivery, outcome: str) -> dict[str, str]:
    return {"team": delivery.team, "repo": delivery.repo, "outcome": outcome}


@reporting
def push(
    grades: Path = typer.Argument(..., help="The --out folder of `grader batch`."),
    org: str | None = typer.Option(
        None,
        help="GitHub organization: ORG/<team> for teams whose batch graded no GitHub URL"
        " (default: the course file's github_org).",
    ),
    course_file: Path | None = typer.Option(
        None, "--course", help="Course file (default: $GRADER_COURSE, else ./course.yaml)."
    ),
    dry_run: bool = typer.Option(False, help="Print the gh commands; run nothing."),
) -> int:
    """Open (or update) one issue per team repository with the team's feedback.md.

    Example: grader feedback push grades/m3 --org my-course-2026
    """
    if not (grades / "teams").is_dir():
        raise UsageError(f"{grades} has no teams/ folder: give the --out folder of grader batch")
    if org is None:
        course = find_course(course_file)
        org = course.github_org if course else None
    console = Console(highlight=False, soft_wrap=True)
    deliveries = plan(grades, org, console)
    why_not = None if dry_run else gh_ready()
    if dry_run or why_not:
        if why_not:
            console.print(f"{why_not}: run these commands yourself")
        for delivery in deliveries:
            _print(delivery, console)
        result(sent=False, teams=[_json(d, "commands printed") for d in deliveries])
        return EXIT_OK
    sent = {d.team: _send(d, console) for d in deliveries}
    result(sent=True, teams=[_json(d, "sent" if sent[d.team] else "failed") for d in deliveries])
    failures = sum(not ok for ok in sent.values())
    console.print(f"{len(deliveries) - failures} of {len(deliveries)} teams have their feedback")
    return EXIT_INFRA if failures else EXIT_OK


app.command("push", no_args_is_help=True)(push)
