"""Grade a whole class: parallel, cached, resumable, and one team never stops the others.

Each team is graded in its own process, forked from a server that imported the grader
once, in its own session, so a timeout or Ctrl-C stops the team's whole process tree and
the grader still removes its containers. Threads only supervise those processes. A
team's reports are written in a staging folder and moved to OUT/teams/<team>/ in one
rename, with `batch.json` (status, commit, cache key) last, so an interrupted batch
resumes where it stopped.

A team whose checks were graded but one of them is in `error` (the grader or the engine
failed) has the status `needs review`: its score is not a grade until a TA regrades it or
accepts the errors as zero (`accept_errors`). Such a result is never reused as a grade by a
later batch that does not accept errors: the team is graded again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from grader import reports
from grader.batchplan import (
    BatchConfig,
    TeamSpec,
    cache_key,
    judge,
    members_of,
    resolve_commit,
    team_cutoff,
    team_due,
)
from grader.batchstore import from_cache, save, staging_root, stored_outcome
from grader.errors import GraderError
from grader.reports.gradescope import read_grade
from grader.results import (
    TeamOutcome,
)
from grader.rubric import LatePolicy
from grader.runner import preload_modules

if TYPE_CHECKING:
    from grader.engine import NetworkMode

GRACE_SECONDS = 10.0  # after SIGINT, time a grader gets to remove its containers


# ---- teams ------------------------------------------------------------------------------


# ---- commit and cache key -----------------------------------------------------------------


# ---- reading and writing a team's folder ---------------------------------------------------


# ---- members for the gradebook -------------------------------------------------------------


# ---- grading one team ----------------------------------------------------------------------


class Stopped(Exception):
    """The batch was interrupted while this team was being graded: nothing is written."""


def grade_team(spec: TeamSpec, config: BatchConfig, stop: threading.Event) -> TeamOutcome:
    """Resolve, reuse a cached result, or grade; every failure becomes an error outcome."""
    start = time.monotonic()
    staging = Path(tempfile.mkdtemp(dir=staging_root(config.out), prefix=f"{spec.id}-"))
    base = TeamOutcome(spec.id, spec.name, spec.source, "error", members=spec.members)
    try:
        try:
            commit = resolve_commit(spec.source, team_cutoff(spec, config))
        except GraderError as exc:
            return save(replace(base, reason=str(exc)), staging, config.out)
        key = cache_key(commit, config, spec) if commit else None
        base = replace(base, commit=commit, key=key, members=members_of(spec, commit))
        stored = stored_outcome(base, config)
        if stored is not None:
            outcome, changed = stored
            # In place already; written again only when its status or note changed.
            return save(outcome, staging, config.out) if changed else outcome
        cached = from_cache(base, config)
        if cached is not None:
            return save(cached, staging, config.out)
        outcome = _run_grader(base, team_due(spec, config), config, staging, stop, spec.manifest)
        outcome = replace(
            judge(outcome, config.accept_errors),
            members=members_of(spec, outcome.commit),
            duration=round(time.monotonic() - start, 3),
        )
        return save(outcome, staging, config.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _grade_in_child(
    source: str,
    commit: str | None,
    rubric_path: str,
    due: datetime | None,
    late_policy: LatePolicy | None,
    checks: tuple[str, ...],
    network: NetworkMode,
    staging: str,
    env: dict[str, str],
    cwd: str,
    manifest: str | None = None,
) -> None:
    """Body of a team's grading process: `grader check`, minus the imports and the table."""
    os.setsid()  # its own session: a timeout or Ctrl-C stops everything it started
    os.environ.clear()
    os.environ.update(env)  # the fork server keeps the environment it started with
    os.chdir(cwd)
    log = os.open(Path(staging) / "grader.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for fd in (1, 2):
        os.dup2(log, fd)
    from grader.grade import Options, grade
    from grader.rubric import load_rubric

    code = 0
    try:
        # The team's due time and the course's late policy: the rubric file may have neither.
        rubric = replace(load_rubric(Path(rubric_path)), deadline=due, late_policy=late_policy)
        options = Options(
            ref=commit,
            only=set(checks),
            network_mode=network,
            manifest_file=Path(manifest) if manifest else None,
        )
        reports.write_all(grade(source, rubric, options), Path(staging))
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit handlers inherited from the fork server


def _context(config: BatchConfig) -> ForkServerContext:
    """A fork server that imported the grader once: each team starts in milliseconds, from a
    single-threaded process (forking the batch itself, which runs threads, is unsafe). It
    also imports what the rubric's checks need (MLflow, detect-secrets): once for the class,
    not once per team."""
    selected = [c for c in config.rubric.checks if not config.checks or c.id in config.checks]
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        ["grader.grade", "grader.reports", "grader.rubric", *preload_modules(selected)]
    )
    return ctx


