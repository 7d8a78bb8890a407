"""What a batch grades: the teams (a roster or a folder of repositories), the commit of each
(its last before its own deadline), who is in each team, and the cache key of its result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from grader import __version__
from grader.course import grading_cutoff
from grader.errors import GraderError, TargetError, UsageError
from grader.manifest import MANIFEST_NAME
from grader.results import (
    TeamOutcome,
    accepted_note,
    errored_checks,
    review_reason,
)
from grader.roster import Member, load_roster
from grader.rubric import Rubric
from grader.target import cache_dir, git, is_url, mirror

if TYPE_CHECKING:
    from grader.engine import NetworkMode


@dataclass(frozen=True)
class TeamSpec:
    """A team to grade: `id` names its output folder, `source` is a URL or a local path.

    `deadline` is this team's own due time (a course deadline plus the team's extension):
    lateness is measured from it, and its last commit before it is graded (or before the
    batch's deadline, when that is later). None: the batch's deadline and the rubric's.
    """

    id: str
    name: str
    source: str
    members: tuple[Member, ...] = ()
    deadline: datetime | None = None
    manifest: str | None = None  # a TA's manifest, graded with instead of the repository's


@dataclass
class BatchConfig:
    rubric: Rubric
    out: Path
    jobs: int = 1
    deadline: datetime | None = None  # grade each team's last commit before this
    checks: tuple[str, ...] = ()
    timeout: float = 1800.0
    network: NetworkMode = "published"
    force: set[str] = field(default_factory=set)
    accept_errors: bool = False  # a check in error counts as 0 instead of needing review


def judge(outcome: TeamOutcome, accept_errors: bool = False) -> TeamOutcome:
    """A graded team with a check in error needs review: its score counts the check as 0
    and is not a grade, unless the TA accepts errors as zero (then the note says so)."""
    result = outcome.result
    if result is None or outcome.status == "error":
        return outcome
    if not errored_checks(result):
        return replace(outcome, status="graded", reason="")
    if accept_errors:
        return replace(outcome, status="graded", reason=accepted_note(result))
    return replace(outcome, status="needs review", reason=review_reason(result))


def discover(teams: Path) -> list[TeamSpec]:
    """Teams from a roster CSV with a repo column, or every git repository in a folder."""
    if teams.is_dir():
        found = [
            TeamSpec(d.name, d.name, str(d))
            for d in sorted(teams.iterdir())
            if d.is_dir() and (d / ".git").exists()
        ]
        if not found:
            raise UsageError(f"{teams} holds no git repositories (one folder per team)")
        return found
    if not teams.is_file():
        raise UsageError(f"{teams} is neither a roster CSV nor a folder of team repositories")
    return [
        TeamSpec(
            t.slug,
            t.name,
            _repo_source(t.repo or "", teams.parent),
            t.members,
            manifest=_repo_source(t.manifest, teams.parent) if t.manifest else None,
        )
        for t in load_roster(teams, ("team", "repo"))
    ]


def with_manifests(specs: list[TeamSpec], folder: Path) -> list[TeamSpec]:
    """Each team without a manifest of its own in the roster takes FOLDER/<team>.yaml (or
    .yml), when there is one: the course staff's manifests, kept outside the team repos."""
    if not folder.is_dir():
        raise UsageError(f"--manifests {folder} is not a folder")
    out = []
    for spec in specs:
        found = [folder / f"{spec.id}{ext}" for ext in (".yaml", ".yml")]
        given = next((str(p.resolve()) for p in found if p.is_file()), None)
        out.append(spec if spec.manifest or given is None else replace(spec, manifest=given))
    return out


def _repo_source(repo: str, base: Path) -> str:
    """A URL as is; a path relative to the roster's folder."""
    if is_url(repo):
        return repo
    path = Path(repo).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def select(specs: list[TeamSpec], only: list[str]) -> list[TeamSpec]:
    if not only:
        return specs
    by_key = {s.id: s for s in specs} | {s.name: s for s in specs}
    unknown = [o for o in only if o not in by_key]
    if unknown:
        raise UsageError(f"--only: no team {', '.join(map(repr, unknown))} in the roster")
    return [by_key[o] for o in dict.fromkeys(only)]


def resolve_commit(source: str, deadline: datetime | None) -> str | None:
    """The commit `grader check` would grade, found cheaply (None: a folder, not a repo)."""
    if is_url(source):
        if deadline is None:
            line = git("ls-remote", source, "HEAD")
            if not line:
                raise TargetError(f"{source} has no HEAD (an empty repository?)")
            return line.split()[0]
        source = mirror(source)  # the history is needed to find the last commit in time
    elif not Path(source).is_dir():
        raise TargetError(f"{source} is not a folder or a git URL")
    elif not (Path(source) / ".git").exists():
        return None
    if deadline is None:
        return git("rev-parse", "--verify", "HEAD^{commit}", cwd=source)
    found = git("rev-list", "-1", f"--before={deadline.isoformat()}", "HEAD", cwd=source)
    if not found:
        raise TargetError(f"no commit on the default branch before {deadline.isoformat()}")
    return found


def team_due(spec: TeamSpec, config: BatchConfig) -> datetime | None:
    """When the team's work is due: lateness is measured from it."""
    return spec.deadline or config.rubric.deadline


def team_cutoff(spec: TeamSpec, config: BatchConfig) -> datetime | None:
    """The team's last commit before this time is graded (None: its head)."""
    if spec.deadline is None:
        return config.deadline
    return grading_cutoff(spec.deadline, config.deadline)


def _file_hash(path: str | None) -> str:
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def cache_key(commit: str, config: BatchConfig, spec: TeamSpec) -> str:
    """Same commit, rubric, grader, checks, due time and late policy: same result."""
    due = team_due(spec, config)
    policy = config.rubric.late_policy
    parts = [
        commit,
        config.rubric.hash,
        __version__,
        ",".join(sorted(config.checks)),
        due.isoformat() if due else "",
        policy.model_dump_json() if policy else "",
        _file_hash(spec.manifest),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def manifest_members(source: str, commit: str | None) -> tuple[Member, ...]:
    """Members from the team's capstone.yaml at the graded commit (when the roster has none)."""
    repo = source
    if is_url(source):
        repo = str(
            cache_dir() / "repos" / (hashlib.sha256(source.encode()).hexdigest()[:20] + ".git")
        )
    if commit is None or not Path(repo).exists():
        return ()
    try:
        data = yaml.safe_load(git("show", f"{commit}:{MANIFEST_NAME}", cwd=repo, timeout=30))
    except (GraderError, yaml.YAMLError):
        return ()
    return _members(data)


def _members(data: object) -> tuple[Member, ...]:
    """The members a manifest's data lists (none when it lists them wrongly)."""
    try:
        entries = data["team"]["members"]  # type: ignore[index]
        return tuple(
            Member(str(m.get("name", "")), str(m.get("email") or ""), str(m.get("github", "")))
            for m in entries
            if isinstance(m, dict)
        )
    except (TypeError, KeyError):
        return ()


def members_of(spec: TeamSpec, commit: str | None) -> tuple[Member, ...]:
    if spec.members:
        return spec.members
    if spec.manifest:
        return _members(_read_yaml(Path(spec.manifest)))
    return manifest_members(spec.source, commit)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
