"""The generated repo's image on a real engine: build, non-root, healthy, endpoints, no network.

Built once per module from a freshly baked repo (a clean checkout with no model/, so the
build trains the bundle itself). Every container and image made here carries the label
TEST_LABEL and is removed afterwards. The network mode comes from KIT_DOCKER_NETWORK:
`host` (default, for engines without a bridge network) or `bridge` (publishes the port).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.manifest import Manifest, load_manifest
from tests.template.template_helpers import (
    TEST_LABEL,
    bake,
    build_image,
    free_port,
    remove_images,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]

NETWORK = os.environ.get("KIT_DOCKER_NETWORK", "host")
TYPES = {
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "null": type(None),
}


def matches(shape: Any, value: Any) -> bool:
    """The manifest's response_shape: type names, dicts of required keys, [item shape]."""
    if isinstance(shape, str):
        return shape == "any" or isinstance(value, TYPES[shape])
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(
            key in value and matches(sub, value[key]) for key, sub in shape.items()
        )
    if isinstance(shape, list):
        return isinstance(value, list) and all(matches(shape[0], item) for item in value)
    return shape == value


def call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def wait_health(container: Any, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        container.reload()
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return time.monotonic() - started
        assert container.status != "exited", container.logs().decode()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"not healthy in {timeout} s:\n{container.logs().decode()[-3000:]}")


@pytest.fixture(scope="module")
def baked(cookies_session: Any) -> Path:
    return bake(cookies_session, project_name="Image Service")


@pytest.fixture(scope="module")
def manifest(baked: Path) -> Manifest:
    return load_manifest(baked / "capstone.yaml")


@pytest.fixture(scope="module")
def image(docker_client: Any, baked: Path) -> Iterator[Any]:
    built, created = build_image(docker_client, baked)
    try:
        yield built
    finally:
        remove_images(docker_client, [built.id, *created])


def start(docker_client: Any, image: Any, network: str, port: int) -> Any:
    options: dict[str, Any] = {"network_mode": network}
    if network == "bridge":
        options = {"ports": {f"{port}/tcp": ("127.0.0.1", port)}}
    return docker_client.containers.run(
        image.id,
        detach=True,
        environment={"PORT": str(port)},
        labels={TEST_LABEL: "1"},
        **options,
    )


@pytest.fixture(scope="module")
def service(docker_client: Any, image: Any, manifest: Manifest) -> Iterator[tuple[Any, str]]:
    port = free_port()
    container = start(docker_client, image, NETWORK, port)
    try:
        assert manifest.service is not None
        wait_health(container, manifest.service.startup_seconds)
        yield container, f"http://127.0.0.1:{port}"
    finally:
        container.remove(force=True)


def test_image_metadata(image: Any) -> None:
    config = image.attrs["Config"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"][0] == "CMD"
    assert config["Cmd"][0] == "python"
    labels = config["Labels"]
    for key in ("title", "description", "licenses", "version", "authors"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


def test_container_runs_as_non_root(service: tuple[Any, str]) -> None:
    container, _ = service
    code, out = container.exec_run(["id", "-u"])
    assert code == 0
    assert out.decode().strip() == "10001"


def test_endpoints_answer_as_documented(service: tuple[Any, str], manifest: Manifest) -> None:
    _, base = service
    svc = manifest.service
    assert svc is not None
    deadline = time.monotonic() + svc.startup_seconds
    while call(base + (svc.ready_path or svc.health_path))[0] != 200:
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.2)
    assert call(base + svc.health_path) == (200, {"status": "ok"})
    for example in svc.examples:
        url = base + (example.path or svc.predict_path)
        status, answer = call(url, example.method, example.body)
        assert status == example.expect_status, (example.name, answer)
        assert matches(example.response_shape, answer), (example.name, answer)
        for key, value in (example.response_values or {}).items():
            assert answer[key] == value, (example.name, answer)
    for invalid in svc.invalid_examples:
        url = base + (invalid.path or svc.predict_path)
        status, answer = call(url, invalid.method, invalid.body)
        assert status == 422, (invalid.name, status, answer)
    assert call(base + svc.predict_path, "POST", {"alcohol": float("1e999")})[0] == 422
    status, info = call(base + str(svc.model_info_path))
    assert status == 200
    assert info["source"] == "image-build"
    assert info["name"] == manifest.tracking.registered_model if manifest.tracking else True
    status, text = call(base + str(svc.metrics_path))
    assert status == 200
    for metric in ("http_requests_total", "http_request_duration_seconds", "predictions_total"):
        assert metric in text
    status, openapi = call(base + str(svc.openapi_path))
    assert status == 200
    assert "/predict" in openapi["paths"]


def test_serves_with_no_network(docker_client: Any, image: Any) -> None:
    container = start(docker_client, image, "none", 8000)
    try:
        wait_health(container, 60)
        probe = (
            "import json, urllib.request, time\n"
            "from image_service.schema import example_record\n"
            "for _ in range(100):\n"
            "    try:\n"
            "        urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2); break\n"
            "    except Exception: time.sleep(0.2)\n"
            "r = urllib.request.Request('http://127.0.0.1:8000/predict', method='POST',\n"
            "    data=json.dumps(example_record()).encode(),\n"
            "    headers={'content-type': 'application/json'})\n"
            "print(json.load(urllib.request.urlopen(r, timeout=5))['prediction'])\n"
        )
        code, out = container.exec_run(["python", "-c", probe])
        assert code == 0, out.decode()
        assert out.decode().strip() == "class_0"
    finally:
        container.remove(force=True)
