"""Grade every team of the class at one milestone, and write the class outputs.

Example: grader batch roster.csv --milestone m1 --jobs 4 --out grades/m1
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from grader.batch import run_batch
from grader.batchplan import BatchConfig, TeamSpec, discover, select, with_manifests
from grader.batchstore import class_outcomes, outcomes_from_results, save
from grader.commands.check import complete_milestone, load_milestone, parse_deadline
from grader.commands.output import (
    human_console,
    json_option,
    network_option,
    print_json,
    quiet_option,
)
from grader.course import Course, find_course
from grader.engine import decide_network
from grader.errors import EXIT_INFRA, EXIT_OK, UsageError
from grader.reports.dashboard import write_dashboard
from grader.reports.gradebook import canvas_column, write_gradebooks
from grader.results import TeamOutcome
from grader.rubric import Rubric
from grader.signing import signing_key
from grader.trust import vet


def batch(
    teams: Path | None = typer.Argument(
        None,
        help="Roster CSV with team and repo columns, or a folder of team repositories"
        " (default: the course file's roster).",
    ),
    milestone: str | None = typer.Option(
        None,
        "--milestone",
        "-m",
        help="Milestone id: m0..m4, expo.",
        autocompletion=complete_milestone,
    ),
    rubric: Path | None = typer.Option(None, help="Rubric file (default: the kit's)."),
    course_file: Path | None = typer.Option(
        None,
        "--course",
        help="Course file: roster, the milestone's rubric, deadline, late policy, extensions"
        " (default: $GRADER_COURSE, else ./course.yaml if present).",
    ),
    deadline: str | None = typer.Option(
        None,
        help="Grade each team's last commit before this (with a course: a later cut-off for"
        " late work; lateness still counts from each team's own deadline).",
    ),
    jobs: int = typer.Option(
        1, min=1, help="Teams graded at once; their checks share the cores, one check per core."
    ),
    only: list[str] = typer.Option([], help="Regrade only this team, even if cached (repeatable)."),
    force: bool = typer.Option(
        False, "--force", help="Grade every team again, even those graded at the same commit."
    ),
    check_ids: list[str] = typer.Option(
        [], "--check", help="Grade only these check ids (repeatable)."
    ),
    timeout: float = typer.Option(1800, min=1, help="Time limit per team, in seconds."),
    network: str | None = network_option(),
    out: Path = typer.Option(..., help="Folder for the class outputs and teams/<team>/ reports."),
    from_results: Path | None = typer.Option(
        None, help="Build the class outputs from downloaded results.json files; grade nothing."
    ),
    accept_errors: bool = typer.Option(
        False,
        "--accept-errors-as-zero",
        help="Count checks in error as 0 and fill the team's score (default: the team needs"
        " review, its Canvas cell stays empty, and the batch exits 3).",
    ),
    canvas_assignment_id: str | None = typer.Option(
        None,
        help="Canvas assignment id: names canvas.csv's column 'Milestone m3 (12345)'"
        " (default: the course file's canvas_assignment_id for the milestone).",
    ),
    verify_key_env: str | None = typer.Option(
        None,
        help="With --from-results: count only results signed with the HMAC key in this"
        " environment variable and graded at each team's graded commit; others are errors.",
    ),
    manifests: Path | None = typer.Option(
        None,
        help="Folder of the course staff's manifests, one <team>.yaml per team (a roster's"
        " manifest column wins): those teams are graded with it, not their capstone.yaml.",
    ),
    accept_self_reported: bool = typer.Option(
        False,
        help="With --from-results and no key: count unsigned (self-reported) results as"
        " grades (default: shown on the dashboard, never in the gradebook or canvas.csv).",
    ),
    quiet: bool = quiet_option(),
    as_json: bool = json_option(),
) -> int:
    """Grade every team at one milestone; write gradebook, item analysis and dashboard.

    Exits 3, after writing every output, when a team's grading failed or one of its checks
    is in error (the team needs review) unless --accept-errors-as-zero.

    Example: grader batch roster.csv --milestone m1 --jobs 4 --out grades/m1
    """
    course = find_course(course_file)
    loaded, mid = load_milestone(course, milestone, rubric)
    canvas_id = _canvas_id(canvas_assignment_id, course, mid)
    unknown = [c for c in check_ids if c not in {c.id for c in loaded.checks}]
    if unknown:
        raise UsageError(f"no check {', '.join(map(repr, unknown))} in rubric {loaded.milestone}")
    specs = discover(_teams_source(teams, course))
    if manifests is not None:
        specs = with_manifests(specs, manifests)
    if course is not None and mid is not None:
        loaded = course.rubric_for(loaded, mid)
        if course.milestone(mid).deadline is not None:
            specs = [replace(s, deadline=course.deadline_for(s.id, mid)) for s in specs]
    chosen = select(specs, only)
    console = human_console(quiet, as_json)
    if from_results is not None:
        if not from_results.is_dir():
            raise UsageError(f"--from-results {from_results} is not a folder")
        found = outcomes_from_results(specs, from_results, loaded, accept_errors)
        key = signing_key(verify_key_env, "--verify-key-env") if verify_key_env else None
        when = parse_deadline(deadline)
        found = vet(found, specs, from_results, key, when, accept_self_reported)
        outcomes = _store(found, out)
    else:
        config = BatchConfig(
            rubric=loaded,
            out=out,
            jobs=jobs,
            deadline=parse_deadline(deadline),
            checks=tuple(check_ids),
            timeout=timeout,
            network=decide_network(network),
            force={s.id for s in chosen} if only or force else set(),
            accept_errors=accept_errors,
        )
        _grade(chosen, config, console)
        outcomes = class_outcomes(specs, out, accept_errors)
    _summary(outcomes, console)
    for kind, path in _write_class(outcomes, out, loaded, canvas_id).items():
        console.print(f"{kind}: {path}")
    if as_json:
        print_json([_json_row(o, out) for o in outcomes])
    return EXIT_INFRA if any(o.status != "graded" for o in outcomes) else EXIT_OK


def _canvas_id(given: str | None, course: Course | None, mid: str | None) -> str | None:
    """--canvas-assignment-id, else the course file's canvas_assignment_id of the milestone."""
    if given is None:
        found = course.milestone(mid).canvas_assignment_id if course and mid else None
        return str(found) if found else None
    if not (given.isascii() and given.isdigit()):
        raise UsageError(f"--canvas-assignment-id {given!r}: must be digits only")
    return given


