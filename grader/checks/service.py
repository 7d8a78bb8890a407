"""Service checks: the team's image starts, answers its contract, and is fast and observable.

`service.starts` runs the image built by `container.build` and leaves it running for the
other service checks (it provides `service_url`). In URL mode (`grader check --url`) every
service check targets that URL instead, and nothing is built or run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field

from grader import web
from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    Params,
    Provided,
    failed,
    graded,
    passed,
    skipped,
)
from grader.checks.container import engine_for, need_service, port_taken_meanwhile
from grader.engine import Health, Limits
from grader.errors import CheckError
from grader.manifest import Example, InvalidExample, Service
from grader.servicecalls import Caller, Tally
from grader.text import tail

TYPE_NAMES = ("string", "number", "integer", "boolean", "object", "array", "null", "any")
BODY_LIMIT = 600


def base_url(ctx: Context) -> str:
    """Where the service answers: the --url of URL mode, or the container started earlier."""
    if ctx.settings.url:
        return ctx.settings.url.rstrip("/")
    return ctx.need("service_url").rstrip("/")


def tally(ctx: Context) -> Tally:
    """The run's tally of this service's timeouts, shared by every check that calls it."""
    service = ctx.provided.service_container or base_url(ctx)
    return Tally.for_service(ctx.settings.run_id, service)


def _client(ctx: Context) -> Caller:
    http = web.client(local=not ctx.settings.url, base_url=base_url(ctx), follow_redirects=True)
    return Caller(http, tally(ctx), ctx.check_id)


def _local_env(ctx: Context) -> dict[str, str]:
    """The environment for tools that call the service (no proxy for a local container)."""
    env = dict(os.environ)
    if not ctx.settings.url:
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _call(
    http: Caller, method: str, path: str, body: Any
) -> tuple[httpx.Response | None, dict[str, Any]]:
    """One request and its transcript entry (the evidence a student sees)."""
    start = time.monotonic()
    entry: dict[str, Any] = {"request": f"{method} {path}"}
    if body is not None:
        entry["body"] = tail(json.dumps(body), BODY_LIMIT)
    try:
        response = http.send(method, path, body)
    except httpx.HTTPError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return None, entry
    entry.update(status=response.status_code, ms=round((time.monotonic() - start) * 1000, 1))
    entry["response"] = tail(response.text, BODY_LIMIT)
    return response, entry


def _with_logs(ctx: Context, evidence: dict[str, Any]) -> dict[str, Any]:
    """Add the service container's log tail (its tracebacks explain a 5xx), if there is one."""
    container = ctx.provided.service_container
    if ctx.settings.url or container is None:
        return evidence
    try:
        with engine_for(ctx) as engine:
            time.sleep(0.3)  # servers log a 5xx's traceback just after answering
            return {**evidence, "service_logs": engine.logs(str(container), 3000)}
    except CheckError:
        return evidence  # the answer itself is the evidence; logs are a bonus


# starts -------------------------------------------------------------------------------


class StartsParams(Params):
    seconds: float | None = Field(
        None, gt=0, description="Time to become healthy (default: service.startup_seconds)."
    )
    memory: str = Field("1g", description="Memory limit of the service container.")
    cpus: float = Field(1.0, gt=0)


def starts(ctx: Context, params: StartsParams) -> Outcome:
    """The service starts and becomes healthy in time.

    Runs the image with the manifest's `service.env` (and nothing from the grader's
    environment), limited memory and CPU, and polls `service.health_path` until it
    answers 2xx. A container that exits, or stays unhealthy past the limit, is stopped
    and its log is in the evidence. Fix: run `docker run` on a clean machine, read the
    log, and make every path, model file and setting the service needs part of the image.
    """
    service = need_service(ctx)
    limit = params.seconds or service.startup_seconds
    if ctx.settings.url:
        return _ready(_url_health(ctx, service, limit), service, limit, local=False)
    image = str(ctx.need("image"))
    with engine_for(ctx) as engine:
        limits = Limits(memory=params.memory, cpus=params.cpus)
        handle = engine.start_service(
            image, port=service.port, env=service.env, command=service.command, limits=limits
        )
        health = engine.wait_healthy(
            handle,
            health_path=service.health_path,
            timeout=limit,
            health_method=service.health_method,
        )
        evidence = _health_evidence(health, service)
        if not health.healthy:
            port_taken_meanwhile(ctx, service.port, health)
            evidence["logs"] = engine.logs(handle.container_id)
            return failed(f"the service did not become healthy: {health.reason}", evidence)
        engine.keep(handle.container_id)
    message = f"healthy after {health.seconds:.1f}s"
    outcome = passed(
        message,
        evidence,
        Provided(service_url=handle.base_url, service_container=handle.container_id),
    )
    return _ready(outcome, service, limit - health.seconds, local=True)


