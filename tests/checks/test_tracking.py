"""Tracking checks on real MLflow stores: each passes on a good store and fails on a store
broken in exactly that one way. Stores are built once per session (MLflow is slow to start)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader import modelsandbox
from grader.checks import provenance, tracking
from grader.checks.base import ChampionExamples, Context, Outcome, Provided
from grader.checks.registry import REGISTRY
from grader.envcache import remove_cache_images
from grader.errors import CheckError
from grader.grade import Options, context_for
from grader.manifest import PrimaryMetric, Tracking
from grader.mlflowstore import open_store
from grader.results import Measure
from grader.target import prepare
from tests.fixtures import mlflow_stores
from tests.fixtures.mlflow_stores import MlflowServer, Variant
from tests.helpers import answer_json, commit_all, loopback_server

VARIANTS = {
    "sqlite": Variant(),
    "file": Variant(kind="file"),
    "no-runs": Variant(runs=0),
    "two-runs": Variant(runs=2, failed_runs=2),
    "no-f1": Variant(runs=1, metrics=("accuracy",)),
    "low": Variant(runs=1, accuracy=0.6),
    "low-own-target": Variant(runs=1, accuracy=0.6, target=0.55),
    "no-alias": Variant(runs=1, alias=False),
    "no-signature": Variant(runs=1, signature=False),
    "foreign-commit": Variant(runs=1, commit="foreign"),
    "deleted-champion": Variant(runs=2, delete_champion_run=True),
}
ALL_CHECKS = {
    "tracking.experiment": {},
    "tracking.runs": {"min_runs": 3},
    "tracking.logged": {"params": ["C", "max_iter"], "metrics": ["f1"]},
    "tracking.metric": {"threshold": 0.9},
    "tracking.registered_model": {},
    "tracking.signature": {},
    "tracking.lineage": {},
}
Team = Callable[[str], Path]


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory) -> Team:
    """team(name) -> the committed repo of that variant (built on first use)."""
    built: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("stores")

    def get(name: str) -> Path:
        if name not in built:
            built[name] = mlflow_stores.build_team(root / name, VARIANTS[name])
        return built[name]

    return get


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", autouse=True)
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Started with the module's first test: it comes up while local stores are built."""
    started = mlflow_stores.start_mlflow(tmp_path_factory.mktemp("server"), free_port())
    yield started
    started.stop()


