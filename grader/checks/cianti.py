"""ci.anti_patterns: CI that cannot fail where it should. A test or lint step whose failure
is swallowed (`|| true`, `continue-on-error`, `set +e`, an exit code thrown away, in the
workflow, in a Makefile recipe or in a script it calls), a step that never runs, or a
gate that skips the tests wholesale.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from grader import makefile, shellscan, workflowplan, workflows
from grader.checks.base import Context, Outcome, Params, failed, passed
from grader.checks.ci import DEFAULT_STEP_PATTERNS, Kinds, _plan
from grader.workflows import Step


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    what: str
    via: str = ""  # where a workflow uses the composite action the finding is in

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.what}" + (f" (action used at {self.via})" if self.via else "")

    @classmethod
    def at(cls, step: Step, line: int, what: str) -> Finding:
        return cls(step.file, line, what, step.via)


class AntiPatternsParams(Params):
    tests_pattern: str = Field(DEFAULT_STEP_PATTERNS["tests"], description="Regex of test steps.")
    lint_pattern: str = Field(DEFAULT_STEP_PATTERNS["lint"], description="Regex of lint steps.")
    penalty: float = Field(
        0.5, gt=0, le=1, description="Credit lost per finding (0.5: two findings score 0)."
    )
    other_triggers_ok: bool = Field(
        True,
        description="A workflow that never runs on a push or pull request to the graded branch"
        " (nightly, release, manual) is fine when a step of the same kind runs on push.",
    )


EXIT_ZERO = re.compile(r"--exit-zero\b")


WHOLESALE = re.compile(r"--collect-only\b|--co\b|-k\s+[\"']?not\s+test")


def anti_patterns(ctx: Context, params: AntiPatternsParams) -> Outcome:
    """CI cannot pass while tests or lint fail.

    Reads every test or lint step that runs on a push or pull request to the graded
    branch as GitHub runs it (its shell is `bash -e` unless `shell:` says otherwise) and
    flags, with file and line, each way its failure could be swallowed: `|| true`,
    `|| echo ...` or any other fallback that succeeds, `| tee` without `set -o
    pipefail`, `set +e` with no later look at `$?`, `if pytest; then`, `pytest && a || b`,
    `exit 0` after a failure; the same inside a repo script, `make` target or local
    composite action the step runs (file and line of both), and `-` before a Makefile
    recipe line; `continue-on-error: true` (step or job) and `--exit-zero`; test steps
    that run no test (`--collect-only`, ignoring or deselecting the test folder); test
    or lint steps, jobs or workflows that never run (`if: false`, a job that needs such
    a job, `on:` triggers that never fire for the branch, unless a step of the same
    kind runs on push elsewhere: a nightly or release workflow is fine); and a CI with
    no test step at all. Fix: let the step fail, and fix the failing test or lint error
    instead of hiding it.
    """
    patterns = {"test": params.tests_pattern, "lint": params.lint_pattern}
    kinds = Kinds(ctx.repo, {kind: re.compile(rx) for kind, rx in patterns.items()})
    plan = _plan(ctx.repo)
    test_paths = ctx.manifest.tests.paths if ctx.manifest else ("tests",)
    findings, notes = _dead_findings(plan, kinds, params.other_triggers_ok), list[str]()
    for step in plan.live:
        kind = _gate_kind(kinds, step)
        if kind:
            findings += _gate_findings(ctx.repo, step, kind, kinds, notes)
        if kind == "test":
            findings += _wholesale_findings(ctx.repo, step, test_paths)
    if not any(_gate_kind(kinds, s) == "test" for s in plan.live):
        where = f"on a push or pull request to {plan.branch}"
        findings.append(Finding(workflows.WORKFLOW_DIR, 0, f"no CI step runs the tests {where}"))
    return _anti_outcome(findings, notes, params.penalty)


def _gate_kind(kinds: Kinds, step: Step) -> str | None:
    found = kinds.of_step(step)
    return "test" if "test" in found else "lint" if "lint" in found else None


def _dead_findings(plan: workflowplan.Plan, kinds: Kinds, other_triggers_ok: bool) -> list[Finding]:
    """Test or lint steps that never run; a whole workflow only if nothing else runs them."""
    live = {_gate_kind(kinds, s) for s in plan.live}
    out = []
    for dead in plan.dead:
        gates = [k for s in dead.steps if (k := _gate_kind(kinds, s))]
        kind = "test" if "test" in gates else "lint"
        if not gates or (dead.what == "workflow" and other_triggers_ok and kind in live):
            continue
        single = dead.what == "step"
        what = f"{kind} {dead.why}" if single else f"{dead.why}: its {kind} step never runs"
        out.append(Finding(dead.file, dead.line, what))
    return out


def _anti_outcome(findings: list[Finding], notes: list[str], penalty: float) -> Outcome:
    evidence = {"findings": [str(f) for f in findings], "notes": notes}
    if not findings:
        return passed("no CI anti-pattern found", evidence)
    head = "; ".join(str(f) for f in findings[:3])
    more = f" (+{len(findings) - 3} more)" if len(findings) > 3 else ""
    return failed(head + more, evidence, 1 - penalty * len(findings))


def _step_lines(repo: Path, step: Step) -> list[tuple[int, str]]:
    """(line number, text) of the step's lines, comments dropped."""
    text = (repo / step.file).read_text(encoding="utf-8", errors="replace").splitlines()
    span = range(step.first_line, min(step.last_line, len(text)) + 1)
    return [(n, text[n - 1]) for n in span if not text[n - 1].lstrip().startswith("#")]


