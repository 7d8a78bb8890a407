"""tracking.evaluate: load the champion in the sandbox, predict the held-out data the
manifest names, compute the primary metric with scikit-learn, and compare with the logged
value. The measured value is what tracking.metric and the leaderboard grade."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from grader import fs, metrics, modelsandbox
from grader.checks.base import ChampionExamples, Context, Outcome, Provided, failed
from grader.checks.measure import Tolerance, compare
from grader.checks.projectenv import project_sandbox
from grader.checks.provenance import example_records, model_box, model_key
from grader.checks.tracking import NO_MODEL, champion_subject
from grader.manifest import Evaluation, Manifest, PrimaryMetric, Tracking
from grader.metrics import Measured
from grader.mlflowstore import StoreProblem, open_store
from grader.results import Measure
from grader.text import tail

NO_EVALUATION = (
    "capstone.yaml has no `evaluation` section: add `evaluation: {data: [<held-out CSV in the "
    "repo>], target: <the column to predict>}`"
)
MODEL_COPY = ".grader-model"  # where the evaluation command finds the champion's files


class EvaluateParams(Tolerance):
    abs_tolerance: float = Field(0.002, ge=0, description="Largest absolute difference.")
    rel_tolerance: float = Field(0.002, ge=0, description="Largest relative difference.")
    image: str = Field(
        "auto", description="Image the model loads in (`auto`: the Python that saved it)."
    )
    setup: str | None = Field(
        "auto",
        description=(
            "Install command (`auto`: the team's project environment when it fits the model, "
            "else mlflow-skinny and the model's requirements)."
        ),
    )
    timeout: float = Field(300, gt=0, description="Seconds to load the model and predict.")
    setup_timeout: float = Field(900, gt=0)
    memory: str = "2g"


def evaluate(ctx: Context, params: EvaluateParams) -> Outcome:
    """The grader measures the champion on the held-out data, and it matches what was logged.

    The grader loads the champion (`tracking.registered_model` at `tracking.alias`) in a
    sandbox, predicts every row of `evaluation.data` from capstone.yaml, and computes the
    primary metric against `evaluation.target` with scikit-learn (accuracy, f1, f1_macro,
    precision, recall, roc_auc, log_loss, rmse, mae, r2, mape, ...; another metric comes
    from `evaluation.command`). That measured value is what `tracking.metric` grades. Fix:
    log the metric measured on exactly these held-out rows (never on training data), keep
    the held-out file in the repo, and register the model you measured.
    """
    manifest = ctx.need_manifest()
    if manifest.evaluation is None:
        return failed(NO_EVALUATION)
    tracking = manifest.tracking
    if tracking is None:
        return failed("capstone.yaml has no `tracking` section")
    try:
        records, truth = holdout(ctx.repo, manifest.evaluation)
    except ValueError as exc:
        return failed(str(exc))
    return _measure(ctx, manifest, tracking, records, truth, params)


def holdout(repo: Path, evaluation: Evaluation) -> tuple[list[dict[str, Any]], list[Any]]:
    """Feature records and target values of the held-out files (ValueError says what is off)."""
    records: list[dict[str, Any]] = []
    truth: list[Any] = []
    for rel in evaluation.data:
        text = fs.read_text(repo, rel)
        if text is None:
            raise ValueError(f"held-out file {rel} (evaluation.data) is not in the repository")
        rows = list(csv.DictReader(text.splitlines()))
        if rows and evaluation.target not in rows[0]:
            raise ValueError(f"{rel} has no column {evaluation.target!r} (evaluation.target)")
        for row in rows:
            truth.append(_value(row.pop(evaluation.target)))
            records.append({key: _value(value) for key, value in row.items()})
    if not records:
        raise ValueError(f"the held-out data {', '.join(evaluation.data)} has no rows")
    return records, truth


def _value(text: str | None) -> Any:
    """A CSV cell as the number it spells, else the text (empty: None)."""
    if text is None or text == "":
        return None
    for cast in (int, float):
        try:
            number = cast(text)
        except ValueError:
            continue
        return number if not (isinstance(number, float) and math.isnan(number)) else None
    return text


def _measure(
    ctx: Context,
    manifest: Manifest,
    tracking: Tracking,
    records: list[dict[str, Any]],
    truth: list[Any],
    params: EvaluateParams,
) -> Outcome:
    metric = tracking.primary_metric
    try:
        with open_store(ctx.repo, tracking) as store:
            subject = champion_subject(store, tracking)
            if subject.version is None and tracking.registered_model is None:
                return failed(f"no champion to measure: {NO_MODEL}")
            if subject.version is None:
                name = f"{tracking.registered_model}@{tracking.alias}"
                return failed(f"no champion to measure: no registered model version {name}")
            _, folder = store.mlmodel(subject.version)
            if folder is None:
                return failed(f"the model files of {subject.label} are missing from the store")
            shared = None
            if metrics.known(metric.name):
                found = _metric_of(ctx, folder, subject, records, truth, metric, params)
                value, how, shared = found
            else:
                value, how = _team_metric(ctx, folder, manifest.evaluation, metric, params)
    except StoreProblem as exc:
        return failed(str(exc))
    except (modelsandbox.PredictionFailed, metrics.MetricProblem) as exc:
        return failed(f"the grader could not measure {subject.label}: {exc}"[:700])
    outcome = _measured_verdict(subject, metric, value, how, len(truth), params)
    provides = dataclasses.replace(outcome.provides, champion_examples=shared)
    return dataclasses.replace(outcome, provides=provides)


def _metric_of(
    ctx: Context,
    folder: Path,
    subject: Any,
    records: list[dict[str, Any]],
    truth: list[Any],
    metric: PrimaryMetric,
    params: EvaluateParams,
) -> tuple[float, str, ChampionExamples | None]:
    """The metric on the held-out rows; the same load of the champion also predicts the
    manifest's examples, for tracking.consistency (its answers never change this verdict)."""
    name = metric.name
    examples = tuple(r for e in example_records(ctx) for r in e.records)
    box = model_box(ctx, params)
    also = {"examples": list(examples)} if examples else None
    predictions = modelsandbox.predict(folder, records, box, also)
    value = metrics.compute(name, truth, predictions.values)
    shared = None
    if "examples" in predictions.also:
        shared = ChampionExamples(
            model_key(subject.version),
            (box.image, box.setup),
            examples,
            predictions.also["examples"],
            predictions.environment,
            ctx.check_id,
        )
    return value, f"scikit-learn's {metrics.canonical(name)} ({predictions.environment})", shared


