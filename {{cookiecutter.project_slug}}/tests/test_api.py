"""API tests: operations endpoints, predictions, and 422 (never 500) on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }} import api
from {{ cookiecutter.package_name }}.config import QUALITY_THRESHOLD, Settings
from {{ cookiecutter.package_name }}.data import features_and_target, load_dataset
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES, FEATURES, Record, example_record


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_predict_one(client: TestClient) -> None:
    answer = client.post("/predict", json=example_record())
    assert answer.status_code == 200
    body = answer.json()
{%- if cookiecutter.task == "classification" %}
    assert body["prediction"] == "class_0"
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-3
{%- else %}
    assert 0 < body["prediction"] < 400
{%- endif %}
    assert "model_version" in body


def test_predict_batch_keeps_order(client: TestClient) -> None:
    one = client.post("/predict", json=example_record()).json()["prediction"]
    answer = client.post("/predict/batch", json={"instances": [example_record()] * 3})
    assert answer.status_code == 200
    assert [item["prediction"] for item in answer.json()["predictions"]] == [one] * 3


def test_served_model_is_good_on_held_out_data(client: TestClient, settings: Settings) -> None:
    """The model the service answers with (the one you ship in model/) is as good on the
    held-out rows as the project promises: a broken or constant model fails here."""
    features, target = features_and_target(load_dataset(settings.holdout_path))
    answer = client.post("/predict/batch", json={"instances": features.to_dict(orient="records")})
    assert answer.status_code == 200
    predicted = [item["prediction"] for item in answer.json()["predictions"]]
    truth = target.tolist()
{%- if cookiecutter.task == "classification" %}
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert accuracy >= QUALITY_THRESHOLD
{%- else %}
    mean = sum(truth) / len(truth)
    residual = sum((t - p) ** 2 for p, t in zip(predicted, truth, strict=True))
    total = sum((t - mean) ** 2 for t in truth)
    assert 1 - residual / total >= QUALITY_THRESHOLD  # R^2
{%- endif %}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {}),
        ("/predict", {**example_record(), FEATURE_NAMES[0]: "text"}),
        ("/predict", {**example_record(), FEATURE_NAMES[0]: -1e9}),
        ("/predict", {**example_record(), "unknown": 1.0}),
        ("/predict", [1, 2, 3]),
        ("/predict/batch", {"instances": []}),
        ("/predict/batch", {"instances": [example_record()] * 1001}),
        ("/predict/batch", example_record()),
    ],
)
def test_bad_input_is_422(client: TestClient, path: str, body: object) -> None:
    assert client.post(path, json=body).status_code == 422


def test_malformed_json_and_nan_are_422(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert client.post("/predict", content=b"{not json", headers=headers).status_code == 422
    nan = "{" + ", ".join(f'"{n}": NaN' for n in FEATURE_NAMES) + "}"
    assert client.post("/predict", content=nan, headers=headers).status_code == 422


def test_model_info(client: TestClient) -> None:
    info = client.get("/model").json()
    assert info["features"] == list(FEATURE_NAMES)
    assert set(info) >= {"name", "version", "run_id", "metrics", "git_commit"}


def test_metrics_count_requests_and_predictions(client: TestClient) -> None:
    client.post("/predict", json=example_record())
    client.post("/predict", json={})
    text = client.get("/metrics").text
    assert 'http_requests_total{method="POST",path="/predict",status="200"}' in text
    assert 'http_requests_total{method="POST",path="/predict",status="422"}' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "predictions_total" in text


def test_openapi_has_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Record"]["examples"] == [example_record()]


def test_record_follows_the_feature_list() -> None:
    """`Record` (what the API accepts) and `FEATURES` (what the data and drift checks read)
    describe the same features, in the same order, with the same ranges."""
    fields = Record.model_json_schema()["properties"]
    assert list(fields) == list(FEATURE_NAMES)
    for feature in FEATURES:
        field = fields[feature.name]
        assert field["description"] == feature.description
        assert (field.get("minimum"), field.get("maximum")) == (feature.minimum, feature.maximum)
    Record(**example_record())  # the documented example is valid


def test_not_ready_without_a_model(service_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    service_env.setenv("MODEL_DIR", str(tmp_path / "missing"))
    with TestClient(api.app) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "model not loaded" in ready.json()["detail"]
        assert client.post("/predict", json=example_record()).status_code == 503
        assert client.get("/model").status_code == 503


def test_unexpected_errors_are_json_500(service_env: pytest.MonkeyPatch) -> None:
    def bug(records: list[dict[str, float]]) -> None:
        raise RuntimeError("bug")

    service_env.setattr(api, "predict_records", bug)
    with TestClient(api.app, raise_server_exceptions=False) as client:
        answer = client.post("/predict", json=example_record())
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error"}
