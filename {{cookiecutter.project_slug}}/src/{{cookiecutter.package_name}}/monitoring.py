"""Monitoring: log served predictions, and measure drift against the training data.

Drift is the population stability index (PSI) per feature, over the quantile bins of the
training data that the bundle stores in `reference.json`. Rule of thumb: PSI < 0.1 no
change, 0.1-0.2 moderate, > 0.2 (the default threshold) a shift worth acting on.

    python -m {{ cookiecutter.package_name }}.monitoring [--log logs/predictions.jsonl] [--out reports]

writes `reports/drift.json` and `reports/drift.md` (what `make monitor` runs).
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from {{ cookiecutter.package_name }}.config import Settings
from {{ cookiecutter.package_name }}.schema import FEATURE_NAMES

EPSILON = 1e-4


def psi(reference: dict[str, Any], values: np.ndarray) -> float:
    """Population stability index of `values` against one feature's reference bins."""
    edges = np.asarray(reference["edges"], dtype="float64")
    expected = np.asarray(reference["proportions"], dtype="float64")
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(expected))
    actual = counts / max(len(values), 1)
    expected = np.clip(expected, EPSILON, None)
    actual = np.clip(actual, EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift_scores(reference: dict[str, Any], matrix: np.ndarray) -> dict[str, float]:
    """PSI of every feature; `matrix` has one column per feature in schema order."""
    return {
        name: psi(reference[name], matrix[:, column])
        for column, name in enumerate(FEATURE_NAMES)
        if name in reference
    }


def drift_report(
    reference: dict[str, Any], records: Sequence[dict[str, Any]], threshold: float
) -> dict[str, Any]:
    """The drift report as data: per-feature PSI, and which features are over the threshold."""
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(records),
        "threshold": threshold,
        "method": "psi",
        "features": {},
        "drifted_features": [],
        "drift": False,
    }
    if not records:
        return report
    matrix = np.array([[float(r[name]) for name in FEATURE_NAMES] for r in records])
    for name, score in drift_scores(reference, matrix).items():
        drifted = score > threshold
        report["features"][name] = {"psi": round(score, 6), "drifted": drifted}
        if drifted:
            report["drifted_features"].append(name)
    report["drift"] = bool(report["drifted_features"])
    return report


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Drift report",
        "",
        f"Generated {report['generated_at']} from {report['rows']} logged request(s); "
        f"method PSI, threshold {report['threshold']}.",
        "",
    ]
    if not report["rows"]:
        lines.append("No served requests were logged yet: nothing to compare.")
        return "\n".join(lines) + "\n"
    verdict = ", ".join(report["drifted_features"]) if report["drift"] else "none"
    lines += [
        f"**Drifted features:** {verdict}",
        "",
        "| feature | PSI | drifted |",
        "| --- | ---: | --- |",
    ]
    for name, entry in report["features"].items():
        lines.append(f"| {name} | {entry['psi']:.4f} | {'yes' if entry['drifted'] else 'no'} |")
    return "\n".join(lines) + "\n"


def read_log(path: Path) -> list[dict[str, Any]]:
    """Feature records of a prediction log (JSON lines); unreadable lines are skipped."""
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        features = entry.get("features") if isinstance(entry, dict) else None
        if isinstance(features, dict) and all(name in features for name in FEATURE_NAMES):
            records.append(features)
    return records


class PredictionLog:
    """Append served predictions (features, prediction, model version) as JSON lines."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle: TextIO | None = None

    def write(
        self, records: Iterable[dict[str, Any]], predictions: Iterable[Any], version: Any
    ) -> None:
        if self.path is None:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = [
            json.dumps({"ts": now, "model_version": version, "features": r, "prediction": p})
            for r, p in zip(records, predictions, strict=True)
        ]
        with self._lock:
            if self._handle is None:  # opened once, kept open: one write per request
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("a", encoding="utf-8", buffering=1)
            self._handle.write("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description="Write a drift report from the prediction log.")
    parser.add_argument("--log", type=Path, default=settings.prediction_log)
    parser.add_argument("--reference", type=Path, default=settings.model_dir / "reference.json")
    parser.add_argument("--out", type=Path, default=settings.report_dir)
    parser.add_argument("--threshold", type=float, default=settings.drift_threshold)
    parser.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when a feature drifted"
    )
    args = parser.parse_args(argv)
    if not args.reference.is_file():
        print(f"no reference at {args.reference}: run `make train` first")
        return 2
    reference = json.loads(args.reference.read_text())
    records = read_log(args.log) if args.log else []
    report = drift_report(reference, records, args.threshold)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drift.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "drift.md").write_text(render_markdown(report))
    status = f"drift in {', '.join(report['drifted_features'])}" if report["drift"] else "no drift"
    print(f"{report['rows']} request(s) checked: {status}; report in {args.out}/drift.md")
    return 1 if report["drift"] and args.fail_on_drift else 0


if __name__ == "__main__":
    raise SystemExit(main())
