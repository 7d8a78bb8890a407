"""Where a team's champion loads: its project environment when that fits the model, else the
model's own (MLflow and the model's requirements)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from grader import modelsandbox
from grader.depset import locked_versions
from grader.envcache import EnvCache, remove_cache_images
from grader.modelsandbox import FITS, UNFIT, ProjectEnv, Sandboxed, predict, project_fits
from tests.fixtures.mlflow_stores import RECORDS, iris_model
from tests.helpers import build_tree
from tests.services import grader_leftovers, network_mode, new_run_id

MLFLOW, PANDAS, SKLEARN = version("mlflow"), version("pandas"), version("scikit-learn")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # what the test models name


def lock(pins: dict[str, str]) -> str:
    """A uv.lock pinning these packages (and the project itself, from the checkout)."""
    entries = ['version = 1\n\n[[package]]\nname = "team-service"\nversion = "0.1.0"\n'
               'source = { editable = "." }\n']  # fmt: skip
    entries += [
        f'[[package]]\nname = "{name}"\nversion = "{pinned}"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        for name, pinned in pins.items()
    ]
    return "\n".join(entries)


TEMPLATE_PINS = {"mlflow": MLFLOW, "pandas": PANDAS, "scikit-learn": SKLEARN, "numpy": "2.4.6"}


def model_folder(root: Path, requirements: str, python: str = "3.11.7") -> Path:
    """The files of a logged model that say what it needs (as MLflow writes them)."""
    return build_tree(
        root,
        {
            "MLmodel": f"mlflow_version: {MLFLOW}\nflavors: {{}}\n",
            "python_env.yaml": f"python: {python}\ndependencies:\n- -r requirements.txt\n",
            "requirements.txt": requirements,
        },
    )


def boxed(repo: Path, python: str = "3.11", **given: str | None) -> Sandboxed:
    project = ProjectEnv(repo, "python:3.11-slim", python, "true", EnvCache(("uv.lock",)))
    return Sandboxed(project=project, **given)  # type: ignore[arg-type]


TEMPLATE_MODEL = f"mlflow=={MLFLOW}\nscikit-learn=={SKLEARN}\nnumpy==2.4.6"


@pytest.fixture
def team(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "team", {"uv.lock": lock(TEMPLATE_PINS)})


def test_a_lock_pins_each_version_of_each_package_by_canonical_name() -> None:
    older = '\n[[package]]\nname = "numpy"\nversion = "1.26.4"\n'  # for another Python
    text = lock({"Scikit_Learn": "1.9.1", "numpy": "2.4.6"}) + older
    found = locked_versions(text)
    assert found["scikit-learn"] == {"1.9.1"}
    assert found["numpy"] == {"2.4.6", "1.26.4"}
    assert locked_versions("not [toml") == {}


def test_a_model_logged_from_the_projects_lock_fits_it(team: Path, tmp_path: Path) -> None:
    model = model_folder(tmp_path / "model", TEMPLATE_MODEL)
    assert project_fits(model, boxed(team))
    ranges = model_folder(tmp_path / "ranges", "# logged\nscikit-learn>=1.0,<2\n\npandas\n")
    assert project_fits(ranges, boxed(team))


@pytest.mark.parametrize(
    ("requirements", "python", "why"),
    [
        (TEMPLATE_MODEL + "\nskops==0.16.0", "3.11", "a package the lock does not pin"),
        (f"mlflow=={MLFLOW}\nscikit-learn==1.5.0", "3.11", "another version than the lock's"),
        (TEMPLATE_MODEL, "3.12", "the project runs another Python"),
        (TEMPLATE_MODEL + "\n-r more.txt", "3.11", "an option line"),
        (TEMPLATE_MODEL + '\nnumpy; python_version < "3.0"', "3.11", "a marker"),
        ("mlflow==2.0.0\nscikit-learn", "3.11", "another MLflow than saved it"),
    ],
)
def test_a_model_the_lock_cannot_vouch_for_loads_in_its_own_environment(
    team: Path, tmp_path: Path, requirements: str, python: str, why: str
) -> None:
    model = model_folder(tmp_path / "model", requirements)
    assert not project_fits(model, boxed(team, python)), why


def test_a_rubric_that_names_the_image_or_the_install_keeps_the_models_environment(
    team: Path, tmp_path: Path
) -> None:
    model = model_folder(tmp_path / "model", TEMPLATE_MODEL)
    assert not project_fits(model, boxed(team, image="python:3.11-slim"))
    assert not project_fits(model, boxed(team, setup="pip install mlflow"))
    assert not project_fits(model, Sandboxed())  # no project environment (no uv.lock)


def fits(tmp_path: Path, requirements: str) -> subprocess.CompletedProcess[str]:
    """FITS, run as the container runs it, by this interpreter against what it has."""
    build_tree(tmp_path, {"model/requirements.txt": requirements, "fits.py": FITS})
    return subprocess.run(
        [sys.executable, "fits.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def test_the_container_check_passes_what_is_installed(tmp_path: Path) -> None:
    done = fits(tmp_path, f"mlflow=={MLFLOW}\n# a comment\nscikit-learn>=1\n\n")
    assert (done.returncode, done.stdout) == (0, "")


@pytest.mark.parametrize(
    ("requirements", "said"),
    [
        ("no-such-package-for-the-kit==1.0", "no-such-package-for-the-kit is not installed"),
        ("scikit-learn==0.0.1", f"scikit-learn {SKLEARN} is installed, the model needs"),
        ("--index-url https://example.org", "InvalidRequirement"),
    ],
)
def test_the_container_check_stops_at_what_does_not_fit(
    tmp_path: Path, requirements: str, said: str
) -> None:
    done = fits(tmp_path, requirements)
    assert done.returncode == UNFIT
    assert said in done.stdout


@pytest.fixture(scope="module")
def mlflow_image() -> str:
    from tests.fixtures.mlflow_image import ensure_mlflow_image

    return ensure_mlflow_image()


@pytest.fixture
def saved_model(tmp_path: Path) -> Path:
    """An iris classifier as MLflow saves it (requirements: mlflow, scikit-learn, pandas)."""
    import mlflow.sklearn

    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        iris_model(),
        str(folder),
        pip_requirements=["scikit-learn", "pandas"],
        serialization_format="cloudpickle",
    )
    return folder


@pytest.fixture
def run_id() -> Iterator[str]:
    run = new_run_id()
    yield run
    remove_cache_images(run)
    assert grader_leftovers(run) == []


@pytest.mark.docker
def test_the_champion_predicts_in_the_project_environment_when_it_fits(
    tmp_path: Path, saved_model: Path, mlflow_image: str, run_id: str
) -> None:
    # The test image has mlflow-skinny, not mlflow: a model that names mlflow-skinny fits.
    text = (saved_model / "requirements.txt").read_text()
    (saved_model / "requirements.txt").write_text(text.replace("mlflow==", "mlflow-skinny=="))
    repo = build_tree(
        tmp_path / "team", {"uv.lock": lock({**TEMPLATE_PINS, "mlflow-skinny": MLFLOW})}
    )
    project = ProjectEnv(repo, mlflow_image, PYTHON, "true", EnvCache(("uv.lock",)))
    box = Sandboxed(run_id=run_id, network_mode=network_mode(), project=project)
    assert project_fits(saved_model, box)
    done = predict(saved_model, RECORDS[:1], box, {"more": RECORDS})
    assert done.values == [0]
    assert done.also == {"more": [0, 2]}
    assert done.environment.startswith("the team's project environment, installed, now cached")


@pytest.mark.docker
def test_a_project_environment_without_what_the_lock_claims_gives_way(
    tmp_path: Path, saved_model: Path, mlflow_image: str, run_id: str
) -> None:
    # The lock says mlflow; the environment has mlflow-skinny only: the container says so
    # and the model's own environment would load it instead.
    repo = build_tree(tmp_path / "team", {"uv.lock": lock(TEMPLATE_PINS)})
    project = ProjectEnv(repo, mlflow_image, PYTHON, "true", EnvCache(("uv.lock",)))
    box = Sandboxed(run_id=run_id, network_mode=network_mode(), project=project)
    assert project_fits(saved_model, box)
    work = build_tree(tmp_path / "work", {"records.json": json.dumps([RECORDS, {}])})
    (work / "predict.py").write_text(modelsandbox.SCRIPT)
    shutil.copytree(saved_model, work / "model")
    assert modelsandbox._in_project(work, box) == "mlflow is not installed"
    named = work / "model" / "requirements.txt"  # the same environment, a model it fits
    named.write_text(named.read_text().replace("mlflow==", "mlflow-skinny=="))
    done = modelsandbox._in_project(work, box)
    assert isinstance(done, modelsandbox.SandboxResult)
    assert (done.exit_code, set(done.files)) == (0, {modelsandbox.OUTPUT}), done.output
