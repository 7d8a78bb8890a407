"""The model: how it is built, trained on the training file, and evaluated on the held-out file.

No tracking here (see `train.py`): these functions are what the tests and the image build use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
{%- if cookiecutter.task == "classification" %}
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
{%- else %}
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
{%- endif %}
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from {{ cookiecutter.package_name }}.config import DIRECTION, SLICE_FEATURE, Settings
from {{ cookiecutter.package_name }}.data import features_and_target, load_dataset
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES

{%- if cookiecutter.task == "classification" %}

# "baseline" predicts the most frequent class: every real model must beat it.
DEFAULT_PARAMS: dict[str, Any] = {"model": "logistic_regression", "C": 1.0, "max_iter": 1000}
{%- else %}

# "baseline" predicts the mean of the training target: every real model must beat it.
DEFAULT_PARAMS: dict[str, Any] = {"model": "ridge", "alpha": 0.1}
{%- endif %}


def split(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Training rows from `data_path`, held-out rows from `holdout_path`: a fixed split that
    lives in the repository, so every run (and the grader) measures on the same rows."""
    x_train, y_train = features_and_target(load_dataset(settings.data_path))
    x_test, y_test = features_and_target(load_dataset(settings.holdout_path))
    return x_train, x_test, y_train, y_test


def build_pipeline(params: dict[str, Any], seed: int) -> Pipeline:
    """A scikit-learn pipeline from hyperparameters (unknown keys are an error)."""
    params = {**DEFAULT_PARAMS, **params}
    kind = params.pop("model")
{%- if cookiecutter.task == "classification" %}
    if kind == "baseline":
        estimator: Any = DummyClassifier(strategy="most_frequent")
    elif kind == "logistic_regression":
        estimator = LogisticRegression(
            C=float(params.pop("C")), max_iter=int(params.pop("max_iter")), random_state=seed
        )
{%- else %}
    if kind == "baseline":
        estimator: Any = DummyRegressor(strategy="mean")
    elif kind == "ridge":
        estimator = Ridge(alpha=float(params.pop("alpha")), random_state=seed)
{%- endif %}
    else:
        raise ValueError(
            f"unknown model {kind!r}: use one of {DEFAULT_PARAMS['model']!r}, 'baseline'"
        )
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


def to_matrix(features: pd.DataFrame) -> np.ndarray:
    """Features in schema order as a float matrix: what the service feeds the model too."""
    return features.loc[:, list(FEATURE_NAMES)].to_numpy(dtype="float64")


def fit(params: dict[str, Any], x_train: pd.DataFrame, y_train: pd.Series, seed: int) -> Pipeline:
    pipeline = build_pipeline(params, seed)
    pipeline.fit(to_matrix(x_train), y_train.to_numpy())
    return pipeline


def evaluate(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> dict[str, float]:
    """Held-out metrics; the primary metric is one of them."""
    predicted = model.predict(to_matrix(features))
    truth = target.to_numpy()
{%- if cookiecutter.task == "classification" %}
    # Log loss reads the probabilities: unlike accuracy it moves with any change of the
    # model, so a rerun that does not reproduce the model shows up here first.
    probabilities = model.predict_proba(to_matrix(features))
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
        "log_loss": float(log_loss(truth, probabilities, labels=list(model.classes_))),
    }
{%- else %}
    return {
        "rmse": float(np.sqrt(mean_squared_error(truth, predicted))),
        "mae": float(mean_absolute_error(truth, predicted)),
        "r2": float(r2_score(truth, predicted)),
    }
{%- endif %}


def slice_metrics(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, feature: str = SLICE_FEATURE
) -> dict[str, float]:
    """Metrics on each side of the median of one feature: a quality gap shows up here."""
    median = float(features[feature].median())
    result: dict[str, float] = {}
    for name, mask in (("low", features[feature] <= median), ("high", features[feature] > median)):
        if mask.sum() < 2:
            continue
        for metric, value in evaluate(model, features[mask], target[mask]).items():
            result[f"slice_{feature}_{name}_{metric}"] = value
    return result


def is_better(new: float, current: float | None, direction: str = DIRECTION) -> bool:
    """The promotion gate: strictly better than the current champion (or no champion yet)."""
    if current is None or np.isnan(current):
        return True
    return new > current if direction == "maximize" else new < current
