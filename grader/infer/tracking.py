"""The MLflow tracking store and what the code logs to it: a committed `mlflow.db` (read
with sqlite, read-only), an `mlruns/` folder, and literals passed to MLflow's API in the code
(`set_tracking_uri`, `set_experiment`, `registered_model_name=`, `register_model`)."""

from __future__ import annotations

import ast
import contextlib
import re
import sqlite3
from pathlib import Path

from grader.infer.app import _call_name, _kwarg, _literal
from grader.infer.draft import Draft
from grader.infer.files import RepoFiles

LOCAL_SERVER = re.compile(r"^https?://(localhost|127\.0\.0\.1|0\.0\.0\.0)(:|/|$)", re.I)
# Metric names the grader can measure, most telling first, with their direction.
METRICS = {
    "f1_macro": "maximize",
    "f1": "maximize",
    "roc_auc": "maximize",
    "accuracy": "maximize",
    "precision": "maximize",
    "recall": "maximize",
    "r2": "maximize",
    "rmse": "minimize",
    "mae": "minimize",
    "mape": "minimize",
    "log_loss": "minimize",
}


def infer_tracking(files: RepoFiles, draft: Draft) -> None:
    calls = _mlflow_calls(files)
    stores = [p for p in files.glob("mlflow.db", "*.db") if p.endswith("mlflow.db")]
    if stores:
        store = sorted(stores, key=lambda p: p.count("/"))[0]
        draft.set("tracking.uri", f"sqlite:///{store}", f"{store} is committed")
        _from_database(files.root / store, store, draft)
    elif files.is_dir("mlruns"):
        draft.set("tracking.uri", "mlruns", "mlruns/ is committed")
        _from_file_store(files, draft)
    elif "set_tracking_uri" in calls:
        uri, where = calls["set_tracking_uri"]
        if LOCAL_SERVER.match(str(uri)):
            why = f"the code logs to a server on the team's machine ({uri}, {where}); no store"
            draft.missing("tracking.uri", why + " is committed")
        else:
            draft.set("tracking.uri", uri, where, "medium")
    for name, path in (
        ("set_experiment", "tracking.experiment"),
        ("registered_model_name", "tracking.registered_model"),
        ("register_model", "tracking.registered_model"),
        ("alias", "tracking.alias"),
    ):
        if name in calls:
            value, where = calls[name]
            draft.set(path, value, where, "medium")
    if not calls and not stores and not files.is_dir("mlruns"):
        return  # no MLflow here: leave the section out
    for path, why in (
        ("tracking.experiment", "no experiment name in the store or the code"),
        ("tracking.registered_model", "no registered model in the store or the code"),
        ("tracking.primary_metric", "no metric the grader knows in the store or the code"),
    ):
        draft.missing(path, why)
    metric = calls.get("metric")
    if metric is not None:
        draft.set("tracking.primary_metric", metric[0], metric[1], "low")


def _mlflow_calls(files: RepoFiles) -> dict[str, tuple[object, str]]:
    """The first literal argument of each MLflow call of interest, with where it is."""
    found: dict[str, tuple[object, str]] = {}
    for rel in files.python_files():
        text = files.text(rel) or ""
        if "mlflow" not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                _one_call(node, f"{rel}:{node.lineno}", found)
    return found


def _one_call(node: ast.Call, where: str, found: dict[str, tuple[object, str]]) -> None:
    name = _call_name(node)
    first = _literal(node.args[0]) if node.args else None
    if name in ("set_tracking_uri", "set_experiment") and isinstance(first, str):
        found.setdefault(name, (first, where))
    registered = _literal(_kwarg(node, "registered_model_name"))
    if isinstance(registered, str):
        found.setdefault("registered_model_name", (registered, where))
    if name == "register_model" and len(node.args) > 1:
        model = _literal(node.args[1])
        if isinstance(model, str):
            found.setdefault("register_model", (model, where))
    if name == "set_registered_model_alias" and len(node.args) > 1:
        alias = _literal(node.args[1])
        if isinstance(alias, str):
            found.setdefault("alias", (alias, where))
    if name in ("log_metric", "log_metrics"):
        names = (
            [first]
            if name == "log_metric"
            else list(first or {})
            if isinstance(first, dict)
            else []
        )
        for metric in METRICS:
            if metric in names:
                best = found.get("metric")
                if best is None or list(METRICS).index(metric) < _rank(best[0]):
                    found["metric"] = ({"name": metric, "direction": METRICS[metric]}, where)


def _rank(metric: object) -> int:
    name = metric.get("name") if isinstance(metric, dict) else None
    return list(METRICS).index(name) if name in METRICS else len(METRICS)


def _from_database(path: Path, rel: str, draft: Draft) -> None:
    """Read-only: the store's experiment, registered model, alias and logged metrics."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return
    with contextlib.closing(db):
        experiments = _rows(db, "SELECT name FROM experiments WHERE lifecycle_stage = 'active'")
        named = [e for e in experiments if e != "Default"]
        if len(named) == 1:
            draft.set("tracking.experiment", named[0], f"{rel} (experiments)")
        models = _rows(db, "SELECT name FROM registered_models")
        if len(models) == 1:
            draft.set("tracking.registered_model", models[0], f"{rel} (registered_models)")
            aliases = _rows(db, "SELECT alias FROM registered_model_aliases")
            if len(set(aliases)) == 1:
                draft.set("tracking.alias", aliases[0], f"{rel} (registered_model_aliases)")
            elif not aliases:
                draft.missing("tracking.alias", "the registered model has no alias")
        logged = set(_rows(db, "SELECT DISTINCT key FROM metrics"))
        for metric, direction in METRICS.items():
            if metric in logged:
                draft.set(
                    "tracking.primary_metric",
                    {"name": metric, "direction": direction},
                    f"{rel} (metrics: the first of {', '.join(sorted(logged))[:80]})",
                    "low",
                )
                break


def _rows(db: sqlite3.Connection, query: str) -> list[str]:
    try:
        return [str(row[0]) for row in db.execute(query)]
    except sqlite3.Error:
        return []


def _from_file_store(files: RepoFiles, draft: Draft) -> None:
    names = []
    for rel in files.glob("mlruns/*/meta.yaml"):
        for line in (files.text(rel) or "").splitlines():
            if line.startswith("name:"):
                names.append(line.split(":", 1)[1].strip().strip("'\""))
    named = [n for n in names if n != "Default"]
    if len(named) == 1:
        draft.set("tracking.experiment", named[0], "mlruns/*/meta.yaml")
    models = sorted({p.split("/")[2] for p in files.glob("mlruns/models/*/meta.yaml")})
    if len(models) == 1:
        draft.set("tracking.registered_model", models[0], "mlruns/models/")
