"""tracking.reproduce and tracking.evaluate on a team that really trains, and on that team
broken in one way each: a store edited by SQL, a metric logged on the training rows, an
unseeded training. Training and model loading run in the sandbox (Docker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader import metrics
from grader.checks import measure
from grader.checks.base import Context, Outcome, Provided
from grader.checks.evaluate import holdout
from grader.checks.registry import REGISTRY
from grader.grade import Options, context_for
from grader.manifest import Evaluation, Example, PrimaryMetric, Service
from grader.metrics import Measured
from grader.results import Measure
from grader.target import prepare
from tests.fixtures import training_team

Team = Callable[[str], Path]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Team:
    built: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("trained")

    def get(mode: str) -> Path:
        if mode not in built:
            built[mode] = training_team.build(root / mode, mode)  # type: ignore[arg-type]
        return built[mode]

    return get


@pytest.fixture(scope="module")
def mlflow_image() -> str:
    from tests.fixtures.mlflow_image import ensure_mlflow_image

    return ensure_mlflow_image()


def run(
    path: Path, name: str, ctx_hook: Callable[[Context], None] | None = None, **params: Any
) -> Outcome:
    co = prepare(str(path))
    try:
        ctx = context_for(co, Options(network_mode="host"), "measure-test")
        ctx.check_id = name
        if ctx_hook:
            ctx_hook(ctx)
        definition = REGISTRY[name]
        return definition.func(ctx, definition.params.model_validate(params))
    finally:
        co.close()


FLOWER = {"sepal_length": 6.0, "sepal_width": 3.0, "petal_length": 4.0, "petal_width": 0.2}


def with_examples(records: list[dict[str, Any]]) -> Callable[[Context], None]:
    """A context hook: the manifest gets a service whose one example sends `records`."""

    def hook(ctx: Context) -> None:
        assert ctx.manifest is not None
        example = Example(name="flowers", body={"instances": records})
        ctx.manifest = ctx.manifest.model_copy(update={"service": Service(examples=(example,))})

    return hook


def reproduce(path: Path, image: str) -> Outcome:
    return run(path, "tracking.reproduce", image=image, setup=None)


def evaluate(path: Path, image: str) -> Outcome:
    return run(path, "tracking.evaluate", image=image, setup=None)


# --- without Docker: what each check needs from the manifest, and the arithmetic ------------


def test_without_training_section_reproduce_says_what_to_add(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {"capstone.yaml": "version: 1\nteam: {name: T, members: [{name: A, github: a}]}\n"}
    )
    out = run(repo, "tracking.reproduce")
    assert out.status == "failed"
    assert out.message.startswith("capstone.yaml has no `training` section: add `training:")


def test_without_evaluation_section_evaluate_says_what_to_add(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo(
        {"capstone.yaml": "version: 1\nteam: {name: T, members: [{name: A, github: a}]}\n"}
    )
    out = run(repo, "tracking.evaluate")
    assert out.status == "failed"
    assert out.message.startswith("capstone.yaml has no `evaluation` section: add `evaluation:")


def test_held_out_data_problems_name_the_file_and_field(make_repo: Callable[..., Path]) -> None:
    repo = make_repo({"data/h.csv": "a,b\n1,x\n"})
    with pytest.raises(ValueError, match=r"data/h.csv has no column 'y' \(evaluation.target\)"):
        holdout(repo, Evaluation(data=("data/h.csv",), target="y"))
    with pytest.raises(ValueError, match=r"held-out file data/none.csv \(evaluation.data\)"):
        holdout(repo, Evaluation(data=("data/none.csv",), target="y"))
    records, truth = holdout(repo, Evaluation(data=("data/h.csv",), target="b"))
    assert (records, truth) == ([{"a": 1}], ["x"])


def test_tolerance_is_absolute_or_relative_and_says_which_side() -> None:
    tol = measure.Tolerance(abs_tolerance=0.01, rel_tolerance=0.0)
    f1 = PrimaryMetric(name="f1", direction="maximize")
    rmse = PrimaryMetric(name="rmse", direction="minimize")
    assert measure.compare(f1, 0.90, 0.905, tol) is None
    assert measure.compare(f1, 0.99, 0.90, tol) == (
        "the logged value is better by 0.09 (tolerance 0.01 or 0.0%)"
    )
    assert measure.compare(rmse, 40.0, 50.0, tol).startswith("the logged value is better by 10")
    assert (
        measure.compare(rmse, 40.0, 40.3, measure.Tolerance(abs_tolerance=0, rel_tolerance=0.01))
        is None
    )


@pytest.mark.parametrize(
    ("name", "truth", "predicted", "expected"),
    [
        ("accuracy", ["a", "b", "b"], ["a", "b", "a"], 2 / 3),
        ("test_accuracy", [1, 0, 1], [1, 0, 0], 2 / 3),
        ("f1_macro", ["a", "b", "c", "c"], ["a", "b", "c", "b"], (1 + 2 / 3 + 2 / 3) / 3),
        ("f1", [1, 0, 1, 1], [1, 0, 0, 1], 0.8),
        ("precision", [1, 0, 1, 1], [1, 1, 0, 1], 2 / 3),
        ("recall", [1, 0, 1, 1], [1, 1, 0, 1], 2 / 3),
        ("roc_auc", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ("val_rmse", [3.0, 5.0], [4.0, 5.0], (0.5) ** 0.5),
        ("MAE", [3.0, 5.0], [4.0, 7.0], 1.5),
        ("r2", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 1.0),
        ("mape", [2.0, 4.0], [1.0, 4.0], 0.25),
    ],
)
def test_the_grader_computes_metrics_with_scikit_learn(
    name: str, truth: list[Any], predicted: list[Any], expected: float
) -> None:
    assert metrics.compute(name, truth, predicted) == pytest.approx(expected)


def test_a_metric_that_needs_scores_refuses_labels() -> None:
    with pytest.raises(metrics.MetricProblem, match="needs a score or probability"):
        metrics.compute("log_loss", ["a", "b"], ["a", "b"])
    assert not metrics.known("business_value")
    assert metrics.canonical("holdout_F1-Macro") == "f1_macro"


# --- in the sandbox ----------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_the_good_team_reproduces_and_measures(trained: Team, mlflow_image: str) -> None:
    path = trained("good")
    out = reproduce(path, mlflow_image)
    assert out.status == "passed", out
    assert out.message.startswith(
        "retrained: accuracy = 0.9, logged 0.9 for the champion (version 1)"
    )
    assert out.message.endswith("(and log_loss agree)")
    assert out.evidence["logged"]["run_id"] != out.evidence["reproduced"]["run_id"]
    assert out.evidence["command"] == "python train.py"
    assert out.evidence["seed"] == 7
    # The sandbox's MLflow is the grader's version: its empty store is copied in.
    assert out.evidence["store"] == "a copy of the grader's empty store"

    # The manifest's examples ride along: the same load of the champion predicts them for
    # tracking.consistency, and a bad one never changes this check's verdict.
    good = [{**FLOWER, "petal_length": 1.4}, {**FLOWER, "petal_length": 5.9, "petal_width": 2.1}]
    for records, answer in ((good, ["setosa", "virginica"]), ([{"sepal_length": 1}], str)):
        out = run(path, "tracking.evaluate", with_examples(records), image=mlflow_image, setup=None)
        assert out.status == "passed", out
        assert out.message == (
            "measured accuracy = 0.9 on 30 held-out rows, logged 0.9 for the champion (version 1)"
        )
        measured = out.provides.measured_metric
        assert isinstance(measured, Measured)
        assert measured.value == pytest.approx(0.9)
        assert out.measures == (
            Measure(kind="metric", name="accuracy", value=measured.value, order="desc"),
        )
        shared = out.provides.champion_examples
        assert shared is not None
        assert (shared.records, shared.by, shared.sandbox) == (
            tuple(records),
            "tracking.evaluate",
            (mlflow_image, None),
        )
        assert shared.model == "iris-clf v1 " + shared.model.split(" ", 2)[2]
        if answer is str:
            assert isinstance(shared.answer, str)
            assert shared.answer  # why the model could not predict them
        else:
            assert shared.answer == answer


@pytest.mark.docker
@pytest.mark.slow
def test_a_store_edited_by_sql_fails_both(trained: Team, mlflow_image: str) -> None:
    path = trained("tampered")
    out = reproduce(path, mlflow_image)
    assert out.status == "failed"
    assert out.message.startswith(
        "not reproduced: retrained accuracy = 0.9, logged 0.999 for the champion (version 1):"
        " the logged value is better by 0.099"
    )
    out = evaluate(path, mlflow_image)
    assert out.status == "failed"
    assert out.message.startswith(
        "measured accuracy = 0.9 on 30 held-out rows, logged 0.999: the logged value is better"
    )


@pytest.mark.docker
@pytest.mark.slow
def test_a_metric_logged_on_the_training_rows_fails_evaluate_only(
    trained: Team, mlflow_image: str
) -> None:
    path = trained("train-split")
    assert reproduce(path, mlflow_image).status == "passed"
    out = evaluate(path, mlflow_image)
    assert out.status == "failed"
    assert out.message.startswith("measured accuracy = 0.9 on 30 held-out rows, logged 0.9833")

    # tracking.metric grades the measured value, and says so.
    def provide(ctx: Context) -> None:
        ctx.provided = Provided(measured_metric=out.provides.measured_metric)

    graded = run(path, "tracking.metric", provide, threshold=0.95)
    assert graded.status == "failed"
    assert graded.message == (
        "accuracy of the champion (version 1) = 0.9 (need >= 0.95, measured by the grader)"
    )
    [figure] = graded.measures
    assert figure.value == pytest.approx(0.9)
    assert figure.measured  # the grader's own value, not the one the team logged


@pytest.mark.docker
@pytest.mark.slow
def test_another_mlflow_makes_its_own_store_and_reproduces_as_well(
    trained: Team, mlflow_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.version

    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mlflow.version, "VERSION", "2.0.0")  # the grader's, not the team's
    out = reproduce(trained("good"), mlflow_image)
    assert out.status == "passed", out
    assert out.evidence["store"] == "made by the training"


@pytest.mark.docker
@pytest.mark.slow
def test_an_unseeded_training_is_not_reproduced(trained: Team, mlflow_image: str) -> None:
    out = reproduce(trained("unseeded"), mlflow_image)
    assert out.status == "failed"
    assert out.message.startswith("not reproduced: retrained ")
    assert "logged" in out.message


@pytest.mark.docker
@pytest.mark.slow
def test_a_metric_the_grader_does_not_know_comes_from_the_evaluation_command(
    trained: Team, mlflow_image: str
) -> None:
    out = evaluate(trained("custom-metric"), mlflow_image)
    assert out.status == "passed", out
    assert out.message == (
        "measured iris_score = 90 on 30 held-out rows, logged 90 for the champion (version 1)"
    )
    assert out.evidence["how"] == "measured by the grader: evaluation.command, in the sandbox"