def _gate_findings(
    repo: Path, step: Step, kind: str, kinds: Kinds, notes: list[str]
) -> list[Finding]:
    out = []
    if step.continue_on_error:
        out.append(Finding.at(step, step.coe_line, f"continue-on-error: true on {kind} step"))
    out += _grep(
        step, _step_lines(repo, step), EXIT_ZERO, f"--exit-zero makes the {kind} step always pass"
    )
    return out + _shell_findings(step, kind, kinds, notes)


def _shell_findings(step: Step, kind: str, kinds: Kinds, notes: list[str]) -> list[Finding]:
    """How the step's script (and the repo scripts it runs) could exit 0 on a failure."""
    shell = shellscan.shell_for(step.shell)
    if shell is None:
        notes.append(f"{step.file}:{step.run_line}: `shell: {step.shell}` is not read")
        return []
    workdir = step.working_directory
    scan = shellscan.scan(step.run, lambda c: kinds.is_gate(c, workdir), shell)
    if scan.fallback:
        notes.append(f"{step.file}:{step.run_line}: {scan.fallback}: read line by line")
    out = [
        Finding.at(step, step.run_line + s.line - 1, _swallowed(s, kind, kinds))
        for s in scan.swallows
    ]
    for gate in scan.gates:
        line = step.run_line + gate.line - 1
        found = _called_swallows(gate, workdir, shell, kinds, notes)
        out += [Finding.at(step, line, f"{w}: {_swallowed(s, kind, kinds)}") for w, s in found]
    return out


def _called_swallows(
    gate: shellscan.Command,
    workdir: str,
    shell: shellscan.Shell,
    kinds: Kinds,
    notes: list[str],
) -> list[tuple[str, shellscan.Swallow]]:
    """(file:line, swallow) in the repo scripts and Makefile recipes a gate command runs."""
    out = []
    for rel, text in kinds.scripts(gate.text, workdir).items():
        found = _script_swallows(gate, (workdir, rel), text, shell, kinds, notes)
        out += [(f"{rel}:{s.line}", s) for s in found]
    rel, recipes = kinds.recipes(gate.words, workdir)
    for recipe in recipes:
        out += [(f"{rel}:{recipe.line}", s) for s in _recipe_swallows(recipe, kinds)]
    return out


def _recipe_swallows(recipe: makefile.Recipe, kinds: Kinds) -> tuple[shellscan.Swallow, ...]:
    """A Makefile recipe line runs in `sh -c` without -e; `-` makes make ignore its status."""
    sh = shellscan.Shell(errexit=False, pipefail=False, how="sh -c")
    scan = shellscan.scan(recipe.text, lambda c: bool(kinds.of_text(c.text)), sh)
    if recipe.ignored and scan.gates:
        what = f"`-` before the recipe line of `{recipe.target}`"
        return (shellscan.Swallow(1, what, " ".join(recipe.text.split())),)
    return scan.swallows


def _script_swallows(
    gate: shellscan.Command,
    where: tuple[str, str],
    text: str,
    shell: shellscan.Shell,
    kinds: Kinds,
    notes: list[str],
) -> tuple[shellscan.Swallow, ...]:
    """What lets a repo script the step runs exit 0 when its own test command fails."""
    workdir, rel = where
    paths = [posixpath.normpath(posixpath.join(workdir, w)) for w in gate.words]
    at = paths.index(rel) if rel in paths else 0
    invocation = gate.words[: at + 1]
    if invocation and invocation[0] not in ("source", "."):
        shell = shellscan.script_shell(invocation, text)
    scan = shellscan.scan(text, lambda c: bool(kinds.of_text(c.text)), shell)
    if scan.fallback:
        notes.append(f"{rel}: {scan.fallback}: read line by line")
    return scan.swallows


def _swallowed(swallow: shellscan.Swallow, kind: str, kinds: Kinds) -> str:
    """`what` makes the test (lint) step pass: named after the command it hides."""
    own = kinds.of_text(swallow.command)
    kind = kind if kind in own or not own else own[0]
    return f"{swallow.what} makes the {kind} step pass when `{swallow.command}` fails"


def _wholesale_findings(repo: Path, step: Step, test_paths: tuple[str, ...]) -> list[Finding]:
    lines = _step_lines(repo, step)
    out = _grep(step, lines, WHOLESALE, "the test step collects or selects no test")
    for path in test_paths:
        dropped = re.compile(rf"--(ignore|deselect)[= ]\.?/?{re.escape(path.strip('/'))}/?(\s|$)")
        out += _grep(step, lines, dropped, f"the test step ignores the whole {path} folder")
    return out


def _grep(
    step: Step, lines: list[tuple[int, str]], rx: re.Pattern[str], what: str
) -> list[Finding]:
    return [Finding.at(step, n, what) for n, line in lines if rx.search(line)]
