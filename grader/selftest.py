"""Self-test of a rubric: every check passes on a reference repo and fails on a mutant of it.

A mutant is the reference broken in one known way (a deleted test file, a broken
Dockerfile, `/predict` answering 500, an empty tracking store, ...). A check that no
mutant makes fail may be a check that cannot fail; a check that fails on the reference
is wrong or the reference is. `grader rubric validate RUBRIC --against REPO` prints both.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.checks.registry import REGISTRY
from grader.grade import Options, grade
from grader.manifest import MANIFEST_NAME, load_manifest
from grader.mutants import MUTANT_AUTHOR, MUTANTS, Mutant
from grader.results import CheckResult, GradeResult
from grader.rubric import ResolvedCheck, Rubric

# Families whose checks take seconds: every mutant is graded on all of them, so a
# mutant that breaks more than it should is caught there too.
CHEAP_FAMILIES = ("repo", "ci", "tracking")
# Not graded on every mutant: checks that need the container engine (they load a model,
# train or run the suite in a sandbox: minutes), and the CI run on GitHub (a mutant is a
# new commit that was never pushed). A mutant that targets one is graded on it.
EXPENSIVE = ("ci.run_status",)


@dataclass
class MutantOutcome:
    mutant: Mutant
    result: GradeResult | None
    problem: str | None = None
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    collateral: list[str] = field(default_factory=list)


@dataclass
class SelfTest:
    reference: GradeResult
    mutants: list[MutantOutcome]

    def failing_on_reference(self) -> list[CheckResult]:
        return [r for r in self.reference.checks if r.status != "passed"]

    def never_failed(self, rubric: Rubric) -> list[str]:
        caught = {c for m in self.mutants for c in m.caught}
        return [c.id for c in rubric.checks if c.id not in caught]

    @property
    def ok(self) -> bool:
        return not self.failing_on_reference() and all(
            not m.problem and not m.missed and not m.collateral for m in self.mutants
        )


def _matches(name: str, patterns: frozenset[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _family(check: ResolvedCheck) -> str:
    return check.check.split(".")[0]


def _cheap(check: ResolvedCheck) -> bool:
    definition = REGISTRY[check.check]
    return (
        _family(check) in CHEAP_FAMILIES and not definition.engine and check.check not in EXPENSIVE
    )


def _selection(rubric: Rubric, mutant: Mutant) -> set[str]:
    """Cheap checks, the checks the mutant targets, and everything those need."""
    names = mutant.breaks | mutant.may_break
    wanted = {c.id for c in rubric.checks if _cheap(c) or _matches(c.check, names)}
    by_id = {c.id: c for c in rubric.checks}
    todo = list(wanted)
    while todo:
        for need in by_id[todo.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                todo.append(need)
    return wanted


def _mutate(reference: Path, mutant: Mutant, into: Path) -> Path:
    clone = into / mutant.name
    _git("clone", "--quiet", str(reference), str(clone))
    mutant.apply(clone, load_manifest(clone / MANIFEST_NAME))
    _git("-C", str(clone), "add", "-A", "--force")
    _git(
        "-C",
        str(clone),
        "-c",
        f"user.name={MUTANT_AUTHOR}",
        "-c",
        "user.email=selftest@example.invalid",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"self-test mutant: {mutant.description}",
    )
    return clone


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, text=True)


def _judge(outcome: MutantOutcome, reference: GradeResult, rubric: Rubric) -> None:
    assert outcome.result is not None
    before = {r.id: r.status for r in reference.checks}
    names = {c.id: c.check for c in rubric.checks}
    broken = {r.id for r in outcome.result.checks if r.status in ("failed", "blocked")}
    targeted = {cid for cid in broken if names[cid] in outcome.mutant.breaks}
    outcome.caught = sorted(targeted)
    hit = {names[cid] for cid in targeted}
    outcome.missed = sorted(
        n for n in outcome.mutant.breaks if n in names.values() and n not in hit
    )
    allowed = outcome.mutant.breaks | outcome.mutant.may_break
    outcome.collateral = sorted(
        f"{r.id} {r.status}: {r.message}"
        for r in outcome.result.checks
        if r.status != before.get(r.id)
        and not _matches(names[r.id], allowed)
        and not (r.status == "blocked" and r.blocked_by in broken)
    )


def run_selftest(
    rubric: Rubric,
    reference: Path,
    options: Options,
    only_mutants: set[str] | None = None,
    on_mutant: Callable[[MutantOutcome], None] | None = None,
    reference_result: GradeResult | None = None,
) -> SelfTest:
    ref = reference_result or grade(str(reference), rubric, options)
    in_rubric = {c.check for c in rubric.checks}
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="grader-selftest-") as tmp:
        for mutant in MUTANTS:
            if (only_mutants and mutant.name not in only_mutants) or not (
                mutant.breaks & in_rubric
            ):
                continue
            outcome = MutantOutcome(mutant, None)
            try:
                clone = _mutate(reference, mutant, Path(tmp))
                changes = {"only": _selection(rubric, mutant), "ref": None, "deadline": None}
                sub = Options(**{**options.__dict__, **changes})
                outcome.result = grade(str(clone), rubric, sub)
                _judge(outcome, ref, rubric)
            except Exception as exc:  # a mutant that cannot be made is reported, not fatal
                outcome.problem = f"{type(exc).__name__}: {exc}"
            outcomes.append(outcome)
            if on_mutant:
                on_mutant(outcome)
    return SelfTest(ref, outcomes)
