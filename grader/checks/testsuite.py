"""Checks of the team's test suite, run in a sandbox container (never on the grader's host).

`tests.run` installs the team's dependencies (with network), runs the manifest's test
command with no network and with time, memory and process limits, and collects a JUnit
report and a coverage report. It provides them as `test_report` to the other checks
(`tests.pass`, `tests.count`, `tests.coverage`, `tests.kinds`), which list it in `needs`.

With the `auto` setup the installed dependencies are cached (grader/envcache.py): keyed by
the files that declare them, so a regrade, or a repo that changed only its code, skips the
install; the project itself is reinstalled (editable, without dependencies) every time.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from pydantic import Field

from grader.checks.base import Context, Outcome, Params, Provided, failed, graded, passed
from grader.checks.projectenv import base_image, env_cache, setup_command
from grader.sandbox import SandboxResult, run_in_sandbox
from grader.suitereport import (
    COVERAGE,
    JUNIT,
    TEAM_COVERAGE,
    SuiteCase,
    SuiteReport,
    is_kind,
    pytest_env,
    read_report,
)
from grader.text import plural, tail

NETWORK_HINTS = (
    "ConnectionRefusedError",
    "Connection refused",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ConnectError",
)


# --- tests.run ----------------------------------------------------------------------------


class RunParams(Params):
    image: str = Field(
        "auto",
        description=(
            "Base image the suite runs in. `auto`: python:X.Y-slim with the Python version "
            "of the service's Dockerfile (`FROM python:X.Y...`), else python:3.11-slim."
        ),
    )
    setup: str | None = Field(
        "auto",
        description=(
            "Shell command that installs dependencies (with network). `auto`: install "
            "the project (with its `dev` extra if declared; exactly its uv.lock when it has "
            "one) and requirements*.txt files, with uv (pip where uv refuses), "
            "cached while the files that declare dependencies stay the same. Another "
            "command runs every time (the grader cannot tell which files it reads)."
        ),
    )
    extra_packages: list[str] = Field(
        default_factory=list, description="More packages to install, e.g. pytest-cov."
    )
    timeout: float = Field(600, gt=0, description="Seconds the test command may run.")
    setup_timeout: float = Field(900, gt=0, description="Seconds the install may take.")
    memory: str = "2g"
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(512, ge=16)


def run_suite(ctx: Context, params: RunParams) -> Outcome:
    """The test suite runs to completion in a clean container.

    The grader installs your dependencies in a fresh container, then runs the test
    command from capstone.yaml (`tests.command`) with no network access and with time,
    memory and process limits. Fix: make `pip install` of your project (and its `dev`
    extra) bring everything the tests import (with a uv.lock: run `uv lock` after changing
    the dependencies, so the lock matches pyproject.toml), keep tests offline and fast, and
    run the same command in a fresh virtual environment to reproduce.
    """
    command = ctx.need_manifest().tests.command
    result = run_in_sandbox(
        ctx.repo,
        command,
        image=base_image(ctx, params.image),
        setup=setup_command(ctx, params.setup, params.extra_packages),
        cache=env_cache(ctx, params.setup),
        timeout=params.timeout,
        setup_timeout=params.setup_timeout,
        memory=params.memory,
        cpus=params.cpus,
        pids=params.pids,
        env=pytest_env(ctx.repo, command),
        collect=[JUNIT, COVERAGE, TEAM_COVERAGE],
        run_id=ctx.settings.run_id,
        check_id=ctx.check_id,
        network_mode=ctx.settings.network_mode,
    )
    return _judge_run(command, result, params)


def _judge_run(command: str, result: SandboxResult, params: RunParams) -> Outcome:
    report = read_report(result)
    evidence = {
        "command": command,
        "exit_code": result.exit_code,
        "seconds": round(result.seconds, 1),
        "environment": result.environment,
        "output": tail(result.output, 6000),
    }
    problem = _run_problem(result, report, params)
    if problem:
        return failed(problem, evidence)
    summary = _summary(report)
    return passed(f"the suite ran: {summary}", evidence, Provided(test_report=report))


def _run_problem(result: SandboxResult, report: SuiteReport, params: RunParams) -> str | None:
    if result.setup_failed:
        what = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        return f"installing the dependencies failed ({what})"
    if result.timed_out:
        return f"the test suite did not finish within {params.timeout:g}s and was stopped"
    if result.oom_killed:
        return f"the test suite ran out of memory ({params.memory})"
    if not report.cases:
        return f"no test ran (exit code {result.exit_code}; collection error or no pytest?)"
    if all(c.outcome == "error" for c in report.cases):
        first = report.cases[0]
        why = _first_error_line(first.message) or f"exit code {result.exit_code}"
        return (
            f"no test ran: collecting the suite failed ({plural(len(report.cases), 'error')};"
            f" {first.nodeid}: {why})"
        )
    return None


def _first_error_line(message: str) -> str:
    """'ModuleNotFoundError: No module named 'app'' from a collection error's report."""
    lines = [line.strip().removeprefix("E").strip() for line in message.splitlines()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)]
    return (errors or [line for line in lines if line] or [""])[-1][:200]


