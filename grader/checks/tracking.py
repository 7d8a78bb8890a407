"""Checks of experiment tracking: MLflow runs, metrics, the registered champion, lineage.

Every check reads the store the manifest names (`tracking.uri`) with MLflow's own client
(see `grader.mlflowstore`). "The subject run" is the run behind the registered model's
alias (the champion) when it is set, else the finished run with the best primary metric.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import Field

from grader.checks.base import Context, NoParams, Outcome, Params, failed, graded, passed
from grader.manifest import PrimaryMetric, Tracking
from grader.mlflowstore import Store, StoreProblem, open_store
from grader.results import Measure
from grader.text import plural

__all__ = ["NoParams"]

P = TypeVar("P", bound=Params)
StoreCheck = Callable[[Context, P, Store, Tracking], Outcome]


def with_store(func: StoreCheck[P]) -> Callable[[Context, P], Outcome]:
    """Open the manifest's store for the check; a missing store fails the check."""

    @functools.wraps(func)
    def check(ctx: Context, params: P) -> Outcome:
        tracking = ctx.need_manifest().tracking
        if tracking is None:
            return failed("capstone.yaml has no `tracking` section")
        try:
            with open_store(ctx.repo, tracking) as store:
                return _noting_rewrites(func(ctx, params, store, tracking), store)
        except StoreProblem as exc:
            return failed(str(exc), {"uri": tracking.uri})

    return check


def _noting_rewrites(outcome: Outcome, store: Store) -> Outcome:
    """A warning in the evidence when artifact paths recorded on the team's machine were
    read from the checkout instead."""
    if not store.rewrites:
        return outcome
    warning = (
        f"{plural(len(store.rewrites), 'artifact path')} recorded on the team's machine"
        " (for example " + next(iter(store.rewrites)) + ") were read from the checkout"
    )
    evidence = {**outcome.evidence, "warning": warning, "artifact_paths": store.rewrites}
    return dataclasses.replace(outcome, evidence=evidence)


@dataclass(frozen=True)
class Subject:
    """The run a check judges, and how to name it in a message."""

    run: Any
    label: str
    version: Any | None = None


def _experiment_id(store: Store, tracking: Tracking) -> str:
    experiment = store.experiment(tracking.experiment)
    if experiment is None:
        raise StoreProblem(f"experiment {tracking.experiment!r} not found in the tracking store")
    return str(experiment.experiment_id)


def _metric(run: Any, name: str) -> float | None:
    value = run.data.metrics.get(name)
    return None if value is None else float(value)


def _best_run(store: Store, tracking: Tracking) -> Any | None:
    name = tracking.primary_metric.name
    runs = [r for r in store.runs(_experiment_id(store, tracking)) if _metric(r, name) is not None]
    if not runs:
        return None
    sign = 1 if tracking.primary_metric.direction == "maximize" else -1
    return max(runs, key=lambda r: sign * (_metric(r, name) or 0.0))


def champion_subject(store: Store, tracking: Tracking) -> Subject:
    """The champion's run if the alias is set, else the best finished run. A champion whose
    run was deleted or did not finish is a StoreProblem: that run never counts."""
    version = store.version_by_alias(tracking.registered_model, tracking.alias)
    if version is not None:
        label = f"the {tracking.alias} (version {version.version})"
        run = store.run(str(version.run_id)) if version.run_id else None
        if run is None:
            raise StoreProblem(f"{label} has no run in the tracking store")
        problem = store.run_problem(run)
        if problem:
            raise StoreProblem(
                f"{label} comes from run {run.info.run_id[:8]}, which {problem}: it does not count"
            )
        return Subject(run, label, version)
    best = _best_run(store, tracking)
    if best is None:
        raise StoreProblem(f"no finished run of {tracking.experiment!r} logs the primary metric")
    return Subject(best, f"the best run {best.info.run_id[:8]}")


def _run_evidence(subject: Subject) -> dict[str, Any]:
    run = subject.run
    return {
        "run": subject.label,
        "run_id": run.info.run_id,
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
    }


# --- tracking.experiment --------------------------------------------------------------------


@with_store
def experiment_exists(ctx: Context, params: NoParams, store: Store, tracking: Tracking) -> Outcome:
    """The MLflow experiment named in the manifest exists.

    The grader opens `tracking.uri` from capstone.yaml (a SQLite file or `mlruns/` folder
    committed in the repo, or a tracking server) and looks for `tracking.experiment`.
    Fix: train with `mlflow.set_experiment(<that name>)`, and commit the store (or make
    the server reachable).
    """
    experiment = store.experiment(tracking.experiment)
    if experiment is None:
        return failed(f"experiment {tracking.experiment!r} not found", {"uri": tracking.uri})
    evidence = {"experiment_id": experiment.experiment_id, "uri": tracking.uri}
    return passed(f"experiment {tracking.experiment!r} exists", evidence)


# --- tracking.runs --------------------------------------------------------------------------


