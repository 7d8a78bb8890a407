"""Which downloaded results are grades: signed by the staff's key, for the graded commit.

`grader batch --from-results` reads results.json files that someone uploaded. With a key,
a team's file counts only when its signature matches and it was graded at the team's
graded commit (resolved again from the team's repository at the deadline); anything else
is an `error` row naming why. Without a key, or for a file nobody signed, the results are
self-reported: shown on the dashboard as such, never a grade (the team needs review)
unless the TA accepts self-reported results.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from grader.batchplan import TeamSpec, resolve_commit
from grader.batchstore import find_results
from grader.course import grading_cutoff
from grader.errors import GraderError
from grader.results import TeamOutcome
from grader.signing import stored_signature, verify

SELF_REPORTED = "self-reported"
CONCLUSION = "conclusion.txt"  # written by `grader classroom gather` for a job without results


def vet(
    outcomes: list[TeamOutcome],
    specs: list[TeamSpec],
    results_dir: Path,
    key: bytes | None,
    deadline: datetime | None,
    accept_self_reported: bool = False,
) -> list[TeamOutcome]:
    by_id = {s.id: s for s in specs}
    return [
        _vet(o, by_id[o.id], results_dir, key, deadline, accept_self_reported) for o in outcomes
    ]


def _vet(
    o: TeamOutcome,
    spec: TeamSpec,
    results_dir: Path,
    key: bytes | None,
    deadline: datetime | None,
    accept_self_reported: bool,
) -> TeamOutcome:
    path = find_results(results_dir, o.id)
    if o.result is None or path is None:
        return _job_conclusion(o, results_dir)
    if key is None or stored_signature(path) is None:
        if key is not None:
            return replace(o, status="error", reason=f"{path}: unsigned results", result=None)
        note = f"{SELF_REPORTED}: results from the team's own CI, not signed by the staff"
        if o.status != "graded":  # it needs review for its own reason already
            return o if accept_self_reported else replace(o, reason=f"{note}; {o.reason}")
        if accept_self_reported:
            return replace(o, reason=f"{note} (accepted as a grade)")
        return replace(o, status="needs review", reason=f"{note}; not a grade")
    why = verify(path, o.result, key)
    if why is None:
        why = _commit_mismatch(o, spec, deadline)
    return replace(o, status="error", reason=why, result=None) if why else o


def _commit_mismatch(o: TeamOutcome, spec: TeamSpec, deadline: datetime | None) -> str | None:
    cutoff = deadline if spec.deadline is None else grading_cutoff(spec.deadline, deadline)
    try:
        expected = resolve_commit(spec.source, cutoff)
    except GraderError as exc:
        return f"cannot resolve the team's graded commit to verify the results: {exc}"
    if expected is not None and o.commit != expected:
        return (
            f"graded at commit {(o.commit or 'none')[:12]}, not at the team's graded commit"
            f" {expected[:12]}"
        )
    return None


def _job_conclusion(o: TeamOutcome, results_dir: Path) -> TeamOutcome:
    """A grading job that uploaded nothing: its conclusion is the reason."""
    file = results_dir / o.id / CONCLUSION
    if o.result is None and file.is_file():
        return replace(o, reason=file.read_text(encoding="utf-8").strip())
    return o
