"""The course roster CSV: one row per student, grouped into teams.

Columns (case and spaces in headers ignored): team, name, email, github, and for batch
grading repo (a git URL or a local path; the same on every row of a team). Optional
canvas_user_id (Canvas's numeric user id: "Canvas ID", "ID" in Canvas's gradebook export)
and sis_user_id ("SIS User ID") let the Canvas import and upload find each student. The
whole file is checked before anything uses it, and every problem is reported as
`roster.csv:LINE: message`.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ConfigError
from grader.manifest import GITHUB_HANDLE

DIGITS = re.compile(r"^[0-9]+$")
EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")
ALIASES = {
    "team": "team",
    "team name": "team",
    "name": "name",
    "member": "name",
    "member name": "name",
    "full name": "name",
    "student": "name",
    "email": "email",
    "e-mail": "email",
    "github": "github",
    "github handle": "github",
    "handle": "github",
    "repo": "repo",
    "repository": "repo",
    "url": "repo",
    "canvas_user_id": "canvas_user_id",
    "canvas user id": "canvas_user_id",
    "canvas id": "canvas_user_id",
    "canvas_id": "canvas_user_id",
    "sis_user_id": "sis_user_id",
    "sis user id": "sis_user_id",
    "sis id": "sis_user_id",
    "manifest": "manifest",
}
MEMBER_COLUMNS = ("name", "email", "github")
UNIQUE_COLUMNS = ("github", "email", "canvas_user_id", "sis_user_id")


@dataclass(frozen=True)
class Member:
    name: str
    email: str
    github: str
    canvas_user_id: str = ""
    sis_user_id: str = ""


@dataclass(frozen=True)
class RosterTeam:
    """One team: its roster name, repository name, members and (for batch) its repo."""

    name: str
    slug: str
    members: tuple[Member, ...]
    repo: str | None = None
    line: int = 0
    manifest: str | None = None  # a TA's manifest for the team (grader batch)


def team_slug(team: str) -> str:
    """Repository name for a team: lowercase letters, digits and single hyphens."""
    ascii_name = unicodedata.normalize("NFKD", team).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug if slug[:1].isalpha() else f"team-{slug}".rstrip("-")


def load_roster(path: Path, required: tuple[str, ...]) -> list[RosterTeam]:
    """Parse and validate the roster; raises one ConfigError listing every problem."""
    rows, problems = _read(path, required)
    teams = _group(path, rows, problems)
    if problems:
        raise ConfigError("roster", path, problems)
    return teams


def _read(
    path: Path, required: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except OSError as exc:
        raise ConfigError("roster", path, [f"{path}: cannot read: {exc.strerror or exc}"]) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise ConfigError("roster", path, [f"{path}:1: the roster is empty"])
    columns = [ALIASES.get(" ".join(h.lower().split()), h.strip().lower()) for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ConfigError("roster", path, [f"{path}:1: missing column {names}"])
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[str] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            problems.append(f"{path}:{line}: {len(values)} fields but {len(columns)} columns")
        row = {c: v.strip() for c, v in zip(columns, values, strict=False)}
        rows.append((line, row))
    known = [c for c in columns if c in ALIASES.values()]
    for line, row in rows:
        problems += [f"{path}:{line}: {p}" for p in _row_problems(row, required, known)]
    return rows, problems


def _row_problems(row: dict[str, str], required: tuple[str, ...], known: list[str]) -> list[str]:
    out = [f"empty {c!r}" for c in known if c in required and not row.get(c)]
    handle = row.get("github", "").removeprefix("@")
    if handle and not GITHUB_HANDLE.match(handle):
        out.append(f"{handle!r} is not a valid GitHub handle")
    email = row.get("email", "")
    if email and not EMAIL.match(email):
        out.append(f"{email!r} is not an email address")
    name = row.get("name", "")
    if any(ch in name for ch in ",<>"):
        # The template reads members as "Name <handle>, ...": these characters break it.
        out.append(f"name {name!r} must not contain ',', '<' or '>'")
    canvas_id = row.get("canvas_user_id", "")
    if canvas_id and not DIGITS.match(canvas_id):
        out.append(f"canvas_user_id {canvas_id!r} must be digits only (Canvas's numeric user id)")
    if row.get("team") and not re.search(r"[A-Za-z0-9]", row["team"]):
        out.append(f"team {row['team']!r} has no letter or digit to name a repository")
    return out


def _group(
    path: Path, rows: list[tuple[int, dict[str, str]]], problems: list[str]
) -> list[RosterTeam]:
    teams: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        if row.get("team"):
            teams.setdefault(row["team"], []).append((line, row))
    problems += _duplicates(path, teams)
    return [_team(name, entries) for name, entries in teams.items()]


def _duplicates(path: Path, teams: dict[str, list[tuple[int, dict[str, str]]]]) -> list[str]:
    """Two team names that make the same repository, a student listed twice, two repos."""
    out: list[str] = []
    slugs: dict[str, str] = {}
    for name, entries in teams.items():
        first = entries[0][0]
        other = slugs.setdefault(team_slug(name), name)
        if other != name:
            out.append(
                f"{path}:{first}: duplicate team: {name!r} and {other!r} "
                f"both make the repository {team_slug(name)!r}"
            )
        repos = {row.get("repo", "") for _, row in entries}
        if len(repos) > 1:
            out.append(f"{path}:{first}: team {name!r} has different repos: {sorted(repos)}")
    for key in UNIQUE_COLUMNS:
        seen: dict[str, int] = {}
        for entries in teams.values():
            for line, row in entries:
                value = row.get(key, "").removeprefix("@").lower()
                if value and value in seen:
                    out.append(
                        f"{path}:{line}: duplicate {key} {value!r} (also on line {seen[value]})"
                    )
                seen.setdefault(value, line)
    return out


def _team(name: str, entries: list[tuple[int, dict[str, str]]]) -> RosterTeam:
    members = tuple(
        Member(
            row.get("name", ""),
            row.get("email", ""),
            row.get("github", "").removeprefix("@"),
            row.get("canvas_user_id", ""),
            row.get("sis_user_id", ""),
        )
        for _, row in entries
        if any(row.get(c) for c in MEMBER_COLUMNS)
    )
    repo = entries[0][1].get("repo") or None
    manifest = entries[0][1].get("manifest") or None
    return RosterTeam(name, team_slug(name), members, repo, entries[0][0], manifest)