class RunsParams(Params):
    min_runs: int = Field(3, ge=1, description="Finished runs required (partial credit below).")


@with_store
def finished_runs(ctx: Context, params: RunsParams, store: Store, tracking: Tracking) -> Outcome:
    """The experiment has enough finished runs.

    Only runs with status FINISHED count (not FAILED, KILLED or still RUNNING). Partial
    credit in proportion. Fix: train more configurations and let each run end normally.
    """
    runs = store.runs(_experiment_id(store, tracking))
    evidence = {"finished": len(runs), "required": params.min_runs}
    message = f"{plural(len(runs), 'finished run')} in {tracking.experiment!r}"
    if len(runs) >= params.min_runs:
        return passed(message, evidence)
    return failed(f"{message} (need {params.min_runs})", evidence, len(runs) / params.min_runs)


# --- tracking.logged ------------------------------------------------------------------------


class LoggedParams(Params):
    params: list[str] = Field(default_factory=list, description="Params the run must log.")
    metrics: list[str] = Field(default_factory=list, description="Metrics the run must log.")
    primary: bool = Field(True, description="The manifest's primary metric is required too.")


@with_store
def logged(ctx: Context, params: LoggedParams, store: Store, tracking: Tracking) -> Outcome:
    """The champion run logged the required params and metrics.

    Checked on the run behind the registered model's alias (else the best run). Partial
    credit per item. Fix: `mlflow.log_params(...)` and `mlflow.log_metrics(...)` in the
    training run, then retrain and re-register.
    """
    subject = champion_subject(store, tracking)
    metrics = [*params.metrics]
    if params.primary and tracking.primary_metric.name not in metrics:
        metrics.append(tracking.primary_metric.name)
    missing = [f"param {p}" for p in params.params if p not in subject.run.data.params]
    missing += [f"metric {m}" for m in metrics if m not in subject.run.data.metrics]
    evidence = {**_run_evidence(subject), "missing": missing}
    total = len(params.params) + len(metrics)
    if missing:
        message = f"{subject.label} lacks {', '.join(missing)}"
        return failed(message, evidence, 1 - len(missing) / total)
    return passed(f"{subject.label} logged {plural(total, 'required item')}", evidence)


# --- tracking.metric ------------------------------------------------------------------------


class MetricParams(Params):
    targets: dict[str, float] = Field(
        default_factory=dict,
        description="The course's bar per metric name (f1_macro: 0.85): used first.",
    )
    team_target: bool = Field(
        True,
        description="Else grade against the team's `primary_metric.target` in capstone.yaml.",
    )
    threshold: float | None = Field(
        None, description="Else this bar, whatever the metric (one metric for the class)."
    )
    zero_at: float | None = Field(
        None,
        description=(
            "With `threshold`: the value that earns no credit, linear in between. Otherwise "
            "credit is in proportion (value/bar when maximizing, bar/value when minimizing)."
        ),
    )


def _metric_fraction(value: float, bar: float, maximize: bool, zero_at: float | None) -> float:
    gap = (value - bar) if maximize else (bar - value)
    if gap >= 0:
        return 1.0
    if zero_at is not None:
        span = abs(bar - zero_at)
        return max(0.0, 1 - abs(gap) / span) if span else 0.0
    if maximize:
        return max(0.0, value / bar) if bar > 0 else 0.0
    return bar / value if value > 0 else 0.0


@dataclass(frozen=True)
class _Bar:
    value: float
    source: str  # for the evidence
    teams: bool = False  # the team's own target: the message says so
    zero_at: float | None = None


def _bar(params: MetricParams, metric: PrimaryMetric) -> _Bar | None:
    """The value to reach, and where it comes from: the course's bar for this metric, else
    the team's own target, else the course's bar for any metric (with its `zero_at`)."""
    if metric.name in params.targets:
        return _Bar(params.targets[metric.name], f"the course's bar for {metric.name}")
    if params.team_target and metric.target is not None:
        return _Bar(metric.target, "the team's target in capstone.yaml", teams=True)
    if params.threshold is not None:
        return _Bar(params.threshold, "the course's bar", zero_at=params.zero_at)
    return None


LOGGED = "logged by the team"


def _graded_value(
    ctx: Context, subject: Subject, metric: PrimaryMetric
) -> tuple[float | None, str]:
    """The value to grade: the grader's own measurement of this run when tracking.evaluate
    made one, else the number the team logged."""
    measured = ctx.provided.measured_metric
    if (
        measured is not None
        and measured.name == metric.name
        and measured.run_id == subject.run.info.run_id
    ):
        return measured.value, measured.source
    return _metric(subject.run, metric.name), LOGGED