def _teams_source(teams: Path | None, course: Course | None) -> Path:
    if teams is not None:
        return teams
    if course is None or course.roster_path is None:
        raise UsageError(
            "give a roster CSV or a folder of team repositories, or a course file with a roster"
        )
    return course.roster_path


def _grade(specs: Sequence[TeamSpec], config: BatchConfig, console: Console) -> None:
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"grading at {config.rubric.milestone}", total=len(specs))

        def done(o: TeamOutcome) -> None:
            progress.console.print(_line(o))
            progress.advance(task)

        try:
            run_batch(list(specs), config, on_done=done)
        except KeyboardInterrupt:
            progress.console.print(
                "interrupted: finished teams are saved; run the same command again to resume"
            )
            raise


def _line(o: TeamOutcome) -> str:
    if o.result is None:
        return f"  [magenta]error[/]  {o.id}: {escape(o.reason)}"
    if o.status == "needs review":
        return f"  [magenta]needs review[/] {o.id}: {escape(o.reason)}"
    note = "cached" if o.cached else f"{o.duration:.1f}s"
    accepted = f"; {o.reason}" if o.reason else ""
    score = f"{o.result.score:g}/{o.result.max_score:g}"
    return f"  [green]graded[/] {o.id}: {score} ({note}{escape(accepted)})"


def _json_row(o: TeamOutcome, out: Path) -> dict[str, object]:
    """One team of `--json`: its status, score and where its reports are."""
    graded = o.result if o.status == "graded" else None
    return {
        "team": o.id,
        "status": o.status,
        "score": graded.score if graded else None,
        "max_score": o.result.max_score if o.result else None,
        "commit": o.commit,
        "note": o.reason,
        "results": str(out / "teams" / o.id / "results.json") if o.result else None,
    }


def _store(outcomes: list[TeamOutcome], out: Path) -> list[TeamOutcome]:
    """Lay out downloaded results like a local batch: teams/<team>/ with its reports."""
    root = out / "teams" / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    for o in outcomes:
        save(o, Path(tempfile.mkdtemp(dir=root, prefix=f"{o.id}-")), out)
    return outcomes


def _summary(outcomes: Sequence[TeamOutcome], console: Console) -> None:
    table = Table(title=f"{len(outcomes)} teams")
    for name in ("team", "status", "score", "commit", "note"):
        table.add_column(name, overflow="fold")
    for o in outcomes:
        graded = o.status == "graded" and o.result is not None
        score = f"{o.result.score:g}/{o.result.max_score:g}" if graded and o.result else "—"
        status = o.status if graded else f"[magenta]{o.status}[/]"
        table.add_row(o.id, status, score, (o.commit or "")[:10], escape(o.reason))
    console.print(table)
    review = sum(o.status == "needs review" for o in outcomes)
    errors = sum(o.status == "error" for o in outcomes)
    if review or errors:
        accept = " (or accept checks in error with --accept-errors-as-zero)" if review else ""
        console.print(
            f"[magenta]{review + errors} of {len(outcomes)} teams need a TA[/]"
            f" ({review} needs review, {errors} error): their Canvas cells are empty."
            f" Fix the cause and run the batch again: they are graded again{accept}."
        )


def _write_class(
    outcomes: Sequence[TeamOutcome], out: Path, rubric: Rubric, canvas_id: str | None
) -> dict[str, Path]:
    written = write_gradebooks(outcomes, out, canvas_column(rubric.milestone, canvas_id))
    title = f"{rubric.milestone}: {rubric.title}"
    written["dashboard"] = write_dashboard(outcomes, out, title)
    return written