def _ready(outcome: Outcome, service: Service, seconds: float, *, local: bool) -> Outcome:
    """Healthy is not enough: wait for `ready_path` (the model loaded) within the limit.

    A service may answer its liveness probe while the model still loads; grading its
    endpoints before it is ready would fail them for the wrong reason.
    """
    url = outcome.provides.service_url
    if outcome.status != "passed" or not service.ready_path or not url:
        return outcome
    start, delay, last = time.monotonic(), 0.2, ""
    with web.client(local=local, timeout=5.0) as http:
        while True:
            try:
                response = http.get(str(url).rstrip("/") + service.ready_path)
                last = f"HTTP {response.status_code}"
                if response.is_success:
                    waited = time.monotonic() - start
                    message = f"{outcome.message}, ready {waited:.1f}s later"
                    return dataclasses.replace(outcome, message=message)
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() - start > max(seconds, 1.0):
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    reason = f"healthy, but {service.ready_path} did not answer 2xx in time (last: {last})"
    return failed(reason, outcome.evidence)


def _health_evidence(health: Health, service: Service) -> dict[str, Any]:
    return {
        "seconds": round(health.seconds, 2),
        "probe": health.via,
        "attempts": health.attempts,
        "detail": health.reason,
        "port": service.port,
    }


def _url_health(ctx: Context, service: Service, limit: float) -> Outcome:
    url = base_url(ctx) + service.health_path
    start, delay, last = time.monotonic(), 0.2, ""
    with web.client(local=False, timeout=5.0, follow_redirects=True) as http:
        while time.monotonic() - start < limit:
            try:
                response = http.get(url)
                last = f"HTTP {response.status_code}"
                if response.is_success:
                    seconds = time.monotonic() - start
                    return passed(
                        f"{url} healthy",
                        {"seconds": round(seconds, 2)},
                        Provided(service_url=base_url(ctx)),
                    )
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    return failed(f"{url} not healthy within {limit:g}s ({last})", {"url": url})


# health -------------------------------------------------------------------------------


def health(ctx: Context, params: NoParams) -> Outcome:
    """The health and readiness paths answer 2xx.

    Load balancers and orchestrators probe `service.health_path` (and `ready_path`, if
    the manifest names one). Fix: a cheap `GET /health` that returns 200 while the
    process is up, and `GET /ready` that returns 200 once the model is loaded.
    """
    service = need_service(ctx)
    paths = [p for p in (service.health_path, service.ready_path) if p]
    transcript, bad = [], []
    with _client(ctx) as http:
        for path in paths:
            method = service.health_method if path == service.health_path else "GET"
            response, entry = _call(http, method, path, None)
            transcript.append(entry)
            if response is None or not response.is_success:
                bad.append(f"{path} answered {entry.get('status', entry.get('error'))}")
            elif path == service.health_path and service.health_body:
                bad += _health_body_problems(path, _json(response), service.health_body)
    if bad:
        return failed("; ".join(bad), {"transcript": transcript})
    return passed(f"{' and '.join(paths)} answered 2xx", {"transcript": transcript})


def _health_body_problems(path: str, body: Any, wanted: dict[str, Any]) -> list[str]:
    """A 200 that says unhealthy is not healthy: each key the manifest names must match."""
    if not isinstance(body, dict):
        return [f"{path} answered 200 but not with a JSON object ({_type_name(body)})"]
    return [
        f"{path} answered 200 but says {key}={body.get(key)!r} (healthy is {value!r})"
        for key, value in wanted.items()
        if body.get(key) != value
    ]


# examples -----------------------------------------------------------------------------


