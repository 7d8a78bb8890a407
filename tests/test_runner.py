"""The runner: needs order, blocked dependents, crashes and time limits."""

from __future__ import annotations

import contextlib
import gc
import itertools
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader import depset, fs, hostport, locks, mlflowstore, runner
from grader.checks.base import (
    CheckDef,
    Context,
    NoParams,
    Outcome,
    Params,
    Provided,
    RunSettings,
    failed,
    passed,
)
from grader.checks.registry import REGISTRY, SERVICE
from grader.errors import CheckError
from grader.results import CheckResult
from grader.rubric import Rubric, load_rubric, rubric_path
from grader.runner import engine_checks, preload_modules, run_rubric
from tests.helpers import write_rubric


class SleepParams(Params):
    seconds: float = 0.0


def ok(ctx: Context, params: NoParams) -> Outcome:
    """Always passes."""
    return passed("fine", provides=Provided(image="from-ok"))


def uses_artifact(ctx: Context, params: NoParams) -> Outcome:
    """Reads what `ok` provided."""
    return passed(f"got {ctx.need('image')}")


def bad(ctx: Context, params: NoParams) -> Outcome:
    """Always fails, with half credit."""
    return failed("not good enough", {"why": "test"}, fraction=0.5)


def crash(ctx: Context, params: NoParams) -> Outcome:
    """Raises like a bug would."""
    raise RuntimeError("boom")


def cannot_judge(ctx: Context, params: NoParams) -> Outcome:
    """Raises CheckError: the grader cannot judge."""
    raise CheckError("tracking server unreachable")


def frozen(ctx: Context, params: NoParams) -> Outcome:
    """Passes when what the check inherited is out of its garbage collections."""
    count = gc.get_freeze_count()
    return passed(f"{count} frozen") if count > 0 else failed("nothing frozen")


def reads_lock(ctx: Context, params: NoParams) -> Outcome:
    """Reads the checkout's uv.lock as the sandboxes' checks do; says how often it parsed it."""
    before = depset._lock.cache_info().misses
    pins = depset.locked_pins(fs.read_text(ctx.repo, "uv.lock") or "")
    view = depset.lock_view(fs.read_text(ctx.repo, "uv.lock") or "")
    parsed = depset._lock.cache_info().misses - before
    return passed(f"{len(pins)} pins, {len(view or b'')} bytes, parsed {parsed} times here")


def sleepy(ctx: Context, params: SleepParams) -> Outcome:
    """Sleeps."""
    time.sleep(params.seconds)
    return passed("woke up")


@pytest.fixture(autouse=True)
def _test_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, func in {
        "t.ok": ok,
        "t.uses": uses_artifact,
        "t.bad": bad,
        "t.crash": crash,
        "t.cannot": cannot_judge,
        "t.frozen": frozen,
    }.items():
        monkeypatch.setitem(REGISTRY, name, CheckDef(func, NoParams, timeout=10))
    monkeypatch.setitem(REGISTRY, "t.sleep", CheckDef(sleepy, SleepParams, timeout=10))
    monkeypatch.setitem(REGISTRY, "t.lock", CheckDef(reads_lock, NoParams, engine=True))


def _rubric(tmp_path: Path, checks: str) -> Rubric:
    """A rubric of these checks (YAML list items), written under tmp_path and loaded."""
    return load_rubric(
        write_rubric(tmp_path / "r.yaml", f"milestone: r\ntitle: R\nchecks:\n{checks}")
    )


def _run(tmp_path: Path, checks: str) -> dict[str, CheckResult]:
    rubric = _rubric(tmp_path, checks)
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    return {r.id: r for r in run_rubric(rubric, ctx)}


def test_needs_order_and_provides(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        "  - {id: second, check: t.uses, points: 1, needs: [first]}\n"
        "  - {id: first, check: t.ok, points: 2}\n",
    )
    assert list(results) == ["first", "second"]
    assert results["second"].message == "got from-ok"