def _team_metric(
    ctx: Context,
    folder: Path,
    evaluation: Evaluation | None,
    metric: PrimaryMetric,
    params: EvaluateParams,
) -> tuple[float, str]:
    """A metric scikit-learn does not name: the team's evaluation command measures it, in
    the sandbox, on the champion's files (MODEL_URI) and the held-out data (DATA, TARGET)."""
    if evaluation is None or not evaluation.command:
        raise metrics.MetricProblem(
            f"it does not know the metric {metric.name!r}: name one of "
            f"{', '.join(sorted(metrics.METRICS))}, or give evaluation.command"
        )
    box = project_sandbox(ctx, params.image, params.setup)
    with tempfile.TemporaryDirectory(prefix="grader-evaluate-") as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(ctx.repo, work, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        shutil.copytree(folder, work / MODEL_COPY, symlinks=True)
        result = box.run(
            work,
            evaluation.command,
            timeout=params.timeout,
            setup_timeout=params.setup_timeout,
            memory=params.memory,
            env={
                "MODEL_URI": f"/repo/{MODEL_COPY}",
                "DATA": ",".join(evaluation.data),
                "TARGET": evaluation.target,
            },
        )
    if not result.ok:
        raise metrics.MetricProblem(
            f"evaluation.command failed (exit code {result.exit_code}): {tail(result.output, 300)}"
        )
    return _printed_metric(result.output, metric.name), "evaluation.command, in the sandbox"


def _printed_metric(output: str, name: str) -> float:
    """The metric from the last line of the command's output that is a JSON object."""
    for line in reversed(output.strip().splitlines()):
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get(name), int | float):
            return float(data[name])
    raise metrics.MetricProblem(f"evaluation.command printed no JSON line with {name!r}")


def _measured_verdict(
    subject: Any, metric: PrimaryMetric, value: float, how: str, rows: int, params: Tolerance
) -> Outcome:
    run = subject.run
    logged = run.data.metrics.get(metric.name)
    measured = Measured(metric.name, value, str(run.info.run_id), f"measured by the grader: {how}")
    evidence = {
        "measured": value,
        "logged": logged,
        "rows": rows,
        "run_id": run.info.run_id,
        "how": measured.source,
    }
    provides = Provided(measured_metric=measured)
    order = "asc" if metric.direction == "minimize" else "desc"
    figure = Measure(kind="metric", name=metric.name, value=value, order=order)
    where = f"on {rows} held-out rows"
    if logged is None:
        message = f"measured {metric.name} = {value:.4g} {where}; {subject.label} logged none"
        return Outcome("failed", 0.0, message, evidence, provides, (figure,))
    differs = compare(metric, float(logged), value, params)
    message = f"measured {metric.name} = {value:.4g} {where}, logged {float(logged):.4g}"
    if differs is None:
        message = f"{message} for {subject.label}"
        return Outcome("passed", 1.0, message, evidence, provides, (figure,))
    return Outcome("failed", 0.0, f"{message}: {differs}", evidence, provides, (figure,))