def shape_problems(value: Any, shape: Any, where: str = "$") -> list[str]:
    """How `value` differs from the manifest's shape mini-language (empty if it fits)."""
    if shape is None or shape == "any":
        return []
    if isinstance(shape, str) and shape in TYPE_NAMES:
        return (
            []
            if _is_type(value, shape)
            else [f"{where}: expected {shape}, got {_type_name(value)}"]
        )
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {_type_name(value)}"]
        problems: list[str] = []
        for key, sub in shape.items():
            if key not in value:
                problems.append(f"{where}: missing key {key!r}")
            else:
                problems += shape_problems(value[key], sub, f"{where}.{key}")
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected array, got {_type_name(value)}"]
        if len(shape) != 1:
            return []
        return [
            p
            for i, item in enumerate(value)
            for p in shape_problems(item, shape[0], f"{where}[{i}]")
        ]
    return [] if value == shape else [f"{where}: expected {shape!r}, got {value!r}"]


def _is_type(value: Any, name: str) -> bool:
    checks: dict[str, Any] = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    return bool(checks[name](value))


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def value_problems(body: Any, expected: dict[str, Any] | None) -> list[str]:
    if not expected:
        return []
    if not isinstance(body, dict):
        return ["the answer is not a JSON object"]
    problems = []
    for key, want in expected.items():
        got = body.get(key)
        same = (
            math.isclose(got, want, abs_tol=1e-6)
            if isinstance(got, int | float) and isinstance(want, int | float)
            else got == want
        )
        if not same:
            problems.append(f"{key}: expected {want!r}, got {got!r}")
    return problems


def _judge_example(http: Caller, ex: Example, service: Service) -> tuple[list[str], dict[str, Any]]:
    path = ex.path or service.predict_path
    response, entry = _call(http, ex.method, path, ex.body)
    if response is None:
        return [f"{ex.name}: {entry['error']}"], entry
    if response.status_code != ex.expect_status:
        return [f"{ex.name}: HTTP {response.status_code}, expected {ex.expect_status}"], entry
    try:
        body = response.json()
    except ValueError:
        return ([f"{ex.name}: the answer is not JSON"] if ex.response_shape else []), entry
    problems = shape_problems(body, ex.response_shape) + value_problems(body, ex.response_values)
    return [f"{ex.name}: {p}" for p in problems], entry


def examples(ctx: Context, params: NoParams) -> Outcome:
    """Every example request of the manifest gets the expected answer.

    Sends each `service.examples` request and compares the status, the JSON shape
    (`response_shape`) and values (`response_values`). Credit is the share of examples
    answered right. Fix: replay the failing request from the evidence with `curl`.
    """
    service = need_service(ctx)
    transcript, problems, right = [], [], 0
    with _client(ctx) as http:
        for ex in service.examples:
            found, entry = _judge_example(http, ex, service)
            transcript.append(entry)
            problems += found
            right += not found
    total = len(service.examples)
    evidence = {"transcript": transcript, "problems": problems}
    if not problems:
        return passed(f"all {total} examples answered as expected", evidence)
    message = f"{right}/{total} examples right; {'; '.join(problems[:3])}"
    return failed(message, _with_logs(ctx, evidence), right / total)


# bad input ----------------------------------------------------------------------------


def _invalid_requests(service: Service) -> list[InvalidExample]:
    if service.invalid_examples:
        return list(service.invalid_examples)
    # Teams that list none still get probed with the two most common mistakes.
    return [
        InvalidExample(name="an empty JSON object", path=service.predict_path, body={}),
        InvalidExample(
            name="a JSON array instead of an object", path=service.predict_path, body=[1]
        ),
    ]


def bad_input(ctx: Context, params: NoParams) -> Outcome:
    """Invalid requests get a 4xx answer, never a 5xx, and the service stays up.

    Sends each `service.invalid_examples` request (or an empty object and an array to
    the predict path, if there are none). A 5xx means an unhandled exception: validate
    input with a pydantic model (FastAPI then answers 422) instead of failing inside
    the model. The health path must still answer afterwards.
    """
    service = need_service(ctx)
    transcript, problems = [], []
    with _client(ctx) as http:
        for bad in _invalid_requests(service):
            response, entry = _call(http, bad.method, bad.path or service.predict_path, bad.body)
            transcript.append(entry)
            status = entry.get("status")
            if response is None:
                problems.append(f"{bad.name}: {entry['error']}")
            elif not 400 <= response.status_code < 500:
                problems.append(f"{bad.name}: HTTP {status}, expected 4xx")
        after, entry = _call(http, service.health_method, service.health_path, None)
        transcript.append(entry)
    if after is None or not after.is_success:
        problems.append(
            f"the service is down afterwards ({entry.get('status', entry.get('error'))})"
        )
    evidence = {"transcript": transcript}
    if problems:
        return failed("; ".join(problems[:4]), _with_logs(ctx, evidence))
    return passed(
        f"{len(transcript) - 1} invalid requests refused with 4xx; still healthy", evidence
    )