def test_dependents_of_a_failure_are_blocked_naming_the_root(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        "  - {id: build, check: t.bad, points: 4}\n"
        "  - {id: run, check: t.ok, points: 3, needs: [build]}\n"
        "  - {id: call, check: t.ok, points: 3, needs: [run]}\n",
    )
    build, run, call = results["build"], results["run"], results["call"]
    assert (build.status, build.score) == ("failed", 2.0)
    for r in (run, call):
        assert r.status == "blocked"
        assert r.score == 0
        assert r.message == "blocked: build failed (not good enough)"


def test_a_crash_is_an_error_and_the_rest_still_run(tmp_path: Path) -> None:
    results = _run(
        tmp_path,
        "  - {id: crashes, check: t.crash, points: 1}\n"
        "  - {id: unsure, check: t.cannot, points: 1}\n"
        "  - {id: after, check: t.ok, points: 1}\n",
    )
    crashed = results["crashes"]
    assert crashed.status == "error"
    assert crashed.message == "the check crashed: RuntimeError: boom"
    assert "raise RuntimeError" in crashed.evidence["traceback"]
    assert results["unsure"].message == "tracking server unreachable"
    assert results["unsure"].status == "error"
    assert results["after"].status == "passed"


def test_a_check_past_its_limit_is_stopped_within_a_second(tmp_path: Path) -> None:
    start = time.monotonic()
    results = _run(
        tmp_path,
        "  - {id: slow, check: t.sleep, points: 1, timeout: 1.5, params: {seconds: 30}}\n"
        "  - {id: after, check: t.ok, points: 1}\n",
    )
    elapsed = time.monotonic() - start
    slow = results["slow"]
    assert slow.status == "error"
    assert slow.message == "stopped after its time limit of 1.5s"
    assert 1.5 <= slow.duration < 2.5
    assert elapsed < 4
    assert results["after"].status == "passed"


def not_applicable(ctx: Context, params: NoParams) -> Outcome:
    """Never applies."""
    from grader.checks.base import skipped

    return skipped("no deployment configured")


def test_skipped_checks_neither_earn_nor_lose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "t.na", CheckDef(not_applicable, NoParams, timeout=10))
    results = _run(tmp_path, "  - {id: na, check: t.na, points: 7}\n")
    assert (results["na"].status, results["na"].score, results["na"].max_score) == ("skipped", 0, 0)


def test_a_skipped_prerequisite_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "t.na", CheckDef(not_applicable, NoParams, timeout=10))
    results = _run(
        tmp_path,
        "  - {id: build, check: t.na, points: 1}\n"
        "  - {id: call, check: t.ok, points: 1, needs: [build]}\n",
    )
    assert results["call"].status == "passed"


def listen(ctx: Context, params: NoParams) -> Outcome:
    """Stands for a check that starts the team's service on its port."""
    return passed("listening")


