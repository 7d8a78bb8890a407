"""Load a team's MLflow model and predict, inside a sandbox container only.

Loading a model unpickles it, and unpickling runs whatever code the pickle names: it never
happens on the grader's host. The host only copies the model's files (plain file copies,
nothing is deserialized) next to the records to predict and a small script; the container
installs MLflow and the model's own requirements with network, then predicts without it.
That install is cached (grader/envcache.py), keyed by the MLflow version and the model's
requirement files: the model's own files are copied in fresh on every run.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from grader.envcache import EnvCache
from grader.sandbox import run_in_sandbox
from grader.sandboxtools import pip_install
from grader.text import tail

if TYPE_CHECKING:
    from grader.engine import NetworkMode

OUTPUT = "predictions.json"
DEFAULT_IMAGE = "python:3.11-slim"
PYTHON = re.compile(r"^(3\.\d+)")
VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]{0,30}$")
# What the auto setup installs from, relative to the work folder (the model is in model/).
REQUIREMENT_FILES = ("model/requirements.txt", "model/conda.yaml", "model/python_env.yaml")
# A requirement that is a file or a path: its content is not in the key, so no cache.
LOCAL_REQUIREMENT = re.compile(r"^\s*(?:-|\.|/|\S*file:)", re.M)
SCRIPT = """\
import json

import mlflow.pyfunc
import pandas as pd

records, also = json.load(open("records.json"))
model = mlflow.pyfunc.load_model("model")
schema = model.metadata.get_input_schema()


def predict(records):
    frame = pd.DataFrame(records)
    # JSON and CSV give 127 for a column the signature declares double: MLflow refuses to
    # convert int64 to float64 itself, so the columns are cast as the signature says.
    for spec in getattr(schema, "inputs", None) or []:
        kind = getattr(getattr(spec, "type", None), "name", "")
        if getattr(spec, "name", None) in frame and kind in ("double", "float"):
            wanted = "float64" if kind == "double" else "float32"
            frame[spec.name] = frame[spec.name].astype(wanted)
    out = model.predict(frame)
    if hasattr(out, "columns"):  # a DataFrame: one column is the prediction itself
        out = out.iloc[:, 0] if out.shape[1] == 1 else out.to_dict(orient="records")
    if hasattr(out, "tolist"):
        out = out.tolist()
    return list(out)


done = {"predictions": predict(records), "also": {}}
for name, more in also.items():  # another check's records: their failure is theirs alone
    try:
        done["also"][name] = predict(more)
    except Exception as exc:
        done["also"][name] = f"{type(exc).__name__}: {exc}"
with open("predictions.json", "w") as handle:
    json.dump(done, handle, default=str)
"""


@dataclass(frozen=True)
class Sandboxed:
    image: str = "auto"
    setup: str | None = "auto"
    timeout: float = 300
    setup_timeout: float = 900
    memory: str = "2g"
    run_id: str = "local"
    check_id: str = ""
    network_mode: NetworkMode | None = None


@dataclass(frozen=True)
class Predictions:
    values: list[Any]
    environment: str  # where MLflow and the requirements came from (cached or installed)
    also: dict[str, list[Any] | str] = field(default_factory=dict)  # predictions, or why not


class PredictionFailed(Exception):
    """The model could not be loaded or could not predict: the message says why."""


def predict(
    model_dir: Path,
    records: list[dict[str, Any]],
    box: Sandboxed,
    also: dict[str, list[dict[str, Any]]] | None = None,
) -> Predictions:
    """The model's predictions for `records`, computed in a container; with `also`, the
    same loaded model predicts those record sets too (one load for what two checks ask:
    `Predictions.also` has each set's predictions, or why it could not)."""
    with tempfile.TemporaryDirectory(prefix="grader-predict-") as tmp:
        work = Path(tmp)
        shutil.copytree(model_dir, work / "model", symlinks=True)
        (work / "records.json").write_text(json.dumps([records, also or {}]), encoding="utf-8")
        (work / "predict.py").write_text(SCRIPT, encoding="utf-8")
        result = run_in_sandbox(
            work,
            ["python", "predict.py"],
            image=_image(model_dir, box.image),
            setup=_setup(model_dir, box.setup),
            cache=_cache(model_dir, box.setup),
            timeout=box.timeout,
            setup_timeout=box.setup_timeout,
            memory=box.memory,
            collect=[OUTPUT],
            run_id=box.run_id,
            check_id=box.check_id,
            network_mode=box.network_mode,
        )
    if not result.ok or OUTPUT not in result.files:
        what = "installing its requirements" if result.setup_failed else "loading or predicting"
        why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        raise PredictionFailed(f"{what} failed ({why}): {tail(result.output, 1500)}")
    try:
        output = json.loads(result.files[OUTPUT])
    except ValueError:
        output = None
    if not isinstance(output, dict) or not isinstance(output.get("predictions"), list):
        raise PredictionFailed("the model's output is not a list of predictions")
    more = output.get("also")
    sets = more.items() if isinstance(more, dict) else ()
    kept = {k: v for k, v in sets if isinstance(v, list | str)}  # predictions, or why not
    return Predictions(output["predictions"], result.environment, kept)


def _image(model_dir: Path, image: str) -> str:
    """`auto`: python:X.Y-slim with the Python version that saved the model."""
    if image != "auto":
        return image
    try:
        env = yaml.safe_load((model_dir / "python_env.yaml").read_text(encoding="utf-8"))
        found = PYTHON.match(str(env.get("python", "")))
    except (OSError, yaml.YAMLError, AttributeError):
        found = None
    return f"python:{found.group(1)}-slim" if found else DEFAULT_IMAGE


def _setup(model_dir: Path, setup: str | None) -> str | None:
    """`auto`: the MLflow version that saved the model, plus the model's requirements."""
    if setup != "auto":
        return setup
    steps = [pip_install(f"mlflow-skinny=={_mlflow_version(model_dir)} pandas")]
    if (model_dir / "requirements.txt").is_file():
        steps.append(pip_install("-r model/requirements.txt"))
    return " && ".join(steps)


def _cache(model_dir: Path, setup: str | None) -> EnvCache | None:
    """`auto` setup: cached by the model's requirement files; any other: installed each time."""
    if setup != "auto":
        return None
    path = model_dir / "requirements.txt"
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    if path.is_symlink() or LOCAL_REQUIREMENT.search(text):
        return None
    return EnvCache(REQUIREMENT_FILES)


def _mlflow_version(model_dir: Path) -> str:
    try:
        data = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        saved = str(data.get("mlflow_version") or "")
    except (OSError, yaml.YAMLError, AttributeError):
        saved = ""
    if VERSION.match(saved):  # the file is the team's: nothing else reaches the shell
        return saved
    try:
        return version("mlflow")
    except PackageNotFoundError:
        return "3.17.2"
