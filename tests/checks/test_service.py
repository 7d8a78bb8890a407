"""Service checks against fixture services on the real engine, and in URL mode on uvicorn."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from grader.checks import (
    containerbuild,
    service,
    serviceapi,
    servicecontract,
    serviceperf,
)
from grader.checks.base import Context, NoParams, Outcome, Provided
from grader.engine import Engine
from grader.engineruns import cleanup
from grader.main import main
from grader.reports.gradescope import read_grade
from tests.helpers import answer_json, init_repo, loopback_server
from tests.services import (
    FIXTURES,
    context,
    ensure_base_image,
    free_port,
    manifest_data,
    network_mode,
    new_run_id,
    port_in_use,
    service_repo,
    write_manifest,
)

Starter = Callable[..., tuple[Context, Outcome]]
docker_only = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def run_id() -> Iterator[str]:
    rid = new_run_id()
    yield rid
    cleanup(run_id=rid)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory, run_id: str) -> tuple[Path, str]:
    ensure_base_image()
    repo = service_repo(tmp_path_factory.mktemp("svc"))
    ctx = context(repo, manifest_data(free_port()), run_id=run_id, check_id="container.build")
    outcome = containerbuild.build(ctx, containerbuild.BuildParams(timeout=300))
    assert outcome.status == "passed", outcome.message
    return repo, outcome.provides.image


@pytest.fixture
def start(image: tuple[Path, str], run_id: str) -> Iterator[Starter]:
    """start(fault="", **service) -> (ctx with the service provided, service.starts outcome)."""
    started: list[str] = []

    def factory(
        fault: str = "", seconds: float | None = None, **extra: Any
    ) -> tuple[Context, Outcome]:
        repo, image_id = image
        data = manifest_data(free_port(), fault, **extra)
        ctx = context(
            repo, data, run_id=run_id, check_id="service.starts", provided=Provided(image=image_id)
        )
        outcome = service.starts(ctx, service.StartsParams(seconds=seconds))
        ctx.provided = ctx.provided.merged(outcome.provides)
        if outcome.provides.service_container is not None:
            started.append(outcome.provides.service_container)
        return ctx, outcome

    yield factory
    with Engine(run_id=run_id) as engine:
        for cid in started:
            engine.remove_container(cid)


@pytest.fixture(scope="module")
def good(image: tuple[Path, str], run_id: str) -> Iterator[Context]:
    repo, image_id = image
    data = manifest_data(free_port())
    ctx = context(
        repo, data, run_id=run_id, check_id="service.starts", provided=Provided(image=image_id)
    )
    outcome = service.starts(ctx, service.StartsParams())
    assert outcome.status == "passed", outcome.message
    ctx.provided = ctx.provided.merged(outcome.provides)
    yield ctx
    with Engine(run_id=run_id) as engine:
        engine.remove_container(outcome.provides.service_container)


# starts -------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_starts_passes_and_provides_the_url(good: Context) -> None:
    assert good.provided.service_url.startswith("http://127.0.0.1:")
    assert httpx.get(good.provided.service_url + "/health").json() == {"status": "ok"}


@pytest.mark.docker
@pytest.mark.slow
def test_starts_fails_when_the_service_crashes(start: Starter) -> None:
    _, outcome = start("crash")
    assert outcome.status == "failed"
    assert outcome.message == "the service did not become healthy: the container exited with code 1"
    assert "model file not found" in outcome.evidence["logs"]


@pytest.mark.docker
@pytest.mark.slow
def test_starts_stops_a_service_that_never_gets_healthy(start: Starter, run_id: str) -> None:
    began = time.monotonic()
    _, outcome = start("never-healthy", seconds=3)
    assert time.monotonic() - began < 15
    assert outcome.status == "failed"
    assert outcome.message == "the service did not become healthy: not healthy within 3s (HTTP 503)"
    with Engine(run_id=run_id) as engine:
        flt = {
            "label": [
                f"org.mlops-capstone-kit.run={run_id}",
                "org.mlops-capstone-kit.check=service.starts",
            ]
        }
        running = engine.client.containers.list(filters=flt)
    assert all("FAULT=never-healthy" not in c.attrs["Config"]["Env"] for c in running)


@pytest.mark.docker
@pytest.mark.slow
def test_starts_fails_when_healthy_but_never_ready(start: Starter) -> None:
    _, outcome = start("never-ready", seconds=3)
    assert outcome.status == "failed"
    assert outcome.message == "healthy, but /ready did not answer 2xx in time (last: HTTP 503)"


# health -------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_health_passes(good: Context) -> None:
    outcome = service.health(good, NoParams())
    assert (outcome.status, outcome.message) == ("passed", "/health and /ready answered 2xx")


@pytest.mark.docker
@pytest.mark.slow
def test_health_fails_on_a_missing_ready_path(good: Context) -> None:
    ctx = context(
        good.repo, manifest_data(1, ready_path="/warm"), run_id="x", provided=good.provided
    )
    outcome = service.health(ctx, NoParams())
    assert (outcome.status, outcome.message) == ("failed", "/warm answered 404")


# examples -----------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_examples_pass(good: Context) -> None:
    outcome = servicecontract.examples(good, NoParams())
    assert (outcome.status, outcome.message) == ("passed", "all 1 examples answered as expected")
    assert outcome.evidence["transcript"][0]["status"] == 200


@pytest.mark.docker
@pytest.mark.slow
def test_examples_fail_when_predict_answers_500(start: Starter) -> None:
    ctx, started = start("predict500")
    assert started.status == "passed"
    outcome = servicecontract.examples(ctx, NoParams())
    assert outcome.status == "failed"
    assert outcome.message == "0/1 examples right; a setosa: HTTP 500, expected 200"
    assert "RuntimeError: model exploded" in outcome.evidence["service_logs"]


@pytest.mark.docker
@pytest.mark.slow
def test_examples_fail_on_a_wrong_value_or_shape(good: Context) -> None:
    example = manifest_data(1)["service"]["examples"][0]
    wrong = {**example, "name": "b", "response_values": {"label": "virginica"}}
    shape = {**example, "name": "c", "response_shape": {"label": "string", "proba": ["number"]}}
    data = manifest_data(1, examples=[example, wrong, shape])
    ctx = context(good.repo, data, run_id="x", provided=good.provided)
    outcome = servicecontract.examples(ctx, NoParams())
    assert outcome.fraction == pytest.approx(1 / 3)
    assert outcome.message == (
        "1/3 examples right; b: label: expected 'virginica', got 'setosa'; "
        "c: $: missing key 'proba'"
    )


def test_shape_mini_language() -> None:
    shape = {"items": [{"id": "integer", "score": "number"}], "tag": "any", "note": "null"}
    value = {"items": [{"id": 1, "score": 0.5}, {"id": True, "score": 1}], "tag": [], "note": None}
    assert servicecontract.shape_problems(value, shape) == [
        "$.items[1].id: expected integer, got boolean"
    ]
    assert servicecontract.shape_problems([1], "object") == ["$: expected object, got array"]


# bad input ----------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_bad_input_passes_with_4xx(good: Context) -> None:
    outcome = servicecontract.bad_input(good, NoParams())
    assert (outcome.status, outcome.message) == (
        "passed",
        "2 invalid requests refused with 4xx; still healthy",
    )


@pytest.mark.docker
@pytest.mark.slow
def test_bad_input_fails_on_500(start: Starter) -> None:
    ctx, _ = start("badinput500")
    outcome = servicecontract.bad_input(ctx, NoParams())
    assert outcome.status == "failed"
    assert outcome.message == (
        "text for a number: HTTP 500, expected 4xx; a missing feature: HTTP 500, expected 4xx"
    )


# OpenAPI ------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_openapi_passes(good: Context) -> None:
    outcome = serviceapi.openapi(good, NoParams())
    assert (outcome.status, outcome.message) == (
        "passed",
        "routes declared; 1 answers conform to their schemas",
    )


@pytest.mark.docker
@pytest.mark.slow
def test_openapi_fails_on_an_undeclared_route(good: Context) -> None:
    example = manifest_data(1)["service"]["examples"][0]
    data = manifest_data(1, examples=[example, {**example, "name": "b", "path": "/predict/batch"}])
    ctx = context(good.repo, data, run_id="x", provided=good.provided)
    outcome = serviceapi.openapi(ctx, NoParams())
    assert (outcome.status, outcome.message) == ("failed", "POST /predict/batch is not declared")


# fuzz ---------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_fuzz_passes_on_the_good_service(good: Context) -> None:
    outcome = serviceapi.fuzz(good, serviceapi.FuzzParams(max_examples=10, seconds=30))
    assert (outcome.status, outcome.message) == ("passed", "no server error in the fuzz run")


@pytest.mark.docker
@pytest.mark.slow
def test_fuzz_finds_a_500_on_bad_input(start: Starter) -> None:
    ctx, _ = start("badinput500")
    outcome = serviceapi.fuzz(ctx, serviceapi.FuzzParams(max_examples=10, seconds=30))
    assert outcome.status == "failed"
    assert outcome.message == "the fuzz run found server errors (5xx): see the log"


# latency ------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_latency_within_budget_passes(good: Context) -> None:
    outcome = serviceperf.latency(
        good, serviceperf.LatencyParams(requests=60, concurrency=4, p95_ms=500)
    )
    assert outcome.status == "passed", outcome.message
    assert outcome.evidence["errors"] == 0
    p95, p50 = outcome.measures  # lower latency ranks first
    assert (p95.kind, p95.name, p95.order) == ("latency_p95_ms", "p95 latency (ms)", "asc")
    assert (p50.kind, p50.name, p50.order) == ("latency_p50_ms", "p50 latency (ms)", "asc")
    assert (p95.value, p50.value) == (outcome.evidence["p95_ms"], outcome.evidence["p50_ms"])


@pytest.mark.docker
@pytest.mark.slow
def test_latency_of_a_slow_endpoint_earns_partial_credit(start: Starter) -> None:
    ctx, _ = start("slow")
    params = serviceperf.LatencyParams(requests=16, concurrency=2, p95_ms=100, warmup=1)
    outcome = serviceperf.latency(ctx, params)
    assert outcome.status == "failed"
    assert 0.05 < outcome.fraction < 0.45
    assert outcome.message.endswith("(budget 100 ms)")
    assert outcome.evidence["p95_ms"] >= 250


# metrics ------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_metrics_pass_with_the_required_names(good: Context) -> None:
    outcome = serviceperf.metrics(good, serviceperf.MetricsParams(required=("predictions_total",)))
    assert outcome.status == "passed", outcome.message


@pytest.mark.docker
@pytest.mark.slow
def test_metrics_fail_on_a_missing_name(good: Context) -> None:
    outcome = serviceperf.metrics(
        good, serviceperf.MetricsParams(required=("http_request_duration_seconds",))
    )
    assert (outcome.status, outcome.message) == (
        "failed",
        "missing metrics: http_request_duration_seconds",
    )


@pytest.mark.docker
@pytest.mark.slow
def test_metrics_fail_when_missing(start: Starter) -> None:
    ctx, _ = start("nometrics")
    outcome = serviceperf.metrics(ctx, serviceperf.MetricsParams())
    assert (outcome.status, outcome.message) == ("failed", "/metrics answered 404")


# model info ---------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_model_info_passes(good: Context) -> None:
    outcome = serviceperf.model_info(good, serviceperf.ModelInfoParams())
    assert (outcome.status, outcome.message) == ("passed", "serves iris-classifier version 3")


@pytest.mark.docker
@pytest.mark.slow
def test_model_info_fails_on_another_model(good: Context) -> None:
    outcome = serviceperf.model_info(good, serviceperf.ModelInfoParams(name="wine"))
    assert (outcome.status, outcome.message) == (
        "failed",
        "serves model 'iris-classifier', expected the registered 'wine'",
    )


# each broken variant fails its own checks only ----------------------------------------

SERVICE_CHECKS = {
    "health": lambda ctx: service.health(ctx, NoParams()),
    "examples": lambda ctx: servicecontract.examples(ctx, NoParams()),
    "bad_input": lambda ctx: servicecontract.bad_input(ctx, NoParams()),
    "openapi": lambda ctx: serviceapi.openapi(ctx, NoParams()),
    "latency": lambda ctx: serviceperf.latency(
        ctx, serviceperf.LatencyParams(requests=24, concurrency=4, p95_ms=200, warmup=1)
    ),
    "metrics": lambda ctx: serviceperf.metrics(ctx, serviceperf.MetricsParams()),
    "model_info": lambda ctx: serviceperf.model_info(ctx, serviceperf.ModelInfoParams()),
}


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        ("", set()),
        # a 500 on /predict also fails the latency loop and the answer's schema
        ("predict500", {"examples", "openapi", "latency"}),
        ("badinput500", {"bad_input"}),
        ("slow", {"latency"}),
        ("nometrics", {"metrics"}),
    ],
)
def test_a_broken_service_fails_only_its_own_checks(
    start: Starter, fault: str, failing: set[str]
) -> None:
    ctx, started = start(fault)
    assert started.status == "passed", started.message
    outcomes = {check: run(ctx) for check, run in SERVICE_CHECKS.items()}
    assert {c for c, o in outcomes.items() if o.status != "passed"} == failing, outcomes


# URL mode (no engine needed) ----------------------------------------------------------

URL_RUBRIC = {
    "milestone": "cloud",
    "title": "Cloud: the deployed service",
    "checks": [
        {"id": "build", "check": "container.build", "points": 5},
        {"id": "starts", "check": "service.starts", "points": 10, "needs": ["build"]},
        {"id": "health", "check": "service.health", "points": 10, "needs": ["starts"]},
        {"id": "examples", "check": "service.examples", "points": 20, "needs": ["starts"]},
        {
            "id": "bad-input",
            "check": "service.bad_input",
            "points": 10,
            "needs": ["starts"],
        },
        {"id": "openapi", "check": "service.openapi", "points": 10, "needs": ["starts"]},
        {
            "id": "latency",
            "check": "service.latency",
            "points": 10,
            "needs": ["starts"],
            "params": {"requests": 40, "p95_ms": 1000},
        },
        {"id": "metrics", "check": "service.metrics", "points": 5, "needs": ["starts"]},
        {"id": "model", "check": "service.model_info", "points": 5, "needs": ["starts"]},
    ],
}


@pytest.fixture
def uvicorn_service(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    app_dir = FIXTURES / "good"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=app_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/health")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_url_mode_grades_a_deployed_service(
    uvicorn_service: str,
    make_repo: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo({"capstone.yaml": yaml.safe_dump(manifest_data(1))})
    rubric = tmp_path / "cloud.yaml"
    rubric.write_text(yaml.safe_dump(URL_RUBRIC), encoding="utf-8")
    out = tmp_path / "out"
    code = main(
        ["check", str(repo), "--rubric", str(rubric), "--url", uvicorn_service, "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().out
    tests = json.loads((out / "results.json").read_text())["tests"]
    statuses = {t["extra_data"]["id"]: t["extra_data"]["status"] for t in tests}
    assert statuses == {
        "build": "skipped",
        **{c["id"]: "passed" for c in URL_RUBRIC["checks"][1:]},
    }


# the whole chain through `grader check` -----------------------------------------------

FULL_RUBRIC = {
    "milestone": "m3",
    "title": "Every container and service check",
    "checks": [
        {"id": "build", "check": "container.build", "points": 10},
        {"id": "size", "check": "container.size", "points": 5, "needs": ["build"],
         "params": {"max_mb": 2000}},
        {"id": "lint", "check": "container.lint", "points": 5},
        {"id": "non-root", "check": "container.non_root", "points": 5, "needs": ["build"]},
        {"id": "layer-secrets", "check": "container.layer_secrets", "points": 5,
         "needs": ["build"]},
        {"id": "starts", "check": "service.starts", "points": 10, "needs": ["build"]},
        {"id": "healthcheck", "check": "container.healthcheck", "points": 5,
         "needs": ["starts"]},
        {"id": "health", "check": "service.health", "points": 5, "needs": ["starts"]},
        {"id": "examples", "check": "service.examples", "points": 10, "needs": ["starts"]},
        {"id": "bad-input", "check": "service.bad_input", "points": 5, "needs": ["starts"]},
        {"id": "openapi", "check": "service.openapi", "points": 5, "needs": ["starts"]},
        {"id": "fuzz", "check": "service.fuzz", "points": 5, "needs": ["starts"],
         "params": {"max_examples": 5}},
        {"id": "latency", "check": "service.latency", "points": 10, "needs": ["starts"],
         "params": {"requests": 50, "p95_ms": 500}},
        {"id": "metrics", "check": "service.metrics", "points": 5, "needs": ["starts"],
         "params": {"required": ["predictions_total"]}},
        {"id": "model", "check": "service.model_info", "points": 5, "needs": ["starts"]},
    ],
}  # fmt: skip


@pytest.mark.docker
@pytest.mark.slow
def test_the_good_service_passes_every_check_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_base_image()
    repo = write_manifest(service_repo(tmp_path / "team"), manifest_data(free_port()))
    init_repo(repo, {})
    rubric = tmp_path / "m3.yaml"
    rubric.write_text(yaml.safe_dump(FULL_RUBRIC), encoding="utf-8")
    monkeypatch.setenv("GRADER_NETWORK", network_mode())
    out = tmp_path / "out"
    code = main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)])
    assert code == 0, capsys.readouterr().out
    tests = json.loads((out / "results.json").read_text())["tests"]
    statuses = {t["extra_data"]["id"]: t["extra_data"]["status"] for t in tests}
    assert statuses == {c["id"]: "passed" for c in FULL_RUBRIC["checks"]}


def test_a_missing_engine_gives_error_results_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_repo: Callable[..., Path]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    repo = make_repo(
        {"capstone.yaml": yaml.safe_dump(manifest_data(8000)), "Dockerfile": "FROM x\n"}
    )
    rubric = tmp_path / "m3.yaml"
    rubric.write_text(yaml.safe_dump({**FULL_RUBRIC, "checks": FULL_RUBRIC["checks"][:2]}))
    out = tmp_path / "out"
    # A check in error: the reports are written, and the command exits 3 (needs review).
    assert main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)]) == 3
    tests = json.loads((out / "results.json").read_text())["tests"]
    build, size = tests
    assert build["extra_data"]["status"] == "error"
    assert build["output"].startswith("**Pending review by course staff.**")
    assert "What happened: no Docker engine answers at unix:///nonexistent/" in build["output"]
    assert "traceback" not in build["extra_data"]["evidence"]
    assert size["extra_data"]["status"] == "blocked"


# two runs, one host port ----------------------------------------------------------------

PORT_RUBRIC = """milestone: port
title: Two teams, one port
checks:
  - {id: build, check: container.build, points: 1}
  - {id: starts, check: service.starts, points: 1, needs: [build]}
  - {id: examples, check: service.examples, points: 1, needs: [starts]}
  - id: latency
    check: service.latency
    points: 1
    needs: [starts]
    params: {requests: 40, concurrency: 1, warmup: 0, p95_ms: 2000}
