"""The final grades' CSVs: one row per student (always) and one per team.

A milestone without a usable result is an empty cell, never a 0; `needs_review` says why.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from grader.final import StudentFinal, TeamFinal
from grader.reports.files import write_atomic


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def students_csv(rows: Sequence[StudentFinal], milestones: Sequence[str]) -> str:
    header = ("team", "name", "email", "github", *milestones, "team_total", "factor", "total")
    body = [
        [
            s.team.team.name,
            s.member.name,
            s.member.email,
            s.member.github,
            *(_num(g.percent) for g in s.team.grades),
            _num(s.team.total),
            _num(s.factor),
            _num(s.total),
            "; ".join(s.review),
        ]
        for s in rows
    ]
    return _csv((*header, "needs_review"), body)


def teams_csv(teams: Sequence[TeamFinal], milestones: Sequence[str]) -> str:
    per = [(f"{m}", f"{m}_late_days", f"{m}_grace_days", f"{m}_penalty") for m in milestones]
    header = ["team", "slug", "members", *(c for cols in per for c in cols)]
    header += ["grace_days_left", "team_total", "needs_review"]
    body = []
    for t in teams:
        cells: list[str] = []
        for g in t.grades:
            if g.percent is None:
                cells += ["", "", "", ""]
            else:
                cells += [_num(g.percent), str(g.late_days), str(g.grace_used), _num(g.penalty)]
        body.append(
            [
                t.team.name,
                t.team.slug,
                str(len(t.team.members)),
                *cells,
                str(t.grace_left),
                _num(t.total),
                "; ".join(t.review),
            ]
        )
    return _csv(header, body)


def teams_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}-teams{out.suffix or '.csv'}")


def write_final(
    students: Sequence[StudentFinal],
    teams: Sequence[TeamFinal],
    milestones: Sequence[str],
    out: Path,
) -> dict[str, Path]:
    return {
        "students": write_atomic(out, students_csv(students, milestones)),
        "teams": write_atomic(teams_path(out), teams_csv(teams, milestones)),
    }
