"""Checks of continuous integration: workflow files, what they run, and how the run ended."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from grader import github, gitrepo, workflows
from grader.checks.base import Context, Outcome, Params, failed, passed, skipped
from grader.errors import CheckError
from grader.text import plural
from grader.workflows import Step, Workflow

DEFAULT_STEP_PATTERNS = {
    "tests": r"\bpytest\b|\bmake\s+test\b|\btox\b|\bnox\b|unittest",
    "lint": r"\bruff\b|\bflake8\b|\bpylint\b|pre-commit|\bblack\s+--check\b|\bmake\s+lint\b",
    "image": r"docker\s+(buildx\s+)?build|docker/build-push-action|docker\s+compose\s+build"
    r"|\bmake\s+(image|docker)\b",
}


def _load_all(repo: Path) -> list[Workflow]:
    return [workflows.load(repo, rel) for rel in workflows.workflow_files(repo)]


def _all_steps(repo: Path) -> list[Step]:
    return [s for w in _load_all(repo) if not w.problem for s in workflows.steps(w)]


def _command(step: Step) -> str:
    """What a step runs: its shell script and the action it uses (never its name)."""
    return f"{step.run}\n{step.uses}"


# --- ci.workflows -------------------------------------------------------------------------


class WorkflowsParams(Params):
    min_workflows: int = Field(1, ge=1, description="Workflow files required.")


def workflows_valid(ctx: Context, params: WorkflowsParams) -> Outcome:
    """CI workflows exist and are valid GitHub Actions workflows.

    Every file under `.github/workflows/` is checked against the GitHub-workflow JSON
    schema (the one `check-jsonschema --builtin-schema vendor.github-workflows` uses);
    an invalid file never runs on GitHub. Partial credit per valid file. Fix: correct
    each `file:line` named, and validate locally with that command before pushing.
    """
    loaded = _load_all(ctx.repo)
    if len(loaded) < params.min_workflows:
        found = plural(len(loaded), "workflow")
        return failed(f"{found} under .github/workflows/ (need {params.min_workflows})")
    problems = {w.file: workflows.schema_problems(w) for w in loaded}
    bad = [f for f, p in problems.items() if p]
    evidence = {"files": [w.file for w in loaded], "problems": problems}
    if not bad:
        return passed(f"{plural(len(loaded), 'valid workflow')}", evidence)
    first = problems[bad[0]][0]
    return failed(
        f"{plural(len(bad), 'invalid workflow')}: {first}", evidence, 1 - len(bad) / len(loaded)
    )


# --- ci.required_steps --------------------------------------------------------------------


class RequiredStepsParams(Params):
    steps: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_STEP_PATTERNS),
        description="Kind of step -> regex that a step's `run` or `uses` must match.",
    )


def required_steps(ctx: Context, params: RequiredStepsParams) -> Outcome:
    """CI runs the tests, the linter and the image build.

    A step counts when its `run` script or its `uses` action matches the kind's
    pattern (its name does not count). Partial credit per kind. Fix: add a step that
    runs the missing tool in a workflow triggered on push.
    """
    all_steps = _all_steps(ctx.repo)
    found: dict[str, list[str]] = {}
    for kind, pattern in params.steps.items():
        rx = re.compile(pattern)
        found[kind] = [f"{s.file}:{s.first_line}" for s in all_steps if rx.search(_command(s))]
    missing = [kind for kind, where in found.items() if not where]
    evidence = {"found": found, "missing": missing}
    fraction = 1 - len(missing) / max(1, len(params.steps))
    if missing:
        return failed(f"no CI step for: {', '.join(missing)}", evidence, fraction)
    return passed(f"CI runs {', '.join(params.steps)}", evidence)


# --- ci.anti_patterns ---------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.what}"


class AntiPatternsParams(Params):
    tests_pattern: str = Field(DEFAULT_STEP_PATTERNS["tests"], description="Regex of test steps.")
    lint_pattern: str = Field(DEFAULT_STEP_PATTERNS["lint"], description="Regex of lint steps.")
    penalty: float = Field(
        0.5, gt=0, le=1, description="Credit lost per finding (0.5: two findings score 0)."
    )


SWALLOW = re.compile(r"\|\|\s*(true|:|exit\s+0)\b")
EXIT_ZERO = re.compile(r"--exit-zero\b")
WHOLESALE = re.compile(r"--collect-only\b|--co\b|-k\s+[\"']?not\s+test")
NEVER = re.compile(r"^(false|\$\{\{\s*false\s*\}\})$")


def anti_patterns(ctx: Context, params: AntiPatternsParams) -> Outcome:
    """CI cannot pass while tests or lint fail.

    Flags, with file and line: `continue-on-error: true` on a test or lint step (or
    its job); `|| true` (or `|| exit 0`) and `--exit-zero` in a test or lint step;
    test steps that skip the whole suite (`if: false`, `--collect-only`, ignoring or
    deselecting the test folder); and a CI with no test step at all. Fix: let the step
    fail, and fix the failing test or lint error instead of hiding it.
    """
    test_rx, lint_rx = re.compile(params.tests_pattern), re.compile(params.lint_pattern)
    all_steps = _all_steps(ctx.repo)
    test_paths = ctx.manifest.tests.paths if ctx.manifest else ("tests",)
    findings: list[Finding] = []
    for step in all_steps:
        lines = _step_lines(ctx.repo, step)
        is_test = bool(test_rx.search(_command(step)))
        if is_test or lint_rx.search(_command(step)):
            findings += _gate_findings(step, lines, "test" if is_test else "lint")
        if is_test:
            findings += _wholesale_findings(step, lines, test_paths)
    if not any(test_rx.search(_command(s)) for s in all_steps):
        findings.append(Finding(workflows.WORKFLOW_DIR, 0, "no CI step runs the tests"))
    return _anti_outcome(findings, params.penalty)


def _anti_outcome(findings: list[Finding], penalty: float) -> Outcome:
    evidence = {"findings": [str(f) for f in findings]}
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


def _gate_findings(step: Step, lines: list[tuple[int, str]], kind: str) -> list[Finding]:
    out = []
    if step.continue_on_error:
        out.append(Finding(step.file, step.coe_line, f"continue-on-error: true on {kind} step"))
    out += _grep(step, lines, SWALLOW, f"`|| true` hides a failing {kind} step")
    out += _grep(step, lines, EXIT_ZERO, f"--exit-zero makes the {kind} step always pass")
    return out


def _wholesale_findings(
    step: Step, lines: list[tuple[int, str]], test_paths: tuple[str, ...]
) -> list[Finding]:
    out = []
    if NEVER.match(step.condition):
        out.append(Finding(step.file, step.if_line, f"test step never runs (if: {step.condition})"))
    out += _grep(step, lines, WHOLESALE, "the test step collects or selects no test")
    for path in test_paths:
        dropped = re.compile(rf"--(ignore|deselect)[= ]\.?/?{re.escape(path.strip('/'))}/?(\s|$)")
        out += _grep(step, lines, dropped, f"the test step ignores the whole {path} folder")
    return out


def _grep(
    step: Step, lines: list[tuple[int, str]], rx: re.Pattern[str], what: str
) -> list[Finding]:
    return [Finding(step.file, n, what) for n, line in lines if rx.search(line)]


# --- ci.run_status ------------------------------------------------------------------------


class RunStatusParams(Params):
    repository: str | None = Field(
        None, description="owner/name on GitHub; default: from the checkout's origin remote."
    )
    api_url: str | None = Field(
        None, description="API base URL (GitHub Enterprise); default: GITHUB_API_URL or GitHub."
    )
    ok_conclusions: list[str] = Field(
        default_factory=lambda: ["success", "skipped", "neutral"],
        description="Run conclusions that count as passing (at least one must be success).",
    )
    pending: Literal["error", "failed"] = Field(
        "error", description="Result when a run has not finished (error: regrade later)."
    )
    not_found: Literal["error", "failed"] = Field(
        "error", description="Result when GitHub answers 404 for the repository."
    )


def run_status(ctx: Context, params: RunStatusParams) -> Outcome:
    """The graded commit's CI runs on GitHub all concluded `success`.

    Asks GitHub's REST API for the workflow runs of exactly the graded commit (the
    latest run of each workflow and event counts). Fix: open the Actions tab of your
    repository, read the failing job's log, fix it and push; a commit that was never
    pushed has no run.
    """
    if not ctx.commit:
        raise CheckError("the target is not a git repository: no commit to look up")
    found = _repository(ctx, params)
    if found is None:
        return skipped(
            "no GitHub remote: the repository is not on GitHub, so it has no CI runs to look"
            " up (grade the GitHub URL, or set the check's `repository` param)"
        )
    owner, name = found
    try:
        runs = github.runs_for_commit(owner, name, ctx.commit, base=params.api_url)
    except github.NotFound as exc:
        if params.not_found == "failed":
            return failed(str(exc), {"repository": f"{owner}/{name}"})
        raise
    return _judge_runs(f"{owner}/{name}", ctx.commit, _latest(runs), params)


def _repository(ctx: Context, params: RunStatusParams) -> tuple[str, str] | None:
    if params.repository:
        owner, _, name = params.repository.partition("/")
        if owner and name:
            return owner, name
        raise CheckError(f"repository {params.repository!r} is not owner/name")
    return _origin(ctx.repo)


def _origin(repo: Path, hops: int = 3) -> tuple[str, str] | None:
    """owner/name from the origin remote; a local clone's origin is followed to its own."""
    for _ in range(hops):
        try:
            url = gitrepo.git(repo, "config", "--get", "remote.origin.url", timeout=30).strip()
        except CheckError:
            return None
        parsed = github.parse_remote(url)
        if parsed is not None:
            return parsed
        repo = Path(url.removeprefix("file://"))
        if not repo.is_dir():
            return None
    return None


