"""Checks of continuous integration: workflow files, what they run, and how the run ended."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from grader import fs, github, gitrepo, makefile, shellscan, workflowplan, workflows
from grader.checks.base import Context, Outcome, Params, failed, passed, skipped
from grader.errors import CheckError
from grader.text import plural
from grader.workflows import Step, Workflow

DEFAULT_STEP_PATTERNS = {
    "tests": r"\bpytest\b|\bmake\s+test\b|\btox\b|\bnox\b|unittest",
    # `pre-commit run` lints; `pre-commit install` and `pip install pre-commit` do not.
    "lint": r"\bruff\b|\bflake8\b|\bpylint\b|\bpre-commit\s+run\b|pre-commit/action"
    r"|\bblack\s+--check\b|\bmake\s+lint\b",
    "image": r"docker\s+(buildx\s+)?build|docker/build-push-action|docker\s+compose\s+build"
    r"|\bmake\s+(image|docker)\b",
}


SHEBANG = re.compile(r"#!\s*\S*/(env\s+(-\S+\s+)*)?(ba|da|k|z)?sh\b")


def _load_all(repo: Path) -> list[Workflow]:
    return [workflows.load(repo, rel) for rel in workflows.workflow_files(repo)]


def graded_branch(repo: Path, hops: int = 3) -> str:
    """The branch under grade: the default branch of the repository the checkout came from.

    A local clone on a feature branch is followed to its own origin, whose default
    branch is the one GitHub runs the team's CI for; `main` when none is known.
    """
    branch = "main"
    for _ in range(hops):
        try:
            ref = gitrepo.git(repo, "symbolic-ref", "--short", "refs/remotes/origin/HEAD")
            url = gitrepo.git(repo, "config", "--get", "remote.origin.url")
        except CheckError:
            break
        branch = ref.strip().removeprefix("origin/") or branch
        repo = Path(url.strip().removeprefix("file://"))
        if not repo.is_dir():
            break
    return branch


def _plan(repo: Path) -> workflowplan.Plan:
    """What runs for the graded branch, local composite actions read as their steps."""
    found = workflowplan.plan([w for w in _load_all(repo) if not w.problem], graded_branch(repo))
    return dataclasses.replace(found, live=workflows.expand_actions(repo, found.live))


@dataclass(frozen=True)
class Kinds:
    """Tells test, lint (...) steps and commands apart, reading the repo scripts they run."""

    repo: Path
    patterns: dict[str, re.Pattern[str]]

    def of_text(self, text: str) -> list[str]:
        return [kind for kind, rx in self.patterns.items() if rx.search(text)]

    def of_step(self, step: Step) -> list[str]:
        """Kinds of what the step runs: its action, and the commands of its script with
        the repo scripts and make recipes they run (`echo pytest` runs nothing)."""
        ran = shellscan.commands(step.run) if shellscan.shell_for(step.shell) else None
        if ran is None:  # not parsed: the script's text, as written
            ran = (shellscan.Command(1, tuple(step.run.split()), step.run),)
        texts = [step.uses]
        for command in ran:
            texts += [command.text, *self.scripts(command.text, step.working_directory).values()]
            texts += [r.text for r in self.recipes(command.words, step.working_directory)[1]]
        return self.of_text("\n".join(texts))

    def scripts(self, text: str, workdir: str = "") -> dict[str, str]:
        """Repo shell scripts a command line names (`bash scripts/test.sh`): path -> text."""
        found = {}
        for word in re.findall(r"[^\s;&|()<>'\"]+", text):
            if not (word.endswith(".sh") or "/" in word) or word.startswith(("/", "-", "$")):
                continue
            rel = posixpath.normpath(posixpath.join(workdir, word))
            body = fs.read_text(self.repo, rel, limit=200_000)
            if body is not None and (rel.endswith((".sh", ".bash")) or SHEBANG.match(body)):
                found[rel] = body
        return found

    def recipes(
        self, words: tuple[str, ...], workdir: str = ""
    ) -> tuple[str, list[makefile.Recipe]]:
        """The Makefile and the recipe lines a `make ...` command runs (none if not make)."""
        if not words or posixpath.basename(words[0]) != "make":
            return "", []
        directory, targets = makefile.targets(words)
        folder = posixpath.normpath(posixpath.join(workdir, directory or "."))
        for name in makefile.NAMES:
            rel = posixpath.normpath(posixpath.join(folder, name))
            text = fs.read_text(self.repo, rel, limit=500_000)
            if text is not None:
                return rel, makefile.recipes(text, targets)
        return "", []

    def is_gate(self, command: shellscan.Command, workdir: str = "") -> bool:
        texts = [command.text, *self.scripts(command.text, workdir).values()]
        texts += [r.text for r in self.recipes(command.words, workdir)[1]]
        return bool(self.of_text("\n".join(texts)))


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

    A step counts when a command of its `run` script (an `echo` of the tool's name does
    not count, nor does the step's name), a repo script or `make` target's recipe it
    runs, or its `uses` action matches the kind's pattern (a local composite action,
    `uses: ./path`, counts by its own steps), and only
    if it runs on a push or pull request to the graded branch (the repository's default
    branch): a workflow whose `on:` never fires for that branch, a job or step with a
    constant false `if:`, or a job that `needs:` such a job does not count. Partial credit
    per kind. Fix: add a step that runs the missing tool in a workflow triggered on push.
    """
    plan = _plan(ctx.repo)
    kinds = Kinds(ctx.repo, {kind: re.compile(rx) for kind, rx in params.steps.items()})
    found: dict[str, list[str]] = {kind: [] for kind in params.steps}
    for step in plan.live:
        for kind in kinds.of_step(step):
            found[kind].append(f"{step.file}:{step.first_line}")
    missing = [kind for kind, where in found.items() if not where]
    not_run = [f"{d.file}:{d.line}: {d.why}" for d in plan.dead]
    evidence = {"branch": plan.branch, "found": found, "missing": missing, "not_run": not_run}
    fraction = 1 - len(missing) / max(1, len(params.steps))
    if missing:
        message = f"no CI step for: {', '.join(missing)}" + _never_runs(plan, kinds, missing)
        return failed(message, evidence, fraction)
    return passed(f"CI runs {', '.join(params.steps)}", evidence)


def _never_runs(plan: workflowplan.Plan, kinds: Kinds, missing: list[str]) -> str:
    """Where a missing kind of step is written but never runs, if it is."""
    for dead in plan.dead:
        if any(set(kinds.of_step(s)) & set(missing) for s in dead.steps):
            return f" ({dead.file}:{dead.line}: {dead.why})"
    return ""


# --- ci.anti_patterns ---------------------------------------------------------------------


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
