"""Service contract checks: each example of capstone.yaml answers as declared (status, shape,
values), and invalid requests are refused with a 4xx, never a 5xx.
"""

from __future__ import annotations

import math
from typing import Any

from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    failed,
    passed,
)
from grader.checks.container import need_service
from grader.checks.service import _call, _client, _with_logs, is_type, type_name
from grader.manifest import Example, InvalidExample, Service
from grader.servicecalls import Caller


def shape_problems(value: Any, shape: Any, where: str = "$") -> list[str]:
    """How `value` differs from the manifest's shape mini-language (empty if it fits)."""
    if shape is None or shape == "any":
        return []
    if isinstance(shape, str) and shape in TYPE_NAMES:
        return (
            [] if is_type(value, shape) else [f"{where}: expected {shape}, got {type_name(value)}"]
        )
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {type_name(value)}"]
        problems: list[str] = []
        for key, sub in shape.items():
            if key not in value:
                problems.append(f"{where}: missing key {key!r}")
            else:
                problems += shape_problems(value[key], sub, f"{where}.{key}")
        return problems
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected array, got {type_name(value)}"]
        if len(shape) != 1:
            return []
        return [
            p
            for i, item in enumerate(value)
            for p in shape_problems(item, shape[0], f"{where}[{i}]")
        ]
    return [] if value == shape else [f"{where}: expected {shape!r}, got {value!r}"]


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


TYPE_NAMES = ("string", "number", "integer", "boolean", "object", "array", "null", "any")
