"""tracking.reproduce: retrain from the graded commit in the sandbox, against a fresh
tracking store the grader owns, and compare the champion it gets with the team's."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from grader import fs, metrics
from grader.checks.base import Context, Outcome, failed, passed
from grader.checks.measure import Logged, Tolerance, compare, logged_champion
from grader.checks.projectenv import project_sandbox
from grader.manifest import PrimaryMetric, Tracking, Training
from grader.mlflowstore import StoreProblem, empty_store
from grader.sandbox import SandboxResult
from grader.text import tail

NO_TRAINING = (
    "capstone.yaml has no `training` section: add `training: {command: <what trains and "
    "registers the champion, e.g. make train>, seed: <the seed it uses>}`"
)
FRESH_DB = ".grader-reproduce/mlflow.db"  # for a team whose store is a tracking server


class ReproduceParams(Tolerance):
    # The same code, data and seed give the same model: what is left is floating point
    # across machines (a BLAS, a thread count), far below a row of held-out data.
    abs_tolerance: float = Field(0.001, ge=0, description="Largest absolute difference.")
    rel_tolerance: float = Field(0.005, ge=0, description="Largest relative difference.")
    image: str = Field(
        "auto", description="Image training runs in (`auto`: as tests.run chooses it)."
    )
    setup: str | None = Field(
        "auto",
        description="Install command (`auto`: as tests.run installs, sharing its cache).",
    )
    setup_timeout: float = Field(900, gt=0, description="Seconds the install may take.")
    memory: str = "2g"
    cpus: float = Field(1.0, gt=0)


def reproduce(ctx: Context, params: ReproduceParams) -> Outcome:
    """Retraining from the graded commit gives back the champion's metric.

    In a clean container, with your dependencies installed and then no network, the grader
    runs `training.command` from capstone.yaml with SEED set to `training.seed` and
    MLFLOW_TRACKING_URI pointing at a fresh, empty store it owns, then compares the new
    champion's primary metric with the one logged for yours (within the rubric's absolute
    or relative tolerance). Fix: make training deterministic for a fixed seed (seed every
    random source: the split, the model, numpy), read SEED and MLFLOW_TRACKING_URI from the
    environment, and never edit the tracking store by hand.
    """
    manifest = ctx.need_manifest()
    if manifest.training is None:
        return failed(NO_TRAINING)
    tracking = manifest.tracking
    if tracking is None:
        return failed("capstone.yaml has no `tracking` section")
    try:
        logged = logged_champion(ctx.repo, tracking)
    except StoreProblem as exc:
        return failed(f"nothing to reproduce: {exc}")
    result = _train(ctx, manifest.training, tracking, params)
    evidence = _training_evidence(manifest.training, result)
    evidence["logged"] = {"value": logged.value, "run_id": logged.run_id}
    problem = _training_problem(manifest.training, result)
    if problem:
        return failed(problem, evidence)
    try:
        again = _reproduced(result, tracking)
    except StoreProblem as exc:
        return failed(f"the training ran, but {exc}", evidence)
    evidence["reproduced"] = {"value": again.value, "run_id": again.run_id}
    return _verdict(tracking.primary_metric, logged, again, params, evidence)


def _verdict(
    metric: PrimaryMetric, logged: Logged, again: Logged, tol: Tolerance, evidence: dict[str, Any]
) -> Outcome:
    """The primary metric first, then every other quality metric both runs logged (a metric
    such as log loss moves with any change of the model where accuracy may not)."""
    for name in quality_metrics(metric.name, logged, again):
        direction = metric.direction if name == metric.name else _direction(name)
        which = metric.model_copy(update={"name": name, "direction": direction})
        differs = compare(which, logged.metrics[name], again.metrics[name], tol)
        if differs is not None:
            return failed(
                f"not reproduced: retrained {name} = {again.metrics[name]:.4g}, logged"
                f" {logged.metrics[name]:.4g} for {logged.label}: {differs}",
                evidence,
            )
    checked = quality_metrics(metric.name, logged, again)
    return passed(
        f"retrained: {metric.name} = {again.value:.4g}, logged {logged.value:.4g} for"
        f" {logged.label}" + (f" (and {', '.join(checked[1:])} agree)" if len(checked) > 1 else ""),
        evidence,
    )


def quality_metrics(primary: str, logged: Logged, again: Logged) -> list[str]:
    """The primary metric, then the metrics the grader knows by name that both runs logged
    (a timing or a custom counter is not compared)."""
    shared = sorted(set(logged.metrics) & set(again.metrics) - {primary})
    return [primary, *(name for name in shared if metrics.known(name))]


def _direction(name: str) -> str:
    return "minimize" if metrics.canonical(name) in metrics.LOWER_IS_BETTER else "maximize"


def _store_paths(tracking: Tracking) -> tuple[str, str]:
    """(the store's path in the repo, MLFLOW_TRACKING_URI for it inside the sandbox)."""
    uri = tracking.uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel = uri.removeprefix("sqlite:///")
        return rel, f"sqlite:////repo/{rel}"
    if uri.startswith(("http://", "https://", "sqlite:")):
        return FRESH_DB, f"sqlite:////repo/{FRESH_DB}"
    rel = uri.removeprefix("file:").removeprefix("//")
    return rel, f"file:///repo/{rel}"


def _train(
    ctx: Context, training: Training, tracking: Tracking, params: ReproduceParams
) -> SandboxResult:
    """The training command in the sandbox, after the committed store is taken away."""
    rel, uri = _store_paths(tracking)
    if fs.inside(ctx.repo, rel) is None and rel != FRESH_DB:
        rel, uri = FRESH_DB, f"sqlite:////repo/{FRESH_DB}"
    store = shlex.quote(rel)
    sqlite = uri.startswith("sqlite:")
    seed = f"{{ python {SEED_SCRIPT} {store} 2>/dev/null || true; }} && " if sqlite else ""
    command = f'rm -rf {store} && mkdir -p "$(dirname {store})" && {seed}{training.command}'
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri, "GIT_PYTHON_REFRESH": "quiet"}
    box = project_sandbox(ctx, params.image, params.setup)
    if training.seed is not None:
        env["SEED"] = str(training.seed)
    if not sqlite:
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return box.run(
        ctx.repo,
        command,
        timeout=training.timeout,
        setup_timeout=params.setup_timeout,
        memory=params.memory,
        cpus=params.cpus,
        env=env,
        collect=[rel, SEEDED],
        files=_seed_files() if sqlite else None,
    )


