"""The service's OpenAPI document: it declares the manifest's routes and its answers conform
(service.openapi), and requests generated from it never make the service fail (service.fuzz).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    Params,
    failed,
    passed,
    skipped,
)
from grader.checks.container import need_service
from grader.checks.service import _call, _client, _local_env, _with_logs, base_url, json_body, tally
from grader.errors import CheckError
from grader.text import tail

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
            for error in list(Draft202012Validator(root).iter_errors(json_body(response)))[:2]:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                problems.append(f"{ex.name}: {where}: {error.message}")
    evidence = {"declared": sorted(spec["paths"]), "validated_answers": checked}
    if problems:
        return failed("; ".join(problems[:4]), {**evidence, "problems": problems})
    return passed(f"routes declared; {checked} answers conform to their schemas", evidence)


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
