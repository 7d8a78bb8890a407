"""Final grades: every milestone's batch results, grace days, weights and contributions.

For each team, milestones are taken in the course file's order:

1. The milestone's result is `GRADES/<milestone>/teams/<team>/results.json`. None, a batch
   `error`, or a result for another milestone: no number (an empty cell) and a reason to
   review, never a zero.
2. `earned` = the result's score before its late penalty (`score + late.points`: manual
   scores and required-check gates are already in it).
3. The result's `late.days_late` (started days after the team's deadline, extension and the
   policy's own grace included) are paid from the team's grace-day bank first, as far as it
   goes; the penalty is recomputed for the days left:
   `min(max_percent, days_left * percent_per_day)`. With no bank days used, the penalty the
   result carries stands.
4. `percent` = `100 * earned * (1 - penalty / 100) / max_score`.
5. The team's total = `sum(weight * percent) / sum(weight)` over the course's milestones;
   empty when a milestone with weight > 0 has no number.
6. A student's total = `min(100, team_total * factor)`, `factor = min(cap, share * team
   size)` from a contributions file (1 for teams it does not list).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from grader.batchstore import RECORD, team_dir
from grader.course import Course
from grader.errors import ConfigError
from grader.reports.gradescope import read_grade
from grader.results import GradeResult
from grader.roster import Member, RosterTeam, team_slug
from grader.rubric import LatePolicy, Rubric
from grader.scoring import late_penalty
from grader.text import plural

SHARE_TOLERANCE = 0.01


@dataclass(frozen=True)
class MilestoneGrade:
    """One team's grade at one milestone, after grace days."""

    milestone: str
    percent: float | None  # None: no usable result (see review)
    late_days: int = 0
    grace_used: int = 0
    penalty: float = 0.0  # percent of the earned points taken for lateness
    review: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamFinal:
    team: RosterTeam
    grades: tuple[MilestoneGrade, ...]
    grace_left: int
    total: float | None

    @property
    def review(self) -> tuple[str, ...]:
        return tuple(r for g in self.grades for r in g.review)


@dataclass(frozen=True)
class StudentFinal:
    team: TeamFinal
    member: Member
    factor: float
    total: float | None
    review: tuple[str, ...]


@dataclass(frozen=True)
class Milestone:
    """What the final grade needs of a course milestone: its rubric as the course grades it."""

    id: str
    weight: float
    rubric: Rubric


# ---- one team ------------------------------------------------------------------------------


def team_final(
    course: Course, milestones: list[Milestone], team: RosterTeam, grades_root: Path
) -> TeamFinal:
    bank = course.grace_days
    grades = []
    for m in milestones:
        result, problem = read_result(grades_root, m, team.slug)
        if result is None:
            grades.append(MilestoneGrade(m.id, None, review=(f"{m.id}: {problem}",)))
            continue
        policy = course.rubric_for(m.rubric, m.id, team.slug).late_policy
        grade = milestone_grade(m.id, result, policy, bank)
        bank -= grade.grace_used
        notes = _notes(course, m, team.slug, result)
        grades.append(replace(grade, review=grade.review + notes))
    total = weighted_total(milestones, grades)
    return TeamFinal(team, tuple(grades), bank, total)