@with_store
def metric_threshold(
    ctx: Context, params: MetricParams, store: Store, tracking: Tracking
) -> Outcome:
    """The champion's primary metric reaches the bar.

    The primary metric and its direction (maximize or minimize) come from capstone.yaml;
    the value is the one `tracking.evaluate` measured on the held-out data when the rubric
    runs it first, else the one logged by the run behind the alias (else the best run). The bar
    is the course's for that metric if the rubric names it, else the team's own
    `tracking.primary_metric.target` (agreed in the proposal), else the rubric's bar for
    any metric. Partial credit below the bar. Fix: improve the model, retrain, and move the
    alias to the better version; or state your agreed target in capstone.yaml.
    """
    subject = champion_subject(store, tracking)
    metric = tracking.primary_metric
    bar = _bar(params, metric)
    if bar is None:
        return failed(
            f"no bar for {metric.name}: state tracking.primary_metric.target in capstone.yaml "
            "(the value agreed in your proposal)",
            {"metric": metric.name, "course_targets": params.targets},
        )
    value, source = _graded_value(ctx, subject, metric)
    evidence = {**_run_evidence(subject), "threshold": bar.value, "threshold_from": bar.source}
    evidence["value_from"] = source
    if value is None:
        return failed(f"{subject.label} did not log {metric.name}", evidence)
    maximize = metric.direction == "maximize"
    relation = ">=" if maximize else "<="
    fraction = _metric_fraction(value, bar.value, maximize, bar.zero_at)
    message = f"{metric.name} of {subject.label} = {value:.4g} (need {relation} {bar.value:g}"
    if source != LOGGED:
        message += ", measured by the grader"
    if bar.teams:
        message += ", the team's target"
    # Logged by the team: a value the grader measures itself takes its leaderboard place.
    figure = Measure(
        kind="metric",
        name=metric.name,
        value=value,
        order="desc" if maximize else "asc",
        measured=source != LOGGED,
    )
    return graded(fraction, message + ")", {**evidence, "value": value}).measuring(figure)


# --- tracking.registered_model --------------------------------------------------------------


@with_store
def registered_model(ctx: Context, params: NoParams, store: Store, tracking: Tracking) -> Outcome:
    """The model is registered, the alias is set, and it points at a finished run.

    The registry must hold `tracking.registered_model`, with the alias (`champion`) on
    a version whose run finished. One third of the credit per step. Fix: log the model
    with `registered_model_name=...`, then `client.set_registered_model_alias(name,
    alias, version)` on the version you serve.
    """
    name, alias = tracking.registered_model, tracking.alias
    if name is None:
        return failed(NO_MODEL)
    if store.registered_model(name) is None:
        return failed(f"no registered model {name!r}", {"model": name})
    version = store.version_by_alias(name, alias)
    if version is None:
        return failed(f"{name!r} has no version with alias {alias!r}", {"model": name}, 1 / 3)
    run = store.run(str(version.run_id)) if version.run_id else None
    evidence = {"model": name, "version": version.version, "run_id": version.run_id}
    problem = "has no run" if run is None else store.run_problem(run)
    if problem:
        run_id = str(version.run_id or "")[:8]
        what = f"its run {run_id} {problem}" if run is not None else "it has no run"
        return failed(f"{name}@{alias} (version {version.version}): {what}", evidence, 2 / 3)
    return passed(f"{name}@{alias} is version {version.version}, from a finished run", evidence)


# --- tracking.signature ---------------------------------------------------------------------


NO_MODEL = (
    "capstone.yaml names no registered model (tracking.registered_model): this project"
    " registers none, and the registry checks need one"
)


def champion_version(store: Store, tracking: Tracking) -> Any:
    if tracking.registered_model is None:
        raise StoreProblem(NO_MODEL)
    version = store.version_by_alias(tracking.registered_model, tracking.alias)
    if version is None:
        name = f"{tracking.registered_model}@{tracking.alias}"
        raise StoreProblem(f"no registered model version {name}")
    return version


@with_store
def signature(ctx: Context, params: NoParams, store: Store, tracking: Tracking) -> Outcome:
    """The champion model was logged with a signature and an input example.

    The signature records the input columns and types the model expects; the input
    example shows a valid request. Half the credit each. Fix: pass
    `signature=infer_signature(X, model.predict(X))` and `input_example=X.head(3)` to
    `mlflow.<flavor>.log_model`.
    """
    version = champion_version(store, tracking)
    mlmodel, _ = store.mlmodel(version)
    label = f"{tracking.registered_model}@{tracking.alias} (version {version.version})"
    if mlmodel is None:
        return failed(f"the model files of {label} are not in the store", {})
    has_signature = bool((mlmodel.get("signature") or {}).get("inputs"))
    has_example = bool(mlmodel.get("saved_input_example_info"))
    evidence = {"signature": mlmodel.get("signature"), "input_example": has_example}
    missing = [
        n for n, ok in (("signature", has_signature), ("input example", has_example)) if not ok
    ]
    if missing:
        return failed(
            f"{label} was logged without {' and '.join(missing)}", evidence, 1 - len(missing) / 2
        )
    return passed(f"{label} has a signature and an input example", evidence)
