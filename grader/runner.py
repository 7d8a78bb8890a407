"""Run a rubric's checks in `needs` order, each in its own process with a time limit.

A forked child per check is what makes the limit real: a check that hangs (a stuck
subprocess, a socket that never answers) is killed with its whole process group, and
the run goes on. State passes between checks only through `Outcome.provides`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from grader import web
from grader.checks.base import Context, Outcome, Unmet, failed
from grader.checks.registry import REGISTRY
from grader.errors import CheckError, EngineError
from grader.results import CheckResult
from grader.rubric import ResolvedCheck, Rubric, order
from grader.text import tail

OnResult = Callable[[CheckResult], None]
OnTimeout = Callable[[Context, ResolvedCheck], None]
ClaimPort = Callable[[], float]


# Heavy imports a family's checks make in their child process; imported once in the
# parent instead, every forked child starts with them (MLflow takes seconds to import).
PRELOAD = {"tracking": ("mlflow", "mlflow.tracking"), "repo": ("detect_secrets.core.scan",)}
HTTP_FAMILIES = {"container", "service", "tracking", "ci"}


def _families(checks: Iterable[ResolvedCheck]) -> set[str]:
    return {c.check.split(".")[0] for c in checks}


def preload_modules(checks: Iterable[ResolvedCheck]) -> list[str]:
    """The heavy modules these checks' families import: load them once, before forking."""
    return [module for family in sorted(_families(checks)) for module in PRELOAD.get(family, ())]


def _preload(checks: list[ResolvedCheck]) -> None:
    for module in preload_modules(checks):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    if _families(checks) & HTTP_FAMILIES:
        web.tls()  # built once here; every child's HTTP clients share it


STAFF_MESSAGE = "graded by course staff: it needs a Docker engine, and this run has none"


def engine_checks(checks: Iterable[ResolvedCheck]) -> set[str]:
    """Ids of the checks that need a container engine, themselves or through `needs`.

    Without an engine these are graded by course staff. The set depends on the rubric
    alone, never on results, so every submission has the same points at stake.
    """
    found: set[str] = set()
    for c in order(tuple(checks)):
        if REGISTRY[c.check].engine or any(need in found for need in c.needs):
            found.add(c.id)
    return found


def run_rubric(
    rubric: Rubric,
    ctx: Context,
    *,
    only: set[str] | None = None,
    skip: set[str] | None = None,
    on_result: OnResult | None = None,
    on_timeout: OnTimeout | None = None,
    claim_port: ClaimPort | None = None,
) -> list[CheckResult]:
    """Grade every selected check; a check never stops the others.

    `claim_port` is called once, before the first check that starts the team's service;
    it may wait (for another run's service to stop) and returns the seconds it waited.
    """
    results: dict[str, CheckResult] = {}
    selected = [c for c in order(rubric.checks) if not (only and c.id not in only)]
    staff = set() if ctx.settings.engine else engine_checks(rubric.checks)
    left_out = set(skip or ())
    _preload([c for c in selected if c.id not in staff and c.id not in left_out])
    for check in selected:
        if check.id in staff:
            result: CheckResult | None = _staff(check)
        else:
            result = _skipped_here(check, left_out, results) or _blocked(check, results)
        if result is None:
            waited = 0.0
            if claim_port and REGISTRY[check.check].listens:
                waited, claim_port = claim_port(), None
            result = _run(check, ctx, on_timeout)
            if waited >= 0.1:
                evidence = {**result.evidence, "waited_for_port_seconds": round(waited, 1)}
                result = result.model_copy(update={"evidence": evidence})
        results[check.id] = result
        if on_result:
            on_result(result)
    return list(results.values())


SKIPPED_HERE = "not graded in this run (--skip)"


def _skipped_here(
    check: ResolvedCheck, left_out: set[str], results: dict[str, CheckResult]
) -> CheckResult | None:
    """A check the TA left out with --skip is `skipped`, and so is every check that needs it
    (naming it), with nothing at stake: never an error for a value it never got."""
    if check.id in left_out:
        return _result(check, "skipped", 0.0, SKIPPED_HERE, {"skipped_by": check.id}, 0.0, 0.0)
    for need in check.needs:
        prior = results.get(need)
        root = prior.evidence.get("skipped_by") if prior is not None else None
        if root:
            message = f"not graded in this run: it needs {root}, left out with --skip"
            return _result(check, "skipped", 0.0, message, {"skipped_by": root}, 0.0, 0.0)
    return None


