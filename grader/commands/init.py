"""Start a course: write a commented, valid course.yaml and a roster.csv header.

Example: grader init my-course --course-name "CS 6220 MLOps Capstone" --org my-course-2026
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import typer

from grader.commands.output import reporting, wrote
from grader.course import COURSE_FILE, load_course
from grader.errors import EXIT_OK, UsageError
from grader.reports.files import write_atomic

ROSTER_HEADER = "team,name,email,github,repo\n"

# The kit's milestones: weeks after `grader init` that the example deadline falls, weight.
MILESTONES = (("m0", 2, 5), ("m1", 4, 15), ("m2", 7, 20), ("m3", 10, 25), ("m4", 13, 20))
EXPO = ("expo", 15, 15)

TEMPLATE = """\
# Course file, read by grader check, batch, teams, canvas and final.
# Paths are relative to this file. Every deadline needs a UTC offset (-04:00, Z).
# Every command that reads it checks it first and names the line of each mistake.
course: {course}
{org_line}
template_url: {template_url}   # the kit teams are generated from (.cruft.json)
# template_ref: v2026.1        # the kit tag teams are generated and updated at
roster: roster.csv             # team,name,email,github[,repo] (one row per student)

# canvas:                      # for `grader canvas`
#   base_url: https://canvas.example.edu
#   course_id: 12345

# In order. rubric: a kit rubric id (m0..m4, expo) or a YAML path relative to this file.
# weight: share of the final grade; `grader final` normalises the weights over these.
# canvas_assignment_id: the Canvas assignment this milestone's grades go to (optional).
milestones:
{milestones}

# Late work loses percent_per_day of the points per started day after the deadline (plus
# grace_days), at most max_percent. Applies to milestones whose rubric has no late policy.
late_policy: {{percent_per_day: 10, grace_days: 0, max_percent: 50}}

# Late days each team may spend over the semester before the late policy applies:
# `grader final` uses them in milestone order.
grace_days: 2

# Extra days per team (its repository name, e.g. team-alpha) and milestone, e.g.
#   team-alpha: {{m3: 2}}
extensions: {{}}
"""


def course_text(name: str, org: str | None, template_url: str | None, now: datetime) -> str:
    """The starting course file; example deadlines fall at 23:59 local time from `now` on."""
    url = template_url or f"https://github.com/{org or 'my-course'}/capstone-kit.git"
    org_line = f"github_org: {_q(org)}" if org else "# github_org: my-course-2026"
    rows = []
    for mid, weeks, weight in (*MILESTONES, EXPO):
        due = (now + timedelta(weeks=weeks)).replace(hour=23, minute=59, second=0, microsecond=0)
        rows.append(
            f"  {mid + ':':<5} {{rubric: {mid}, deadline: {due.isoformat()}, weight: {weight}}}"
        )
    return TEMPLATE.format(
        course=_q(name),
        org_line=org_line,
        template_url=_q(url),
        milestones="\n".join(rows),
    )


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string


@reporting
def init(
    directory: Path = typer.Argument(..., help="Folder for course.yaml (made if missing)."),
    course_name: str = typer.Option("MLOps Capstone", help="The course's name."),
    org: str | None = typer.Option(None, help="GitHub organization of the teams' repositories."),
    template_url: str | None = typer.Option(
        None, help="Git URL of your copy of the kit (default: github.com/ORG/capstone-kit)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing course.yaml."),
) -> int:
    """Write DIR/course.yaml (commented, valid, with example deadlines) and a roster.csv header.

    Example: grader init my-course --course-name "CS 6220 MLOps Capstone" --org my-course-2026
    """
    path = directory / COURSE_FILE
    if path.exists() and not force:
        raise UsageError(f"{path} exists: edit it, or give --force to overwrite it")
    if not course_name.strip():
        raise UsageError("--course-name must not be empty")
    directory.mkdir(parents=True, exist_ok=True)
    roster = directory / "roster.csv"
    if not roster.exists():
        wrote(write_atomic(roster, ROSTER_HEADER), "header only: one row per student")
    text = course_text(course_name, org, template_url, datetime.now().astimezone())
    write_atomic(path, text)
    load_course(path)  # what we write must load: a failure here is a bug, loudly
    wrote(path, "set the deadlines and weights, fill in the roster")
    return EXIT_OK