HOLDER = """
import sys, time
from grader import locks
with locks.hold("port-" + sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_the_port_is_claimed_once_before_the_first_listening_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run holds the port: this run tries again between checks, runs what does not
    need the port meanwhile, and says how long it waited."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(REGISTRY, "t.listen", CheckDef(listen, NoParams, timeout=5, listens=True))
    monkeypatch.setitem(REGISTRY, "t.sleep", CheckDef(sleepy, SleepParams, timeout=10))
    monkeypatch.setitem(REGISTRY, "t.lock", CheckDef(reads_lock, NoParams, engine=True))
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, "8123", "2.5"], stdout=subprocess.PIPE, text=True
    )
    assert other.stdout is not None
    assert other.stdout.readline() == "held\n"
    rubric = _rubric(
        tmp_path,
        "  - {id: build, check: t.ok, points: 1}\n"
        "  - {id: starts, check: t.listen, points: 1, needs: [build], timeout: 1}\n"
        "  - {id: again, check: t.listen, points: 1, needs: [starts]}\n"
        "  - {id: beside, check: t.sleep, points: 1, needs: [build], params: {seconds: 1}}\n",
    )
    tries: list[bool] = []
    with contextlib.ExitStack() as stack:

        def claim() -> bool:
            held = hostport.attempt(8123)
            if held is not None:
                stack.callback(locks.release, held)
            tries.append(held is not None)
            return tries[-1]

        ctx = Context(repo=tmp_path, commit=None, manifest=None)
        results = {r.id: r for r in run_rubric(rubric, ctx, claim_port=claim, slots=2)}
        # Held until the run's end (its containers removed), not released by the runner.
        assert hostport.attempt(8123) is None
    assert other.wait(timeout=10) == 0
    assert tries[-1]
    assert not any(tries[:-1])
    assert len(tries) >= 3
    assert "waited_for_port_seconds" not in results["build"].evidence
    # The wait is not the check's time: a 1 s limit survives a longer wait.
    assert results["starts"].status == "passed"
    assert results["starts"].evidence["waited_for_port_seconds"] >= 1.0
    assert "waited_for_port_seconds" not in results["again"].evidence
    # What did not need the port ran while the other run held it.
    assert results["beside"].status == "passed"
    assert results["beside"].duration < results["starts"].evidence["waited_for_port_seconds"]


def test_preload_modules_are_those_of_the_rubrics_families(tmp_path: Path) -> None:
    rubric = _rubric(
        tmp_path,
        "  - {id: runs, check: tracking.runs, points: 1}\n"
        "  - {id: secrets, check: repo.secrets, points: 1}\n"
        "  - {id: steps, check: ci.required_steps, points: 1}\n",
    )
    # MLflow's one-time set-up is a module too: a batch's fork server does it once.
    assert preload_modules(rubric.checks) == [
        "bashlex",
        "detect_secrets.core.scan",
        "grader.mlflowwarm",
        "httpcore",
        "mlflow",
        "mlflow.tracking",
    ]
    # The ci family reads scripts, and calls GitHub (httpx's transport, imported lazily).
    assert preload_modules(rubric.checks[2:]) == ["bashlex", "httpcore"]
    assert preload_modules(rubric.checks[1:2]) == ["detect_secrets.core.scan"]
    measured = _rubric(tmp_path, "  - {id: measured, check: tracking.evaluate, points: 1}\n")
    # A check's own heavy module (the metric) comes with its family's.
    assert preload_modules(measured.checks) == [
        "grader.mlflowwarm",
        "httpcore",
        "mlflow",
        "mlflow.tracking",
        "sklearn.metrics",
    ]


def test_tracking_checks_warm_mlflow_once_before_forking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tracking family's one-time MLflow set-up runs in the parent, on a copy of an
    empty store kept in the grader's cache: made once, reused, nothing left in temp."""
    from mlflow import MlflowClient
    from mlflow.version import VERSION

    cache, scratch = tmp_path / "cache", tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("GRADER_CACHE", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delitem(sys.modules, "grader.mlflowwarm", raising=False)  # a new process
    rubric = _rubric(tmp_path, "  - {id: runs, check: tracking.runs, points: 1}\n")
    runner._preload(rubric.checks)
    empty = cache / "mlflow" / f"empty-{VERSION}.db"
    names = [e.name for e in MlflowClient(f"sqlite:///{empty}").search_experiments()]
    assert names == ["Default"]  # a real store of this MLflow version
    made = empty.stat().st_mtime_ns
    runner._preload(rubric.checks)
    assert empty.stat().st_mtime_ns == made
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in empty.parent.iterdir()) == [empty.name]


LOCK = """\
version = 1
requires-python = ">=3.11"

[[package]]
name = "team"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "six" }]

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
"""