def read_result(root: Path, m: Milestone, slug: str) -> tuple[GradeResult | None, str]:
    """The team's result at the milestone, or None and why."""
    folder = team_dir(root / m.id, slug)
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if isinstance(record, dict) and record.get("status") == "error":
        return None, f"grading error: {record.get('reason') or 'see grader.log'}"
    if isinstance(record, dict) and record.get("status") == "needs review":
        return None, f"needs review: {record.get('reason') or 'a check is in error'}"
    path = folder / "results.json"
    if not path.is_file():
        return None, f"not graded (no {path})"
    try:
        result = read_grade(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"unreadable {path}: {exc}"
    if result.milestone != m.rubric.milestone:
        return None, f"{path} is a result for {result.milestone}, not {m.rubric.milestone}"
    return result, ""


def milestone_grade(
    mid: str, result: GradeResult, policy: LatePolicy | None, bank: int
) -> MilestoneGrade:
    """The percent after paying the result's late days from `bank` first."""
    late = result.late
    days = late.days_late if late else 0
    earned = result.score + (late.points if late else 0.0)
    penalty = late.percent if late else 0.0
    used = min(bank, days) if late and policy else 0
    if used and policy:
        penalty = min(policy.max_percent, (days - used) * policy.percent_per_day)
    if not result.max_score:
        return MilestoneGrade(mid, None, review=(f"{mid}: the result's max score is 0",))
    percent = 100 * earned * (1 - penalty / 100) / result.max_score
    review = tuple(f"{mid}: {r}" for r in result.needs_review)
    return MilestoneGrade(mid, percent, days, used, penalty, review)


def _notes(course: Course, m: Milestone, slug: str, result: GradeResult) -> tuple[str, ...]:
    """A result that no longer matches the course: the rubric or the deadline changed since."""
    notes = []
    if result.rubric_hash != m.rubric.hash:
        notes.append(f"{m.id}: graded with another version of {m.rubric.path.name}")
    graded = course.rubric_for(m.rubric, m.id, slug)
    committed = _time(result.commit_time)
    if committed and graded.deadline:
        now_late = late_penalty(graded.deadline, graded.late_policy, committed, 0.0)
        days_now = now_late.days_late if now_late else 0
        days_then = result.late.days_late if result.late else 0
        if days_now != days_then:
            notes.append(
                f"{m.id}: graded {plural(days_then, 'day')} late, the course's deadline now "
                f"makes it {days_now}: regrade (grader batch -m {m.id} --only {slug})"
            )
    return tuple(notes)


def _time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def weighted_total(milestones: list[Milestone], grades: list[MilestoneGrade]) -> float | None:
    weights = sum(m.weight for m in milestones)
    if any(g.percent is None for m, g in zip(milestones, grades, strict=True) if m.weight):
        return None
    return sum(m.weight * (g.percent or 0.0) for m, g in zip(milestones, grades, strict=True)) / (
        weights
    )


# ---- students ------------------------------------------------------------------------------


def students(
    teams: list[TeamFinal], shares: dict[tuple[str, str], float], cap: float
) -> list[StudentFinal]:
    """One row per roster student, always."""
    rows = []
    for t in teams:
        listed = any(slug == t.team.slug for slug, _ in shares)
        for member in t.team.members:
            factor = 1.0
            if listed:
                share = shares[(t.team.slug, member.github.lower())]
                factor = min(cap, share * len(t.team.members))
            total = None if t.total is None else min(100.0, t.total * factor)
            rows.append(StudentFinal(t, member, factor, total, t.review))
    return rows


def load_contributions(path: Path, teams: list[RosterTeam]) -> dict[tuple[str, str], float]:
    """`team,github,share` rows: (team slug, handle) -> share; every problem names its line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError("contributions", path, [f"{path}: cannot read: {exc.strerror}"]) from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not {"team", "github", "share"} <= set(header):
        problem = f"{path}:1: the header must have team, github and share columns"
        raise ConfigError("contributions", path, [problem])
    reader.fieldnames = header
    by_slug = {t.slug: t for t in teams}
    shares: dict[tuple[str, str], float] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        slug = team_slug(row.get("team") or "")
        handle = (row.get("github") or "").strip().removeprefix("@").lower()
        problem = _share_problem(row, by_slug.get(slug), handle, (slug, handle) in shares)
        if problem:
            problems.append(f"{path}:{line}: {problem}")
            continue
        shares[(slug, handle)] = float(row["share"])
        first_line.setdefault(slug, line)
    for slug, line in first_line.items():
        problems += [f"{path}:{line}: {p}" for p in _team_problems(by_slug[slug], shares)]
    if problems:
        raise ConfigError("contributions", path, problems)
    return shares


def _share_problem(row: dict[str, str], team: RosterTeam | None, handle: str, dup: bool) -> str:
    if team is None:
        return f"no team {row.get('team')!r} in the roster"
    if handle not in {m.github.lower() for m in team.members}:
        return f"{handle!r} is not a member of {team.name} in the roster"
    if dup:
        return f"{handle!r} is listed twice for {team.name}"
    try:
        share = float(row.get("share") or "")
    except ValueError:
        return f"share {row.get('share')!r} is not a number"
    if not 0 <= share <= 1:
        return f"share {share:g} is outside 0..1 (a fraction of the team's work)"
    return ""


def _team_problems(team: RosterTeam, shares: dict[tuple[str, str], float]) -> list[str]:
    mine = {h: s for (slug, h), s in shares.items() if slug == team.slug}
    missing = [m.github or m.name for m in team.members if m.github.lower() not in mine]
    if missing:
        return [f"{team.name}: no share for {', '.join(missing)}"]
    total = sum(mine.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        return [f"{team.name}: the shares add up to {total:g}, not 1"]
    return []
