"""Where a batch keeps what it graded: each team's folder OUT/teams/<team>/ (reports, then
batch.json last, swapped in with renames so readers never see half a folder), the
machine-wide cache of results by key, and results downloaded from elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, replace
from pathlib import Path

from grader import __version__, reports
from grader.batchplan import BatchConfig, TeamSpec, judge, members_of
from grader.reports.files import write_atomic
from grader.reports.gradescope import read_grade
from grader.results import (
    TeamOutcome,
)
from grader.roster import Member
from grader.rubric import Rubric
from grader.target import cache_dir

RECORD = "batch.json"


def _cache_file(key: str) -> Path:
    return cache_dir() / "results" / key[:2] / f"{key}.json"


def team_dir(out: Path, team_id: str) -> Path:
    return out / "teams" / team_id


def _record(outcome: TeamOutcome) -> str:
    data = asdict(replace(outcome, result=None))
    data.pop("result")
    data.pop("cached")
    data["grader_version"] = __version__
    return json.dumps(data, indent=2) + "\n"


def load_outcome(folder: Path) -> TeamOutcome | None:
    """A team's outcome as a finished batch stored it, or None if it never finished."""
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        data.pop("grader_version", None)
        data["members"] = tuple(Member(**m) for m in data.get("members", ()))
        outcome = TeamOutcome(**data)
        if outcome.status != "error":
            outcome = replace(outcome, result=read_grade(folder / "results.json"))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # half-written or foreign: grade again
    return outcome


def _publish(staging: Path, final: Path) -> None:
    """Swap the finished staging folder in with renames: readers see old or new, never half."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}-{threading.get_ident()}")
        final.rename(trash)
    staging.chmod(0o755)  # mkdtemp made it private; reports are for the staff to share
    staging.rename(final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def save(outcome: TeamOutcome, staging: Path, out: Path) -> TeamOutcome:
    if outcome.result is not None and not (staging / "results.json").exists():
        reports.write_all(outcome.result, staging)
    write_atomic(staging / RECORD, _record(outcome))
    _publish(staging, team_dir(out, outcome.id))
    if outcome.result is not None and outcome.key is not None and not outcome.cached:
        shutil.copyfile(team_dir(out, outcome.id) / "results.json", _cache_tmp(outcome.key))
        os.replace(_cache_tmp(outcome.key), _cache_file(outcome.key))
    return outcome


def _cache_tmp(key: str) -> Path:
    path = _cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")


def staging_root(out: Path) -> Path:
    root = out / "teams" / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def stored_outcome(base: TeamOutcome, config: BatchConfig) -> tuple[TeamOutcome, bool] | None:
    """This team's finished outcome in OUT, if it is for this exact commit, rubric and grader
    and is a grade under this batch's policy (a check in error: graded again unless errors
    are accepted as zero), and whether its status or note changed."""
    if base.key is None or base.id in config.force:
        return None
    done = load_outcome(team_dir(config.out, base.id))
    if done is None or done.key != base.key or done.result is None:
        return None
    judged = judge(done, config.accept_errors)
    if judged.status != "graded":
        return None
    return replace(judged, cached=True), judged != done


def from_cache(base: TeamOutcome, config: BatchConfig) -> TeamOutcome | None:
    """A result graded earlier for the same key (another OUT folder, an earlier batch)."""
    if base.key is None or base.id in config.force:
        return None
    path = _cache_file(base.key)
    try:
        result = read_grade(path)
    except (OSError, ValueError, KeyError):
        return None
    outcome = judge(replace(base, status="graded", result=result), config.accept_errors)
    return replace(outcome, cached=True) if outcome.status == "graded" else None


def class_outcomes(
    specs: list[TeamSpec], out: Path, accept_errors: bool = False
) -> list[TeamOutcome]:
    """Every team's stored outcome under this batch's policy for checks in error; a team
    never graded still gets an error row."""
    outcomes = []
    for spec in specs:
        stored = load_outcome(team_dir(out, spec.id))
        outcomes.append(
            judge(stored, accept_errors)
            if stored
            else TeamOutcome(
                spec.id, spec.name, spec.source, "error", "not graded yet", members=spec.members
            )
        )
    return outcomes


def outcomes_from_results(
    specs: list[TeamSpec], results_dir: Path, rubric: Rubric, accept_errors: bool = False
) -> list[TeamOutcome]:
    """Outcomes from the result files teams uploaded: DIR/<team>/results.json or DIR/<team>.json."""
    return [judge(_from_file(spec, results_dir, rubric), accept_errors) for spec in specs]


def _from_file(spec: TeamSpec, results_dir: Path, rubric: Rubric) -> TeamOutcome:
    base = TeamOutcome(spec.id, spec.name, spec.source, "error", members=spec.members)
    path = find_results(results_dir, spec.id)
    if path is None:
        return replace(base, reason=f"no results.json for this team in {results_dir}")
    try:
        result = read_grade(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return replace(base, reason=f"{path}: not a results.json of this grader ({exc})")
    base = replace(base, commit=result.commit, members=members_of(spec, result.commit))
    if result.milestone != rubric.milestone or result.rubric_hash != rubric.hash:
        why = f"{path}: graded with another rubric ({result.milestone}, hash {result.rubric_hash})"
        return replace(base, reason=why)
    return replace(base, status="graded", result=result)


def find_results(results_dir: Path, team_id: str) -> Path | None:
    for candidate in (results_dir / team_id / "results.json", results_dir / f"{team_id}.json"):
        if candidate.is_file():
            return candidate
    nested = sorted((results_dir / team_id).glob("**/results.json"))
    return nested[0] if nested else None