def test_the_checkouts_lock_is_parsed_once_before_the_checks_fork(tmp_path: Path) -> None:
    """Each sandbox's check reads the team's uv.lock (about 1 MB of TOML): parsed in the
    parent, the checks' processes find it parsed; a grade with no engine check does not
    parse it at all."""
    depset._lock.cache_clear()
    (tmp_path / "uv.lock").write_text(LOCK, encoding="utf-8")
    checks = "  - {id: a, check: t.lock, points: 1}\n  - {id: b, check: t.lock, points: 1}\n"
    results = _run(tmp_path, checks)
    for check in ("a", "b"):
        assert (
            results[check].message
            == f"1 pins, {len(depset.lock_view(LOCK) or b'')} bytes, parsed 0 times here"
        )
    assert depset._lock.cache_info().misses == 1  # in this process, before the checks forked
    depset._lock.cache_clear()
    _run(tmp_path, "  - {id: ok, check: t.ok, points: 1}\n")
    assert depset._lock.cache_info().misses == 0
    depset._lock.cache_clear()
    (tmp_path / "uv.lock").write_text("[[package]\nname = ", encoding="utf-8")
    results = _run(tmp_path, "  - {id: a, check: t.lock, points: 1}\n")
    assert results["a"].message == "0 pins, 0 bytes, parsed 0 times here"  # not TOML: no view


def test_a_failing_warm_up_costs_only_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    check = "  - {id: runs, check: tracking.runs, points: 1}\n"
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delitem(sys.modules, "grader.mlflowwarm", raising=False)  # a new process
    warmed = _run(tmp_path, check)["runs"]
    shutil.rmtree(tmp_path / "cache" / "mlflow")
    (tmp_path / "cache" / "mlflow").write_text("a file where the warm-up keeps its store")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        mlflowstore.warm()
    monkeypatch.delitem(sys.modules, "grader.mlflowwarm")  # another new process: it fails
    cold = _run(tmp_path, check)["runs"]
    assert "grader.mlflowwarm" in sys.modules
    assert (cold.status, cold.message) == (warmed.status, warmed.message)


def test_the_parent_heap_is_frozen_only_while_checks_fork(tmp_path: Path) -> None:
    assert gc.get_freeze_count() == 0
    results = _run(tmp_path, "  - {id: frozen, check: t.frozen, points: 1}\n")
    assert results["frozen"].status == "passed", results["frozen"].message
    assert gc.get_freeze_count() == 0  # the grader's own collections see it all again


# without a container engine (Gradescope) ---------------------------------------------------


def in_container(ctx: Context, params: NoParams) -> Outcome:
    """Stands for a check that builds or runs a container."""
    return passed("ran in a container", provides=Provided(image="team-image"))


ENGINE_RUBRIC = (
    "  - {id: lint, check: t.ok, points: 2}\n"
    "  - {id: build, check: t.engine, points: 10}\n"
    "  - {id: run, check: t.uses, points: 3, needs: [build]}\n"
    "  - {id: call, check: t.ok, points: 4, needs: [run, lint]}\n"
    "  - {id: docs, check: t.ok, points: 1, needs: [lint]}\n"
)


@pytest.fixture
def engine_check(monkeypatch: pytest.MonkeyPatch) -> None:
    definition = CheckDef(in_container, NoParams, timeout=10, engine=True)
    monkeypatch.setitem(REGISTRY, "t.engine", definition)


@pytest.mark.usefixtures("engine_check")
def test_engine_checks_are_those_that_need_one_directly_or_through_needs(tmp_path: Path) -> None:
    rubric = load_rubric(
        write_rubric(tmp_path / "r.yaml", f"milestone: r\ntitle: R\nchecks:\n{ENGINE_RUBRIC}")
    )
    assert engine_checks(rubric.checks) == {"build", "run", "call"}


def test_the_kits_rubrics_leave_to_staff_exactly_the_checks_that_need_docker() -> None:
    m1 = load_rubric(rubric_path("m1"))
    assert engine_checks(m1.checks) == {"precommit-run", "tests-run", "tests-pass", "data-tests"}
    m3 = load_rubric(rubric_path("m3"))
    staff = engine_checks(m3.checks)
    assert {"build", "starts", "examples", "served-is-champion", "coverage"} <= staff
    assert not {"dockerfile-lint", "registered", "quality", "secrets"} & staff