SEED_STORE = "/tmp/grader/empty-mlflow.db"
SEED_SCRIPT = "/tmp/grader/seed-store.py"
# Where the team's MLflow is the grader's version, the fresh store starts as a copy of the
# grader's empty one (what MLflow would make, tables and Default experiment) instead of
# MLflow creating its tables, a second and a half of every retraining.
SEED = """\
import importlib.metadata, shutil, sys

found = set()
for name in ("mlflow", "mlflow-skinny"):
    try:
        found.add(importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        pass
if found == {{{version!r}}}:
    shutil.copyfile({store!r}, sys.argv[1])
    open({seeded!r}, "w").close()
"""
SEEDED = "/tmp/grader/seeded"


def _seed_files() -> dict[str, bytes]:
    from mlflow.version import VERSION

    script = SEED.format(version=VERSION, store=SEED_STORE, seeded=SEEDED)
    return {SEED_STORE: empty_store().read_bytes(), SEED_SCRIPT: script.encode()}


def _training_evidence(training: Training, result: SandboxResult) -> dict[str, Any]:
    seeded = SEEDED in result.files
    return {
        "command": training.command,
        "seed": training.seed,
        "exit_code": result.exit_code,
        "seconds": round(result.seconds, 1),
        "environment": result.environment,
        "store": "a copy of the grader's empty store" if seeded else "made by the training",
        "output": tail(result.output, 4000),
    }


def _training_problem(training: Training, result: SandboxResult) -> str | None:
    if result.setup_failed:
        return "installing the dependencies for training failed"
    if result.timed_out:
        return f"training did not finish within its budget of {training.timeout:g}s"
    if result.oom_killed:
        return "training ran out of memory"
    if result.exit_code != 0:
        return f"training failed (exit code {result.exit_code}): {tail(result.output, 300)}"
    return None


def _reproduced(result: SandboxResult, tracking: Tracking) -> Logged:
    """The champion of the store the training wrote, read from a copy on the host."""
    if not result.files:
        raise StoreProblem("it wrote nothing to the store named by MLFLOW_TRACKING_URI")
    with tempfile.TemporaryDirectory(prefix="grader-reproduced-") as tmp:
        root = Path(tmp)
        for rel, data in result.files.items():
            target = fs.inside(root, rel)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        rel, _ = _store_paths(tracking)
        if rel == FRESH_DB or (root / FRESH_DB).is_file():
            fresh = tracking.model_copy(update={"uri": f"sqlite:///{FRESH_DB}"})
        else:
            fresh = tracking
        return logged_champion(root, fresh)
