"""Grade one team repository at one milestone.

Example: grader check ../team-07 --milestone m1 --deadline 2026-10-01T23:59-04:00
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from grader import reports
from grader.commands.output import (
    human_console,
    json_option,
    network_option,
    print_json,
    quiet_option,
)
from grader.course import Course, find_course, grading_cutoff
from grader.engine import decide_network
from grader.errors import EXIT_FAIL_UNDER, EXIT_INFRA, EXIT_OK, UsageError
from grader.grade import Options, grade
from grader.manifest import load_manifest
from grader.reports.terminal import print_result, status_text
from grader.results import CheckResult, errored_checks
from grader.rubric import KIT_RUBRICS, Rubric, load_rubric, rubric_path
from grader.signing import sign_file, signing_key
from grader.target import is_url, uncommitted


def parse_deadline(text: str | None) -> datetime | None:
    """ISO 8601; without a UTC offset the time is read in this machine's local zone."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--deadline {text!r} is not an ISO 8601 time (2026-10-01T23:59)"
        ) from None
    return when if when.tzinfo else when.astimezone()


def resolve_rubric_path(milestone: str | None, rubric: Path | None) -> Path:
    if rubric is not None:
        return rubric
    if milestone is None:
        raise UsageError("give --milestone ID or --rubric FILE")
    path = rubric_path(milestone)
    if not path.is_file():
        known = ", ".join(kit_milestones())
        raise UsageError(f"no milestone {milestone!r} in the kit (milestones: {known})")
    return path


def kit_milestones() -> list[str]:
    """The milestone ids the kit has a rubric for."""
    return sorted(p.stem for p in KIT_RUBRICS.glob("*.yaml"))


def complete_milestone(incomplete: str) -> list[str]:
    """Shell completion of --milestone: the kit's milestone ids."""
    return [m for m in kit_milestones() if m.startswith(incomplete)]


def check_target(target: str) -> None:
    """A local target must be a git repository's folder (the grader grades commits): else a
    usage error (exit 2) before anything is graded."""
    if is_url(target):
        return
    path = Path(target).expanduser()
    if not path.is_dir():
        raise UsageError(f"{target}: no such folder (give a team's repository folder or URL)")
    if not (path / ".git").exists():
        raise UsageError(
            f"{target}: not a git repository (the grader grades commits: `git init`, commit,"
            " and grade again; or give the repository's URL)"
        )


def load_milestone(
    course: Course | None, milestone: str | None, rubric: Path | None
) -> tuple[Rubric, str | None]:
    """The rubric to grade with, and the course milestone it is (None: no course, or a
    `--rubric` whose milestone the course does not hold). `--rubric` beats the course's."""
    if course is None:
        return load_rubric(resolve_rubric_path(milestone, rubric)), None
    if milestone is not None:
        path = rubric or course.rubric_path(milestone)
        course.milestone(milestone)  # an id the course does not hold is a usage error
        return load_rubric(path), milestone
    loaded = load_rubric(resolve_rubric_path(None, rubric))
    return loaded, loaded.milestone if loaded.milestone in course.milestones else None


def deadline_note(course: Course, mid: str, team: str, due: datetime | None) -> str:
    if due is None:
        return f"{team}: no deadline for {mid} in {course.path}"
    days = course.extension(team, mid)
    extra = f" (the course's + {days:g} day{'s' if days != 1 else ''} extension)" if days else ""
    return f"{team}: {mid} due {due.isoformat()}{extra}"