"""


@pytest.mark.docker
@pytest.mark.slow
def test_two_runs_under_host_networking_take_turns_on_the_port(tmp_path: Path) -> None:
    """Two teams whose services listen on the same port, graded at once with host
    networking (`grader batch --jobs 2`): the second waits for the first's service to go
    (team one answers slowly: its service is up for 10 s), and both pass."""
    ensure_base_image()
    port = free_port()
    rubric = tmp_path / "port.yaml"
    rubric.write_text(PORT_RUBRIC, encoding="utf-8")
    runs = []
    for team, fault in (("one", "slow"), ("two", "")):
        repo = write_manifest(service_repo(tmp_path / team), manifest_data(port, fault))
        init_repo(repo, {})  # only commits are graded
        out = tmp_path / f"out-{team}"
        cmd = [sys.executable, "-m", "grader", "check", str(repo), "--rubric", str(rubric)]
        runs.append((out, subprocess.Popen([*cmd, "--network", "host", "--out", str(out)])))
        if team == "one":  # team two starts once team one's service holds the port
            deadline = time.monotonic() + 300
            while not port_in_use(port) and runs[0][1].poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    for _, proc in runs:
        assert proc.wait(timeout=600) == 0
    one, two = (read_grade(out / "results.json") for out, _ in runs)
    for result in (one, two):
        assert [(c.id, c.status) for c in result.checks] == [
            ("build", "passed"),
            ("starts", "passed"),
            ("examples", "passed"),
            ("latency", "passed"),
        ]
    assert "waited_for_port_seconds" not in one.checks[1].evidence
    assert two.checks[1].evidence["waited_for_port_seconds"] >= 1


class _PostOnlyHealth(BaseHTTPRequestHandler):
    """A service whose health probe is POST /health (GET answers 405)."""

    def do_GET(self) -> None:
        self.send_response(405)
        self.end_headers()

    def do_POST(self) -> None:
        answer_json(self, b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


def test_a_health_probe_that_is_not_a_get_route_is_probed_as_the_manifest_says(
    tmp_path: Path,
) -> None:
    with loopback_server(_PostOnlyHealth) as url:
        provided = Provided(service_url=url)
        data = manifest_data(1, ready_path=None)
        ctx = context(tmp_path, data, run_id="x", provided=provided)
        assert service.health(ctx, NoParams()).message == "/health answered 405"
        data = manifest_data(1, ready_path=None, health_method="POST", health_body={"status": "ok"})
        ctx = context(tmp_path, data, run_id="x", provided=provided)
        outcome = service.health(ctx, NoParams())
        assert (outcome.status, outcome.message) == ("passed", "/health answered 2xx")
        assert outcome.evidence["transcript"][0]["request"] == "POST /health"


# a hung or flooding service costs seconds --------------------------------------------

# m3's service checks in m3's order, with m3's params.
M3_SERVICE_CHECKS = {
    "service.health": lambda ctx: service.health(ctx, NoParams()),
    "service.examples": lambda ctx: servicecontract.examples(ctx, NoParams()),
    "service.bad_input": lambda ctx: servicecontract.bad_input(ctx, NoParams()),
    "service.openapi": lambda ctx: serviceapi.openapi(ctx, NoParams()),
    "service.fuzz": lambda ctx: serviceapi.fuzz(ctx, serviceapi.FuzzParams(max_examples=10)),
    "service.latency": lambda ctx: serviceperf.latency(
        ctx, serviceperf.LatencyParams(requests=200, concurrency=4, p95_ms=300)
    ),
    "service.metrics": lambda ctx: serviceperf.metrics(ctx, serviceperf.MetricsParams()),
    "service.model_info": lambda ctx: serviceperf.model_info(ctx, serviceperf.ModelInfoParams()),
}


def run_service_checks(ctx: Context) -> dict[str, Outcome]:
    outcomes = {}
    for check, run in M3_SERVICE_CHECKS.items():
        ctx.check_id = check
        outcomes[check] = run(ctx)
    return outcomes


@pytest.mark.docker
@pytest.mark.slow
def test_a_predict_that_never_answers_fails_at_its_first_timeouts(start: Starter) -> None:
    ctx, started = start("hang")
    assert started.status == "passed", started.message
    outcomes = run_service_checks(ctx)
    status = {check: o.status for check, o in outcomes.items()}
    assert status == {
        "service.health": "passed",
        "service.examples": "failed",
        "service.bad_input": "passed",  # refused by validation before the handler hangs
        "service.openapi": "failed",
        "service.fuzz": "failed",
        "service.latency": "failed",
        "service.metrics": "passed",
        "service.model_info": "passed",
    }, {c: o.message for c, o in outcomes.items()}
    assert "a setosa: ReadTimeout" in outcomes["service.examples"].message
    assert "a setosa: no answer (ReadTimeout" in outcomes["service.openapi"].message
    hung = "the service stopped answering: 3 requests got no answer within 10 s"
    assert outcomes["service.latency"].message.startswith(f"not measured: {hung}")
    assert "POST /predict in service.examples" in outcomes["service.latency"].message
    assert outcomes["service.fuzz"].message == (
        "not fuzzed: the service stopped answering: 2 requests got no answer within 10 s"
        " (POST /predict in service.examples; POST /predict in service.openapi)"
    )


@pytest.mark.docker
@pytest.mark.slow
def test_a_predict_that_floods_its_answer_fails_without_reading_it_all(start: Starter) -> None:
    ctx, started = start("flood")
    assert started.status == "passed", started.message
    outcomes = run_service_checks(ctx)
    failing = {check for check, o in outcomes.items() if o.status != "passed"}
    assert failing == {
        "service.examples",
        "service.openapi",
        "service.fuzz",
        "service.latency",
    }, {c: o.message for c, o in outcomes.items()}
    too_large = "AnswerTooLarge: the answer passed 1024 KiB; reading stopped there"
    assert f"a setosa: {too_large}" in outcomes["service.examples"].message
    flood = "the service answered with more than 1024 KiB (POST /predict in service.examples)"
    assert outcomes["service.fuzz"].message == f"not fuzzed: {flood}"
    assert outcomes["service.latency"].message == f"not measured: {flood}"
