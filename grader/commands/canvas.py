"""Grades and feedback into Canvas, from the gradebook `grader batch` wrote.

Example: grader canvas upload grades/m3/gradebook.csv --course-id 12345 --assignment-id 678
         grader canvas upload grades/m3/gradebook.csv -m m3   # ids from course.yaml

Exit codes: 0 every student was handled (updated, unchanged, not found or skipped: see the
report), 2 bad gradebook, no token or Canvas rejected the token (401), 3 Canvas unreachable or
failing, or an upload that failed for a student.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields, replace
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from grader.canvas import CanvasClient, CanvasError, Student, Submission, user_ref
from grader.commands.output import reporting, result
from grader.course import Course, find_course
from grader.errors import EXIT_INFRA, EXIT_OK, ConfigError, UsageError
from grader.reports.files import write_atomic
from grader.reports.gradebook import GRADEBOOK_COLUMNS

TOKEN_ENV = "CANVAS_API_TOKEN"
URL_ENV = "CANVAS_BASE_URL"
REQUIRED = ("kind", "team", "name", "email", "status", "score", "max_score")
Outcome = Literal["updated", "would update", "unchanged", "not found", "skipped", "error"]

app = typer.Typer(
    help="Canvas: upload grades and feedback.", no_args_is_help=True, rich_markup_mode=None
)


@dataclass(frozen=True)
class Row:
    """One student of the gradebook, and what became of their upload."""

    team: str
    name: str
    email: str
    canvas_user_id: str
    sis_user_id: str
    status: str
    grade: str
    max_score: str
    line: int
    reason: str = ""
    outcome: Outcome | Literal[""] = ""
    canvas_user: str = ""
    previous: str = ""
    detail: str = ""


REPORT_COLUMNS = ("team", "name", "email", "canvas_user", "outcome", "grade", "previous", "detail")


# ---- the gradebook --------------------------------------------------------------------------


def read_gradebook(path: Path) -> list[Row]:
    """The member rows of gradebook.csv; a bad file is a ConfigError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the gradebook: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        names = ", ".join(map(repr, missing))
        raise ConfigError(
            "gradebook",
            path,
            [f"{path}:1: missing column {names} (expected grader batch's {GRADEBOOK_COLUMNS})"],
        )
    rows: list[Row] = []
    problems: list[str] = []
    for record in reader:
        line = reader.line_num
        if record.get("kind") != "member":
            continue
        row = _needs_review(_row(record, line), record.get("needs_review") or "")
        if row.status == "graded" and not _is_number(row.grade):
            problems.append(f"{path}:{line}: score: {row.grade!r} is not a number")
        rows.append(row)
    if problems:
        raise ConfigError("gradebook", path, problems)
    return rows


def _row(record: dict[str, str], line: int) -> Row:
    def get(key: str) -> str:
        return (record.get(key) or "").strip()

    return Row(
        team=get("team"),
        name=get("name"),
        email=get("email"),
        canvas_user_id=get("canvas_user_id"),
        sis_user_id=get("sis_user_id"),
        status=get("status"),
        grade=get("score"),
        max_score=get("max_score"),
        line=line,
        reason=get("reason"),
    )


def _needs_review(row: Row, review: str) -> Row:
    """A `graded` row of an older gradebook whose checks include a grader error, not accepted
    as zero, is not a grade either."""
    if row.status == "graded" and "grader error:" in review and not row.reason:
        return replace(row, status="needs review", reason=review)
    return row


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def comment_for(row: Row, out: Path) -> str:
    """The team's feedback.md from OUT/teams/<team>/, else a one-line summary."""
    feedback = out / "teams" / row.team / "feedback.md"
    try:
        text = feedback.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or f"Team {row.team}: {row.grade} / {row.max_score} points (graded by the grader)."


# ---- matching students to Canvas ------------------------------------------------------------