# OpenAPI contract ---------------------------------------------------------------------


NO_OPENAPI = (
    "the service serves no OpenAPI document (service.openapi_path: null): its routes are"
    " judged by the example checks"
)


def _openapi(ctx: Context, path: str) -> dict[str, Any]:
    with _client(ctx) as http:
        response, entry = _call(http, "GET", path, None)
    if response is None or not response.is_success:
        raise _Fail(f"{path} answered {entry.get('status', entry.get('error'))}")
    try:
        spec = response.json()
    except ValueError:
        raise _Fail(f"{path} is not JSON") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise _Fail(f"{path} has no `paths`")
    return spec


class _Fail(Exception):
    """The team's service fails the check (turned into a `failed` outcome)."""


def _response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    operation = spec["paths"].get(path, {}).get(method.lower(), {})
    responses = operation.get("responses", {})
    answer = (
        responses.get(str(status))
        or responses.get(f"{str(status)[0]}XX")
        or responses.get("default")
    )
    return (answer or {}).get("content", {}).get("application/json", {}).get("schema")


def openapi(ctx: Context, params: NoParams) -> Outcome:
    """The OpenAPI document declares the manifest's routes, and answers conform to it.

    Reads `service.openapi_path` (FastAPI serves /openapi.json), checks that the health,
    predict and example routes are declared with their methods, then validates each
    example's answer against its declared response schema. Fix: declare response models
    (`response_model=` or a return annotation) so the document says what you return.
    """
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    service = need_service(ctx)
    if not service.openapi_path:
        return skipped(NO_OPENAPI)
    try:
        spec = _openapi(ctx, service.openapi_path)
    except _Fail as exc:
        return failed(str(exc))
    wanted = {("GET", service.health_path), ("POST", service.predict_path)}
    wanted |= {(ex.method, ex.path or service.predict_path) for ex in service.examples}
    missing = [f"{m} {p}" for m, p in sorted(wanted) if m.lower() not in spec["paths"].get(p, {})]
    problems = [f"{route} is not declared" for route in missing]
    checked = 0
    with _client(ctx) as http:
        for ex in service.examples:
            path = ex.path or service.predict_path
            schema = _response_schema(spec, path, ex.method, ex.expect_status)
            if schema is None:
                continue
            response, entry = _call(http, ex.method, path, ex.body)
            if response is None:  # no answer conforms to nothing: never a silent pass
                problems.append(f"{ex.name}: no answer ({entry.get('error')})")
                continue
            checked += 1
            root = {**schema, "components": spec.get("components", {})}
            for error in list(Draft202012Validator(root).iter_errors(_json(response)))[:2]:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                problems.append(f"{ex.name}: {where}: {error.message}")
    evidence = {"declared": sorted(spec["paths"]), "validated_answers": checked}
    if problems:
        return failed("; ".join(problems[:4]), {**evidence, "problems": problems})
    return passed(f"routes declared; {checked} answers conform to their schemas", evidence)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


# fuzz ---------------------------------------------------------------------------------


class FuzzParams(Params):
    max_examples: int = Field(20, ge=1, le=1000, description="Generated cases per operation.")
    seconds: float = Field(180, gt=0, description="Time limit of the whole fuzz run.")
    seed: int = 1


