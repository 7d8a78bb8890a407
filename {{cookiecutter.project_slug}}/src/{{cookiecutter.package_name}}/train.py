"""Train, track in MLflow, register, and promote the champion only when it is better.

    python -m {{ cookiecutter.package_name }}.train [--seed 42] [--param C=0.5] [--param model=baseline]

`train()` runs four steps, one function each:

1. `fit_and_evaluate`: loads and validates the training and held-out files, fits the
   pipeline with the seed, measures it on the held-out file (overall and per slice).
2. `log_run`: logs params, metrics, the git commit, and the model with its signature and
   an input example to MLflow (`sqlite:///mlflow.db` in the repository unless
   `MLFLOW_TRACKING_URI` names a tracking server), which registers a new version.
3. `promote`: the promotion gate; the alias `champion` moves to the new version only when
   its primary metric beats the current champion's.
4. `export_bundle`: when the champion changed, exports it to `model/` for the service and
   the image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from {{ cookiecutter.package_name }}.bundle import build_reference, save_bundle
from {{ cookiecutter.package_name }}.config import ALIAS, DIRECTION, PRIMARY_METRIC, Settings
from {{ cookiecutter.package_name }}.modeling import (
    DEFAULT_PARAMS,
    evaluate,
    fit,
    is_better,
    slice_metrics,
    split,
    to_matrix,
)


def git_commit() -> tuple[str, bool]:
    """The commit being trained, and whether the work tree has uncommitted changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return sha, bool(dirty)


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs; numbers become int or float."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--param {pair!r}: expected KEY=VALUE")
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        params[key] = value
    return params


def champion_metric(client: Any, name: str, alias: str) -> tuple[str | None, float | None]:
    """Version and primary metric of the current champion, or (None, None)."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    metrics = client.get_run(version.run_id).data.metrics
    return version.version, metrics.get(PRIMARY_METRIC)


@dataclass(frozen=True)
class Trained:
    """A fitted model, the parameters it was fitted with, and what it scored on held-out rows."""

    model: Any
    params: dict[str, Any]
    metrics: dict[str, float]
    slices: dict[str, float]
    x_train: pd.DataFrame
    x_test: pd.DataFrame


@dataclass(frozen=True)
class Promotion:
    """The promotion gate's decision, and the champion it compared against (if any)."""

    promoted: bool
    champion_version: str | None
    champion_metric: float | None


def fit_and_evaluate(settings: Settings, params: dict[str, Any]) -> Trained:
    """Fit the pipeline on the training rows with the seed; measure it on the held-out rows."""
    x_train, x_test, y_train, y_test = split(settings)
    model = fit(params, x_train, y_train, settings.seed)
    metrics = evaluate(model, x_test, y_test)
    slices = slice_metrics(model, x_test, y_test)
    all_params = {**DEFAULT_PARAMS, **params, "seed": settings.seed}
    return Trained(model, all_params, metrics, slices, x_train, x_test)


def log_run(settings: Settings, trained: Trained, commit: str, dirty: bool) -> tuple[str, str]:
    """One MLflow run: tags, params, metrics, and the model (signature, input example),
    registered as a new version. Returns the run id and the version."""
    import mlflow
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(settings.experiment)
    with mlflow.start_run() as run:
        mlflow.set_tags(
            {
                "mlflow.source.git.commit": commit,
                "git_commit": commit,
                "git_dirty": str(dirty).lower(),
                "data_path": str(settings.data_path),
                "holdout_path": str(settings.holdout_path),
                "n_rows": str(len(trained.x_train)),
                "n_holdout_rows": str(len(trained.x_test)),
            }
        )
        mlflow.log_params(trained.params)
        mlflow.log_metrics({**trained.metrics, **trained.slices})
        mlflow.log_dict({"metrics": trained.metrics, "slices": trained.slices}, "evaluation.json")
        example = trained.x_test.head(3)
        signature = infer_signature(example, trained.model.predict(to_matrix(example)))
        # MLflow checks the input example by calling the model with a DataFrame; the
        # pipeline was fitted on a plain matrix (as the service sends), hence a warning.
        warnings.filterwarnings("ignore", message="X has feature names")
        logged = mlflow.sklearn.log_model(
            trained.model,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=settings.registered_model,
            # Named explicitly: faster than MLflow's inference, and exactly what we pin.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"],
        )
    return run.info.run_id, str(logged.registered_model_version)


def promote(settings: Settings, version: str, metric: float, commit: str) -> Promotion:
    """The promotion gate: the alias moves to `version` only when its primary metric beats
    the current champion's. Either way the version is tagged with the commit and the decision."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    old_version, old_metric = champion_metric(client, settings.registered_model, settings.alias)
    promoted = is_better(metric, old_metric, DIRECTION)
    client.set_model_version_tag(settings.registered_model, version, "git_commit", commit)
    client.set_model_version_tag(
        settings.registered_model, version, "promoted", str(promoted).lower()
    )
    if promoted:
        client.set_registered_model_alias(settings.registered_model, settings.alias, version)
    return Promotion(promoted, old_version, old_metric)


def export_bundle(
    settings: Settings, trained: Trained, run_id: str, version: str, commit: str
) -> Path:
    """Write the champion to `settings.model_dir` for the service and the image."""
    metadata = {
        "name": settings.registered_model,
        "version": version,
        "run_id": run_id,
        "alias": settings.alias,
        "source": "registry",
        "params": trained.params,
        "metrics": {**trained.metrics, **trained.slices},
        "git_commit": commit,
        "tracking_uri": settings.tracking_uri,
    }
    reference = build_reference(to_matrix(trained.x_train))
    return save_bundle(settings.model_dir, trained.model, metadata, reference)


def train(settings: Settings, params: dict[str, Any], export: bool = True) -> dict[str, Any]:
    """One tracked training run: fit, log, promote, export. Returns a summary (run id,
    version, metric, whether it was promoted and exported)."""
    warnings.filterwarnings("ignore", module="mlflow")
    trained = fit_and_evaluate(settings, params)
    commit, dirty = git_commit()
    run_id, version = log_run(settings, trained, commit, dirty)
    new_metric = trained.metrics[PRIMARY_METRIC]
    gate = promote(settings, version, new_metric, commit)
    exported = gate.promoted and export
    if exported:
        export_bundle(settings, trained, run_id, version, commit)
    return {
        "run_id": run_id,
        "registered_model": settings.registered_model,
        "version": version,
        "metric": {PRIMARY_METRIC: new_metric},
        "champion_before": {"version": gate.champion_version, PRIMARY_METRIC: gate.champion_metric},
        "promoted": gate.promoted,
        "alias": settings.alias if gate.promoted else None,
        "exported_to": str(settings.model_dir) if exported else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="CSV file (default: config)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter"
    )
    parser.add_argument("--no-export", action="store_true", help="do not write model/")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    overrides: dict[str, Any] = {}
    if args.data is not None:
        overrides["data_path"] = args.data
    if args.seed is not None:
        overrides["seed"] = args.seed
    if overrides:
        settings = Settings(**{**settings.__dict__, **overrides})
    summary = train(settings, parse_params(args.param), export=not args.no_export)
    print(json.dumps(summary, indent=2))
    if summary["promoted"]:
        print(f"version {summary['version']} is the new {ALIAS}")
    else:
        print(f"version {summary['version']} did not beat the {ALIAS}: alias unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
