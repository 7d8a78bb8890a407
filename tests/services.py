"""Fixture services for the container, service and engine tests.

One base image (FROM python:3.11-slim plus fastapi, uvicorn, prometheus-client) is built
once and kept between sessions under a test tag (it is not a grader image); every
fixture service is FROM it, so its builds take a second or two. A service variant is a
Dockerfile (root, no HEALTHCHECK, syntax error, secret in a layer) and/or a FAULT
environment value the app reads (crash, never-healthy, predict500, badinput500, slow,
nometrics).
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import yaml

from grader.checks.base import Context, Provided, RunSettings
from grader.engine import NetworkMode, decide_network
from grader.manifest import Manifest
from tests.helpers import build_tree

FIXTURES = Path(__file__).parent / "fixtures" / "services"
BASE_TAG = "mlops-kit-test/service-base:1"
TEST_LABEL = "org.mlops-capstone-kit.test"


def docker_client() -> Any:
    import docker

    return docker.from_env(timeout=120)


def network_mode() -> NetworkMode:
    """Host networking on engines without a bridge (this kit's CI), else published ports:
    what the CLI decides with --network auto."""
    return decide_network("auto")


def ensure_base_image() -> str:
    client = docker_client()
    try:
        try:
            client.images.get(BASE_TAG)
        except Exception:
            client.images.build(
                path=str(FIXTURES / "base"),
                tag=BASE_TAG,
                network_mode="host",
                labels={TEST_LABEL: "1"},
                rm=True,
                pull=False,
            )
    finally:
        client.close()
    return BASE_TAG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manifest_data(port: int, fault: str = "", **service: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "port": port,
        "ready_path": "/ready",  # the fixture service has one (no manifest default does)
        "env": {"PORT": str(port), "FAULT": fault},
        "startup_seconds": 20,
        "examples": [
            {
                "name": "a setosa",
                "body": {"sepal_length": 5.1, "petal_length": 1.4},
                "response_shape": {"label": "string", "score": "number"},
                "response_values": {"label": "setosa"},
            }
        ],
        "invalid_examples": [
            {"name": "text for a number", "body": {"sepal_length": "big", "petal_length": 1}},
            {"name": "a missing feature", "body": {"sepal_length": 5.1}},
        ],
    }
    data.update(service)
    return {
        "version": 1,
        "team": {"name": "Fixture", "members": [{"name": "Ann Lee", "github": "ann-lee"}]},
        "service": data,
        "tracking": {
            "experiment": "iris",
            "registered_model": "iris-classifier",
            "primary_metric": {"name": "f1"},
        },
    }


def service_repo(root: Path, variant: str | None = None, **extra: str) -> Path:
    """A team checkout of the fixture service, with a variant's Dockerfile if given."""
    dockerfile = FIXTURES / ("good/Dockerfile" if not variant else f"variants/{variant}.Dockerfile")
    files = {
        "app.py": (FIXTURES / "good" / "app.py").read_text(encoding="utf-8"),
        "Dockerfile": dockerfile.read_text(encoding="utf-8"),
        **extra,
    }
    return build_tree(root, files)


def write_manifest(repo: Path, data: dict[str, Any]) -> Path:
    (repo / "capstone.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return repo


def context(
    repo: Path,
    data: dict[str, Any],
    *,
    run_id: str,
    check_id: str = "test",
    url: str | None = None,
    provided: Provided | None = None,
) -> Context:
    settings = RunSettings(network_mode=network_mode(), url=url, run_id=run_id)
    manifest = Manifest.model_validate(data)
    return Context(
        repo, None, manifest, settings=settings, provided=provided or Provided(), check_id=check_id
    )


def new_run_id() -> str:
    return "test" + uuid.uuid4().hex[:8]


def grader_leftovers(run_id: str | None = None) -> list[str]:
    """Names of containers and images that carry the grader's label (and the run's)."""
    from grader.engineruns import LABEL, RUN_LABEL

    client = docker_client()
    try:
        flt = {"label": [f"{LABEL}=1", *([f"{RUN_LABEL}={run_id}"] if run_id else [])]}
        containers = [c.name for c in client.containers.list(all=True, filters=flt)]
        images = [str(i.tags or i.id) for i in client.images.list(filters=flt)]
        return containers + images
    finally:
        client.close()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
