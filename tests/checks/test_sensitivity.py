"""tests.sensitivity on a team whose tests load the shipped model (they notice a constant
one) and on the same team with tests that accept any answer (they do not)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import pytest

from grader.checks.base import Outcome, Provided
from grader.checks.registry import REGISTRY
from grader.checks.sensitivity import lenient_assertions, rerun_env
from grader.grade import Options, context_for
from grader.manifest import load_manifest
from grader.suitereport import SuiteCase, SuiteReport
from grader.target import prepare
from tests.fixtures import training_team
from tests.helpers import commit_all

MANIFEST = "version: 1\nteam: {name: T, members: [{name: A, github: a}]}\n"


@pytest.fixture(scope="module")
def mlflow_image() -> str:
    from tests.fixtures.mlflow_image import ensure_mlflow_image

    return ensure_mlflow_image()


def sensitivity(path: Path, report: SuiteReport | None = None, **params: object) -> Outcome:
    co = prepare(str(path))
    try:
        ctx = context_for(co, Options(network_mode="host"), "sensitivity-test")
        ctx.check_id = "tests.sensitivity"
        ctx.provided = Provided(test_report=report)
        definition = REGISTRY["tests.sensitivity"]
        return definition.func(ctx, definition.params.model_validate(params))
    finally:
        co.close()


def test_without_a_model_file_in_the_manifest_it_says_what_to_add(
    make_repo: Callable[..., Path],
) -> None:
    out = sensitivity(make_repo({"capstone.yaml": MANIFEST}))
    assert out.status == "failed"
    assert out.message.startswith("capstone.yaml names no model file: add `training.artifact`")


def _report(cases: tuple[SuiteCase, ...]) -> SuiteReport:
    return SuiteReport(cases=cases, coverage=None, exit_code=0, seconds=1.0, output="")


def test_the_rerun_runs_only_the_model_and_api_tests_without_coverage(
    make_repo: Callable[..., Path],
) -> None:
    kinds = "tests: {command: pytest --cov=src, kinds: {model: [tests/test_model.py, slow]}}\n"
    repo = make_repo(
        {
            "capstone.yaml": MANIFEST + kinds,
            "tests/test_data.py": "import mlflow\n",
            "tests/test_train.py": "import mlflow\n",
        }
    )
    manifest = load_manifest(repo / "capstone.yaml")
    cases = (
        SuiteCase("tests/test_model.py::test_knows[a b]", "passed"),
        SuiteCase("tests/test_data.py::test_rows[x y]", "passed"),
        SuiteCase("tests/test_data.py::test_more", "passed"),
        SuiteCase("tests/test_api.py::test_health", "failed"),
        SuiteCase("tests/test_train.py::test_runs", "passed"),
        SuiteCase("tests/test_train.py::test_fits", "passed", markers=("slow",)),
    )
    ctx = SimpleNamespace(repo=repo, provided=Provided(test_report=_report(cases)))
    options = shlex.split(rerun_env(ctx, manifest)["PYTEST_ADDOPTS"])  # type: ignore[arg-type]
    assert "--no-cov" in options
    # A file of the checkout with none of the chosen tests is not even collected; where it
    # has one (by marker), or is not a file of the checkout, the others are deselected.
    ignored = [o.removeprefix("--ignore=") for o in options if o.startswith("--ignore")]
    assert ignored == ["tests/test_data.py"]
    deselected = [o.removeprefix("--deselect=") for o in options if o.startswith("--deselect")]
    assert deselected == ["tests/test_api.py::test_health", "tests/test_train.py::test_runs"]
    # Without tests.run's report the whole suite runs again.
    alone = SimpleNamespace(repo=repo, provided=Provided())
    again = rerun_env(alone, manifest)["PYTEST_ADDOPTS"]  # type: ignore[arg-type]
    assert "--deselect" not in again
    assert "--ignore" not in again


def test_assertions_that_accept_a_server_error_are_named(make_repo: Callable[..., Path]) -> None:
    repo = make_repo(
        {
            "capstone.yaml": MANIFEST + "tests: {paths: [tests]}\n",
            "tests/test_api.py": (
                "def test_a(client):\n"
                "    assert client.get('/').status_code in (200, 500)\n"
                "    assert r.status_code < 600\n"
                "    assert r.status_code == 200\n"
                "    assert response.status != 404\n"
            ),
        }
    )
    found = lenient_assertions(repo, load_manifest(repo / "capstone.yaml"))
    assert found == ["tests/test_api.py:2", "tests/test_api.py:3", "tests/test_api.py:5"]


@pytest.mark.docker
@pytest.mark.slow
def test_tests_that_load_the_model_notice_a_constant_one(tmp_path: Path, mlflow_image: str) -> None:
    path = training_team.build(tmp_path / "good", "good")
    setup = f"pip install -q pytest=={version('pytest')}"
    # tests.run's report: only the model and API tests run again, the rest is deselected.
    ran = [
        SuiteCase("tests/test_model.py::test_the_shipped_model_knows_iris", "passed"),
        SuiteCase("tests/test_model.py::test_data_has_three_species", "passed"),
        SuiteCase("tests/test_data.py::test_rows_are_clean", "passed"),
    ]
    out = sensitivity(path, _report(tuple(ran)), image=mlflow_image, setup=setup)
    assert out.status == "passed", out
    assert out.message == (
        "1 of 2 model and API tests fail with a constant model:"
        " tests/test_model.py::test_the_shipped_model_knows_iris"
    )
    swapped = "swapped: model/model.joblib now holds a DummyClassifier fit on 120 training rows"
    assert out.evidence["swap"] == swapped
    # A pytest suite (tests.run read its report): swapped in the run's own pytest process.
    assert out.evidence["swapped_in"] == "the test run (its pytest process)"
    # The team's checkout is untouched: the swap happened in the sandbox's copy.
    assert "DummyClassifier" not in (path / "model" / "model.joblib").read_bytes().decode("latin-1")

    # A suite that turns the grader's plugin off is swapped all the same, in a process of
    # its own before a second run (the first, with the team's model, is not read).
    manifest = (path / "capstone.yaml").read_text(encoding="utf-8")
    (path / "capstone.yaml").write_text(
        manifest.replace("command: pytest -q", "command: pytest -q -p no:grader_pytest_plugin"),
        encoding="utf-8",
    )
    commit_all(path, "Run the tests without plugins")
    again = sensitivity(path, _report(tuple(ran)), image=mlflow_image, setup=setup)
    assert (again.status, again.message) == (out.status, out.message)
    assert again.evidence["swap"] == swapped
    assert again.evidence["swapped_in"] == "a process of its own, before the test run"


@pytest.mark.docker
@pytest.mark.slow
def test_tests_that_accept_any_answer_fail_it_and_are_named(
    tmp_path: Path, mlflow_image: str
) -> None:
    path = training_team.build(tmp_path / "lenient", "lenient-tests")
    setup = f"pip install -q pytest=={version('pytest')}"
    out = sensitivity(path, image=mlflow_image, setup=setup)
    assert out.status == "failed"
    assert out.message == (
        "your tests pass with a constant model: 2 model and API tests passed"
        " (tests/test_model.py::test_the_shipped_model_knows_iris,"
        " tests/test_model.py::test_data_has_three_species)"
    )
    # Without tests.run's report the suite is not known to be pytest's: swapped beforehand.
    assert out.evidence["swapped_in"] == "a process of its own, before the test run"
