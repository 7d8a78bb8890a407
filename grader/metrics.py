"""The primary metric, computed by the grader with scikit-learn's own metric functions.

A team names its metric as it likes (`f1_macro`, `test_f1_macro`, `val_rmse`, `RMSE`):
the name is normalised (case, a split prefix such as `test_`, `val_` or `holdout_`, and
common spellings) to one of the metrics below; anything else is not known here, and the
team's evaluation command has to measure it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

PREFIX = re.compile(r"^(?:test|val|valid|validation|holdout|heldout|eval|final)[_-]")
ALIASES = {
    "acc": "accuracy",
    "accuracy_score": "accuracy",
    "f1_score": "f1",
    "macro_f1": "f1_macro",
    "f1macro": "f1_macro",
    "weighted_f1": "f1_weighted",
    "precision_score": "precision",
    "recall_score": "recall",
    "auc": "roc_auc",
    "roc_auc_score": "roc_auc",
    "logloss": "log_loss",
    "cross_entropy": "log_loss",
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "r2_score": "r2",
    "r_squared": "r2",
    "mean_absolute_percentage_error": "mape",
}


@dataclass(frozen=True)
class Measured:
    """A primary metric the grader measured itself, for the checks that grade it."""

    name: str
    value: float
    run_id: str
    source: str


LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mse", "mae", "mape"})


class MetricProblem(Exception):
    """The predictions do not fit the metric (labels where scores are needed, ...)."""


def canonical(name: str) -> str:
    """The metric a team's name stands for (`test_F1-Macro` -> `f1_macro`)."""
    key = PREFIX.sub("", name.strip().lower()).replace("-", "_")
    return ALIASES.get(key, key)


def known(name: str) -> bool:
    return canonical(name) in METRICS


def compute(name: str, truth: Sequence[Any], predicted: Sequence[Any]) -> float:
    """The metric `name` of `predicted` against `truth`; MetricProblem when they do not fit."""
    if len(truth) != len(predicted):
        raise MetricProblem(f"{len(predicted)} predictions for {len(truth)} rows")
    if not truth:
        raise MetricProblem("no rows to measure on")
    try:
        value = METRICS[canonical(name)](list(truth), list(predicted))
    except (TypeError, ValueError) as exc:
        raise MetricProblem(str(exc).splitlines()[0][:300]) from None
    if not math.isfinite(value):
        raise MetricProblem(f"{name} is not a finite number ({value})")
    return value


def _labels(values: list[Any]) -> list[Any]:
    """Labels as one comparable type: numbers stay numbers, anything else becomes text."""
    if all(isinstance(v, bool | int | float) for v in values):
        return values
    return [str(v) for v in values]


def _classes(truth: list[Any], predicted: list[Any]) -> tuple[list[Any], list[Any], str]:
    y_true, y_pred = _labels(truth), _labels(predicted)
    if {type(v) for v in y_true} != {type(v) for v in y_pred}:
        y_true, y_pred = [str(v) for v in truth], [str(v) for v in predicted]
    average = "binary" if len(set(y_true) | set(y_pred)) <= 2 else "macro"
    return y_true, y_pred, average


def _positive(labels: list[Any]) -> Any:
    """The positive class of a binary problem: 1, True, 'yes'... else the larger label."""
    found = sorted(set(labels), key=str)
    for candidate in (1, True, "1", "yes", "true", "positive"):
        if candidate in found:
            return candidate
    return found[-1]


def _classification(func: Callable[..., float], average: str | None = None) -> Callable[..., float]:
    def metric(truth: list[Any], predicted: list[Any]) -> float:
        y_true, y_pred, default = _classes(truth, predicted)
        chosen = average or default
        extra: dict[str, Any] = {"average": chosen, "zero_division": 0}
        if chosen == "binary":
            extra["pos_label"] = _positive(y_true)
        return float(func(y_true, y_pred, **extra))

    return metric


def _scores(predicted: list[Any]) -> list[float]:
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in predicted):
        raise MetricProblem("needs a score or probability per row; the model predicts labels")
    return [float(v) for v in predicted]


def _accuracy(truth: list[Any], predicted: list[Any]) -> float:
    from sklearn.metrics import accuracy_score

    y_true, y_pred, _ = _classes(truth, predicted)
    return float(accuracy_score(y_true, y_pred))


def _roc_auc(truth: list[Any], predicted: list[Any]) -> float:
    from sklearn.metrics import roc_auc_score

    positive = _positive(_labels(truth))
    return float(roc_auc_score([v == positive for v in _labels(truth)], _scores(predicted)))


def _log_loss(truth: list[Any], predicted: list[Any]) -> float:
    from sklearn.metrics import log_loss

    positive = _positive(_labels(truth))
    return float(log_loss([v == positive for v in _labels(truth)], _scores(predicted)))


def _regression(name: str) -> Callable[[list[Any], list[Any]], float]:
    def metric(truth: list[Any], predicted: list[Any]) -> float:
        from sklearn import metrics

        y_true, y_pred = [float(v) for v in truth], _scores(predicted)
        if name == "rmse":
            return math.sqrt(float(metrics.mean_squared_error(y_true, y_pred)))
        func = {
            "mse": metrics.mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "r2": metrics.r2_score,
            "mape": metrics.mean_absolute_percentage_error,
        }[name]
        return float(func(y_true, y_pred))

    return metric


def _sklearn(name: str) -> Callable[..., float]:
    def call(*args: Any, **kwargs: Any) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(*args, **kwargs))

    return call


METRICS: dict[str, Callable[[list[Any], list[Any]], float]] = {
    "accuracy": _accuracy,
    "f1": _classification(_sklearn("f1_score")),
    "f1_macro": _classification(_sklearn("f1_score"), "macro"),
    "f1_weighted": _classification(_sklearn("f1_score"), "weighted"),
    "f1_micro": _classification(_sklearn("f1_score"), "micro"),
    "precision": _classification(_sklearn("precision_score")),
    "precision_macro": _classification(_sklearn("precision_score"), "macro"),
    "recall": _classification(_sklearn("recall_score")),
    "recall_macro": _classification(_sklearn("recall_score"), "macro"),
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    **{name: _regression(name) for name in ("rmse", "mse", "mae", "r2", "mape")},
}
