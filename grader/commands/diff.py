"""What changed between two gradings of a team: score, commit, and each check.

Example: grader diff old/teams/team-07 new/teams/team-07
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from grader.commands.output import human_console, json_option, print_json, quiet_option
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


def _team(result: GradeResult) -> str:
    return result.team or Path(result.target.rstrip("/")).name.removesuffix(".git")


def mismatch(old: GradeResult, new: GradeResult) -> str:
    """'' for two gradings of one team at one milestone; else what differs."""
    what = []
    if _team(old) != _team(new):
        what.append(f"two teams ({_team(old)!r}, {_team(new)!r})")
    if old.milestone != new.milestone:
        what.append(f"two milestones ({old.milestone}, {new.milestone})")
    return " at ".join(what)


def diff(
    old: Path = typer.Argument(..., help="Earlier results.json (or the folder holding it)."),
    new: Path = typer.Argument(..., help="Later results.json (or the folder holding it)."),
    any_pair: bool = typer.Option(
        False,
        "--any",
        help="Compare results of different teams or milestones anyway (said on the first line).",
    ),
    quiet: bool = quiet_option(),
    as_json: bool = json_option(),
) -> int:
    """Show what changed between two results.json of a team, check by check.

    Results of two different teams, or of two milestones, are refused (exit 2) unless
    --any is given: then the first line says what is being compared.

    Example: grader diff old/teams/team-07 new/teams/team-07
    """
    a, b = _load(old), _load(new)
    console = human_console(quiet, as_json)
    differs = mismatch(a, b)
    if differs and not any_pair:
        raise UsageError(
            f"{old} and {new} are results of {differs}: compare one team's gradings at one"
            " milestone, or give --any to compare them anyway"
        )
    if differs:
        console.print(f"comparing results of {differs}")
    delta = round(b.score - a.score, 2)
    console.print(
        f"{b.team or b.target}: {a.score:g} -> {b.score:g} ({delta:+g}) / {b.max_score:g};"
        f" commit {(a.commit or '-')[:10]} -> {(b.commit or '-')[:10]}"
    )
    if a.rubric_hash != b.rubric_hash:
        console.print(f"the rubric changed: {a.milestone} {a.rubric_hash} -> {b.rubric_hash}")
    rows = changes(a, b)
    if as_json:
        keys = ("check", "before", "after", "message")
        print_json(
            {
                "team": _team(b),
                "compared": differs or None,
                "score": {"before": a.score, "after": b.score, "max": b.max_score},
                "commit": {"before": a.commit, "after": b.commit},
                "changes": [dict(zip(keys, row, strict=True)) for row in rows],
            }
        )
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
