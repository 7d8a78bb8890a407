"""service.deployed: the manifest's public URL answers like the container did."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from grader.checks.base import NoParams
from grader.checks.deploy import deployed
from tests.services import FIXTURES, context, free_port, manifest_data


@pytest.fixture(scope="module")
def deployed_url() -> Iterator[str]:
    """The fixture service on uvicorn at 127.0.0.1: the stand-in of a cloud deployment."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=FIXTURES / "good",
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


def test_deployed_passes(deployed_url: str, tmp_path: Path) -> None:
    ctx = context(tmp_path, manifest_data(1, url=deployed_url), run_id="t")
    out = deployed(ctx, NoParams())
    assert (out.status, out.message) == (
        "passed",
        f"{deployed_url} is healthy and answers every example",
    )


def test_deployed_fails_without_url(tmp_path: Path) -> None:
    out = deployed(context(tmp_path, manifest_data(1), run_id="t"), NoParams())
    assert out.status == "failed"
    assert out.message == "no service.url in capstone.yaml: deploy the service and add its URL"


def test_deployed_fails_when_the_url_is_down(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = deployed(context(tmp_path, manifest_data(1, url=url), run_id="t"), NoParams())
    assert out.status == "failed"
    assert out.message.startswith(f"{url}: health: /health answered")
