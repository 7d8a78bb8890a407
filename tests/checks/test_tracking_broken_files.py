"""A tracking store the team committed broken is the team's fault: the checks fail, naming
the file and what is wrong with it, and `grader check` exits 0 (nothing needs a TA).

The stores are real: built with MLflow (tests/fixtures/mlflow_stores.py), then committed
with random bytes, truncated, or with a page overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.main import main
from tests.fixtures import mlflow_stores
from tests.fixtures.mlflow_stores import Variant
from tests.helpers import commit_all, write_rubric

RUBRIC = """\
milestone: t2
title: Tracking
checks:
  - {id: experiment, check: tracking.experiment, points: 5}
  - {id: runs, check: tracking.runs, points: 5, params: {min_runs: 1}}
  - {id: registered, check: tracking.registered_model, points: 5}
  - {id: signature, check: tracking.signature, points: 5}
"""
IDS = ["experiment", "runs", "registered", "signature"]
Broken = Callable[[str, Callable[[Path], None]], Path]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stores")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{var}_NAME", "Ann Lee")
            mp.setenv(f"GIT_{var}_EMAIL", "ann@example.edu")
        return {
            "sqlite": mlflow_stores.build_team(root / "sqlite", Variant(runs=1)),
            "file": mlflow_stores.build_team(root / "file", Variant(kind="file", runs=1)),
        }


@pytest.fixture
def broken(stores: dict[str, Path], tmp_path: Path) -> Broken:
    """broken(kind, damage) -> a copy of the good store's repo, damaged and committed."""

    def make(kind: str, damage: Callable[[Path], None]) -> Path:
        repo = tmp_path / kind
        shutil.copytree(stores[kind], repo, symlinks=True)
        damage(repo)
        commit_all(repo, "store")
        return repo

    return make


def _grade(repo: Path, tmp_path: Path) -> tuple[int, dict[str, tuple[str, str]]]:
    rubric = write_rubric(tmp_path / "t2.yaml", RUBRIC)
    out = tmp_path / "out"
    code = main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)])
    checks = json.loads((out / "results.json").read_text())["extra_data"]["grader"]["checks"]
    return code, {c["id"]: (c["status"], c["message"]) for c in checks}


def _all(status: str, message: str) -> dict[str, tuple[str, str]]:
    return dict.fromkeys(IDS, (status, message))


def test_the_good_store_passes(stores: dict[str, Path], tmp_path: Path) -> None:
    code, found = _grade(stores["sqlite"], tmp_path)
    assert code == 0
    assert {k: s for k, (s, _) in found.items()} == dict.fromkeys(IDS, "passed")


def test_a_mlflow_db_of_random_bytes_fails_naming_the_file(broken: Broken, tmp_path: Path) -> None:
    repo = broken("sqlite", lambda r: (r / "mlflow.db").write_bytes(os.urandom(64 * 1024)))
    code, found = _grade(repo, tmp_path)
    assert found == _all(
        "failed", "mlflow.db is not a readable MLflow store (file is not a database)"
    )
    assert code == 0  # the team's work falls short; no TA needed


@pytest.mark.parametrize("keep", [4096, 0.4])
def test_a_truncated_mlflow_db_fails_naming_the_file(
    broken: Broken, tmp_path: Path, keep: float
) -> None:
    def truncate(repo: Path) -> None:
        data = (repo / "mlflow.db").read_bytes()
        (repo / "mlflow.db").write_bytes(data[: int(keep if keep > 1 else len(data) * keep)])

    code, found = _grade(broken("sqlite", truncate), tmp_path)
    assert found == _all(
        "failed", "mlflow.db is not a readable MLflow store (database disk image is malformed)"
    )
    assert code == 0


def test_a_mlflow_db_with_overwritten_pages_fails_naming_the_file(
    broken: Broken, tmp_path: Path
) -> None:
    def scribble(repo: Path) -> None:
        data = bytearray((repo / "mlflow.db").read_bytes())
        start = len(data) // 3
        data[start:] = os.urandom(len(data) - start)  # the header and first pages survive
        (repo / "mlflow.db").write_bytes(bytes(data))

    code, found = _grade(broken("sqlite", scribble), tmp_path)
    assert {s for s, _ in found.values()} == {"failed"}
    for _, message in found.values():
        assert message.startswith("mlflow.db is not a readable MLflow store (")
    assert code == 0


def test_a_file_store_with_a_binary_meta_yaml_fails_naming_the_store(
    broken: Broken, tmp_path: Path
) -> None:
    def garble(repo: Path) -> None:
        meta = next(p for p in (repo / "mlruns").glob("*/meta.yaml") if p.parent.name != "models")
        meta.write_bytes(b"\x9e\xff" + os.urandom(300))

    code, found = _grade(broken("file", garble), tmp_path)
    for status, message in found.values():
        assert status == "failed"
        assert message.startswith("mlruns is not a readable MLflow store (a file is not UTF-8")
    assert code == 0


def test_a_corrupt_mlmodel_fails_the_signature_check_naming_the_file(
    broken: Broken, tmp_path: Path
) -> None:
    names: list[str] = []

    def corrupt(repo: Path) -> None:
        [mlmodel] = (repo / "mlruns").glob("models/*/artifacts/MLmodel")
        mlmodel.write_text("flavors: [unclosed\n  - : :\n", encoding="utf-8")
        names.append(str(mlmodel.relative_to(repo)))

    code, found = _grade(broken("sqlite", corrupt), tmp_path)
    assert found["signature"] == ("failed", f"{names[0]} of version 1 is not valid YAML")
    assert found["registered"][0] == "passed"
    assert code == 0
