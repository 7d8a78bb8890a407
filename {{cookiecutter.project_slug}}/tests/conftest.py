"""Shared fixtures: the example data, a trained model bundle, and a test client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.api import app
from {{ cookiecutter.package_name }}.bundle import MODEL_FILE, load_bundle, train_bundle
from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.data import load_dataset

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings that write only under a temporary folder."""
    tmp = tmp_path_factory.mktemp("run")
    return replace(
        Settings(),
        data_path=ROOT / Settings.data_path,
        holdout_path=ROOT / Settings.holdout_path,
        model_dir=tmp / "model",
        tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
        prediction_log=tmp / "logs" / "predictions.jsonl",
        report_dir=tmp / "reports",
    )


@pytest.fixture(scope="session")
def dataset(settings: Settings) -> pd.DataFrame:
    return load_dataset(settings.data_path)


@pytest.fixture(scope="session")
def bundle_dir(settings: Settings) -> Path:
    """The model you ship (`model/`, exported by `make train`), so the API tests check the
    model the image serves; a fresh checkout without one trains a bundle instead."""
    shipped = ROOT / Settings.model_dir
    if (shipped / MODEL_FILE).is_file():
        shutil.copytree(shipped, settings.model_dir)
        return settings.model_dir
    return train_bundle(settings, settings.model_dir)


@pytest.fixture(scope="session")
def bundle(bundle_dir: Path):
    return load_bundle(bundle_dir)


@pytest.fixture
def service_env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, bundle_dir: Path
) -> pytest.MonkeyPatch:
    """The environment the service reads when it starts, as in the image: the test bundle,
    and a prediction log in the temporary folder. Set more variables on what it returns."""
    monkeypatch.setenv("MODEL_DIR", str(bundle_dir))
    monkeypatch.setenv("PREDICTION_LOG", str(settings.prediction_log))
    return monkeypatch


@pytest.fixture
def client(service_env: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The service, started as uvicorn starts it: `with` runs its lifespan (loads the model)."""
    with TestClient(app) as client:
        yield client
