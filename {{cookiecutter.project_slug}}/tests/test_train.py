"""Tracking tests: a run in MLflow, a registered version, and the promotion gate."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.bundle import load_bundle
from {{ cookiecutter.package_name }}.config import ALIAS, PRIMARY_METRIC, Settings
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES
from {{ cookiecutter.package_name }}.train import git_commit, main, parse_params, train


@pytest.fixture(scope="module")
def runs(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("tracking")
    local = replace(
        settings, tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", model_dir=tmp / "model"
    )
    first = train(local, {})
    again = train(local, {})
    worse = train(local, {"model": "baseline"})
    return [first, again, worse, {"settings": local}]


def test_first_run_becomes_champion_and_is_exported(runs: list[dict]) -> None:
    first, settings = runs[0], runs[3]["settings"]
    assert first["promoted"]
    assert first["version"] == "1"
    bundle = load_bundle(settings.model_dir)
    assert bundle.metadata["version"] == "1"
    assert bundle.metadata["run_id"] == first["run_id"]
    assert bundle.metadata["source"] == "registry"


def test_same_seed_gives_same_metric_and_keeps_the_champion(runs: list[dict]) -> None:
    first, again = runs[0], runs[1]
    assert again["metric"] == first["metric"]
    assert not again["promoted"]


def test_worse_model_is_registered_but_not_promoted(runs: list[dict]) -> None:
    settings, worse = runs[3]["settings"], runs[2]
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    assert worse["version"] == "3"
    assert not worse["promoted"]
    champion = client.get_model_version_by_alias(settings.registered_model, ALIAS)
    assert str(champion.version) == "1"


def test_run_has_params_metrics_tags_and_signature(runs: list[dict]) -> None:
    settings, first = runs[3]["settings"], runs[0]
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    run = client.get_run(first["run_id"])
    assert run.info.status == "FINISHED"
    assert PRIMARY_METRIC in run.data.metrics
    assert any(key.startswith("slice_") for key in run.data.metrics)
    assert run.data.params["seed"] == str(settings.seed)
    assert run.data.tags["git_commit"] == run.data.tags["mlflow.source.git.commit"]
    info = mlflow.models.get_model_info(f"models:/{settings.registered_model}/1")
    assert info.signature is not None
    assert [spec.name for spec in info.signature.inputs] == list(FEATURE_NAMES)


def test_parse_params() -> None:
    assert parse_params(["C=0.5", "max_iter=10", "model=baseline"]) == {
        "C": 0.5,
        "max_iter": 10,
        "model": "baseline",
    }
    with pytest.raises(SystemExit):
        parse_params(["nonsense"])


def test_git_commit_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_commit() == ("unknown", False)


def test_cli(runs: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # A copy of the tracking tests' store: a new one would take a second to create.
    settings = runs[3]["settings"]
    shutil.copyfile(settings.tracking_uri.removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "model"))
    assert main(["--data", str(settings.data_path), "--seed", "7", "--no-export"]) == 0
    out = capsys.readouterr().out
    assert '"version": "4"' in out
    assert "version 4 is the new champion" in out or "version 4 did not beat" in out
    assert not (tmp_path / "model").exists()
