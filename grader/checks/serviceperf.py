"""How the service performs and what it tells operators: latency under load
(service.latency), Prometheus metrics (service.metrics), and the model it serves
(service.model_info).
"""

from __future__ import annotations

import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pydantic import Field

from grader.checks.base import (
    Context,
    Outcome,
    Params,
    failed,
    graded,
    passed,
)
from grader.checks.container import need_service
from grader.checks.service import _call, _client, json_body
from grader.errors import CheckError
from grader.manifest import Example, Service
from grader.results import Measure
from grader.servicecalls import Caller


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
    }  # fmt: skip
    message = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (budget {params.p95_ms:g} ms)"
    if errors:
        message += f"; {errors} of {params.requests} requests failed"
    return graded(fraction, message, evidence).measuring(  # lower is better
        Measure(kind="latency_p95_ms", name="p95 latency (ms)", value=round(p95, 1), order="asc"),
        Measure(kind="latency_p50_ms", name="p50 latency (ms)", value=round(p50, 1), order="asc"),
    )


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


def _get(ctx: Context, path: str) -> tuple[httpx.Response | Outcome, dict[str, Any]]:
    """GET `path` of the service: its response, or the failure an error answer is; and the
    transcript entry."""
    with _client(ctx) as http:
        response, entry = _call(http, "GET", path, None)
    if response is None or not response.is_success:
        return failed(f"{path} answered {entry.get('status', entry.get('error'))}", entry), entry
    return response, entry


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
    response, entry = _get(ctx, service.metrics_path)
    if isinstance(response, Outcome):
        return response
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
    response, entry = _get(ctx, service.model_info_path)
    if isinstance(response, Outcome):
        return response
    body = json_body(response)
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