def _run_grader(
    base: TeamOutcome,
    due: datetime | None,
    config: BatchConfig,
    staging: Path,
    stop: threading.Event,
    manifest: str | None = None,
) -> TeamOutcome:
    args = (
        base.source,
        base.commit,  # exactly the commit the cache key names
        str(config.rubric.path),
        due,
        config.rubric.late_policy,
        config.checks,
        config.network,
        str(staging.resolve()),
        {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        os.getcwd(),
        manifest,
    )
    proc = _context(config).Process(target=_grade_in_child, args=args, name=f"grade-{base.id}")
    proc.start()
    timed_out = _supervise(proc, config.timeout, stop)
    if stop.is_set():
        raise Stopped
    if timed_out:
        return replace(
            base, reason=f"grading took longer than the time limit of {config.timeout:g}s"
        )
    results = staging / "results.json"
    if proc.exitcode != 0 or not results.is_file():
        return replace(base, reason=_failure_reason(staging / "grader.log", proc.exitcode))
    try:
        result = read_grade(results)
    except (OSError, ValueError, KeyError) as exc:
        return replace(base, reason=f"unreadable results.json: {exc}")
    return replace(base, status="graded", commit=result.commit, result=result)


def _supervise(proc: BaseProcess, limit: float, stop: threading.Event) -> bool:
    """Wait for the grader; on timeout or stop, interrupt it, then kill it. True if timed out."""
    deadline = time.monotonic() + limit
    while proc.exitcode is None:
        if stop.is_set() or time.monotonic() > deadline:
            _interrupt(proc)
            return not stop.is_set()
        proc.join(0.05)
    return False


def _signal(pid: int | None, sig: int) -> None:
    if pid is None:
        return
    # Its session's group, and the process itself in case it has not reached setsid yet.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _interrupt(proc: BaseProcess) -> None:
    _signal(proc.pid, signal.SIGINT)  # the grader removes its containers on Ctrl-C
    proc.join(GRACE_SECONDS)
    _signal(proc.pid, signal.SIGKILL)  # and whatever it left in its session
    proc.join()


def _failure_reason(log_path: Path, code: int | None) -> str:
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln.removeprefix("error:").strip() for ln in lines if ln.startswith("error:")]
    detail = errors[-1] if errors else (lines[-1] if lines else "no output")
    return f"the grader exited with code {code}: {detail[:500]}"


# ---- the class -----------------------------------------------------------------------------

OnDone = Callable[[TeamOutcome], None]


def run_batch(
    specs: list[TeamSpec], config: BatchConfig, on_done: OnDone | None = None
) -> list[TeamOutcome]:
    """Grade `specs` with `config.jobs` graders at once; Ctrl-C keeps every finished team."""
    stop = threading.Event()
    done: list[TeamOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
        pending: set[Future[TeamOutcome]] = {
            pool.submit(_safe_grade, s, config, stop) for s in specs
        }
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    done.append(future.result())
                    if on_done:
                        on_done(done[-1])
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            raise
    return done


def _safe_grade(spec: TeamSpec, config: BatchConfig, stop: threading.Event) -> TeamOutcome:
    """A bug in the batch itself is reported on the team's row, never stops the others."""
    try:
        return grade_team(spec, config, stop)
    except Stopped:
        raise
    except Exception as exc:
        reason = f"the batch failed on this team: {type(exc).__name__}: {exc}"
        return TeamOutcome(spec.id, spec.name, spec.source, "error", reason, members=spec.members)
