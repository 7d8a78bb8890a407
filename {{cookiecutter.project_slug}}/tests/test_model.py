"""Model tests: quality on held-out data, determinism, invariance, directional behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.config import DIRECTION, PRIMARY_METRIC, QUALITY_THRESHOLD, Settings
from {{ cookiecutter.package_name }}.modeling import (
    build_pipeline,
    evaluate,
    fit,
    is_better,
    slice_metrics,
    split,
    to_matrix,
)
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES, example_record


@pytest.fixture(scope="module")
def trained(settings: Settings):
    x_train, x_test, y_train, y_test = split(settings)
    return fit({}, x_train, y_train, settings.seed), x_test, y_test


def test_quality_on_held_out_data(trained) -> None:
    model, x_test, y_test = trained
    metrics = evaluate(model, x_test, y_test)
{%- if cookiecutter.task == "classification" %}
    assert metrics["accuracy"] >= QUALITY_THRESHOLD
    assert metrics["f1_macro"] >= QUALITY_THRESHOLD
{%- else %}
    assert metrics["r2"] >= QUALITY_THRESHOLD
{%- endif %}


def test_beats_the_baseline(trained, settings: Settings) -> None:
    model, x_test, y_test = trained
    x_train, _, y_train, _ = split(settings)
    baseline = fit({"model": "baseline"}, x_train, y_train, settings.seed)
    ours = evaluate(model, x_test, y_test)[PRIMARY_METRIC]
    theirs = evaluate(baseline, x_test, y_test)[PRIMARY_METRIC]
    assert is_better(ours, theirs, DIRECTION)


def test_same_seed_same_metrics(settings: Settings) -> None:
    runs = []
    for _ in range(2):
        x_train, x_test, y_train, y_test = split(settings)
        runs.append(evaluate(fit({}, x_train, y_train, settings.seed), x_test, y_test))
    assert runs[0] == runs[1]


def test_invariance_to_tiny_noise_and_row_order(trained) -> None:
    model, x_test, _ = trained
    matrix = to_matrix(x_test)
    forward = model.predict(matrix)
    backward = model.predict(matrix[::-1])[::-1]
    noisy = model.predict(matrix * (1 + 1e-9))
{%- if cookiecutter.task == "classification" %}
    assert list(backward) == list(forward)
    assert list(noisy) == list(forward)
{%- else %}
    assert np.allclose(backward, forward)
    assert np.allclose(noisy, forward, rtol=1e-6)
{%- endif %}


def test_directional_behaviour(trained) -> None:
    model, _, _ = trained
    base = example_record()
{%- if cookiecutter.task == "classification" %}
    # More proline is typical of class_0 wines: its probability must not go down.
    richer = {**base, "proline": base["proline"] * 1.5}
    rows = np.array([[r[n] for n in FEATURE_NAMES] for r in (base, richer)])
    classes = list(model.classes_)
    probabilities = model.predict_proba(rows)[:, classes.index("class_0")]
    assert probabilities[1] >= probabilities[0]
{%- else %}
    # A higher body mass index predicts more disease progression.
    heavier = {**base, "bmi": base["bmi"] + 0.05}
    rows = np.array([[r[n] for n in FEATURE_NAMES] for r in (base, heavier)])
    predictions = model.predict(rows)
    assert predictions[1] > predictions[0]
{%- endif %}


def test_slice_metrics_cover_both_sides(trained) -> None:
    model, x_test, y_test = trained
    slices = slice_metrics(model, x_test, y_test)
    assert any("_low_" in key for key in slices)
    assert any("_high_" in key for key in slices)


def test_promotion_gate() -> None:
    assert is_better(0.9, None, "maximize")
    assert is_better(0.9, float("nan"), "maximize")
    assert is_better(0.9, 0.8, "maximize")
    assert not is_better(0.8, 0.8, "maximize")
    assert is_better(10.0, 12.0, "minimize")
    assert not is_better(12.0, 10.0, "minimize")


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        build_pipeline({"model": "magic"}, seed=0)