@pytest.fixture(scope="module")
def http_team(server: MlflowServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("http") / "team"
    return mlflow_stores.build_team(root, Variant(kind="http"), server=server.wait_up())


def run(path: Path, name: str, **params: Any) -> Outcome:
    co = prepare(str(path))
    try:
        ctx: Context = context_for(co, Options(), "test")
        definition = REGISTRY[name]
        return definition.func(ctx, definition.params.model_validate(params))
    finally:
        co.close()


# --- every check passes on a good store, of each kind ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "file"])
@pytest.mark.parametrize("check", list(ALL_CHECKS))
def test_good_local_store_passes(team: Team, kind: str, check: str) -> None:
    out = run(team(kind), check, **ALL_CHECKS[check])
    assert out.status == "passed", out


def test_messages_of_a_good_store(team: Team) -> None:
    path = team("sqlite")
    assert run(path, "tracking.runs").message == "3 finished runs in 'iris-exp'"
    assert run(path, "tracking.metric", threshold=0.9).message == (
        "accuracy of the champion (version 1) = 0.93 (need >= 0.9)"
    )
    assert run(path, "tracking.registered_model").message == (
        "iris-clf@champion is version 1, from a finished run"
    )
    assert run(path, "tracking.lineage").message.startswith(
        "the champion (version 1) was trained from commit "
    )


# --- each broken store fails the one check it breaks -----------------------------------------


def test_no_runs_fails(team: Team) -> None:
    path = team("no-runs")
    assert run(path, "tracking.experiment").status == "passed"
    out = run(path, "tracking.runs", min_runs=3)
    assert (out.status, out.fraction) == ("failed", 0.0)
    assert out.message == "0 finished runs in 'iris-exp' (need 3)"


def test_too_few_runs_earns_partial_credit(team: Team) -> None:
    # Two more runs FAILED: they neither count nor become the best run.
    out = run(team("two-runs"), "tracking.runs", min_runs=4)
    assert (out.status, out.fraction) == ("failed", 0.5)
    assert out.message == "2 finished runs in 'iris-exp' (need 4)"


def test_missing_metric_fails(team: Team) -> None:
    out = run(team("no-f1"), "tracking.logged", params=["C"], metrics=["f1"])
    assert (out.status, out.message) == ("failed", "the champion (version 1) lacks metric f1")
    assert out.fraction == pytest.approx(2 / 3)


def test_metric_under_threshold_fails_with_partial_credit(team: Team) -> None:
    out = run(team("low"), "tracking.metric", threshold=0.8)
    assert out.status == "failed"
    assert out.message == "accuracy of the champion (version 1) = 0.6 (need >= 0.8)"
    assert out.fraction == pytest.approx(0.75)
    # The leaderboard ranks the champion's value; higher accuracy ranks first.
    assert out.measures == (
        Measure(kind="metric", name="accuracy", value=0.6, order="desc", measured=False),
    )
    out = run(team("low"), "tracking.metric", threshold=0.8, zero_at=0.5)
    assert out.fraction == pytest.approx(1 / 3)


def test_minimize_direction() -> None:
    from grader.checks.tracking import _metric_fraction

    assert _metric_fraction(0.4, 0.5, maximize=False, zero_at=None) == 1.0
    assert _metric_fraction(1.0, 0.5, maximize=False, zero_at=None) == pytest.approx(0.5)
    assert _metric_fraction(0.75, 0.5, maximize=False, zero_at=1.0) == 0.5


def test_the_courses_bar_for_the_metric_comes_first(team: Team) -> None:
    out = run(team("low-own-target"), "tracking.metric", targets={"accuracy": 0.8})
    assert out.status == "failed"
    assert out.message == "accuracy of the champion (version 1) = 0.6 (need >= 0.8)"
    assert out.evidence["threshold_from"] == "the course's bar for accuracy"


def test_a_metric_the_course_sets_no_bar_for_is_held_to_the_teams_target(team: Team) -> None:
    # The course's bars name other metrics; its generic threshold is only the last resort.
    params = {"targets": {"f1_macro": 0.85}, "threshold": 0.8}
    out = run(team("low-own-target"), "tracking.metric", **params)
    assert out.status == "passed"
    assert out.message == (
        "accuracy of the champion (version 1) = 0.6 (need >= 0.55, the team's target)"
    )
    assert out.evidence["threshold_from"] == "the team's target in capstone.yaml"
    out = run(team("low-own-target"), "tracking.metric", team_target=False, **params)
    assert (out.status, out.evidence["threshold_from"]) == ("failed", "the course's bar")


def test_no_bar_at_all_fails_and_says_how_to_state_one(team: Team) -> None:
    out = run(team("low"), "tracking.metric", targets={"f1_macro": 0.85})
    assert (out.status, out.fraction) == ("failed", 0.0)
    assert out.message == (
        "no bar for accuracy: state tracking.primary_metric.target in capstone.yaml "
        "(the value agreed in your proposal)"
    )


def test_no_alias_fails(team: Team) -> None:
    path = team("no-alias")
    out = run(path, "tracking.registered_model")
    assert (out.status, out.message) == (
        "failed",
        "'iris-clf' has no version with alias 'champion'",
    )
    assert out.fraction == pytest.approx(1 / 3)
    # Without a champion, the metric checks judge the best run instead.
    assert run(path, "tracking.metric", threshold=0.9).message.startswith(
        "accuracy of the best run"
    )
    out = run(path, "tracking.signature")
    assert (out.status, out.message) == ("failed", "no registered model version iris-clf@champion")


def test_a_champion_whose_run_was_deleted_never_counts(team: Team) -> None:
    """The alias still names version 1, but its run is deleted: the registry check fails,
    and the checks that read the champion's run say why instead of judging it (or falling
    back to another run)."""
    path = team("deleted-champion")
    out = run(path, "tracking.registered_model")
    assert out.status == "failed"
    assert out.message.startswith("iris-clf@champion (version 1): its run ")
    assert out.message.endswith(" was deleted")
    assert out.fraction == pytest.approx(2 / 3)
    for check in ("tracking.metric", "tracking.lineage"):
        out = run(path, check, **ALL_CHECKS[check])
        assert out.status == "failed"
        assert out.message.startswith("the champion (version 1) comes from run ")
        assert out.message.endswith("which was deleted: it does not count")
    # The deleted run is not one of the experiment's runs either.
    assert run(path, "tracking.runs", min_runs=3).message == "1 finished run in 'iris-exp' (need 3)"


def test_a_project_that_registers_no_model_is_told_so_not_judged_on_an_invented_name(
    team: Team, tmp_path: Path
) -> None:
    """No `tracking.registered_model`: the registry checks say the manifest names none; the
    checks that only need runs judge the best run."""
    path = tmp_path / "team"
    shutil.copytree(team("sqlite"), path, symlinks=True)
    manifest = yaml.safe_load((path / "capstone.yaml").read_text())
    del manifest["tracking"]["registered_model"]
    (path / "capstone.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    commit_all(path, "this project registers no model")
    out = run(path, "tracking.registered_model")
    assert (out.status, out.message) == ("failed", tracking.NO_MODEL)
    out = run(path, "tracking.signature")
    assert (out.status, out.message) == ("failed", tracking.NO_MODEL)
    assert run(path, "tracking.runs").status == "passed"
    assert run(path, "tracking.metric", threshold=0.9).message.startswith(
        "accuracy of the best run"
    )


def test_model_without_signature_fails(team: Team) -> None:
    out = run(team("no-signature"), "tracking.signature")
    assert out.status == "failed"
    assert out.message == (
        "iris-clf@champion (version 1) was logged without signature and input example"
    )


def test_commit_not_in_history_fails(team: Team) -> None:
    out = run(team("foreign-commit"), "tracking.lineage")
    assert (out.status, out.message) == (
        "failed",
        "the champion (version 1): commit 0123456789 is not in the repository",
    )


def test_missing_store_fails_every_check(make_repo: Callable[..., Path]) -> None:
    path = make_repo({"capstone.yaml": mlflow_stores.manifest("sqlite:///mlflow.db")})
    for check in ALL_CHECKS:
        out = run(path, check, **ALL_CHECKS[check])
        assert (out.status, out.message) == (
            "failed",
            "tracking database mlflow.db is not a file in the repository",
        )


def test_store_outside_the_repo_is_refused(make_repo: Callable[..., Path]) -> None:
    path = make_repo({"capstone.yaml": mlflow_stores.manifest("sqlite:////etc/mlflow.db")})
    assert run(path, "tracking.experiment").status == "failed"


def test_unreachable_server_is_an_error(make_repo: Callable[..., Path]) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    path = make_repo({"capstone.yaml": mlflow_stores.manifest(uri)})
    with pytest.raises(CheckError, match="cannot read the tracking server"):
        run(path, "tracking.experiment")


def test_server_token_comes_from_the_environment(
    make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str | None] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    with loopback_server(Refuse) as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "course-token")
        path = make_repo({"capstone.yaml": mlflow_stores.manifest(uri)})
        with pytest.raises(CheckError, match="cannot read the tracking server"):
            run(path, "tracking.experiment")
    assert seen
    assert seen[0] == "Bearer course-token"


# --- the store in the checkout is never modified ----------------------------------------------


def digest(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_opening_a_store_never_changes_it(team: Team, kind: str) -> None:
    path = team(kind)
    before = digest(path)
    uri = mlflow_stores.store_uri(path, kind)[0]
    tracking = Tracking(
        uri=uri,
        experiment="iris-exp",
        registered_model="iris-clf",
        primary_metric=PrimaryMetric(name="accuracy"),
    )
    with open_store(path, tracking) as store:
        store.client.create_experiment("written-to-the-copy")
        assert store.experiment("written-to-the-copy") is not None
    assert digest(path) == before


def test_artifact_paths_never_leave_the_checkout(team: Team) -> None:
    path = team("sqlite")
    tracking = Tracking(
        experiment="iris-exp", registered_model="iris-clf", primary_metric=PrimaryMetric(name="a")
    )
    with open_store(path, tracking) as store:
        assert store.local_path("file:///etc/passwd") is None
        assert store.local_path("/home/someone/proj/mlruns") == (path / "mlruns").resolve()
        assert store.local_path("s3://bucket/key") is None
        # Recorded on a Windows laptop: a drive letter, backslashes, or a file: URI.
        assert store.local_path("E:\\Users\\ann\\proj\\mlruns") == (path / "mlruns").resolve()
        assert store.local_path("file:///C:/Users/ann/proj/mlruns") == (path / "mlruns").resolve()
        assert store.local_path("E:/proj/mlruns") == (path / "mlruns").resolve()
        assert store.rewrites["E:/proj/mlruns"] == "mlruns"


# --- consistency: the champion, loaded in a sandbox, against a live service -----------------


def serve_predictions(predict: Callable[[list[dict[str, float]]], list[Any]]) -> Iterator[str]:
    """A stand-in for the team's service on 127.0.0.1: /predict and /predict/batch."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/predict/batch":
                values = predict(body["instances"])
                answer: Any = {"predictions": [{"prediction": v} for v in values]}
            else:
                answer = {"prediction": predict([body])[0], "model_version": "1"}
            answer_json(self, json.dumps(answer).encode())

        def log_message(self, *args: Any) -> None:
            pass

    with loopback_server(Handler) as url:
        yield url


def champion_like(records: list[dict[str, float]]) -> list[Any]:
    import pandas as pd

    return [int(v) for v in mlflow_stores.iris_model().predict(pd.DataFrame(records))]


def off_by_one(records: list[dict[str, float]]) -> list[Any]:
    return [(v + 1) % 3 for v in champion_like(records)]


@pytest.fixture(scope="module")
def mlflow_image() -> str:
    from tests.fixtures.mlflow_image import ensure_mlflow_image

    return ensure_mlflow_image()


def consistency(
    path: Path,
    service: str,
    image: str,
    run_id: str,
    setup: str | None = None,
    shared: ChampionExamples | None = None,
) -> Outcome:
    co = prepare(str(path))
    try:
        ctx = context_for(co, Options(network_mode="host"), run_id)
        ctx.provided = Provided(service_url=service, champion_examples=shared)
        ctx.check_id = "tracking.consistency"
        definition = REGISTRY["tracking.consistency"]
        params = definition.params.model_validate({"image": image, "setup": setup})
        return definition.func(ctx, params)
    finally:
        co.close()


@pytest.mark.docker
@pytest.mark.slow
def test_service_serving_the_champion_passes(team: Team, mlflow_image: str) -> None:
    for url in serve_predictions(champion_like):
        out = consistency(team("sqlite"), url, mlflow_image, "consistent")
        assert (out.status, out.message) == (
            "passed",
            "the service agrees with the champion (v1) on 4 predictions",
        )


@pytest.mark.docker
@pytest.mark.slow
def test_the_champions_environment_is_cached_between_runs(team: Team, mlflow_image: str) -> None:
    # `auto` setup: MLflow and the model's requirements (the image has them: pip is quick).
    run_id = "cached-" + uuid.uuid4().hex[:8]
    try:
        for url in serve_predictions(champion_like):
            outs = [consistency(team("sqlite"), url, mlflow_image, run_id, "auto") for _ in "ab"]
        assert [o.status for o in outs] == ["passed", "passed"], outs
        assert outs[0].evidence["environment"].startswith(("installed, now cached", "cached"))
        assert outs[1].evidence["environment"].startswith("cached (key ")
    finally:
        remove_cache_images(run_id)


@pytest.mark.docker
@pytest.mark.slow
def test_service_disagreeing_with_the_champion_fails(team: Team, mlflow_image: str) -> None:
    for url in serve_predictions(off_by_one):
        out = consistency(team("sqlite"), url, mlflow_image, "inconsistent")
        assert out.status == "failed"
        assert out.message.startswith(
            "the service and the champion disagree on 4 of 4: flower 0: service 1, champion 0;"
        )


def champion_key(path: Path) -> str:
    co = prepare(str(path))
    try:
        tracking_ = context_for(co, Options(), "key").need_manifest().tracking
        assert tracking_ is not None
        with open_store(co.path, tracking_) as store:
            return provenance.model_key(tracking.champion_version(store, tracking_))
    finally:
        co.close()


# The manifest's examples: flower 0, flower 1, and a batch of both.
EXAMPLE_RECORDS = (*mlflow_stores.RECORDS, *mlflow_stores.RECORDS)


def test_the_champions_predictions_from_the_measuring_check_are_reused(team: Team) -> None:
    """tracking.evaluate's load of the same champion already predicted the examples: they
    are compared with the service without loading the model again (no engine needed)."""
    path = team("sqlite")
    shared = ChampionExamples(
        champion_key(path),
        ("no/such-image:1", None),
        EXAMPLE_RECORDS,
        off_by_one(list(EXAMPLE_RECORDS)),  # so the verdict shows whose answers were used
        "cached (key abc)",
        "measured",
    )
    for url in serve_predictions(champion_like):
        out = consistency(path, url, "no/such-image:1", "reused", shared=shared)
    assert out.status == "failed"
    assert out.message.startswith("the service and the champion disagree on 4 of 4")
    assert out.evidence["environment"] == "cached (key abc), predicted by measured"


BOX = modelsandbox.Sandboxed(image="img:1", setup=None)


@pytest.mark.parametrize(
    ("change", "reused"),
    [
        ({}, True),
        ({"model": "iris v2 runs:/x/model"}, False),  # another version
        ({"sandbox": ("img:2", None)}, False),  # loaded in another image
        ({"sandbox": ("img:1", "pip install x")}, False),  # or with another setup
        ({"records": ({"a": 1},)}, False),  # other records
        ({"answer": "KeyError: 'a'"}, False),  # it could not predict them there
    ],
)
def test_predictions_are_reused_only_for_the_same_model_load_and_records(
    change: dict[str, Any], reused: bool
) -> None:
    shared = ChampionExamples("iris v1 runs:/x/model", ("img:1", None), ({"a": 2},), [0], "e", "m")
    got = provenance.reusable(
        dataclasses.replace(shared, **change), "iris v1 runs:/x/model", BOX, [{"a": 2}]
    )
    assert got == (([0], "e, predicted by m") if reused else None)


@pytest.mark.docker
@pytest.mark.slow
def test_predictions_of_other_records_are_not_reused(team: Team, mlflow_image: str) -> None:
    path = team("sqlite")
    other = ChampionExamples(
        champion_key(path), (mlflow_image, None), EXAMPLE_RECORDS[:1], [2], "e", "measured"
    )
    for url in serve_predictions(champion_like):
        out = consistency(path, url, mlflow_image, "not-reused", shared=other)
    assert (out.status, out.message) == (
        "passed",
        "the service agrees with the champion (v1) on 4 predictions",
    )
    assert "predicted by" not in out.evidence["environment"]


def test_consistency_needs_the_service_url(team: Team) -> None:
    definition = REGISTRY["tracking.consistency"]
    co = prepare(str(team("sqlite")))
    try:
        ctx = context_for(co, Options(), "no-service")
        with pytest.raises(CheckError, match="no 'service_url' from an earlier check"):
            definition.func(ctx, definition.params())
    finally:
        co.close()


def test_prediction_comparison() -> None:
    from grader.checks.provenance import _same

    assert _same(0.1 + 0.2, 0.3, 1e-6)
    assert not _same(1.0, 1.1, 1e-6)
    assert _same("setosa", "setosa", 0)
    assert not _same(1, "1.0", 0)


# --- the http path: a real tracking server on 127.0.0.1 (last: it starts slowly) ---------


@pytest.mark.slow
@pytest.mark.parametrize("check", list(ALL_CHECKS))
def test_good_tracking_server_passes(http_team: Path, check: str) -> None:
    out = run(http_team, check, **ALL_CHECKS[check])
    assert out.status == "passed", out