@pytest.mark.usefixtures("engine_check")
def test_without_an_engine_its_checks_are_graded_by_staff_with_nothing_at_stake(
    tmp_path: Path,
) -> None:
    rubric = load_rubric(
        write_rubric(tmp_path / "r.yaml", f"milestone: r\ntitle: R\nchecks:\n{ENGINE_RUBRIC}")
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None, settings=RunSettings(engine=False))
    results = {r.id: r for r in run_rubric(rubric, ctx)}
    for check_id, points in (("build", 10), ("run", 3), ("call", 4)):
        r = results[check_id]
        assert (r.status, r.score, r.max_score) == ("skipped", 0, 0)
        assert (
            r.message == "graded by course staff: it needs a Docker engine, and this run has none"
        )
        assert r.evidence == {"graded_by": "course staff", "needs": "a Docker engine"}
        assert r.staff_points == points
    assert (results["lint"].status, results["docs"].status) == ("passed", "passed")


@pytest.mark.usefixtures("engine_check")
def test_with_an_engine_the_same_checks_run(tmp_path: Path) -> None:
    results = _run(tmp_path, ENGINE_RUBRIC)
    assert {r.id: r.status for r in results.values()} == dict.fromkeys(
        ("lint", "build", "run", "call", "docs"), "passed"
    )
    assert results["run"].message == "got team-image"


def test_a_check_left_out_with_skip_is_reported_skipped_and_so_are_its_dependents(
    tmp_path: Path,
) -> None:
    rubric = _rubric(
        tmp_path,
        "  - {id: first, check: t.ok, points: 2}\n"
        "  - {id: second, check: t.uses, points: 1, needs: [first]}\n"
        "  - {id: third, check: t.uses, points: 1, needs: [second]}\n"
        "  - {id: other, check: t.ok, points: 1}\n",
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    results = {r.id: r for r in run_rubric(rubric, ctx, skip={"first"})}
    assert list(results) == ["first", "other", "second", "third"] or set(results) == {
        "first",
        "second",
        "third",
        "other",
    }
    assert (results["first"].status, results["first"].max_score) == ("skipped", 0)
    assert results["first"].message == "not graded in this run (--skip)"
    for dependent in ("second", "third"):
        assert results[dependent].status == "skipped"
        assert results[dependent].message == (
            "not graded in this run: it needs first, left out with --skip"
        )
    assert results["other"].status == "passed"


# checks at the same time ----------------------------------------------------------------


def probe(ctx: Context, params: SleepParams) -> Outcome:
    """Records when it ran (start and end) in the run's log, sleeping in between."""
    log = ctx.repo / "ran.log"
    with log.open("a") as f:
        f.write(f"{ctx.check_id} start {time.monotonic()}\n")
    time.sleep(params.seconds)
    with log.open("a") as f:
        f.write(f"{ctx.check_id} end {time.monotonic()}\n")
    return passed(f"{ctx.check_id} ran")


def intervals(repo: Path) -> dict[str, tuple[float, float]]:
    spans: dict[str, dict[str, float]] = {}
    for line in (repo / "ran.log").read_text().splitlines():
        check, edge, at = line.split()
        spans.setdefault(check, {})[edge] = float(at)
    return {c: (s["start"], s["end"]) for c, s in spans.items()}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


CONCURRENT = (
    "  - {id: build, check: t.probe, points: 1, params: {seconds: 0.6}}\n"
    "  - {id: suite, check: t.probe, points: 1, params: {seconds: 0.6}}\n"
    "  - {id: lint, check: t.probe, points: 1, params: {seconds: 0.6}}\n"
    "  - {id: probe-port, check: t.listen, points: 1, needs: [build], params: {seconds: 0.3}}\n"
    "  - {id: starts, check: t.listen, points: 1, needs: [build], params: {seconds: 0.3}}\n"
    "  - {id: health, check: t.probe, points: 1, needs: [starts], params: {seconds: 0.3}}\n"
    "  - {id: examples, check: t.probe, points: 1, needs: [starts], params: {seconds: 0.3}}\n"
    "  - {id: latency, check: t.measure, points: 1, needs: [starts], params: {seconds: 0.3}}\n"
    "  - {id: late, check: t.probe, points: 1, needs: [suite], params: {seconds: 0.9}}\n"
)


@pytest.fixture
def _timing_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "check_slots", lambda: 4)  # as on a 4-core machine
    monkeypatch.setitem(REGISTRY, "t.probe", CheckDef(probe, SleepParams, timeout=10))
    listen = CheckDef(probe, SleepParams, timeout=10, listens=True)
    monkeypatch.setitem(REGISTRY, "t.listen", listen)
    measure = CheckDef(probe, SleepParams, timeout=10, exclusive=True)
    monkeypatch.setitem(REGISTRY, "t.measure", measure)


