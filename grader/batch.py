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
import hashlib
import json
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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

import yaml

from grader import __version__, reports
from grader.course import grading_cutoff
from grader.errors import GraderError, TargetError, UsageError
from grader.manifest import MANIFEST_NAME
from grader.reports.files import write_atomic
from grader.reports.gradescope import read_grade
from grader.results import (
    TeamOutcome,
    accepted_note,
    errored_checks,
    review_reason,
)
from grader.roster import Member, load_roster
from grader.rubric import LatePolicy, Rubric
from grader.runner import check_slots, preload_modules
from grader.target import cache_dir, git, is_url, mirror

RECORD = "batch.json"
GRACE_SECONDS = 10.0  # after SIGINT, time a grader gets to remove its containers


@dataclass(frozen=True)
class TeamSpec:
    """A team to grade: `id` names its output folder, `source` is a URL or a local path.

    `deadline` is this team's own due time (a course deadline plus the team's extension):
    lateness is measured from it, and its last commit before it is graded (or before the
    batch's deadline, when that is later). None: the batch's deadline and the rubric's.
    """

    id: str
    name: str
    source: str
    members: tuple[Member, ...] = ()
    deadline: datetime | None = None
    manifest: str | None = None  # a TA's manifest, graded with instead of the repository's


@dataclass
class BatchConfig:
    rubric: Rubric
    out: Path
    jobs: int = 1
    deadline: datetime | None = None  # grade each team's last commit before this
    checks: tuple[str, ...] = ()
    timeout: float = 1800.0
    network: str = "published"
    force: set[str] = field(default_factory=set)
    accept_errors: bool = False  # a check in error counts as 0 instead of needing review


def judge(outcome: TeamOutcome, accept_errors: bool = False) -> TeamOutcome:
    """A graded team with a check in error needs review: its score counts the check as 0
    and is not a grade, unless the TA accepts errors as zero (then the note says so)."""
    result = outcome.result
    if result is None or outcome.status == "error":
        return outcome
    if not errored_checks(result):
        return replace(outcome, status="graded", reason="")
    if accept_errors:
        return replace(outcome, status="graded", reason=accepted_note(result))
    return replace(outcome, status="needs review", reason=review_reason(result))


# ---- teams ------------------------------------------------------------------------------


def discover(teams: Path) -> list[TeamSpec]:
    """Teams from a roster CSV with a repo column, or every git repository in a folder."""
    if teams.is_dir():
        found = [
            TeamSpec(d.name, d.name, str(d))
            for d in sorted(teams.iterdir())
            if d.is_dir() and (d / ".git").exists()
        ]
        if not found:
            raise UsageError(f"{teams} holds no git repositories (one folder per team)")
        return found
    if not teams.is_file():
        raise UsageError(f"{teams} is neither a roster CSV nor a folder of team repositories")
    return [
        TeamSpec(
            t.slug,
            t.name,
            _repo_source(t.repo or "", teams.parent),
            t.members,
            manifest=_repo_source(t.manifest, teams.parent) if t.manifest else None,
        )
        for t in load_roster(teams, ("team", "repo"))
    ]


def with_manifests(specs: list[TeamSpec], folder: Path) -> list[TeamSpec]:
    """Each team without a manifest of its own in the roster takes FOLDER/<team>.yaml (or
    .yml), when there is one: the course staff's manifests, kept outside the team repos."""
    if not folder.is_dir():
        raise UsageError(f"--manifests {folder} is not a folder")
    out = []
    for spec in specs:
        found = [folder / f"{spec.id}{ext}" for ext in (".yaml", ".yml")]
        given = next((str(p.resolve()) for p in found if p.is_file()), None)
        out.append(spec if spec.manifest or given is None else replace(spec, manifest=given))
    return out


def _repo_source(repo: str, base: Path) -> str:
    """A URL as is; a path relative to the roster's folder."""
    if is_url(repo):
        return repo
    path = Path(repo).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def select(specs: list[TeamSpec], only: list[str]) -> list[TeamSpec]:
    if not only:
        return specs
    by_key = {s.id: s for s in specs} | {s.name: s for s in specs}
    unknown = [o for o in only if o not in by_key]
    if unknown:
        raise UsageError(f"--only: no team {', '.join(map(repr, unknown))} in the roster")
    return [by_key[o] for o in dict.fromkeys(only)]


# ---- commit and cache key -----------------------------------------------------------------