@dataclass
class Roll:
    """The course's students, indexed the ways a gradebook row can name one."""

    by_id: dict[int, Student]
    by_sis: dict[str, Student]
    by_login: dict[str, Student]

    @classmethod
    def of(cls, students: Sequence[Student]) -> Roll:
        by_login: dict[str, Student] = {}
        for s in students:
            for key in (s.login_id, s.email):
                if key:
                    by_login.setdefault(key.lower(), s)
        return cls(
            {s.id: s for s in students},
            {s.sis_user_id: s for s in students if s.sis_user_id},
            by_login,
        )

    def find(self, row: Row) -> Student | None:
        if row.canvas_user_id:
            return self.by_id.get(int(row.canvas_user_id))
        if row.sis_user_id and row.sis_user_id in self.by_sis:
            return self.by_sis[row.sis_user_id]
        return self.by_login.get(row.email.lower()) if row.email else None


def _same(a: float | None, b: str) -> bool:
    return a is not None and round(a, 2) == round(float(b), 2)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


class Uploader:
    """Decides and performs each student's upload; one student's failure never stops the rest."""

    def __init__(
        self, client: CanvasClient, course_id: str, assignment_id: str, out: Path, dry_run: bool
    ) -> None:
        self.client = client
        self.course_id = course_id
        self.assignment_id = assignment_id
        self.out = out
        self.dry_run = dry_run
        self.roll = Roll.of(client.students(course_id))
        self.current = client.submissions(course_id, assignment_id)

    def one(self, row: Row) -> Row:
        if row.status != "graded" or not row.grade:
            kind = "grading errored" if row.status == "error" else row.status or "no status"
            detail = f"{kind}: {row.reason}" if row.reason else kind
            return replace(row, outcome="skipped", detail=detail)
        try:
            return self._upload(row)
        except CanvasError as exc:
            return replace(row, outcome="error", detail=str(exc))

    def _locate(self, row: Row) -> tuple[str, Submission | None] | None:
        """The user's reference in Canvas URLs and their current submission; None: not in
        the course. A student the list does not show (a TA may not see SIS ids) is asked for
        by SIS id or login, and Canvas answers 404 when they are not enrolled."""
        found = self.roll.find(row)
        if found is not None:
            return str(found.id), self.current.get(found.id)
        if row.canvas_user_id or not (row.sis_user_id or row.email):
            return None
        ref = user_ref(sis_user_id=row.sis_user_id, login=row.email)
        sub = self.client.submission(self.course_id, self.assignment_id, ref)
        return None if sub is None else (str(sub.user_id), sub)

    def _upload(self, row: Row) -> Row:
        if not (row.canvas_user_id or row.sis_user_id or row.email):
            return replace(row, outcome="not found", detail="no Canvas id, SIS id or email")
        located = self._locate(row)
        if located is None:
            return replace(row, outcome="not found", detail=_not_found(row, self.course_id))
        user, sub = located
        previous = _num(sub.score if sub else None)
        row = replace(row, canvas_user=user, previous=previous)
        if sub is not None and _same(sub.score, row.grade):
            return replace(row, outcome="unchanged")
        if self.dry_run:
            return replace(row, outcome="would update")
        comment = comment_for(row, self.out)
        posted = self.client.grade(self.course_id, self.assignment_id, user, row.grade, comment)
        if posted is None:
            return replace(row, outcome="not found", detail=_not_found(row, self.course_id))
        return replace(row, outcome="updated")


def _not_found(row: Row, course_id: str) -> str:
    who = (
        f"Canvas user {row.canvas_user_id}"
        if row.canvas_user_id
        else f"SIS user id {row.sis_user_id!r}"
        if row.sis_user_id
        else f"login {row.email!r}"
    )
    return f"{who} is not a student of course {course_id}"


# ---- the command ----------------------------------------------------------------------------


