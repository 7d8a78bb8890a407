"""The Rich table a TA sees in the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.results import (
    CheckResult,
    GradeResult,
    accepted_note,
    inferred_note,
    points,
    review_reason,
    score_text,
)

STYLE = {
    "passed": "green",
    "failed": "red",
    "error": "magenta",
    "blocked": "yellow",
    "skipped": "dim",
}


def status_text(r: CheckResult) -> str:
    return f"[{STYLE[r.status]}]{r.status}[/]"


def grade_table(result: GradeResult) -> Table:
    commit = (result.commit or "no commit")[:12]
    table = Table(title=f"{result.team or result.target} · {result.milestone} · {commit}")
    table.add_column("check")
    table.add_column("status")
    table.add_column("points", justify="right")
    table.add_column("message", overflow="fold")
    for r in result.checks:
        table.add_row(r.id, status_text(r), f"{points(r.score)}/{points(r.max_score)}", r.message)
    for m in result.manual:
        pts = "—" if m.score is None else points(m.score)
        shown = m.level or m.comment or ("pending" if m.score is None else "")
        table.add_row(m.id, "[cyan]manual[/]", f"{pts}/{points(m.max_score)}", shown)
    return table


def print_result(result: GradeResult, console: Console, accept_errors: bool = False) -> None:
    """The table and the total; with a check in error, says in words that the total is not a
    grade (needs review) unless the TA accepts errors as zero."""
    console.print(grade_table(result))
    total = score_text(result)
    time = f"({result.execution_time:.1f}s)"
    review = review_reason(result)
    if review and not accept_errors:
        console.print(
            f"[bold magenta]Needs review: not a grade[/] {time}: {escape(review)}",
            soft_wrap=True,
        )
    elif review:
        note = escape(accepted_note(result))
        console.print(f"[bold]Total: {total}[/]  {time}  {note}", soft_wrap=True)
    else:
        console.print(f"[bold]Total: {total}[/]  {time}")
    if result.gate:
        console.print(f"[red]Automated score set to 0:[/] {escape(result.gate)}")
    if result.late:
        console.print(f"[yellow]Late:[/] {result.late.reason} (-{result.late.points:g})")
    for m in result.manual:
        if m.score is None:
            console.print(f"[cyan]Pending:[/] {m.id}: manual item not scored yet")
    note = inferred_note(result)
    if note:
        console.print(f"[yellow]Inferred manifest:[/] {escape(note)}", soft_wrap=True)
