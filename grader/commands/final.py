"""Every student's final grade across the course's milestones, from their batch results.

Example: grader final --course course.yaml grades/ --out final.csv --contributions shares.csv
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from grader.commands.output import reporting, result
from grader.course import Course, find_course
from grader.errors import EXIT_OK, UsageError
from grader.final import (
    Milestone,
    TeamFinal,
    load_contributions,
    students,
    team_final,
)
from grader.reports.final import write_final
from grader.roster import RosterTeam, load_roster
from grader.rubric import load_rubric
from grader.text import plural


@reporting
def final(
    grades: Path = typer.Argument(
        ..., help="Folder of the milestones' batch outputs: GRADES/<milestone>/teams/<team>/."
    ),
    out: Path = typer.Option(
        ..., help="Students' CSV (one row per student); the teams' CSV goes next to it."
    ),
    course_file: Path | None = typer.Option(
        None, "--course", help="Course file (default: $GRADER_COURSE, else ./course.yaml)."
    ),
    contributions: Path | None = typer.Option(
        None, help="CSV team,github,share: scales each member's grade by share x team size."
    ),
    cap: float = typer.Option(
        1.0, "--contribution-cap", min=1.0, help="Largest factor a contribution share gives."
    ),
) -> int:
    """Final grades: milestone percents, grace days, weights, contribution shares.

    Example: grader final --course course.yaml grades/ --out final.csv
    """
    course = find_course(course_file)
    if course is None:
        raise UsageError("no course file: give --course FILE (`grader init` writes one)")
    if not grades.is_dir():
        raise UsageError(f"{grades} is not a folder of batch outputs (GRADES/<milestone>/teams/)")
    roster = _roster(course)
    milestones = [
        Milestone(mid, m.weight, load_rubric(course.rubric_path(mid)))
        for mid, m in course.milestones.items()
    ]
    shares = load_contributions(contributions, roster) if contributions else {}
    teams = [team_final(course, milestones, t, grades) for t in roster]
    rows = students(teams, shares, cap)
    mids = list(course.milestones)
    written = write_final(rows, teams, mids, out)
    console = Console(highlight=False, soft_wrap=True)
    _summary(teams, mids, console)
    _unlisted(grades, mids, {t.slug for t in roster}, console)
    review = sum(1 for s in rows if s.review)
    console.print(f"{plural(len(rows), 'student')}, {review} to review")
    for kind, path in written.items():
        console.print(f"{kind}: {path}")
    result(
        students=len(rows),
        to_review=review,
        written={kind: str(path) for kind, path in written.items()},
    )
    return EXIT_OK


def _roster(course: Course) -> list[RosterTeam]:
    path = course.roster_path
    if path is None:
        raise UsageError(f"{course.path} names no roster: final grades are per student")
    return load_roster(path, ("team",))


def _summary(teams: list[TeamFinal], mids: list[str], console: Console) -> None:
    table = Table(title=plural(len(teams), "team"))
    for name in ("team", *mids, "total", "review"):
        table.add_column(name, overflow="fold")
    for t in teams:
        cells = ["—" if g.percent is None else f"{g.percent:.2f}" for g in t.grades]
        total = "—" if t.total is None else f"{t.total:.2f}"
        table.add_row(t.team.slug, *cells, total, str(len(t.review) or ""))
    console.print(table)


def _unlisted(grades: Path, mids: list[str], slugs: set[str], console: Console) -> None:
    """Teams graded but not in the roster have no students to grade: say so."""
    found = {d.name for mid in mids for d in (grades / mid / "teams").glob("*") if d.is_dir()}
    extra = sorted(f for f in found - slugs if not f.startswith("."))
    if extra:
        console.print(f"[yellow]not in the roster, left out:[/] {', '.join(extra)}")