def resolve_commit(source: str, deadline: datetime | None) -> str | None:
    """The commit `grader check` would grade, found cheaply (None: a folder, not a repo)."""
    if is_url(source):
        if deadline is None:
            line = git("ls-remote", source, "HEAD")
            if not line:
                raise TargetError(f"{source} has no HEAD (an empty repository?)")
            return line.split()[0]
        source = mirror(source)  # the history is needed to find the last commit in time
    elif not Path(source).is_dir():
        raise TargetError(f"{source} is not a folder or a git URL")
    elif not (Path(source) / ".git").exists():
        return None
    if deadline is None:
        return git("rev-parse", "--verify", "HEAD^{commit}", cwd=source)
    found = git("rev-list", "-1", f"--before={deadline.isoformat()}", "HEAD", cwd=source)
    if not found:
        raise TargetError(f"no commit on the default branch before {deadline.isoformat()}")
    return found


def team_due(spec: TeamSpec, config: BatchConfig) -> datetime | None:
    """When the team's work is due: lateness is measured from it."""
    return spec.deadline or config.rubric.deadline


def team_cutoff(spec: TeamSpec, config: BatchConfig) -> datetime | None:
    """The team's last commit before this time is graded (None: its head)."""
    if spec.deadline is None:
        return config.deadline
    return grading_cutoff(spec.deadline, config.deadline)