def fuzz(ctx: Context, params: FuzzParams) -> Outcome:
    """A bounded fuzz of the OpenAPI schema finds no server error (5xx).

    Schemathesis generates requests from your OpenAPI document (valid and invalid) and
    fails on any 5xx answer. The evidence has the failing request; reproduce it with the
    `curl` line schemathesis prints. Fix: validate and bound every input in the schema.
    """
    service = need_service(ctx)
    if not service.openapi_path:
        return skipped(NO_OPENAPI)
    if reason := tally(ctx).trouble(limit=1):  # each generated case would wait it out
        return failed(f"not fuzzed: {reason}")
    binary = Path(sys.executable).parent / "schemathesis"
    with tempfile.TemporaryDirectory(prefix="grader-fuzz-") as tmp:
        cmd = [
            str(binary) if binary.exists() else "schemathesis", "run",
            base_url(ctx) + service.openapi_path,
            "--checks", "not_a_server_error", "--max-examples", str(params.max_examples),
            "--max-failures", "1", "--no-shrink", "--seed", str(params.seed),
            "--phases", "examples,fuzzing", "--workers", "1", "--request-timeout", "10",
            "--generation-database", "none", "--no-color", "--report-dir", tmp,
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=params.seconds,
                check=False,
                cwd=tmp,
                env=_local_env(ctx),
            )
        except subprocess.TimeoutExpired:
            # Generated cases are few and bounded: only a very slow service gets here.
            return failed(f"the fuzz run did not finish within {params.seconds:g}s")
    output = done.stdout + done.stderr
    evidence = {
        "command": " ".join(cmd[1:-2]),
        "exit_code": done.returncode,
        "log": tail(output, 6000),
    }
    if done.returncode == 0:
        return passed("no server error in the fuzz run", evidence)
    if "Server error" in output or "not_a_server_error" in output:
        message = "the fuzz run found server errors (5xx): see the log"
        return failed(message, _with_logs(ctx, evidence))
    raise CheckError(f"schemathesis failed to run (exit {done.returncode}): {tail(output, 300)}")


# latency ------------------------------------------------------------------------------


class LatencyParams(Params):
    requests: int = Field(200, ge=1, le=100_000)
    concurrency: int = Field(4, ge=1, le=64)
    p95_ms: float = Field(300, gt=0, description="Full credit at or under this p95.")
    p50_ms: float | None = Field(None, gt=0, description="Also budget the median, if set.")
    example: str | None = Field(None, description="Example name to replay (default: the first).")
    warmup: int = Field(5, ge=0)


def latency(ctx: Context, params: LatencyParams) -> Outcome:
    """The predict path answers fast enough under concurrent load.

    Replays one manifest example `requests` times from `concurrency` clients and measures
    p50 and p95. Credit is budget / measured above the budget (p95 of 600 ms against a
    300 ms budget earns half). Fix: load the model once at start-up, not per request;
    avoid per-request disk or network I/O; use async or more workers.
    """
    service = need_service(ctx)
    ex = _pick_example(service, params.example)
    path = ex.path or service.predict_path
    route = f"{ex.method} {path}"
    with _client(ctx) as http:
        for _ in range(params.warmup):
            if http.trouble(route):
                break
            _call(http, ex.method, path, ex.body)
        if reason := http.trouble(route):  # hundreds of requests would each wait it out
            return failed(f"not measured: {reason}", {"requests": 0})
        timings, errors = _load(http, ex, path, params)
        reason = http.trouble(route)
    if reason:
        message = f"{len(timings)} of {params.requests} requests answered; {reason}"
        return failed(message, {"errors": errors})
    if not timings:
        return failed(f"no request succeeded ({errors} failed)", {"errors": errors})
    p50 = statistics.median(timings)
    p95 = _percentile(timings, 95)
    fraction = min(1.0, params.p95_ms / p95)
    if params.p50_ms:
        fraction = min(fraction, params.p50_ms / p50)
    fraction *= len(timings) / params.requests  # failed requests cost their share
    evidence = {
        "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(max(timings), 1),
        "requests": params.requests, "concurrency": params.concurrency, "errors": errors,
        "budget_p95_ms": params.p95_ms, "budget_p50_ms": params.p50_ms,
        "leaderboard": [  # lower is better
            {"name": "p95 latency (ms)", "value": round(p95, 1), "order": "asc"},
            {"name": "p50 latency (ms)", "value": round(p50, 1), "order": "asc"},
        ],
    }  # fmt: skip
    message = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (budget {params.p95_ms:g} ms)"
    if errors:
        message += f"; {errors} of {params.requests} requests failed"
    return graded(fraction, message, evidence)


