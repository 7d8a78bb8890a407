"""Load a team's MLflow model and predict, inside a sandbox container only.

Loading a model unpickles it, and unpickling runs whatever code the pickle names: it never
happens on the grader's host. The host only copies the model's files (plain file copies,
nothing is deserialized) next to the records to predict and a small script; the container
predicts without network, in one of two environments:

- the team's project environment (the dependencies `tests.run` installs from its uv.lock,
  without the project itself), when the model was saved by that Python and the lock pins
  every package of the model's requirements.txt at a version it allows: teams log models
  from that environment, so it is usually exactly what the model needs. The container
  checks the installed versions first; if one does not fit, the model's own environment
  is used instead;
- else the model's own: MLflow and the model's requirements, installed with network.

Both installs are cached (grader/envcache.py); the model's own files are copied in fresh
on every run.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from grader import depset, fs
from grader.envcache import EnvCache
from grader.sandbox import SandboxResult, cached_environment, run_in_sandbox
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


UNFIT = 214  # what FITS exits with
# Run before the model loads in the team's project environment: exit UNFIT (and say why)
# when an installed version does not fit the model's requirements.txt.
FITS = """\
import sys

try:
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    lines = [line.split("#")[0].strip() for line in open("model/requirements.txt")]
    wanted = [Requirement(line) for line in lines if line]
    wanted += [Requirement("pandas")]
    unfit = []
    for req in wanted:
        try:
            have = version(req.name)
        except PackageNotFoundError:
            unfit.append(f"{req.name} is not installed")
            continue
        if not req.specifier.contains(have, prereleases=True):
            unfit.append(f"{req.name} {have} is installed, the model needs {req}")
except Exception as exc:
    unfit = [f"{type(exc).__name__}: {exc}"]
if unfit:
    print("; ".join(unfit))
    sys.exit(214)
"""


@dataclass(frozen=True)
class ProjectEnv:
    """The team's project environment, where its champion may load: the checkout whose
    files key it, the image it is installed on, the install and its cache, and the Python
    version of that image (`X.Y`)."""

    repo: Path
    image: str
    python: str
    setup: str
    cache: EnvCache


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
    project: ProjectEnv | None = None  # tried first, with `auto` image and setup


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
        result = _in_project(work, box) if project_fits(model_dir, box) else None
        unfit = result if isinstance(result, str) else None
        if not isinstance(result, SandboxResult):
            image, setup = _image(model_dir, box.image), _setup(model_dir, box.setup)
            command = ["python", "predict.py"]
            result = _predicting(work, command, image, box, setup, _cache(model_dir, box.setup))
        if unfit:  # why not the project's environment, for the TA who wonders
            where = f"{result.environment}; not the team's project environment: {unfit}"
            result = replace(result, environment=where)
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


def project_fits(model_dir: Path, box: Sandboxed) -> bool:
    """The champion may load in the team's project environment: `auto` image and setup, the
    Python version that saved it is the project's, and the project's uv.lock pins every
    package of the model's requirements.txt (and MLflow, and pandas) at a version each
    allows. Read from the team's files only: the container checks what is installed."""
    project = box.project
    if project is None or (box.image, box.setup) != ("auto", "auto"):
        return False
    if _python(model_dir) != project.python or (model_dir / "requirements.txt").is_symlink():
        return False
    locked = depset.locked_versions(fs.read_text(project.repo, "uv.lock") or "")
    try:
        text = (model_dir / "requirements.txt").read_text(encoding="utf-8")
        wanted = [_requirement(line) for line in text.splitlines()]
    except (OSError, UnicodeDecodeError, InvalidRequirement):
        return False
    saved = _mlflow_version(model_dir)
    mlflow = locked.get("mlflow", set()) | locked.get("mlflow-skinny", set())
    if saved not in mlflow or not locked.get("pandas"):
        return False
    return all(_locked_fits(req, locked) for req in wanted if req is not None)


def _requirement(line: str) -> Requirement | None:
    """A requirements.txt line as a plain requirement (None for a blank or a comment); an
    option line (`-r`, `--index-url`) raises InvalidRequirement, as does anything else."""
    text = line.split("#")[0].strip()
    return Requirement(text) if text else None


def _locked_fits(req: Requirement, locked: dict[str, set[str]]) -> bool:
    if req.url or req.marker or req.extras:
        return False  # not judged from a lock: the model's own environment installs it
    pinned = locked.get(depset.canonical_name(req.name), set())
    return bool(pinned) and all(req.specifier.contains(v, prereleases=True) for v in pinned)


def _in_project(work: Path, box: Sandboxed) -> SandboxResult | str | None:
    """Predict in the team's project environment (installed now if no check has yet); None
    when it cannot be had, what does not fit when an installed version does not (the model's
    own environment then)."""
    project = box.project
    assert project is not None
    env = cached_environment(
        project.repo,
        image=project.image,
        setup=project.setup,
        cache=project.cache,
        setup_timeout=box.setup_timeout,
        run_id=box.run_id,
        check_id=box.check_id,
        network_mode=box.network_mode,
    )
    if not isinstance(env, tuple):
        return None  # its install failed (tests.run says so) or the cache is off
    image, environment = env
    (work / "fits.py").write_text(FITS, encoding="utf-8")
    command = ["sh", "-c", "python fits.py && exec python predict.py"]
    result = _predicting(work, command, image, box)
    if result.exit_code == UNFIT and OUTPUT not in result.files:
        return tail(result.output.strip(), 300) or "an installed version does not fit"
    return replace(result, environment=f"the team's project environment, {environment}")


def _predicting(
    work: Path,
    command: list[str],
    image: str,
    box: Sandboxed,
    setup: str | None = None,
    cache: EnvCache | None = None,
) -> SandboxResult:
    """`command` run in `work` (the model, the records, the scripts) under the box's limits."""
    return run_in_sandbox(
        work,
        command,
        image=image,
        setup=setup,
        cache=cache,
        timeout=box.timeout,
        setup_timeout=box.setup_timeout,
        memory=box.memory,
        collect=[OUTPUT],
        run_id=box.run_id,
        check_id=box.check_id,
        network_mode=box.network_mode,
    )


def _python(model_dir: Path) -> str | None:
    """The `X.Y` of the Python that saved the model (its python_env.yaml)."""
    try:
        env = yaml.safe_load((model_dir / "python_env.yaml").read_text(encoding="utf-8"))
        found = PYTHON.match(str(env.get("python", "")))
    except (OSError, yaml.YAMLError, AttributeError):
        found = None
    return found.group(1) if found else None


def _image(model_dir: Path, image: str) -> str:
    """`auto`: python:X.Y-slim with the Python version that saved the model."""
    if image != "auto":
        return image
    python = _python(model_dir)
    return f"python:{python}-slim" if python else DEFAULT_IMAGE


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
