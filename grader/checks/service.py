"""Service checks: the team's image starts, answers its contract, and is fast and observable.

`service.starts` runs the image built by `container.build` and leaves it running for the
other service checks (it provides `service_url`). In URL mode (`grader check --url`) every
service check targets that URL instead, and nothing is built or run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
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
    passed,
)
from grader.checks.container import engine_for, need_service, port_taken_meanwhile
from grader.engine import Health, Limits
from grader.errors import CheckError
from grader.manifest import Service
from grader.servicecalls import Caller, Tally
from grader.text import tail

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
    image = ctx.need("image")
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
                bad += _health_body_problems(path, json_body(response), service.health_body)
    if bad:
        return failed("; ".join(bad), {"transcript": transcript})
    return passed(f"{' and '.join(paths)} answered 2xx", {"transcript": transcript})


def _health_body_problems(path: str, body: Any, wanted: dict[str, Any]) -> list[str]:
    """A 200 that says unhealthy is not healthy: each key the manifest names must match."""
    if not isinstance(body, dict):
        return [f"{path} answered 200 but not with a JSON object ({type_name(body)})"]
    return [
        f"{path} answered 200 but says {key}={body.get(key)!r} (healthy is {value!r})"
        for key, value in wanted.items()
        if body.get(key) != value
    ]


# examples -----------------------------------------------------------------------------


# bad input ----------------------------------------------------------------------------


# OpenAPI contract ---------------------------------------------------------------------


# fuzz ---------------------------------------------------------------------------------


# latency ------------------------------------------------------------------------------


# metrics ------------------------------------------------------------------------------


# model info ---------------------------------------------------------------------------


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if is_type(value, name):
            return name
    return type(value).__name__


def is_type(value: Any, name: str) -> bool:
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
