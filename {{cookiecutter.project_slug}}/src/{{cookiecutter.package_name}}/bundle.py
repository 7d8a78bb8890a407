"""The model bundle the service loads: `model/` with the fitted pipeline and its metadata.

`make train` exports the registered champion here (see `train.py`), and you commit the
folder: the Docker image copies it, so the container never needs the tracking store or a
network. When a checkout has no bundle yet, `python -m {{ cookiecutter.package_name }}.bundle --ensure`
(run by the image build) trains one with the fixed seed, marked `source: image-build`.
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from {{ cookiecutter.package_name }}.config import DIRECTION, PRIMARY_METRIC, TASK, Settings
from {{ cookiecutter.package_name }}.schema import CLASSES, FEATURE_NAMES

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
REFERENCE_FILE = "reference.json"
REFERENCE_BINS = 10


class BundleError(RuntimeError):
    """The bundle is missing or unreadable."""


@dataclass(frozen=True)
class Bundle:
    model: Any
    metadata: dict[str, Any]
    reference: dict[str, Any]


def build_reference(matrix: np.ndarray, bins: int = REFERENCE_BINS) -> dict[str, Any]:
    """Per-feature quantile bins of the training data: the baseline for drift (PSI)."""
    reference: dict[str, Any] = {}
    for column, name in enumerate(FEATURE_NAMES):
        values = matrix[:, column]
        quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(quantiles)
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        reference[name] = {
            "edges": [float(edge) for edge in edges],
            "proportions": [float(count) / len(values) for count in counts],
            "mean": float(values.mean()),
            "std": float(values.std()),
        }
    return reference


def save_bundle(
    directory: Path, model: Any, metadata: dict[str, Any], reference: dict[str, Any]
) -> Path:
    import sklearn  # here, not at the top: the service starts faster without it

    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / MODEL_FILE)
    full = {
        "task": TASK,
        "features": list(FEATURE_NAMES),
        "classes": list(CLASSES),
        "primary_metric": {"name": PRIMARY_METRIC, "direction": DIRECTION},
        "sklearn_version": sklearn.__version__,
        "python_version": platform.python_version(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **metadata,
    }
    (directory / METADATA_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    (directory / REFERENCE_FILE).write_text(json.dumps(reference, indent=2) + "\n")
    return directory


def load_bundle(directory: Path) -> Bundle:
    """Load the bundle; a missing or broken one raises `BundleError` with the reason."""
    try:
        model = joblib.load(directory / MODEL_FILE)
        metadata = json.loads((directory / METADATA_FILE).read_text())
        reference = json.loads((directory / REFERENCE_FILE).read_text())
    except (OSError, ValueError, EOFError) as exc:
        raise BundleError(f"cannot load the model bundle from {directory}: {exc}") from exc
    if metadata.get("features") != list(FEATURE_NAMES):
        raise BundleError(
            f"{directory}: the model was trained on features {metadata.get('features')}, "
            f"but schema.py declares {list(FEATURE_NAMES)}: retrain with `make train`"
        )
    return Bundle(model=model, metadata=metadata, reference=reference)


def fast_inference() -> Any:
    """scikit-learn settings for serving input that is already validated (finite numbers,
    known columns): skip the finiteness scan and parameter checks on every call."""
    import sklearn

    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


def train_bundle(settings: Settings, directory: Path) -> Path:
    """Train with the fixed seed and the default parameters, without tracking."""
    from {{ cookiecutter.package_name }}.modeling import DEFAULT_PARAMS, evaluate, fit, split, to_matrix

    x_train, x_test, y_train, y_test = split(settings)
    model = fit({}, x_train, y_train, settings.seed)
    metadata = {
        "name": settings.registered_model,
        "version": None,
        "run_id": None,
        "alias": None,
        "source": "image-build",
        "params": {**DEFAULT_PARAMS, "seed": settings.seed},
        "metrics": evaluate(model, x_test, y_test),
        "git_commit": None,
    }
    return save_bundle(directory, model, metadata, build_reference(to_matrix(x_train)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check or create the model bundle.")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--ensure", action="store_true", help="train a bundle when there is none (image build)"
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    directory = args.model_dir or settings.model_dir
    if args.ensure and not (directory / MODEL_FILE).exists():
        print(f"no bundle in {directory}: training one with seed {settings.seed}")
        train_bundle(settings, directory)
    bundle = load_bundle(directory)
    meta = bundle.metadata
    print(
        f"bundle ok: {meta.get('name')} version {meta.get('version')} "
        f"({meta.get('source')}), metrics {meta.get('metrics')}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