def _run_with(tmp_path: Path, checks: str, slots: int) -> tuple[list[CheckResult], list[str]]:
    rubric = load_rubric(
        write_rubric(tmp_path / "r.yaml", f"milestone: r\ntitle: R\nchecks:\n{checks}")
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    seen: list[str] = []
    results = run_rubric(rubric, ctx, slots=slots, on_result=lambda r: seen.append(r.id))
    return results, seen


@pytest.mark.usefixtures("_timing_checks")
def test_independent_checks_run_at_once_and_report_in_rubric_order(tmp_path: Path) -> None:
    results, seen = _run_with(tmp_path, CONCURRENT, slots=3)
    rubric_order = [
        "build", "suite", "lint", "probe-port", "starts", "health", "examples", "latency", "late",
    ]  # fmt: skip
    assert [r.id for r in results] == rubric_order
    assert seen == rubric_order  # though `late` may finish before the service lane
    assert all(r.status == "passed" for r in results), [r.message for r in results]
    ran = intervals(tmp_path)
    assert overlap(ran["build"], ran["suite"])
    assert overlap(ran["suite"], ran["lint"])
    # What needs a check starts after it ends.
    assert ran["starts"][0] >= ran["build"][1]
    assert ran["late"][0] >= ran["suite"][1]
    # The service lane (what listens on the port and what needs it) takes turns, in order.
    lane = ["probe-port", "starts", "health", "examples", "latency"]
    for earlier, later in itertools.pairwise(lane):
        assert ran[later][0] >= ran[earlier][1], (earlier, later, ran)
    # `late` (needs only the suite) ran beside the lane; the latency measure ran alone.
    assert any(overlap(ran["late"], ran[c]) for c in lane[:-1])
    assert not any(overlap(ran["latency"], span) for c, span in ran.items() if c != "latency")


STARTER_FIRST = (
    "  - {id: build, check: t.probe, points: 1, params: {seconds: 0.1}}\n"
    "  - {id: probe-port, check: t.listen, points: 1, needs: [build], params: {seconds: 0.2}}\n"
    "  - {id: starts, check: t.starter, points: 1, needs: [build], params: {seconds: 0.2}}\n"
    "  - {id: health, check: t.probe, points: 1, needs: [starts], params: {seconds: 0.2}}\n"
)


@pytest.mark.usefixtures("_timing_checks")
def test_the_check_that_starts_the_service_goes_first_in_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lane check that needs only the image (a HEALTHCHECK) runs after the service's
    starter, so it finds the service running; reports keep the rubric's order."""
    starter = CheckDef(probe, SleepParams, timeout=10, listens=True, provides=SERVICE)
    monkeypatch.setitem(REGISTRY, "t.starter", starter)
    results, seen = _run_with(tmp_path, STARTER_FIRST, slots=3)
    assert seen == [r.id for r in results] == ["build", "probe-port", "starts", "health"]
    ran = intervals(tmp_path)
    assert ran["starts"][1] <= ran["probe-port"][0]
    assert ran["probe-port"][1] <= ran["health"][0]
    # A starter that needs the other lane check keeps the rubric's order (no deadlock).
    (tmp_path / "ran.log").unlink()
    needing = STARTER_FIRST.replace(
        "needs: [build], params: {seconds: 0.2}}\n  - {id: health",
        "needs: [probe-port], params: {seconds: 0.2}}\n  - {id: health",
    )
    assert needing != STARTER_FIRST
    results, _ = _run_with(tmp_path, needing, slots=3)
    assert all(r.status == "passed" for r in results), [r.message for r in results]
    ran = intervals(tmp_path)
    assert ran["probe-port"][1] <= ran["starts"][0]


@pytest.mark.usefixtures("_timing_checks")
def test_one_slot_runs_one_check_at_a_time(tmp_path: Path) -> None:
    results, seen = _run_with(tmp_path, CONCURRENT, slots=1)
    ran = intervals(tmp_path)
    spans = sorted(ran.values())
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert seen == [r.id for r in results]


@pytest.mark.usefixtures("_timing_checks")
def test_a_check_past_its_limit_is_stopped_while_others_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(REGISTRY, "t.short", CheckDef(probe, SleepParams, timeout=0.5))
    results, _ = _run_with(
        tmp_path,
        "  - {id: stuck, check: t.short, points: 1, params: {seconds: 30}}\n"
        "  - {id: slow, check: t.probe, points: 1, params: {seconds: 1.2}}\n"
        "  - {id: after, check: t.probe, points: 1, needs: [stuck]}\n",
        slots=2,
    )
    by_id = {r.id: r for r in results}
    assert by_id["stuck"].status == "error"
    assert by_id["stuck"].message == "stopped after its time limit of 0.5s"
    assert by_id["slow"].status == "passed"
    assert by_id["after"].message == "blocked: stuck error (stopped after its time limit of 0.5s)"
    assert "stuck end" not in (tmp_path / "ran.log").read_text()


@pytest.mark.usefixtures("_timing_checks")
def test_only_some_checks_whose_needs_are_left_out_still_run(tmp_path: Path) -> None:
    rubric = load_rubric(
        write_rubric(tmp_path / "r.yaml", f"milestone: r\ntitle: R\nchecks:\n{CONCURRENT}")
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    results = run_rubric(rubric, ctx, only={"health", "examples", "late"}, slots=2)
    assert [(r.id, r.status) for r in results] == [
        ("health", "passed"), ("examples", "passed"), ("late", "passed"),
    ]  # fmt: skip
    ran = intervals(tmp_path)
    assert ran["examples"][0] >= ran["health"][1]  # still the service's lane, in order


@pytest.mark.usefixtures("_timing_checks")
def test_checks_wait_for_a_free_core_of_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another grader's checks hold the machine's cores: this run's checks start only as
    cores come free, one per core, and give theirs back when they end."""
    monkeypatch.setattr(runner, "check_slots", lambda: 2)
    others = [locks.core(2), locks.core(2)]
    assert None not in others
    assert locks.core(2) is None
    first = others.pop()
    assert first is not None
    threading.Timer(0.8, locks.release, [first]).start()  # one core comes free
    freed = time.monotonic() + 0.8
    results, _ = _run_with(
        tmp_path,
        "  - {id: a, check: t.probe, points: 1, params: {seconds: 0.5}}\n"
        "  - {id: b, check: t.probe, points: 1, params: {seconds: 0.5}}\n",
        slots=2,
    )
    assert [r.status for r in results] == ["passed", "passed"]
    ran = intervals(tmp_path)
    assert min(start for start, _ in ran.values()) >= freed - 0.05
    assert not overlap(ran["a"], ran["b"])  # one free core: one at a time
    held = others.pop()
    assert held is not None
    locks.release(held)
    mine = [locks.core(2), locks.core(2)]
    assert None not in mine  # the run gave back every core it took


def waits_for_the_install(ctx: Context, params: NoParams) -> Outcome:
    """Waits for the lock `env-shared` (another grader's install), then records when it
    went on, with a core again."""
    (ctx.repo / "waiting.txt").write_text("")
    with locks.hold("env-shared") as waited:
        pass
    (ctx.repo / "went-on.txt").write_text(str(time.monotonic()))
    return passed(f"waited {waited:.1f}s")


def test_a_check_waiting_for_another_graders_install_lends_its_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One core: the check that waits for the install frees it meanwhile (another grader's
    check takes it), and goes on only once it has a core again."""
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "check_slots", lambda: 1)
    monkeypatch.setitem(REGISTRY, "t.waits", CheckDef(waits_for_the_install, NoParams, timeout=20))
    install = locks.attempt("env-shared")  # another grader installs the environment
    assert install is not None
    seen: dict[str, float] = {}

    def other_grader() -> None:
        deadline = time.monotonic() + 10
        while not (tmp_path / "waiting.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # the check runs, on the one core
        while (core := locks.core(1)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["core taken"] = time.monotonic()
        assert install is not None
        locks.release(install)  # the install is done; its check still runs on the core
        time.sleep(0.6)
        seen["core freed"] = time.monotonic()
        if core is not None:
            locks.release(core)
        else:
            seen["never free"] = 1

    helper = threading.Thread(target=other_grader)
    helper.start()
    results, _ = _run_with(tmp_path, "  - {id: waits, check: t.waits, points: 1}\n", slots=1)
    helper.join()
    assert "never free" not in seen, "the waiting check kept its core"
    assert [(r.status, r.message.startswith("waited ")) for r in results] == [("passed", True)]
    went_on = float((tmp_path / "went-on.txt").read_text())
    assert went_on >= seen["core freed"]  # it took a core back before going on
    assert locks.core(1) is not None  # and gave it back when it ended


@pytest.mark.usefixtures("_timing_checks")
def test_the_lane_is_done_once_its_last_check_ends_while_others_still_run(
    tmp_path: Path,
) -> None:
    """The run lets its service and port go when the lane ends, not when the run does."""
    rubric = _rubric(
        tmp_path,
        "  - {id: build, check: t.probe, points: 1, params: {seconds: 0.3}}\n"
        "  - {id: starts, check: t.listen, points: 1, needs: [build], params: {seconds: 0.3}}\n"
        "  - {id: health, check: t.probe, points: 1, needs: [starts], params: {seconds: 0.3}}\n"
        "  - {id: late, check: t.probe, points: 1, needs: [build], params: {seconds: 3}}\n",
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    calls: list[tuple[set[str], float]] = []
    run_rubric(rubric, ctx, slots=3, lane_done=lambda ids: calls.append((ids, time.monotonic())))
    ended = time.monotonic()
    ran = intervals(tmp_path)
    lane = {"starts", "health"}
    assert [ids for ids, _ in calls] == [lane]
    assert calls[0][1] >= max(ran[c][1] for c in lane)
    assert calls[0][1] < ran["late"][1] < ended


@pytest.mark.usefixtures("_timing_checks")
def test_a_lane_that_never_ran_is_never_done(tmp_path: Path) -> None:
    rubric = _rubric(
        tmp_path,
        "  - {id: build, check: t.bad, points: 1}\n"
        "  - {id: starts, check: t.listen, points: 1, needs: [build]}\n"
        "  - {id: health, check: t.probe, points: 1, needs: [starts]}\n",
    )
    ctx = Context(repo=tmp_path, commit=None, manifest=None)
    calls: list[set[str]] = []
    results = run_rubric(rubric, ctx, slots=2, lane_done=calls.append)
    assert [r.status for r in results] == ["failed", "blocked", "blocked"]
    assert calls == []