def _summary(report: SuiteReport) -> str:
    parts = [f"{report.count('passed')} passed"]
    for outcome in ("failed", "error", "skipped"):
        if report.count(outcome):
            parts.append(f"{report.count(outcome)} {outcome}")
    if report.coverage is not None:
        parts.append(f"coverage {report.coverage:.1f}%")
    return ", ".join(parts)


# --- tests.pass -----------------------------------------------------------------------------


class PassParams(Params):
    partial: bool = Field(True, description="Credit in proportion of passing tests.")


def all_pass(ctx: Context, params: PassParams) -> Outcome:
    """All tests pass.

    Counts the tests the suite ran (skipped ones aside). A test that reaches the network
    fails here: tests run offline, so mock the call or mark it and keep it out of the
    default run. Fix: run the test command locally and fix each failing test named.
    """
    report = ctx.need("test_report")
    ran = [c for c in report.cases if c.outcome != "skipped"]
    bad = [c for c in ran if c.outcome in ("failed", "error")]
    evidence = {"failing": [asdict(c) for c in bad[:20]], "ran": len(ran)}
    if not ran:
        return failed("no test ran", evidence)
    if not bad:
        return passed(f"all {plural(len(ran), 'test')} passed", evidence)
    fraction = (len(ran) - len(bad)) / len(ran) if params.partial else 0.0
    named = ", ".join(_why(c) for c in bad[:3]) + (" ..." if len(bad) > 3 else "")
    return failed(f"{len(bad)} of {plural(len(ran), 'test')} failed: {named}", evidence, fraction)


def _why(case: SuiteCase) -> str:
    if any(hint in case.message for hint in NETWORK_HINTS):
        return f"{case.nodeid} (tried to reach the network; tests run offline)"
    return case.nodeid


# --- tests.count ----------------------------------------------------------------------------


class CountParams(Params):
    min_tests: int = Field(10, ge=1, description="Tests that must run (not skipped).")


def count_tests(ctx: Context, params: CountParams) -> Outcome:
    """The suite has enough tests.

    Counts tests that ran (skipped ones do not count; each parametrized case counts).
    Partial credit in proportion. Fix: test the data checks, the model and the API.
    """
    report = ctx.need("test_report")
    ran = sum(1 for c in report.cases if c.outcome != "skipped")
    evidence = {"ran": ran, "skipped": report.count("skipped"), "required": params.min_tests}
    message = f"{plural(ran, 'test')} ran"
    if ran >= params.min_tests:
        return passed(message, evidence)
    return failed(f"{message} (need {params.min_tests})", evidence, ran / params.min_tests)


# --- tests.coverage -------------------------------------------------------------------------


class CoverageParams(Params):
    threshold: float = Field(80, gt=0, le=100, description="Line coverage (%) for full credit.")
    zero_at: float | None = Field(
        None, ge=0, lt=100, description="Coverage that earns nothing (default: proportional)."
    )


def coverage(ctx: Context, params: CoverageParams) -> Outcome:
    """Test coverage reaches the threshold.

    Line coverage as measured by pytest-cov during the graded run (add `--cov` to
    `tests.command` or to pytest's `addopts`). Partial credit below the threshold.
    Fix: test the code paths the coverage report lists as missing.
    """
    report = ctx.need("test_report")
    value = report.coverage
    if value is None:
        return failed("no coverage measured: run pytest with --cov (pytest-cov)", {})
    evidence = {"coverage": value, "threshold": params.threshold}
    message = f"coverage {value:.1f}% (need {params.threshold:g}%)"
    if value >= params.threshold:
        return passed(message, evidence)
    low = params.zero_at if params.zero_at is not None else 0.0
    fraction = max(0.0, (value - low) / (params.threshold - low)) if value > low else 0.0
    return graded(min(fraction, 0.999), message, evidence)


# --- tests.kinds ----------------------------------------------------------------------------


class KindsParams(Params):
    required: list[str] = Field(
        default_factory=lambda: ["data", "model", "api"], description="Kinds that must exist."
    )
    kinds: dict[str, list[str]] | None = Field(
        None,
        description=(
            "Kind -> paths (with a `/` or `.py`) or marker names; default: the manifest's "
            "`tests.kinds`."
        ),
    )


def kinds_present(ctx: Context, params: KindsParams) -> Outcome:
    """The suite has data, model and API tests.

    Each kind is found by path (`tests/test_api.py`, `tests/api/`) or by pytest marker
    (`@pytest.mark.api`), as `tests.kinds` in capstone.yaml says; at least one test of
    each kind must run. Partial credit per kind. Fix: add the missing kind of test and
    declare where it lives in capstone.yaml.
    """
    report = ctx.need("test_report")
    declared = params.kinds or {k: list(v) for k, v in ctx.need_manifest().tests.kinds.items()}
    ran = [c for c in report.cases if c.outcome != "skipped"]
    found = {k: sum(1 for c in ran if is_kind(c, declared.get(k, []))) for k in params.required}
    missing = [k for k, n in found.items() if n == 0]
    evidence = {"tests_per_kind": found, "declared": declared}
    if missing:
        fraction = 1 - len(missing) / len(params.required)
        return failed(f"no {', '.join(missing)} tests ran", evidence, fraction)
    return passed(", ".join(f"{n} {k}" for k, n in found.items()) + " tests", evidence)