def _pick_example(service: Service, name: str | None) -> Example:
    if name is None:
        return service.examples[0]
    for ex in service.examples:
        if ex.name == name:
            return ex
    raise CheckError(f"no example named {name!r} in capstone.yaml")


def _load(http: Caller, ex: Example, path: str, params: LatencyParams) -> tuple[list[float], int]:
    route = f"{ex.method} {path}"

    def one(_: int) -> float | None:
        if http.trouble(route):  # stop at the first few timeouts, not after hundreds
            return None
        start = time.perf_counter()
        try:
            response = http.send(ex.method, path, ex.body)
        except httpx.HTTPError:
            return None
        return (time.perf_counter() - start) * 1000 if response.is_success else None

    with ThreadPoolExecutor(params.concurrency) as pool:
        results = list(pool.map(one, range(params.requests)))
    timings = [t for t in results if t is not None]
    return timings, len(results) - len(timings)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)
    return ordered[rank]


# metrics ------------------------------------------------------------------------------


class MetricsParams(Params):
    required: tuple[str, ...] = Field(
        (), description="Metric names that must be exposed (family or sample names)."
    )


def metrics(ctx: Context, params: MetricsParams) -> Outcome:
    """The metrics path serves Prometheus metrics with the required names.

    Scrapes `service.metrics_path` and parses it with prometheus_client's parser. Fix:
    expose `prometheus_client.generate_latest()` with content type
    `CONTENT_TYPE_LATEST`, and count requests and latency per route.
    """
    from prometheus_client.parser import text_string_to_metric_families

    service = need_service(ctx)
    if not service.metrics_path:
        return failed("capstone.yaml sets no service.metrics_path")
    with _client(ctx) as http:
        response, entry = _call(http, "GET", service.metrics_path, None)
    if response is None or not response.is_success:
        return failed(
            f"{service.metrics_path} answered {entry.get('status', entry.get('error'))}", entry
        )
    try:
        families = list(text_string_to_metric_families(response.text))
    except ValueError as exc:
        return failed(f"{service.metrics_path} is not Prometheus text: {exc}", entry)
    names = {f.name for f in families} | {s.name for f in families for s in f.samples}
    missing = [n for n in params.required if n not in names]
    evidence = {"families": sorted(f.name for f in families)[:100]}
    if not families:
        return failed(f"{service.metrics_path} exposes no metrics", evidence)
    if missing:
        return failed(f"missing metrics: {', '.join(missing)}", evidence)
    return passed(f"{len(families)} metric families, required names present", evidence)


# model info ---------------------------------------------------------------------------


class ModelInfoParams(Params):
    name: str | None = Field(
        None, description="Expected model name (default: tracking.registered_model, if any)."
    )
    name_keys: tuple[str, ...] = ("name", "model_name", "registered_model", "model")
    version_keys: tuple[str, ...] = ("version", "model_version")


def model_info(ctx: Context, params: ModelInfoParams) -> Outcome:
    """The model-info path reports the registered model's name and version.

    Someone on call must see which model answers. Fix: serve `service.model_info_path`
    (e.g. GET /model) returning at least `{"name": <registered model>, "version": <n>}`
    read from the model registry when the service loads the model.
    """
    manifest = ctx.need_manifest()
    service = need_service(ctx)
    if not service.model_info_path:
        return failed("capstone.yaml sets no service.model_info_path")
    with _client(ctx) as http:
        response, entry = _call(http, "GET", service.model_info_path, None)
    if response is None or not response.is_success:
        return failed(
            f"{service.model_info_path} answered {entry.get('status', entry.get('error'))}", entry
        )
    body = _json(response)
    if not isinstance(body, dict):
        return failed(f"{service.model_info_path} does not answer a JSON object", entry)
    name = next(
        (body[k] for k in params.name_keys if body.get(k) and isinstance(body[k], str | int)),
        None,
    )
    version = next((body[k] for k in params.version_keys if body.get(k) not in (None, "")), None)
    expected = params.name or (manifest.tracking.registered_model if manifest.tracking else None)
    if name is None or version is None:
        return failed(f"{service.model_info_path} lacks a model name or version", entry)
    if expected and name != expected:
        return failed(f"serves model {name!r}, expected the registered {expected!r}", entry)
    return passed(f"serves {name} version {version}", entry)