def _report_csv(rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    index = {f.name: i for i, f in enumerate(fields(Row))}
    for row in rows:
        values = astuple(row)
        writer.writerow([values[index[c]] for c in REPORT_COLUMNS])
    return buffer.getvalue()


def _table(rows: Sequence[Row], title: str) -> Table:
    table = Table(title=title)
    for name in ("team", "student", "canvas user", "outcome", "grade", "was", "detail"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r.team, r.name, r.canvas_user, r.outcome, r.grade, r.previous, r.detail)
    return table


def _summary(rows: Sequence[Row]) -> str:
    order: tuple[str, ...] = (
        "updated",
        "would update",
        "unchanged",
        "not found",
        "skipped",
        "error",
    )
    counts = {o: sum(r.outcome == o for r in rows) for o in order}
    shown = [(o, n) for o, n in counts.items() if n or o in ("updated", "error")]
    return ", ".join(f"{n} {o}{'s' if o == 'error' and n != 1 else ''}" for o, n in shown)


@dataclass(frozen=True)
class Target:
    url: str
    token: str
    course: str
    assignment: str


def _target(
    course: Course | None,
    base_url: str | None,
    course_id: str | None,
    assignment_id: str | None,
    milestone: str | None,
) -> Target:
    """Options first, then the environment, then the course file's canvas section (and the
    milestone's canvas_assignment_id)."""
    canvas = course.canvas if course else None
    url = base_url or os.environ.get(URL_ENV, "") or (canvas.base_url if canvas else "")
    if not url:
        raise UsageError(
            f"no Canvas URL: give --base-url https://canvas.example.edu, set {URL_ENV}, "
            "or add canvas.base_url to course.yaml"
        )
    cid = course_id or (str(canvas.course_id) if canvas else "")
    if not cid:
        raise UsageError(
            "no Canvas course: give --course-id or add canvas.course_id to course.yaml"
        )
    aid = assignment_id
    if aid is None and course is not None and milestone is not None:
        found = course.milestone(milestone).canvas_assignment_id
        aid = str(found) if found else None
    if not aid:
        raise UsageError(
            "no Canvas assignment: give --assignment-id, or --milestone with a course.yaml "
            "milestone that has canvas_assignment_id"
        )
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(
            f"no Canvas token: set {TOKEN_ENV} (Canvas: Account > Settings > New Access Token)"
        )
    return Target(url, token, _digits(cid, "--course-id"), _digits(aid, "--assignment-id"))


def _digits(value: str, option: str) -> str:
    if not (value.isascii() and value.isdigit()):
        raise UsageError(f"{option} {value!r}: must be Canvas's numeric id")
    return value


@reporting
def upload(
    gradebook: Path = typer.Argument(..., help="gradebook.csv written by `grader batch`."),
    course_id: str | None = typer.Option(
        None, help="Canvas course id, the number in its URL (default: course.yaml's canvas)."
    ),
    assignment_id: str | None = typer.Option(
        None, help="Canvas assignment id (default: the --milestone's in course.yaml)."
    ),
    milestone: str | None = typer.Option(
        None, "--milestone", "-m", help="Milestone whose canvas_assignment_id course.yaml gives."
    ),
    base_url: str | None = typer.Option(
        None, help=f"Canvas URL, e.g. https://canvas.example.edu (env {URL_ENV})."
    ),
    course_file: Path | None = typer.Option(
        None, "--course", help="Course file (default: $GRADER_COURSE, else ./course.yaml)."
    ),
    dry_run: bool = typer.Option(False, help="Look everything up, post nothing."),
) -> int:
    """Post each student's grade and their team's feedback to a Canvas assignment.

    The token comes from the environment only (CANVAS_API_TOKEN). Teams whose grading
    errored or that need review (a check in error) are never uploaded. A report is written
    next to the gradebook.

    Example: grader canvas upload grades/m3/gradebook.csv --course-id 12345 --assignment-id 678
    """
    rows = read_gradebook(gradebook)
    target = _target(find_course(course_file), base_url, course_id, assignment_id, milestone)
    console = Console(highlight=False, soft_wrap=True)
    out = gradebook.parent
    with CanvasClient(target.url, target.token) as client:
        uploader = Uploader(client, target.course, target.assignment, out, dry_run)
        done = [uploader.one(row) for row in rows]
    verb = "dry run: nothing posted to" if dry_run else "uploaded to"
    title = f"{verb} Canvas course {target.course}, assignment {target.assignment}"
    console.print(_table(done, title))
    report = out / ("canvas-upload-dry-run.csv" if dry_run else "canvas-upload.csv")
    write_atomic(report, _report_csv(done))
    console.print(_summary(done))
    if client.throttled:
        console.print(f"Canvas throttled {client.throttled} request(s); each was retried")
    console.print(f"report: {report}")
    result(
        course=target.course,
        assignment=target.assignment,
        dry_run=dry_run,
        report=str(report),
        students=[{c: getattr(r, c) for c in REPORT_COLUMNS} for r in done],
    )
    return EXIT_INFRA if any(r.outcome == "error" for r in done) else EXIT_OK


app.command("upload", no_args_is_help=True)(upload)
