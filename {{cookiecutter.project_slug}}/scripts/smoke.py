"""Smoke test of a running service, driven by the examples in capstone.yaml.

    python scripts/smoke.py --url http://127.0.0.1:8000 [--wait-only] [--timeout 60]

Waits until the service is ready, then checks /ready, /model, /metrics, every example of
`service.examples` (status and top-level keys) and every `service.invalid_examples`
(a 4xx answer, never 5xx). Exit status 0 when all pass.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait(base: str, timeout: float, path: str = "/health") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if call(f"{base}{path}")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def check(base: str, manifest: dict[str, Any]) -> list[str]:
    service = manifest["service"]
    failures: list[str] = []
    for key in ("health_path", "ready_path", "model_info_path"):
        status, _ = call(base + service[key])
        if status != 200:
            failures.append(f"GET {service[key]}: {status}")
    status, text = call(base + service["metrics_path"])
    if status != 200 or "http_requests_total" not in str(text):
        failures.append(f"GET {service['metrics_path']}: {status}, no http_requests_total")
    for example in service["examples"]:
        path = example.get("path") or service["predict_path"]
        status, answer = call(base + path, example.get("method", "POST"), example.get("body"))
        expected = example.get("expect_status", 200)
        shape = example.get("response_shape") or {}
        missing = [k for k in shape if not isinstance(answer, dict) or k not in answer]
        if status != expected or missing:
            failures.append(f"{example['name']}: {status} (want {expected}), missing {missing}")
        for key, value in (example.get("response_values") or {}).items():
            if isinstance(answer, dict) and answer.get(key) != value:
                failures.append(f"{example['name']}: {key}={answer.get(key)!r}, want {value!r}")
    for example in service.get("invalid_examples", []):
        path = example.get("path") or service["predict_path"]
        status, _ = call(base + path, example.get("method", "POST"), example.get("body"))
        if not 400 <= status < 500:
            failures.append(f"{example['name']}: {status}, want a 4xx answer")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--manifest", type=Path, default=Path("capstone.yaml"))
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--wait-only", action="store_true")
    parser.add_argument("--container", help="print this container's logs on failure")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    manifest = yaml.safe_load(args.manifest.read_text())
    # Wait for readiness (model loaded), not only liveness.
    ready = manifest["service"].get("ready_path") or manifest["service"]["health_path"]
    if not wait(base, args.timeout, ready):
        print(f"FAIL: {base}{ready} did not answer 200 within {args.timeout:.0f} s")
        if args.container:
            subprocess.run(["docker", "logs", "--tail", "50", args.container], check=False)
        return 1
    if args.wait_only:
        print(f"{base} is ready")
        return 0
    failures = check(base, manifest)
    for failure in failures:
        print(f"FAIL: {failure}")
    print("smoke test passed" if not failures else f"{len(failures)} smoke check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
