"""A generated repo in its own fresh venv: make lint, test, train, monitor, serve + smoke.

Slow: `make setup` installs the pinned dependencies from PyPI into a new venv (once per
session, shared by both example tasks) and pre-commit builds its hook environments.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from grader.checks.base import Context
from grader.checks.registry import REGISTRY
from grader.manifest import load_manifest
from grader.rubric import KIT_RUBRICS, load_rubric
from tests.template.template_helpers import clean_env, free_port, run

pytestmark = pytest.mark.slow

TASKS = ["classification", "regression"]
PRIMARY = {"classification": "f1_macro", "regression": "rmse"}
PACKAGES = {"classification": "wine_service", "regression": "diabetes_service"}


def make(repo: Path, venv_dir: Path, *targets: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["make", *targets, f"VENV={venv_dir}"], cwd=repo, env=clean_env(venv_dir, **env))


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql, params))


@pytest.mark.parametrize("task", TASKS)
def test_make_lint_passes(generated: dict[str, Path], team_venv: Path, task: str) -> None:
    done = make(generated[task], team_venv, "lint")
    assert "Failed" not in done.stdout


def test_make_turns_mlflow_telemetry_off_unless_asked(generated: dict[str, Path]) -> None:
    repo = generated["classification"]
    show = ["make", "-s", "--eval", "show: ; @echo $$MLFLOW_DISABLE_TELEMETRY", "show"]
    unset = {k: v for k, v in clean_env().items() if k != "MLFLOW_DISABLE_TELEMETRY"}
    assert run(show, cwd=repo, env=unset).stdout.strip() == "true"
    asked = clean_env(MLFLOW_DISABLE_TELEMETRY="false")
    assert run(show, cwd=repo, env=asked).stdout.strip() == "false"


@pytest.mark.parametrize("task", TASKS)
def test_make_test_passes_the_coverage_gate(
    generated: dict[str, Path], team_venv: Path, task: str
) -> None:
    done = make(generated[task], team_venv, "test")
    assert "Required test coverage of 80.0% reached" in done.stdout
    assert " failed" not in done.stdout.splitlines()[-1]


@pytest.mark.parametrize("task", TASKS)
def test_make_train_registers_and_gates_the_champion(
    generated: dict[str, Path], team_venv: Path, task: str
) -> None:
    repo, python = generated[task], str(team_venv / "bin" / "python")
    env = clean_env(team_venv)
    env.pop("MLFLOW_TRACKING_URI", None)
    make(repo, team_venv, "train")
    make(repo, team_venv, "train")  # same seed: same metric, so no promotion
    worse = [python, "-m", f"{PACKAGES[task]}.train", "--param", "model=baseline"]
    assert "did not beat the champion" in run(worse, cwd=repo, env=env).stdout

    db = repo / "mlflow.db"
    runs = query(db, "SELECT run_uuid, status FROM runs ORDER BY start_time")
    assert [status for _, status in runs] == ["FINISHED"] * 3
    metrics = [
        query(db, "SELECT value FROM latest_metrics WHERE run_uuid=? AND key=?", rid, PRIMARY[task])
        for rid, _ in runs
    ]
    assert metrics[0] == metrics[1], "same seed, same metric"
    assert metrics[2] != metrics[0]
    versions = query(db, "SELECT version, run_id, status FROM model_versions ORDER BY version")
    assert [(v, status) for v, _, status in versions] == [(1, "READY"), (2, "READY"), (3, "READY")]
    alias = query(db, "SELECT version FROM registered_model_aliases WHERE alias='champion'")
    assert alias == [(1,)], "only the first version beat the champion"
    # The kit's m2 quality check holds the champion to the course's bar or the team's target.
    quality = load_rubric(KIT_RUBRICS / "m2.yaml").check("quality")
    ctx = Context(repo, None, load_manifest(repo / "capstone.yaml"))
    graded = REGISTRY[quality.check].func(ctx, quality.params)
    assert graded.status == "passed", graded.message
    tags = dict(query(db, "SELECT key, value FROM tags WHERE run_uuid=?", runs[0][0]))
    head = run(["git", "rev-parse", "HEAD"], cwd=repo).stdout.strip()
    assert tags["git_commit"] == tags["mlflow.source.git.commit"] == head

    bundle = json.loads((repo / "model" / "metadata.json").read_text())
    assert (bundle["version"], bundle["run_id"]) == ("1", runs[0][0])

    # What a team commits after training still passes its hooks.
    run(["git", "add", "--all"], cwd=repo)
    run([str(team_venv / "bin" / "pre-commit"), "run", "--all-files"], cwd=repo, env=env)

    # The served model is the registered champion; the smoke test passes on the host.
    port = free_port()
    server = subprocess.Popen(
        ["make", "serve", f"VENV={team_venv}", f"PORT={port}"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        make(repo, team_venv, "smoke", PORT=str(port))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/model", timeout=10) as answer:
            served = json.load(answer)
        assert (served["version"], served["run_id"]) == ("1", runs[0][0])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    # The served requests were logged; make monitor writes the drift report from them.
    done = make(repo, team_venv, "monitor")
    assert "request(s) checked" in done.stdout
    report = json.loads((repo / "reports" / "drift.json").read_text())
    assert report["rows"] >= 1
    assert (repo / "reports" / "drift.md").read_text().startswith("# Drift report")


def test_train_respects_mlflow_tracking_uri(
    generated: dict[str, Path], team_venv: Path, tmp_path: Path
) -> None:
    repo = generated["regression"]
    store = tmp_path / "elsewhere.db"
    env = clean_env(team_venv, MLFLOW_TRACKING_URI=f"sqlite:///{store}", MODEL_DIR=str(tmp_path))
    python = str(team_venv / "bin" / "python")
    started = time.monotonic()
    run([python, "-m", f"{PACKAGES['regression']}.train", "--seed", "3"], cwd=repo, env=env)
    assert time.monotonic() - started < 120
    assert query(store, "SELECT count(*) FROM runs") == [(1,)]
    assert (tmp_path / "metadata.json").is_file()
