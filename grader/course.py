"""The course file `course.yaml`: milestones, deadlines, weights, late policy and extensions.

One file per course, written by `grader init` and read by check, batch, teams, canvas and
final. Loading validates everything at once and reports each problem as
`course.yaml:LINE: field: message`.

Deadlines must carry a UTC offset (`2026-09-20T23:59:00-04:00`): a time without one would
mean different instants on a TA's laptop and on a CI runner in UTC, so it is an error, not
a guess.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import ConfigError, UsageError
from grader.roster import load_roster, team_slug
from grader.rubric import ID_PATTERN, LatePolicy, Rubric, rubric_path
from grader.yamlsrc import Issue, YamlSource, load_yaml, pydantic_issues

COURSE_FILE = "course.yaml"
COURSE_ENV = "GRADER_COURSE"
KIND = "course file"

Days = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Canvas(Strict):
    base_url: str = Field(pattern=r"^https?://\S+$", description="The Canvas site.")
    course_id: int = Field(gt=0)


class CourseMilestone(Strict):
    """One graded milestone of the course, in the order the course holds them."""

    rubric: str | None = Field(
        None,
        description="A kit rubric id (m0..m4, expo), or a YAML path relative to the course "
        "file. Default: the milestone's own id.",
    )
    deadline: datetime | None = Field(None, description="ISO 8601 with a UTC offset.")
    weight: float = Field(ge=0, description="Share of the final grade (normalised).")
    canvas_assignment_id: int | None = Field(None, gt=0)

    @field_validator("deadline", mode="before")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            raise ValueError(f"{value} has no time: write {value}T23:59:00-04:00 (with offset)")
        when = value
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not an ISO 8601 time (2026-09-20T23:59:00-04:00)"
                ) from None
        if isinstance(when, datetime) and when.tzinfo is None:
            raise ValueError(
                f"{when.isoformat()} has no UTC offset: write it as "
                f"{when.isoformat()}-04:00 (your offset), or Z for UTC"
            )
        return when


class CourseFile(Strict):
    """Schema of `course.yaml`."""

    course: str = Field(min_length=1, description="The course's name.")
    github_org: str | None = None
    template_url: str | None = Field(None, description="The kit's git URL (.cruft.json).")
    template_ref: str | None = Field(None, description="The kit tag teams are generated at.")
    roster: str | None = Field(None, description="Roster CSV, relative to the course file.")
    canvas: Canvas | None = None
    milestones: dict[str, CourseMilestone] = Field(min_length=1)
    late_policy: LatePolicy | None = Field(
        None, description="For milestones whose rubric has no late policy."
    )
    grace_days: int = Field(0, ge=0, description="Late days each team may use in the semester.")
    extensions: dict[str, dict[str, Days]] = Field(
        default_factory=dict, description="team slug -> milestone -> extra days."
    )


class Course(CourseFile):
    """A validated course file and where it lives (paths in it are relative to it)."""

    path: Path = Field(exclude=True)

    @property
    def milestone_ids(self) -> tuple[str, ...]:
        return tuple(self.milestones)

    @property
    def roster_path(self) -> Path | None:
        return self.path.parent / self.roster if self.roster else None

    def milestone(self, mid: str) -> CourseMilestone:
        found = self.milestones.get(mid)
        if found is None:
            known = ", ".join(self.milestones)
            raise UsageError(f"{self.path}: no milestone {mid!r} (the course has {known})")
        return found

    def extension(self, team: str, mid: str) -> float:
        """Extra days `team` (a slug or a roster team name) has for milestone `mid`."""
        return self.extensions.get(team_slug(team), {}).get(mid, 0.0)

    def deadline_for(self, team: str | None, mid: str) -> datetime | None:
        """The milestone's deadline plus the team's extension (None: no course deadline)."""
        deadline = self.milestone(mid).deadline
        if deadline is None or team is None:
            return deadline
        return deadline + timedelta(days=self.extension(team, mid))

    def rubric_path(self, mid: str) -> Path:
        """A kit id names the kit's rubric; a path (with / or .yaml) is relative to this file."""
        ref = self.milestone(mid).rubric or mid
        if _is_path(ref):
            return self.path.parent / ref
        return rubric_path(ref)

    def rubric_for(self, rubric: Rubric, mid: str, team: str | None = None) -> Rubric:
        """`rubric` as the course grades it: the course's deadline (plus the team's extension)
        and, when the rubric has none, the course's late policy. The hash is unchanged: it
        names the rubric file, which teams self-grade with too."""
        deadline = self.deadline_for(team, mid) or rubric.deadline
        return replace(
            rubric, deadline=deadline, late_policy=rubric.late_policy or self.late_policy
        )


