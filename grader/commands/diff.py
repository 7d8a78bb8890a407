"""What changed between two gradings of a team: score, commit, and each check.

Example: grader diff old/teams/team-07 new/teams/team-07
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from grader.errors import EXIT_OK, UsageError
from grader.reports.gradescope import read_grade
from grader.results import CheckResult, GradeResult


def _load(path: Path) -> GradeResult:
    target = path / "results.json" if path.is_dir() else path
    try:
        return read_grade(target)
    except OSError as exc:
        raise UsageError(f"cannot read {target}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{target} is not a results.json written by this grader") from None


def _verdict(r: CheckResult | None) -> str:
    return "—" if r is None else f"{r.status} {r.score:g}/{r.max_score:g}"


def changes(old: GradeResult, new: GradeResult) -> list[tuple[str, str, str, str]]:
    """(check, old verdict, new verdict, new message) for every check that changed."""
    before = {r.id: r for r in old.checks}
    after = {r.id: r for r in new.checks}
    rows = []
    for check_id in [*before, *(i for i in after if i not in before)]:
        a, b = before.get(check_id), after.get(check_id)
        same = a and b and (a.status, a.score, a.message) == (b.status, b.score, b.message)
        if not same:
            rows.append((check_id, _verdict(a), _verdict(b), b.message if b else "(removed)"))
    return rows


def diff(
    old: Path = typer.Argument(..., help="Earlier results.json (or the folder holding it)."),
    new: Path = typer.Argument(..., help="Later results.json (or the folder holding it)."),
) -> int:
    """Show what changed between two results.json of a team, check by check.

    Example: grader diff old/teams/team-07 new/teams/team-07
    """
    a, b = _load(old), _load(new)
    console = Console(highlight=False, soft_wrap=True)
    delta = round(b.score - a.score, 2)
    console.print(
        f"{b.team or b.target}: {a.score:g} -> {b.score:g} ({delta:+g}) / {b.max_score:g};"
        f" commit {(a.commit or '-')[:10]} -> {(b.commit or '-')[:10]}"
    )
    if a.rubric_hash != b.rubric_hash:
        console.print(f"the rubric changed: {a.milestone} {a.rubric_hash} -> {b.rubric_hash}")
    rows = changes(a, b)
    if not rows:
        console.print("no check changed")
        return EXIT_OK
    table = Table()
    for name in ("check", "before", "after", "now"):
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return EXIT_OK
