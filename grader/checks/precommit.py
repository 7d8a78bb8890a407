"""The team's pre-commit hooks: configured (precommit.config), and passing on every file of
the graded commit when run in the sandbox (precommit.run).
"""

from __future__ import annotations

import yaml
from pydantic import Field

from grader import envcache, fs, sandbox
from grader.checks.base import (
    Context,
    Outcome,
    Params,
    failed,
    passed,
    skipped,
)
from grader.errors import CheckError, EngineError
from grader.text import plural, tail


class PrecommitConfigParams(Params):
    hooks: list[str] = Field(default_factory=list, description="Hook ids that must be present.")
    equivalents: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Hook ids that do the same job as a required one, for repos with their own "
            "configuration: {ruff: [flake8, pylint], ruff-format: [black]}."
        ),
    )


def precommit_config(ctx: Context, params: PrecommitConfigParams) -> Outcome:
    """The pre-commit configuration exists and has the required hooks.

    `.pre-commit-config.yaml` at the root must be valid YAML and list each required hook id
    (in any repo, local or remote), or a hook the rubric accepts in its place. Partial
    credit per hook. Fix: add the hooks and run `pre-commit run --all-files`.
    """
    text = fs.read_text(ctx.repo, ".pre-commit-config.yaml")
    if text is None:
        return failed(".pre-commit-config.yaml not found")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return failed(f".pre-commit-config.yaml is not valid YAML: {exc}".splitlines()[0])
    repos = config.get("repos", []) if isinstance(config, dict) else []
    ids = {h.get("id") for r in repos if isinstance(r, dict) for h in r.get("hooks", []) or []}
    missing = [
        h for h in params.hooks if h not in ids and not ids & set(params.equivalents.get(h, ()))
    ]
    evidence = {"hooks": sorted(str(i) for i in ids), "missing": missing}
    if missing:
        fraction = 1 - len(missing) / len(params.hooks)
        named = [_or(h, params.equivalents.get(h, [])) for h in missing]
        return failed(f"missing hooks: {', '.join(named)}", evidence, fraction)
    return passed(f"{plural(len(ids), 'hook')} configured", evidence)


def _or(hook: str, others: list[str]) -> str:
    return f"{hook} (or {', '.join(others)})" if others else hook


class PrecommitRunParams(Params):
    timeout: float = Field(600, gt=0, description="Seconds before the run is stopped.")
    setup_timeout: float = Field(600, gt=0, description="Seconds to install the hooks.")
    setup: str | None = Field(
        None, description="Extra shell commands before the hooks install (tools system hooks use)."
    )
    image: str = Field("python:3.11-slim", description="Base image (git and pre-commit are added).")


PRECOMMIT_RUN = ["pre-commit", "run", "--all-files", "--color", "never"]


def precommit_run(ctx: Context, params: PrecommitRunParams) -> Outcome:
    """pre-commit passes on every file.

    Runs `pre-commit run --all-files` on a copy of the graded commit, in a container
    (hooks are commands you control): the hooks are installed first, with network access,
    then run without it. A hook that changes files fails the run. Fix: run the same
    command locally, commit what the hooks fixed.
    """
    if fs.read_text(ctx.repo, ".pre-commit-config.yaml") is None:
        return skipped("no .pre-commit-config.yaml")
    setup = "git config --global --add safe.directory '*' && pre-commit install-hooks"
    if params.setup:
        setup = f"{params.setup} && {setup}"
    # The hook environments (under $HOME, kept in the cache image) depend only on the
    # config; an extra setup may read anything in the repo, so it installs every time.
    cache = None if params.setup else envcache.EnvCache((".pre-commit-config.yaml",))
    try:
        result = sandbox.run_in_sandbox(
            ctx.repo,
            PRECOMMIT_RUN,
            image=sandbox.hooks_image(params.image, ctx.settings.network_mode),
            setup=setup,
            cache=cache,
            timeout=params.timeout,
            setup_timeout=params.setup_timeout,
            run_id=ctx.settings.run_id,
            check_id=ctx.check_id,
            network_mode=ctx.settings.network_mode,
        )
    except EngineError as exc:
        raise CheckError(str(exc)) from None
    return _judge_precommit(result, params)


def _judge_precommit(result: sandbox.SandboxResult, params: PrecommitRunParams) -> Outcome:
    output = result.output
    evidence = {
        "command": " ".join(PRECOMMIT_RUN),
        "exit_code": result.exit_code,
        "environment": result.environment,
        "log": tail(output),
    }
    if result.setup_failed:
        return failed(f"pre-commit could not install the hooks: {tail(output, 300)}", evidence)
    if result.timed_out:
        return failed(f"pre-commit did not finish within {params.timeout:.0f}s", evidence)
    failing = [ln.split("...")[0].strip() for ln in output.splitlines() if ln.endswith("Failed")]
    if result.exit_code == 0:
        return passed("pre-commit passed on all files", evidence)
    what = ", ".join(failing) if failing else f"exit code {result.exit_code}"
    return failed(f"pre-commit failed: {what}", evidence)