def _latest(runs: list[github.WorkflowRun]) -> list[github.WorkflowRun]:
    """The newest run of each (workflow, event): an older failed attempt is superseded."""
    newest: dict[tuple[str, str], github.WorkflowRun] = {}
    for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
        newest[(run.path or run.name, run.event)] = run
    return list(newest.values())


def _judge_runs(
    repo: str, sha: str, runs: list[github.WorkflowRun], params: RunStatusParams
) -> Outcome:
    evidence: dict[str, Any] = {
        "repository": repo,
        "commit": sha,
        "runs": [
            {
                "name": r.name,
                "event": r.event,
                "status": r.status,
                "conclusion": r.conclusion,
                "url": r.url,
            }
            for r in runs
        ],
    }
    short = sha[:10]
    if not runs:
        return failed(f"no workflow run on GitHub for commit {short} (was it pushed?)", evidence)
    pending = [r for r in runs if r.status != "completed"]
    if pending:
        return _pending(pending, short, evidence, params)
    bad = [r for r in runs if r.conclusion not in params.ok_conclusions]
    if bad:
        named = ", ".join(f"{r.name} ({r.conclusion})" for r in bad)
        return failed(f"CI of {short} did not pass: {named}", evidence)
    if not any(r.conclusion == "success" for r in runs):
        return failed(f"no run of {short} concluded success", evidence)
    return passed(f"all {plural(len(runs), 'workflow run')} of {short} succeeded", evidence)


def _pending(
    pending: list[github.WorkflowRun],
    short: str,
    evidence: dict[str, Any],
    params: RunStatusParams,
) -> Outcome:
    named = ", ".join(f"{r.name} ({r.status})" for r in pending)
    message = f"CI of {short} has not finished: {named}"
    if params.pending == "failed":
        return failed(message, evidence)
    raise CheckError(message + "; grade again once it has")