def _staff(check: ResolvedCheck) -> CheckResult:
    """Skipped here, worth its points where staff grade it (on a machine with Docker)."""
    evidence = {"graded_by": "course staff", "needs": "a Docker engine", "points": check.points}
    return _result(check, "skipped", 0.0, STAFF_MESSAGE, evidence, 0.0, 0.0)


def _blocked(check: ResolvedCheck, results: dict[str, CheckResult]) -> CheckResult | None:
    """A `blocked` result naming the root cause, if a prerequisite did not pass."""
    for need in check.needs:
        prior = results.get(need)
        # A skipped prerequisite is not applicable (no image to build in URL mode): it
        # does not block what needs it.
        if prior is None or prior.status in ("passed", "skipped"):
            continue
        # No manifest in the repo, but one was inferred: what needs it is graded with that.
        if prior.evidence.get("manifest") == "inferred":
            continue
        root = prior
        while root.status == "blocked" and root.evidence.get("root_cause") in results:
            root = results[root.evidence["root_cause"]]
        message = f"blocked: {root.id} {root.status} ({root.message})"
        return _result(check, "blocked", 0.0, message, {"root_cause": root.id}, 0.0)
    return None


def _run(check: ResolvedCheck, ctx: Context, on_timeout: OnTimeout | None) -> CheckResult:
    ctx.check_id = check.id
    start = time.monotonic()
    kind, payload = _in_child(check, ctx)
    duration = time.monotonic() - start
    if kind == "outcome":
        out: Outcome = payload
        ctx.provided.update(out.provides)
        if out.status == "skipped":  # not applicable: neither earned nor lost
            return _result(check, "skipped", 0.0, out.message, out.evidence, duration, 0.0)
        score = round(check.points * out.fraction, 2)
        return _result(check, out.status, score, out.message, out.evidence, duration)
    if kind == "timeout" and on_timeout:
        on_timeout(ctx, check)
    message, evidence = payload
    return _result(check, "error", 0.0, message, evidence, duration)


def _in_child(check: ResolvedCheck, ctx: Context) -> tuple[str, Any]:
    definition = REGISTRY[check.check]
    mp = get_context("fork")
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child, args=(definition.func, ctx, check, send), daemon=True)
    proc.start()
    send.close()
    try:
        if receive.poll(check.timeout):
            try:
                return receive.recv()  # type: ignore[no-any-return]
            except EOFError:
                proc.join(5)
                code = proc.exitcode
                return "error", (f"the check's process died (exit code {code})", {})
        _kill(proc.pid)
        return "timeout", (
            f"stopped after its time limit of {check.timeout:g}s",
            {"timeout": check.timeout},
        )
    finally:
        _kill(proc.pid)
        proc.join(5)
        receive.close()


def _child(
    func: Callable[..., Outcome], ctx: Context, check: ResolvedCheck, send: Connection
) -> None:
    os.setpgid(0, 0)  # its own process group, so a timeout kills what it started too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up
    try:
        message: tuple[str, Any] = ("outcome", func(ctx, check.params))
    except Unmet as exc:  # the team's manifest lacks what the check judges
        message = ("outcome", failed(str(exc)))
    except (CheckError, EngineError) as exc:  # the grader cannot judge: not a crash
        message = ("error", (str(exc), {}))
    except Exception as exc:
        trace = tail(traceback.format_exc(), 8000)
        message = (
            "error",
            (f"the check crashed: {type(exc).__name__}: {exc}", {"traceback": trace}),
        )
    send.send(message)
    send.close()


def _kill(pid: int | None) -> None:
    if pid is None:
        return
    # The group may not exist yet if the child has not reached setpgid: kill both.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _result(
    check: ResolvedCheck,
    status: Any,
    score: float,
    message: str,
    evidence: dict[str, Any],
    duration: float,
    max_score: float | None = None,
) -> CheckResult:
    return CheckResult(
        id=check.id,
        check=check.check,
        title=check.title,
        status=status,
        score=score,
        max_score=check.points if max_score is None else max_score,
        message=message,
        evidence=evidence,
        duration=round(duration, 3),
        visibility=check.visibility,
        tags=(*check.tags, *(("regression",) if check.regression else ())),
        required=check.required,
        regression=check.regression,
    )