def grading_cutoff(due: datetime | None, requested: datetime | None) -> datetime | None:
    """The commit time limit: a team's due time, moved later by `--deadline` (never earlier,
    so a late-work cut-off does not cut an extension short)."""
    if due is None or requested is None:
        return due or requested
    return max(due, requested)


def _is_path(ref: str) -> bool:
    return "/" in ref or "\\" in ref or ref.endswith((".yaml", ".yml"))


def load_course(path: Path) -> Course:
    """Load and validate a course file; every problem comes back in one ConfigError."""
    source = load_yaml(path, KIND)
    if not isinstance(source.data, dict):
        raise source.fail([Issue((), "a course file must be a mapping")], KIND)
    try:
        model = CourseFile.model_validate(source.data)
    except ValidationError as exc:
        raise source.fail(pydantic_issues(exc), KIND) from None
    course = Course(path=path, **{name: getattr(model, name) for name in CourseFile.model_fields})
    issues = _semantic_issues(course, source)
    if issues:
        raise source.fail(issues, KIND)
    return course


def find_course(explicit: Path | None = None) -> Course | None:
    """The course file: `explicit`, else $GRADER_COURSE, else ./course.yaml if present."""
    if explicit is not None:
        return load_course(explicit)
    env = os.environ.get(COURSE_ENV)
    if env:
        return load_course(Path(env))
    default = Path(COURSE_FILE)
    return load_course(default) if default.is_file() else None


def _semantic_issues(course: Course, source: YamlSource) -> list[Issue]:
    """What the schema cannot see: ids, files that must exist, extensions that must match."""
    issues: list[Issue] = []
    for mid in course.milestones:
        if not _valid_id(mid):
            msg = "milestone ids are lowercase letters, digits, '.', '_' and '-'"
            issues.append(Issue(("milestones", mid), msg))
        rubric = course.rubric_path(mid)
        if not rubric.is_file():
            issues.append(Issue(("milestones", mid, "rubric"), f"no rubric file at {rubric}"))
    if not sum(m.weight for m in course.milestones.values()):
        issues.append(Issue(("milestones",), "the weights add up to 0: give some a weight > 0"))
    roster = course.roster_path
    if roster is not None and not roster.is_file():
        issues.append(Issue(("roster",), f"no roster file at {roster}"))
    issues += _extension_issues(course, _roster_slugs(roster))
    return issues


def _valid_id(mid: str) -> bool:
    return re.match(ID_PATTERN, mid) is not None


def _roster_slugs(roster: Path | None) -> set[str] | None:
    """Team slugs of the roster, or None when there is none to check against (yet)."""
    if roster is None or not roster.is_file():
        return None
    try:
        teams = load_roster(roster, ("team",))
    except ConfigError:
        return None  # the roster's own problems are reported by the command that reads it
    return {t.slug for t in teams} or None


def _extension_issues(course: Course, slugs: set[str] | None) -> list[Issue]:
    issues = []
    for team, per_milestone in course.extensions.items():
        if team_slug(team) != team:
            msg = f"{team!r} is not a team slug: write {team_slug(team)!r}"
            issues.append(Issue(("extensions", team), msg))
        elif slugs is not None and team not in slugs:
            msg = f"no team {team!r} in the roster ({', '.join(sorted(slugs))})"
            issues.append(Issue(("extensions", team), msg))
        for mid in per_milestone:
            if mid not in course.milestones:
                known = ", ".join(course.milestones)
                msg = f"unknown milestone {mid!r} (the course has {known})"
                issues.append(Issue(("extensions", team, mid), msg))
            elif course.milestones[mid].deadline is None:
                msg = f"milestone {mid} has no deadline in the course file to extend"
                issues.append(Issue(("extensions", team, mid), msg))
    return issues
