"""Run a rubric's checks in `needs` order, each in its own process with a time limit.

A forked child per check is what makes the limit real: a check that hangs (a stuck
subprocess, a socket that never answers) is killed with its whole process group, and
the run goes on. Independent checks run at the same time, up to a number of slots, each
holding one of the machine's cores (`locks.core`: graders on one machine share them, and a
check waiting for another's install lends its core meanwhile); the checks of the team's
service take turns. State passes between checks only through
`Outcome.provides`.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TextIO

from grader import depset, locks, web
from grader.checks.base import Context, Outcome, Unmet, failed
from grader.checks.registry import REGISTRY
from grader.errors import CheckError, EngineError
from grader.results import CheckResult, Measure
from grader.rubric import ResolvedCheck, Rubric
from grader.rubricneeds import order
from grader.text import tail

OnResult = Callable[[CheckResult], None]
OnTimeout = Callable[[Context, ResolvedCheck], None]
ClaimPort = Callable[[], bool]
LaneDone = Callable[[set[str]], None]
POLL = 0.2  # seconds between tries for a core or the port another run holds


def preload_modules(checks: Iterable[ResolvedCheck]) -> list[str]:
    """The heavy modules these checks import (the registry's `preload`): imported once in
    the parent, every forked child starts with them (MLflow takes seconds to import)."""
    return sorted({module for c in checks for module in REGISTRY[c.check].preload})


def _preload(checks: list[ResolvedCheck], repo: Path | None = None) -> None:
    for module in preload_modules(checks):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    if any(REGISTRY[c.check].http for c in checks):
        web.tls()  # built once here; every child's HTTP clients share it
    if repo is not None and any(REGISTRY[c.check].engine for c in checks):
        depset.parse_lock(repo)  # what the sandboxes install from, parsed once here


STAFF_MESSAGE = "graded by course staff: it needs a Docker engine, and this run has none"


def engine_checks(checks: Iterable[ResolvedCheck]) -> set[str]:
    """Ids of the checks that need a container engine, themselves or through `needs`.

    Without an engine these are graded by course staff. The set depends on the rubric
    alone, never on results, so every submission has the same points at stake.
    """
    return _with_dependents(checks, lambda c: REGISTRY[c.check].engine)


def service_lane(checks: Iterable[ResolvedCheck]) -> set[str]:
    """Ids of the checks that use the team's service port or its running service: the ones
    that start it (`listens`) and every check that needs one of those, through `needs`.

    They run one at a time (in rubric order, the service's starter first): one port, one
    service, and no check's requests mixed into another's measurements.
    """
    return _with_dependents(checks, lambda c: REGISTRY[c.check].listens)


def _with_dependents(
    checks: Iterable[ResolvedCheck], marked: Callable[[ResolvedCheck], bool]
) -> set[str]:
    """Ids of the `marked` checks and of every check that needs one, through `needs` (in
    any order: with --only, what some of them need is not among them)."""
    chosen = tuple(checks)
    found: set[str] = set()
    grew = True
    while grew:
        grew = False
        for c in chosen:
            if c.id not in found and (marked(c) or any(need in found for need in c.needs)):
                found.add(c.id)
                grew = True
    return found


def check_slots() -> int:
    """How many checks may run at once on this machine: one per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_rubric(
    rubric: Rubric,
    ctx: Context,
    *,
    only: set[str] | None = None,
    skip: set[str] | None = None,
    on_result: OnResult | None = None,
    on_timeout: OnTimeout | None = None,
    claim_port: ClaimPort | None = None,
    lane_done: LaneDone | None = None,
    slots: int = 1,
) -> list[CheckResult]:
    """Grade every selected check; a check never stops the others.

    Up to `slots` checks run at once, each as soon as everything it `needs` has a result;
    the service lane runs one at a time in rubric order (the check that starts the service
    first: `_lane_order`), and an `exclusive` check (one that
    measures time) runs alone. Results, and the order `on_result` sees them in, are the
    rubric's order whatever the order they finish in.

    Each running check holds a core of the machine (`locks.core`), so graders running at
    once (the teams of a batch) share the cores: a check waits for a free one.

    `claim_port` is tried before the first check that starts the team's service, until it
    returns True (another run's service stopped); the other checks go on meanwhile, and
    the first service check's evidence says how long it waited. `lane_done` is called once,
    with the lane's check ids, when every selected check of the service lane has its result
    (if one of them ran): the run may stop its service and let the port go while its other
    checks go on.
    """
    selected = [c for c in order(rubric.checks) if not (only and c.id not in only)]
    staff = set() if ctx.settings.engine else engine_checks(rubric.checks)
    left_out = set(skip or ())
    _preload([c for c in selected if c.id not in staff and c.id not in left_out], ctx.repo)
    # What the children inherit is left out of their garbage collections: they do not walk
    # (nor copy, page by page) the parent's heap, MLflow's included, each time they collect.
    gc.freeze()
    source = ctx.manifest_source
    inferred = ctx.manifest is not None and source is not None and source.kind == "inferred"
    plan = _Plan(selected, service_lane(rubric.checks), max(1, slots), inferred, claim_port)
    reported = 0

    def report() -> None:
        nonlocal reported
        while reported < len(selected) and selected[reported].id in plan.results:
            if on_result:
                on_result(plan.results[selected[reported].id])
            reported += 1

    try:
        while plan.pending or plan.running:
            for check in plan.startable(staff, left_out):
                waited = plan.waited.pop(check.id, 0.0)
                plan.running[check.id] = _start(check, ctx, waited, plan.cores[check.id])
            report()
            poll = POLL if plan.pending else None  # it may be waiting for a core or the port
            for running, kind, payload in _wait(list(plan.running.values()), poll):
                del plan.running[running.check.id]
                locks.release(plan.cores.pop(running.check.id))
                plan.results[running.check.id] = _finish(running, kind, payload, ctx, on_timeout)
            report()
            if lane_done and plan.lane_ran and plan.lane_finished():
                lane_done(plan.lane)
                lane_done = None
    finally:
        for running in plan.running.values():
            _stop(running)
        for core in plan.cores.values():
            locks.release(core)
        gc.unfreeze()
    return [plan.results[c.id] for c in selected]


@dataclass
class _Running:
    check: ResolvedCheck
    proc: BaseProcess
    receive: Connection
    start: float
    waited: float

    @property
    def deadline(self) -> float:
        return self.start + self.check.timeout


@dataclass
class _Plan:
    """Which checks are left, which run, and what may start next."""

    selected: list[ResolvedCheck]
    lane: set[str]
    slots: int
    inferred: bool  # no manifest in the repo, one inferred: what needs it is graded with that
    claim_port: ClaimPort | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    running: dict[str, _Running] = field(default_factory=dict)
    cores: dict[str, TextIO] = field(default_factory=dict)  # the core each running check holds
    waited: dict[str, float] = field(default_factory=dict)  # for the port, by the check that got it
    wanted_port: float | None = None  # when the port was first tried
    lane_ran: bool = False  # a check of the service lane started

    def __post_init__(self) -> None:
        self.pending = list(self.selected)
        self.ids = {c.id for c in self.selected}
        self.lane_order = _lane_order([c for c in self.selected if c.id in self.lane])

    def startable(self, staff: set[str], left_out: set[str]) -> list[ResolvedCheck]:
        """The checks to start now, in rubric order; those that need no process (staff,
        skipped, blocked) get their result here."""
        starting: list[ResolvedCheck] = []
        for check in list(self.pending):
            # What it needs that this run grades (with --only, not all of it) has a result.
            if any(need in self.ids and need not in self.results for need in check.needs):
                continue
            if check.id in staff:
                result: CheckResult | None = _staff(check)
            else:
                result = _skipped_here(check, left_out, self.results) or _blocked(
                    check, self.results, self.inferred
                )
            if result is not None:
                self.results[check.id] = result
                self.pending.remove(check)
                continue
            if self._may_start(check, starting):
                starting.append(check)
                self.pending.remove(check)
        return starting

    def _may_start(self, check: ResolvedCheck, starting: list[ResolvedCheck]) -> bool:
        busy = [r.check for r in self.running.values()] + starting
        if len(busy) >= self.slots or any(REGISTRY[c.check].exclusive for c in busy):
            return False
        if REGISTRY[check.check].exclusive and busy:
            return False
        if check.id in self.lane:
            # The lane: one at a time, and none before an earlier one of its order.
            earlier = self.lane_order[: self.lane_order.index(check)]
            if any(c.id in self.lane for c in busy) or any(c in self.pending for c in earlier):
                return False
        if REGISTRY[check.check].listens and not self._port(check):
            return False  # tried before the core: a run waiting for the port holds none
        core = locks.core(check_slots())
        if core is None:
            return False
        self.cores[check.id] = core
        self.lane_ran = self.lane_ran or check.id in self.lane
        return True

    def lane_finished(self) -> bool:
        """Every selected check of the service lane has its result."""
        return all(c.id in self.results for c in self.selected if c.id in self.lane)

    def _port(self, check: ResolvedCheck) -> bool:
        """The service port is this run's (claimed once, never waiting: tried again later)."""
        if self.claim_port is None:
            return True
        now = time.monotonic()
        self.wanted_port = self.wanted_port or now
        if not self.claim_port():
            return False
        self.claim_port = None
        self.waited[check.id] = now - self.wanted_port
        return True


def _lane_order(lane: list[ResolvedCheck]) -> list[ResolvedCheck]:
    """The lane's checks in rubric order, but the one that starts the team's service first
    where nothing it needs comes after it: the others (a HEALTHCHECK that would otherwise
    start a container of its own) then find the service running. Reports keep rubric order."""
    first = sorted(lane, key=lambda c: "service_container" not in REGISTRY[c.check].provides)
    place = {c.id: index for index, c in enumerate(first)}
    if all(place.get(need, -1) < place[c.id] for c in first for need in c.needs):
        return first
    return lane


SKIPPED_HERE = "not graded in this run (--skip)"


def _skipped_here(
    check: ResolvedCheck, left_out: set[str], results: dict[str, CheckResult]
) -> CheckResult | None:
    """A check the TA left out with --skip is `skipped`, and so is every check that needs it
    (naming it), with nothing at stake: never an error for a value it never got."""
    if check.id in left_out:
        return _result(check, "skipped", 0.0, SKIPPED_HERE, {}, 0.0, 0.0, blocked_by=check.id)
    for need in check.needs:
        prior = results.get(need)
        root = prior.blocked_by if prior is not None and prior.status == "skipped" else None
        if root:
            message = f"not graded in this run: it needs {root}, left out with --skip"
            return _result(check, "skipped", 0.0, message, {}, 0.0, 0.0, blocked_by=root)
    return None


def _staff(check: ResolvedCheck) -> CheckResult:
    """Skipped here, worth its points where staff grade it (on a machine with Docker)."""
    evidence = {"graded_by": "course staff", "needs": "a Docker engine"}
    result = _result(check, "skipped", 0.0, STAFF_MESSAGE, evidence, 0.0, 0.0)
    return result.model_copy(update={"staff_points": check.points})


def _blocked(
    check: ResolvedCheck, results: dict[str, CheckResult], inferred: bool
) -> CheckResult | None:
    """A `blocked` result naming the root cause, if a prerequisite did not pass (a missing
    manifest does not block when one was inferred: what needs it is graded with that)."""
    for need in check.needs:
        prior = results.get(need)
        # A skipped prerequisite is not applicable (no image to build in URL mode): it
        # does not block what needs it.
        if prior is None or prior.status in ("passed", "skipped"):
            continue
        if inferred and prior.check == "repo.manifest":
            continue
        root = prior
        while root.status == "blocked" and root.blocked_by in results:
            root = results[str(root.blocked_by)]
        message = f"blocked: {root.id} {root.status} ({root.message})"
        return _result(check, "blocked", 0.0, message, {}, 0.0, blocked_by=root.id)
    return None


def _start(check: ResolvedCheck, ctx: Context, waited: float, core: TextIO) -> _Running:
    ctx.check_id = check.id  # the child's copy of the context names its check
    mp = get_context("fork")
    receive, send = mp.Pipe(duplex=False)
    definition = REGISTRY[check.check]
    args = (definition.func, ctx, check, send, core)
    proc = mp.Process(target=_child, args=args, daemon=True)
    proc.start()
    send.close()
    return _Running(check, proc, receive, time.monotonic(), waited)


def _wait(running: list[_Running], poll: float | None) -> list[tuple[_Running, str, Any]]:
    """Wait until a running check ends or passes its time limit (or at most `poll` seconds);
    what ended, and how."""
    if not running:
        if poll:
            time.sleep(poll)
        return []
    now = time.monotonic()
    timeout = max(0.0, min(r.deadline for r in running) - now)
    timeout = min(timeout, poll) if poll else timeout
    ready = set(wait([r.receive for r in running], timeout))
    ended: list[tuple[_Running, str, Any]] = []
    for r in running:
        if r.receive in ready:
            ended.append((r, *_receive(r)))
        elif time.monotonic() >= r.deadline:
            limit = r.check.timeout
            message = f"stopped after its time limit of {limit:g}s"
            ended.append((r, "timeout", (message, {"timeout": limit})))
    for r, _, _ in ended:
        _stop(r)
    return ended


def _receive(r: _Running) -> tuple[str, Any]:
    try:
        return r.receive.recv()  # type: ignore[no-any-return]
    except EOFError:
        r.proc.join(5)
        return "error", (f"the check's process died (exit code {r.proc.exitcode})", {})


def _stop(r: _Running) -> None:
    # Only a child not yet reaped: starting another check's process reaps the ones that
    # ended (multiprocessing does), and a reaped pid may already be another process's,
    # another team's grader among them. An ended child took its own group down (`_child`).
    if r.proc.exitcode is None:
        _kill(r.proc.pid)
    r.proc.join(5)
    r.receive.close()


def _finish(
    r: _Running, kind: str, payload: Any, ctx: Context, on_timeout: OnTimeout | None
) -> CheckResult:
    check, duration = r.check, time.monotonic() - r.start
    if kind == "outcome":
        out: Outcome = payload
        ctx.provided = ctx.provided.merged(out.provides)
        if out.status == "skipped":  # not applicable: neither earned nor lost
            result = _result(check, "skipped", 0.0, out.message, out.evidence, duration, 0.0)
        else:
            score = round(check.points * out.fraction, 2)
            result = _result(
                check, out.status, score, out.message, out.evidence, duration,
                measures=out.measures,
            )  # fmt: skip
    else:
        if kind == "timeout" and on_timeout:
            on_timeout(ctx, check)
        message, evidence = payload
        result = _result(check, "error", 0.0, message, evidence, duration)
    if r.waited >= 0.1:
        evidence = {**result.evidence, "waited_for_port_seconds": round(r.waited, 1)}
        result = result.model_copy(update={"evidence": evidence})
    return result


def _child(
    func: Callable[..., Outcome],
    ctx: Context,
    check: ResolvedCheck,
    send: Connection,
    core: TextIO,
) -> None:
    os.setpgid(0, 0)  # its own process group, so a timeout kills what it started too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and cleans up
    locks.lend_core_while_waiting(core, check_slots())
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
    # Whatever the check started and left behind goes with it (this process too: its
    # message is already in the pipe).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(0, signal.SIGKILL)


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
    blocked_by: str | None = None,
    measures: tuple[Measure, ...] = (),
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
        blocked_by=blocked_by,
        how_to_fix=REGISTRY[check.check].explanation_for(check.params),
        measures=measures,
    )
