"""Grade one target against one rubric: the pipeline behind `grader check` and `grader batch`."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__, fs, hostport, locks, scoring, servicecalls
from grader.checks.base import Context, RunSettings
from grader.checks.registry import manifest_sections
from grader.errors import ConfigError
from grader.infer import infer
from grader.infer.docker import from_compose
from grader.infer.render import grading_manifest, render
from grader.infer.work import repo_name
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest
from grader.results import CheckResult, GradeResult, ManifestSource
from grader.rubric import ResolvedCheck, Rubric
from grader.runner import OnResult, check_slots, run_rubric
from grader.target import Checkout, prepare

if TYPE_CHECKING:
    from grader.engine import NetworkMode


@dataclass
class Options:
    ref: str | None = None
    deadline: datetime | None = None
    only: set[str] = field(default_factory=set)
    skip: set[str] = field(default_factory=set)
    manual_file: Path | None = None
    network_mode: NetworkMode = "published"
    url: str | None = None
    engine: bool = True  # False: no container engine here; its checks are left to staff
    manifest_file: Path | None = None  # a TA's manifest, used instead of the repository's
    check_jobs: int | None = None  # checks of the team run at once (None: one per core)


def _release_engine_resources(run_id: str, checks: Collection[str]) -> bool:
    """Remove containers and images some checks of a run left behind; False if the engine
    did not answer, or docker is not installed (the run's cleanup at its end tries again)."""
    try:
        engineruns = importlib.import_module("grader.engineruns")
        engineruns.cleanup(run_id=run_id, checks=checks)
    except Exception:  # the engine went away, or docker is not installed
        return False
    return True


def _after_timeout(ctx: Context, check: ResolvedCheck) -> None:
    _release_engine_resources(ctx.settings.run_id, {check.id})


@contextlib.contextmanager
def _engine_cleanup(run_id: str) -> Iterator[None]:
    """Remove what ended runs left behind, label what this one creates with its owner, and
    on SIGTERM, Ctrl-C or a crash remove what it created in the engine."""
    try:
        engineruns = importlib.import_module("grader.engineruns")
    except ImportError:
        yield
        return
    with engineruns.owned_run(run_id), engineruns.cleanup_on_signals(run_id):
        yield


@contextlib.contextmanager
def _service_calls(run_id: str) -> Iterator[None]:
    """The run's tallies of what went wrong calling its service go with the run."""
    try:
        yield
    finally:
        servicecalls.forget_run(run_id)


@contextlib.contextmanager
def checkout(target: str, options: Options) -> Iterator[Checkout]:
    co = prepare(target, options.ref, options.deadline)
    try:
        yield co
    finally:
        co.close()


def context_for(co: Checkout, options: Options, run_id: str) -> Context:
    """The checks' context, with the manifest they read: a TA's file, else the repository's
    capstone.yaml, else one inferred from the repository's files (marked for review)."""
    settings = RunSettings(
        network_mode=options.network_mode, url=options.url, run_id=run_id, engine=options.engine
    )
    path = co.path / MANIFEST_NAME
    if options.manifest_file is not None:
        given = load_manifest(options.manifest_file)  # checked before grading began
        source = ManifestSource(
            kind="file", path=str(options.manifest_file), sha256=_sha256(options.manifest_file)
        )
        staff, problem = _with_compose(co.path, given, None)
        return Context(co.path, co.commit, staff, problem, settings, manifest_source=source)
    if not path.is_file() or path.is_symlink():
        return _inferred_context(co, settings)
    manifest: Manifest | None = None
    problem = None
    try:
        manifest = load_manifest(path)
    except ConfigError as exc:
        problem = "\n".join(exc.problems).replace(str(co.path) + "/", "")
    source = ManifestSource(kind="repository", path=MANIFEST_NAME, sha256=_sha256(path))
    manifest, problem = _with_compose(co.path, manifest, problem)
    return Context(co.path, co.commit, manifest, problem, settings, manifest_source=source)


def _with_compose(
    repo: Path, manifest: Manifest | None, problem: str | None
) -> tuple[Manifest | None, str | None]:
    """A service that names a compose service takes from it what the manifest leaves out;
    a compose file or service that is not there is a manifest problem naming it."""
    service = manifest.service if manifest else None
    if manifest is None or service is None or service.compose is None:
        return manifest, problem
    file = service.compose.file
    text = fs.read_text(repo, file)
    if text is None:
        return None, f"service.compose: {file} is not in the graded commit"
    try:
        found = from_compose(text, file, service.compose.service)
    except ValueError as exc:
        return None, f"service.compose: {exc}"
    given = service.model_fields_set
    update = {k: v for k, v in found.items() if k not in given}
    return manifest.model_copy(update={"service": service.model_copy(update=update)}), problem


def _inferred_context(co: Checkout, settings: RunSettings) -> Context:
    name = repo_name(co.source)
    draft = infer(co.path, name)
    manifest, dropped = grading_manifest(draft)
    text = render(draft, name)
    source = ManifestSource(
        kind="inferred",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        inferred=tuple(draft.inferred_paths()),
        todo=dict(draft.todo),
        dropped=tuple(dropped),
    )
    problem = f"{MANIFEST_NAME} not found at the repository root"
    return Context(co.path, co.commit, manifest, problem, settings, manifest_source=source)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mark_inferred(results: list[CheckResult], source: ManifestSource | None) -> list[CheckResult]:
    """Each check's inferred inputs: the inferred values of the manifest sections it reads."""
    if source is None or source.kind != "inferred":
        return results
    out = []
    for r in results:
        sections = manifest_sections(r.check)
        used = tuple(p for p in source.inferred if p.split(".")[0] in sections)
        out.append(r.model_copy(update={"inferred": used}) if used else r)
    return out


def grade(
    target: str, rubric: Rubric, options: Options, on_result: OnResult | None = None
) -> GradeResult:
    """Fetch, grade and score one team; raises GraderError only for infrastructure/usage."""
    start = time.monotonic()
    run_id = uuid.uuid4().hex[:12]
    # Contexts close in reverse: the checkout goes, the run's containers and images are
    # removed (also on SIGTERM or a crash), and only then is the service port released
    # (if `lane_done` has not let it go already, once the service's checks were done).
    with (
        contextlib.ExitStack() as port_lock,
        _engine_cleanup(run_id) if options.engine else contextlib.nullcontext(),
        _service_calls(run_id),
        checkout(target, options) as co,
    ):
        ctx = context_for(co, options, run_id)
        manual = (
            scoring.load_manual_scores(options.manual_file, rubric, _team(ctx))
            if options.manual_file
            else None
        )

        def claim_port() -> bool:
            port = _host_port(ctx, options)
            held = hostport.attempt(port) if port else None
            if held is not None:
                port_lock.callback(locks.release, held)
            return held is not None or not port

        def lane_done(lane: set[str]) -> None:
            """The service's checks are done: its containers go, then the port (another
            team's service may take it while this run's other checks go on)."""
            if not options.engine or _release_engine_resources(run_id, lane):
                port_lock.close()  # else kept to the run's end, as the containers are

        results = run_rubric(
            rubric,
            ctx,
            only=options.only or None,
            skip=options.skip or None,
            on_result=on_result,
            on_timeout=_after_timeout,
            claim_port=claim_port,
            lane_done=lane_done,
            slots=options.check_jobs or check_slots(),
        )
        results = _mark_inferred(results, ctx.manifest_source)
    manual_results = scoring.manual_results(rubric, manual)
    totals = scoring.total(rubric, results, manual_results, co.commit_time)
    selected = sum(r.max_score for r in results) + sum(m.max_score for m in manual_results)
    return GradeResult(
        grader_version=__version__,
        milestone=rubric.milestone,
        rubric=str(rubric.path),
        rubric_hash=rubric.hash,
        team=_team(ctx),
        target=target,
        commit=co.commit,
        commit_time=co.commit_time.isoformat() if co.commit_time else None,
        graded_at=scoring.now_utc().isoformat(timespec="milliseconds"),
        checks=tuple(results),
        manual=tuple(manual_results),
        automated_score=totals.automated,
        manual_score=totals.manual,
        late=totals.late,
        gate=totals.gate,
        score=totals.score,
        max_score=round(selected, 4),
        execution_time=round(time.monotonic() - start, 3),
        needs_review=totals.needs_review,
        manifest=ctx.manifest_source,
    )


def _host_port(ctx: Context, options: Options) -> int | None:
    """The machine port the team's service will take, when it takes one (host networking)."""
    if options.network_mode != "host" or options.url or ctx.manifest is None:
        return None
    return ctx.manifest.service.port if ctx.manifest.service else None


def _team(ctx: Context) -> str | None:
    return ctx.manifest.team.name if ctx.manifest else None
