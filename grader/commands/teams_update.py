"""`grader teams update`: the template's changes into every team repository, as a pull request.

Example: grader teams update teams/ --ref v2026.2 --push
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console

from grader import github
from grader.commands.output import reporting, result
from grader.commands.teams import course_roster, current_milestone, gh_ready, run_push
from grader.course import find_course
from grader.errors import EXIT_INFRA, EXIT_OK, UsageError
from grader.gitrepo import origin
from grader.roster import load_roster
from grader.target import git, is_url
from grader.templateupdate import UpdateOutcome, update_team
from grader.text import plural


def _team_repos(teams: Path, folder: Path | None) -> list[tuple[str, Path]]:
    """(team, local repository) pairs from a folder of team repos or a roster CSV."""
    if teams.is_dir():
        found = sorted(p for p in teams.iterdir() if (p / ".cruft.json").is_file())
        if not found:
            raise UsageError(f"{teams} holds no team repository (no */.cruft.json)")
        return [(p.name, p) for p in found]
    roster = load_roster(teams, ("team",))
    base = folder or teams.parent / "teams"
    pairs = []
    for team in roster:
        local = Path(team.repo) if team.repo and not is_url(team.repo) else base / team.slug
        pairs.append((team.name, local))
    return pairs


def pr_commands(outcome: UpdateOutcome) -> list[list[str]]:
    """Push the update branch and open its pull request (gh reads the repo from `origin`)."""
    assert outcome.branch is not None
    body = Path(git("rev-parse", "--absolute-git-dir", cwd=outcome.repo)) / "TEMPLATE_UPDATE.md"
    body.write_text(pr_body(outcome) + "\n", encoding="utf-8")
    return [
        ["git", "-C", str(outcome.repo), "push", "--quiet", "origin", outcome.branch],
        [
            "gh",
            "pr",
            "create",
            "--repo",
            github_repo(outcome.repo),
            "--head",
            outcome.branch,
            "--base",
            outcome.base or "main",
            "--title",
            f"Update from the course template ({outcome.branch.removeprefix('template-')})",
            "--body-file",
            str(body),
        ],
    ]


def pr_body(outcome: UpdateOutcome) -> str:
    lines = [
        "The course staff brought the latest template changes into your repository.",
        "Review the changes, let CI run, and merge when it is green.",
    ]
    if outcome.conflicts:
        lines += [
            "",
            "Some files changed both here and in the template. Your version is kept; the",
            "template's change is in a `.rej` file next to it. For each one: apply the change",
            "by hand, delete the `.rej` file, commit on this branch (see the student guide,",
            "'Taking a template update').",
            "",
            *(f"- `{c}`" for c in outcome.conflicts),
        ]
    return "\n".join(lines)


def github_repo(repo: Path) -> str:
    """owner/name of the repository's `origin` on GitHub, or its folder name."""
    return github.repository(origin(repo)) or repo.name


@reporting
def update(
    teams: Path | None = typer.Argument(
        None,
        help="Folder of team repositories (as `teams create` made it) or the roster CSV"
        " (default: the course file's roster).",
    ),
    ref: str | None = typer.Option(
        None, help="Template tag, branch or commit to update to (default: its default branch)."
    ),
    folder: Path | None = typer.Option(
        None, "--dir", help="With a roster: the folder holding the team repositories."
    ),
    milestone: str | None = typer.Option(
        None, help="Milestone the teams' grade.yml workflow grades (default: unchanged)."
    ),
    push: bool = typer.Option(False, help="Push each branch and open a pull request with `gh`."),
    course_file: Path | None = typer.Option(
        None, "--course", help="Course file (default: $GRADER_COURSE, else ./course.yaml)."
    ),
) -> int:
    """Bring the template's changes into every team repository, on a branch template-<ref>.

    With a course file, the template ref defaults to its template_ref and the teams'
    grade.yml moves to the current milestone.

    Example: grader teams update teams/ --ref v2026.2 --push
    """
    course = find_course(course_file)
    if course is not None:
        ref = ref or course.template_ref
        milestone = milestone or current_milestone(course)
    pairs = _team_repos(course_roster(teams, course), folder)
    why_not = gh_ready() if push else None
    if why_not:
        raise UsageError(f"--push: {why_not}")
    console = Console(highlight=False, soft_wrap=True)
    outcomes = []
    for name, repo in pairs:
        outcome = update_team(name, repo, ref, milestone)
        outcomes.append(outcome)
        console.print(_outcome_line(outcome), markup=False)
        if outcome.status in ("applied", "conflicted"):
            commands = pr_commands(outcome)
            for cmd in commands:
                console.print(f"  {shlex.join(cmd)}", markup=False)
            if push and not run_push(commands, console):
                outcomes[-1] = replace(outcome, status="error", reason="push failed")
    console.print(_update_summary(outcomes))
    result(
        teams=[
            {
                "team": o.team,
                "repo": str(o.repo),
                "status": o.status,
                "branch": o.branch,
                "changed": list(o.changed),
                "conflicts": list(o.conflicts),
                "reason": o.reason,
            }
            for o in outcomes
        ]
    )
    return EXIT_INFRA if any(o.status == "error" for o in outcomes) else EXIT_OK


def _outcome_line(o: UpdateOutcome) -> str:
    if o.status == "current":
        return f"{o.team}: already current"
    if o.status == "error":
        return f"{o.team}: error: {o.reason}"
    if o.status == "proposed":
        return f"{o.team}: {o.branch} {o.reason}"
    head = f"{o.team}: {o.status} on {o.branch} ({plural(len(o.changed), 'file')} changed)"
    return "\n".join([head, *(f"  conflict: {c}" for c in o.conflicts)])


def _update_summary(outcomes: list[UpdateOutcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("applied", "conflicted")}
    counts |= {s: sum(o.status == s for o in outcomes) for s in ("current", "proposed", "error")}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    return f"{len(outcomes)} team repositories: " + ", ".join(parts)
