"""Mutants of the reference team's model and tracking, for the grader's self-test: a logged
metric raised in the store, a metric measured on the training rows, an unseeded training,
API tests that accept any answer; each retrains the team (in its own virtual environment)
where the mutation needs a new champion.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from grader.manifest import Manifest


def store_paths(repo: Path, manifest: Manifest) -> list[Path]:
    uri = manifest.tracking.uri if manifest.tracking else "sqlite:///mlflow.db"
    local = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else uri
    return [repo / local, repo / "mlruns", repo / "mlartifacts"]


def _champion_run(db: Path, manifest: Manifest) -> tuple[str, float]:
    """Run id and primary metric of the committed champion (the reference is trusted)."""
    from mlflow import MlflowClient

    tracking = manifest.tracking
    assert tracking is not None
    assert tracking.registered_model is not None
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias(tracking.registered_model, tracking.alias)
    run = client.get_run(str(version.run_id))
    return str(version.run_id), float(run.data.metrics[tracking.primary_metric.name])


def raise_logged_metric(repo: Path, manifest: Manifest) -> None:
    """One SQL statement per table: the champion's primary metric looks better than it is."""
    assert manifest.tracking is not None
    db = store_paths(repo, manifest)[0]
    run_id, value = _champion_run(db, manifest)
    better = (
        value + 0.02 if manifest.tracking.primary_metric.direction == "maximize" else 0.9 * value
    )
    key = manifest.tracking.primary_metric.name
    with sqlite3.connect(db) as connection:
        for table in ("metrics", "latest_metrics"):
            connection.execute(
                f"UPDATE {table} SET value = ? WHERE run_uuid = ? AND key = ?",
                (better, run_id, key),
            )


def _edit_source(repo: Path, name: str, old: str, new: str) -> None:
    for module in sorted(repo.glob(f"src/**/{name}")):
        text = module.read_text(encoding="utf-8")
        if old in text:
            module.write_text(text.replace(old, new, 1), encoding="utf-8")
            return
    raise ValueError(f"no src/**/{name} holds {old.strip()!r}")


def train_split_metric(repo: Path, manifest: Manifest) -> None:
    """The metrics are measured on the training rows, then the champion is trained again."""
    _edit_source(
        repo,
        "train.py",
        "metrics = evaluate(model, x_test, y_test)",
        "metrics = evaluate(model, x_train, y_train)",
    )
    retrain(repo, manifest)


UNSEEDED = """
    import random

    rows = random.Random().sample(range(len(x_train)), int(0.5 * len(x_train)))
    x_train, y_train = x_train.iloc[rows], y_train.iloc[rows]
"""


def unseeded_training(repo: Path, manifest: Manifest) -> None:
    """Training draws its rows from an unseeded random source, then trains again."""
    for module in sorted(repo.glob("src/**/modeling.py")):
        text = module.read_text(encoding="utf-8")
        found = re.search(r"(?m)^def fit\(.*x_train.*y_train.*\n", text)
        if found:
            text = text[: found.end()] + UNSEEDED.lstrip("\n") + text[found.end() :]
            module.write_text(text, encoding="utf-8")
            break
    else:
        raise ValueError("no src/**/modeling.py defines fit(..., x_train, y_train, ...)")
    retrain(repo, manifest)


def retrain(repo: Path, manifest: Manifest, times: int = 2) -> None:
    """The training command on the host, from a fresh store, with the reference's own
    virtual environment (the clone's origin), the clone's code first on the path."""
    if manifest.training is None:
        raise ValueError("capstone.yaml has no training command")
    python = _reference_venv(repo)
    for path in [*store_paths(repo, manifest), repo / "model"]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "PATH": f"{python}{os.pathsep}{env.get('PATH', '')}",
        "VIRTUAL_ENV": str(python.parent),
        "PYTHONPATH": str(repo / "src"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if manifest.training.seed is not None:
        env["SEED"] = str(manifest.training.seed)
    for _ in range(times):
        done = subprocess.run(
            ["sh", "-c", manifest.training.command],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ValueError(f"training failed: {(done.stdout + done.stderr)[-800:]}")


def _reference_venv(repo: Path) -> Path:
    """bin/ of the reference's .venv: the clone's origin is the reference checkout."""
    origin = subprocess.run(
        ["git", "-C", str(repo), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    bin_dir = Path(origin) / ".venv" / "bin"
    if not (bin_dir / "python").exists():
        raise ValueError(f"this mutant trains: it needs {bin_dir.parent} (`make setup` there)")
    return bin_dir


def lenient_api_tests(repo: Path, manifest: Manifest) -> None:
    """The API tests accept a server error and no longer look at what the model answers."""
    selectors = manifest.tests.kinds.get("api", ()) or ("tests",)
    files = [
        p
        for s in selectors
        for p in ([repo / s] if s.endswith(".py") else (repo / s).glob("**/*.py"))
    ]
    for path in files:
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.strip()
            if code.startswith("assert") and "status_code == 200" in code:
                line = line.replace("status_code == 200", "status_code in (200, 500)")
            elif code.startswith("assert") and any(w in code for w in LOOKS_AT_ANSWERS):
                line = line[: len(line) - len(line.lstrip())] + "assert True"
            lines.append(line)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


LOOKS_AT_ANSWERS = ('["prediction"] ==', "QUALITY_THRESHOLD", "residual", '["prediction"] <')