def check(
    target: str = typer.Argument(..., help="Local folder or git URL of the team repository."),
    milestone: str | None = typer.Option(
        None,
        "--milestone",
        "-m",
        help="Milestone id: m0..m4, expo.",
        autocompletion=complete_milestone,
    ),
    rubric: Path | None = typer.Option(
        None, help="Rubric file (default: the kit's rubric for the milestone)."
    ),
    ref: str | None = typer.Option(None, help="Tag, branch or commit to grade."),
    deadline: str | None = typer.Option(None, help="Grade the last commit before this time."),
    only: list[str] = typer.Option(
        [], "--only", "--check", help="Grade only these check ids (repeatable; as in batch)."
    ),
    skip: list[str] = typer.Option([], help="Do not grade these check ids (repeatable)."),
    manual: Path | None = typer.Option(None, help="Manual scores (YAML or CSV)."),
    out: Path | None = typer.Option(None, help="Folder for results.json, feedback.md, junit.xml."),
    fail_under: float | None = typer.Option(None, help="Exit 1 if the score is below this."),
    network: str | None = network_option(),
    url: str | None = typer.Option(None, help="Grade service checks against this deployed URL."),
    course_file: Path | None = typer.Option(
        None,
        "--course",
        help="Course file: the milestone's rubric, deadline and late policy"
        " (default: $GRADER_COURSE, else ./course.yaml if present).",
    ),
    team: str | None = typer.Option(
        None, help="Team slug whose extension applies (default: the target folder's name)."
    ),
    no_engine: bool = typer.Option(
        False,
        "--no-engine",
        help="Grade without a container engine, as on Gradescope: checks that need one"
        " are skipped as graded by course staff.",
    ),
    accept_errors: bool = typer.Option(
        False,
        "--accept-errors-as-zero",
        help="Count checks in error as 0 and exit 0 (default: the result needs review and"
        " the command exits 3 after writing its reports).",
    ),
    sign_key_env: str | None = typer.Option(
        None,
        help="Sign results.json with the HMAC key in this environment variable (the course"
        " staff's secret; its value is never printed or written).",
    ),
    manifest_file: Path | None = typer.Option(
        None,
        "--manifest",
        help="Grade with this manifest instead of the repository's capstone.yaml (kept by"
        " the course staff; nothing is written into the team's checkout). Without either,"
        " the grader infers one and marks the checks that used inferred values.",
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        min=1,
        help="Checks graded at once (default: one per core); the service's checks take turns.",
    ),
    quiet: bool = quiet_option(),
    as_json: bool = json_option(),
) -> int:
    """Grade one team repository at one milestone.

    Exits 3 after writing every report when a check is in error (the grader or the engine
    failed: the total is not a grade), unless --accept-errors-as-zero.

    Example: grader check ../team-07 --milestone m1 --deadline 2026-10-01T23:59-04:00
    """
    check_target(target)
    course = find_course(course_file)
    loaded, mid = load_milestone(course, milestone, rubric)
    cutoff = parse_deadline(deadline)
    note = None
    if course is not None and mid is not None:
        slug = team or _slug(target)
        loaded = course.rubric_for(loaded, mid, slug)
        due = course.deadline_for(slug, mid)
        cutoff = cutoff if ref else grading_cutoff(due, cutoff)  # --ref: that commit
        note = deadline_note(course, mid, slug, due)
    key = signing_key(sign_key_env, "--sign-key-env") if sign_key_env else None
    if manifest_file is not None:
        load_manifest(manifest_file)  # a bad manifest is a usage error with its line, first
    known = {c.id for c in loaded.checks}
    unknown = [c for c in (*only, *skip) if c not in known]
    if unknown:
        raise UsageError(f"no check {', '.join(map(repr, unknown))} in rubric {loaded.milestone}")
    options = Options(
        ref=ref,
        deadline=cutoff,
        only=set(only),
        skip=set(skip),
        manual_file=manual,
        network_mode="published" if no_engine else decide_network(network),
        url=url,
        engine=not no_engine,
        manifest_file=manifest_file,
        check_jobs=jobs,
    )
    console = human_console(quiet, as_json)

    def progress(r: CheckResult) -> None:
        console.print(f"  {status_text(r)} {r.id} [dim]({r.duration:.1f}s)[/]", highlight=False)

    console.print(
        f"Grading {target} at {loaded.milestone} ({len(loaded.checks)} checks)", soft_wrap=True
    )
    if note:
        console.print(note, highlight=False, soft_wrap=True)
    if not is_url(target) and ref is None and cutoff is None:
        _warn_uncommitted(Path(target).expanduser(), console)
    result = grade(target, loaded, options, on_result=progress)
    out_dir = out or Path("grader-out") / f"{_slug(target)}-{loaded.milestone}"
    written = reports.write_all(result, out_dir)
    if key is not None:
        sign_file(written["results.json"], result, key)
    print_result(result, console, accept_errors)
    for kind, path in written.items():
        console.print(f"{kind}: {path}", highlight=False, soft_wrap=True)
    if as_json:
        print_json(json.loads(written["results.json"].read_text(encoding="utf-8")))
    if errored_checks(result) and not accept_errors:
        return EXIT_INFRA
    if fail_under is not None and result.score < fail_under:
        return EXIT_FAIL_UNDER
    return EXIT_OK


def _warn_uncommitted(repo: Path, console: Console, shown: int = 8) -> None:
    """Only the last commit is graded: name the files whose changes it leaves out."""
    names = uncommitted(repo)
    if not names:
        return
    listed = ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
    console.print(
        f"[yellow]warning:[/] not graded (only the last commit is): uncommitted changes to"
        f" {escape(listed)}; commit them to have them graded",
        highlight=False,
        soft_wrap=True,
    )


def _slug(target: str) -> str:
    """team-07 from ../team-07, `.` (the folder's own name) or a URL ending in team-07.git."""
    local = not is_url(target)
    name = Path(target).resolve().name if local else target.rstrip("/").rsplit("/", 1)[-1]
    name = name.removesuffix(".git") or "team"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