def _file_hash(path: str | None) -> str:
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def cache_key(commit: str, config: BatchConfig, spec: TeamSpec) -> str:
    """Same commit, rubric, grader, checks, due time and late policy: same result."""
    due = team_due(spec, config)
    policy = config.rubric.late_policy
    parts = [
        commit,
        config.rubric.hash,
        __version__,
        ",".join(sorted(config.checks)),
        due.isoformat() if due else "",
        policy.model_dump_json() if policy else "",
        _file_hash(spec.manifest),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _cache_file(key: str) -> Path:
    return cache_dir() / "results" / key[:2] / f"{key}.json"


# ---- reading and writing a team's folder ---------------------------------------------------


def team_dir(out: Path, team_id: str) -> Path:
    return out / "teams" / team_id


def _record(outcome: TeamOutcome) -> str:
    data = asdict(replace(outcome, result=None))
    data.pop("result")
    data.pop("cached")
    data["grader_version"] = __version__
    return json.dumps(data, indent=2) + "\n"


def load_outcome(folder: Path) -> TeamOutcome | None:
    """A team's outcome as a finished batch stored it, or None if it never finished."""
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        data.pop("grader_version", None)
        data["members"] = tuple(Member(**m) for m in data.get("members", ()))
        outcome = TeamOutcome(**data)
        if outcome.status != "error":
            outcome = replace(outcome, result=read_grade(folder / "results.json"))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # half-written or foreign: grade again
    return outcome


def _publish(staging: Path, final: Path) -> None:
    """Swap the finished staging folder in with renames: readers see old or new, never half."""
    final.parent.mkdir(parents=True, exist_ok=True)
    trash = None
    if final.exists():
        trash = final.with_name(f".{final.name}.old-{os.getpid()}-{threading.get_ident()}")
        final.rename(trash)
    staging.chmod(0o755)  # mkdtemp made it private; reports are for the staff to share
    staging.rename(final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def save(outcome: TeamOutcome, staging: Path, out: Path) -> TeamOutcome:
    if outcome.result is not None and not (staging / "results.json").exists():
        reports.write_all(outcome.result, staging)
    write_atomic(staging / RECORD, _record(outcome))
    _publish(staging, team_dir(out, outcome.id))
    if outcome.result is not None and outcome.key is not None and not outcome.cached:
        shutil.copyfile(team_dir(out, outcome.id) / "results.json", _cache_tmp(outcome.key))
        os.replace(_cache_tmp(outcome.key), _cache_file(outcome.key))
    return outcome


def _cache_tmp(key: str) -> Path:
    path = _cache_file(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")


# ---- members for the gradebook -------------------------------------------------------------


def manifest_members(source: str, commit: str | None) -> tuple[Member, ...]:
    """Members from the team's capstone.yaml at the graded commit (when the roster has none)."""
    repo = source
    if is_url(source):
        repo = str(
            cache_dir() / "repos" / (hashlib.sha256(source.encode()).hexdigest()[:20] + ".git")
        )
    if commit is None or not Path(repo).exists():
        return ()
    try:
        data = yaml.safe_load(git("show", f"{commit}:{MANIFEST_NAME}", cwd=repo, timeout=30))
    except (GraderError, yaml.YAMLError):
        return ()
    return _members(data)


def _members(data: object) -> tuple[Member, ...]:
    """The members a manifest's data lists (none when it lists them wrongly)."""
    try:
        entries = data["team"]["members"]  # type: ignore[index]
        return tuple(
            Member(str(m.get("name", "")), str(m.get("email") or ""), str(m.get("github", "")))
            for m in entries
            if isinstance(m, dict)
        )
    except (TypeError, KeyError):
        return ()


def members_of(spec: TeamSpec, commit: str | None) -> tuple[Member, ...]:
    if spec.members:
        return spec.members
    if spec.manifest:
        return _members(_read_yaml(Path(spec.manifest)))
    return manifest_members(spec.source, commit)


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


# ---- grading one team ----------------------------------------------------------------------


class Stopped(Exception):
    """The batch was interrupted while this team was being graded: nothing is written."""


def grade_team(spec: TeamSpec, config: BatchConfig, stop: threading.Event) -> TeamOutcome:
    """Resolve, reuse a cached result, or grade; every failure becomes an error outcome."""
    start = time.monotonic()
    staging = Path(tempfile.mkdtemp(dir=_staging_root(config.out), prefix=f"{spec.id}-"))
    base = TeamOutcome(spec.id, spec.name, spec.source, "error", members=spec.members)
    try:
        try:
            commit = resolve_commit(spec.source, team_cutoff(spec, config))
        except GraderError as exc:
            return save(replace(base, reason=str(exc)), staging, config.out)
        key = cache_key(commit, config, spec) if commit else None
        base = replace(base, commit=commit, key=key, members=members_of(spec, commit))
        stored = _stored(base, config)
        if stored is not None:
            outcome, changed = stored
            # In place already; written again only when its status or note changed.
            return save(outcome, staging, config.out) if changed else outcome
        cached = _from_cache(base, config)
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


def _staging_root(out: Path) -> Path:
    root = out / "teams" / ".staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _stored(base: TeamOutcome, config: BatchConfig) -> tuple[TeamOutcome, bool] | None:
    """This team's finished outcome in OUT, if it is for this exact commit, rubric and grader
    and is a grade under this batch's policy (a check in error: graded again unless errors
    are accepted as zero), and whether its status or note changed."""
    if base.key is None or base.id in config.force:
        return None
    done = load_outcome(team_dir(config.out, base.id))
    if done is None or done.key != base.key or done.result is None:
        return None
    judged = judge(done, config.accept_errors)
    if judged.status != "graded":
        return None
    return replace(judged, cached=True), judged != done


def _from_cache(base: TeamOutcome, config: BatchConfig) -> TeamOutcome | None:
    """A result graded earlier for the same key (another OUT folder, an earlier batch)."""
    if base.key is None or base.id in config.force:
        return None
    path = _cache_file(base.key)
    try:
        result = read_grade(path)
    except (OSError, ValueError, KeyError):
        return None
    outcome = judge(replace(base, status="graded", result=result), config.accept_errors)
    return replace(outcome, cached=True) if outcome.status == "graded" else None


def _grade_in_child(
    source: str,
    commit: str | None,
    rubric_path: str,
    due: datetime | None,
    late_policy: LatePolicy | None,
    checks: tuple[str, ...],
    network: str,
    staging: str,
    env: dict[str, str],
    cwd: str,
    manifest: str | None = None,
    check_jobs: int | None = None,
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
            check_jobs=check_jobs,
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
        max(1, check_slots() // max(1, config.jobs)),  # the cores shared between teams
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


def class_outcomes(
    specs: list[TeamSpec], out: Path, accept_errors: bool = False
) -> list[TeamOutcome]:
    """Every team's stored outcome under this batch's policy for checks in error; a team
    never graded still gets an error row."""
    outcomes = []
    for spec in specs:
        stored = load_outcome(team_dir(out, spec.id))
        outcomes.append(
            judge(stored, accept_errors)
            if stored
            else TeamOutcome(
                spec.id, spec.name, spec.source, "error", "not graded yet", members=spec.members
            )
        )
    return outcomes


def outcomes_from_results(
    specs: list[TeamSpec], results_dir: Path, rubric: Rubric, accept_errors: bool = False
) -> list[TeamOutcome]:
    """Outcomes from the result files teams uploaded: DIR/<team>/results.json or DIR/<team>.json."""
    return [judge(_from_file(spec, results_dir, rubric), accept_errors) for spec in specs]


def _from_file(spec: TeamSpec, results_dir: Path, rubric: Rubric) -> TeamOutcome:
    base = TeamOutcome(spec.id, spec.name, spec.source, "error", members=spec.members)
    path = find_results(results_dir, spec.id)
    if path is None:
        return replace(base, reason=f"no results.json for this team in {results_dir}")
    try:
        result = read_grade(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return replace(base, reason=f"{path}: not a results.json of this grader ({exc})")
    base = replace(base, commit=result.commit, members=members_of(spec, result.commit))
    if result.milestone != rubric.milestone or result.rubric_hash != rubric.hash:
        why = f"{path}: graded with another rubric ({result.milestone}, hash {result.rubric_hash})"
        return replace(base, reason=why)
    return replace(base, status="graded", result=result)


def find_results(results_dir: Path, team_id: str) -> Path | None:
    for candidate in (results_dir / team_id / "results.json", results_dir / f"{team_id}.json"):
        if candidate.is_file():
            return candidate
    nested = sorted((results_dir / team_id).glob("**/results.json"))
    return nested[0] if nested else None
