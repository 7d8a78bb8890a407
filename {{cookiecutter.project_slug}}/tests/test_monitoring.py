"""Monitoring tests: prediction logging, PSI drift on an undrifted and a drifted fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.api import app
from {{ cookiecutter.package_name }}.bundle import Bundle
from {{ cookiecutter.package_name }}.bundle import main as bundle_main
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.monitoring import drift_report, main, read_log, render_markdown
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES

SHIFTED = FEATURE_NAMES[:3]


def write_log(path: Path, frame: pd.DataFrame) -> Path:
    lines = [json.dumps({"features": row, "prediction": None}) for row in frame.to_dict("records")]
    path.write_text("\n".join([*lines, "not json"]) + "\n")
    return path


@pytest.fixture
def undrifted(dataset: pd.DataFrame) -> pd.DataFrame:
    """Requests that look like the training data: a resample of it."""
    return dataset.loc[:, list(FEATURE_NAMES)].sample(n=300, replace=True, random_state=1)


@pytest.fixture
def drifted(undrifted: pd.DataFrame) -> pd.DataFrame:
    """The same requests with three features shifted by three standard deviations."""
    shifted = undrifted.copy()
    for name in SHIFTED:
        shifted[name] = shifted[name] + 3 * shifted[name].std()
    return shifted


def test_undrifted_requests_do_not_trip_the_flag(bundle: Bundle, undrifted: pd.DataFrame) -> None:
    report = drift_report(bundle.reference, undrifted.to_dict("records"), threshold=0.2)
    assert report["rows"] == 300
    assert report["drift"] is False
    assert report["drifted_features"] == []


def test_drifted_requests_trip_the_flag(bundle: Bundle, drifted: pd.DataFrame) -> None:
    report = drift_report(bundle.reference, drifted.to_dict("records"), threshold=0.2)
    assert report["drift"] is True
    assert set(SHIFTED) <= set(report["drifted_features"])
    assert "| yes |" in render_markdown(report)


def test_monitor_cli_writes_reports(
    bundle_dir: Path, drifted: pd.DataFrame, tmp_path: Path
) -> None:
    log = write_log(tmp_path / "predictions.jsonl", drifted)
    args = ["--log", str(log), "--reference", str(bundle_dir / "reference.json")]
    assert main([*args, "--out", str(tmp_path / "out")]) == 0
    assert main([*args, "--out", str(tmp_path / "out"), "--fail-on-drift"]) == 1
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["drift"] is True
    assert "Drifted features" in (tmp_path / "out" / "drift.md").read_text()


def test_monitor_cli_without_requests_or_reference(bundle_dir: Path, tmp_path: Path) -> None:
    reference = str(bundle_dir / "reference.json")
    out = tmp_path / "out"
    missing_log = str(tmp_path / "none.jsonl")
    assert main(["--log", missing_log, "--reference", reference, "--out", str(out)]) == 0
    assert "No served requests" in (out / "drift.md").read_text()
    assert main(["--reference", str(tmp_path / "missing.json")]) == 2


def test_served_requests_are_logged_and_drift_gauges_exposed(
    service_env: pytest.MonkeyPatch, drifted: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "served.jsonl"
    service_env.setenv("PREDICTION_LOG", str(log))
    records = drifted.head(60).to_dict("records")  # over the 50 the drift gauges wait for
    with TestClient(app) as client:
        assert client.post("/predict/batch", json={"instances": records}).status_code == 200
        assert len(read_log(log)) == 60
        text = client.get("/metrics").text
    assert 'feature_drift_psi{feature="' + SHIFTED[0] + '"}' in text
    assert "drift_detected " in text
    assert "drift_detected 0.0" not in text


def test_bundle_cli_checks_and_ensures(
    bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    assert bundle_main(["--model-dir", str(bundle_dir)]) == 0
    monkeypatch.setenv("DATA_PATH", str(settings.data_path))
    assert bundle_main(["--ensure", "--model-dir", str(tmp_path / "fresh")]) == 0
    assert (tmp_path / "fresh" / "model.joblib").exists()
