"""Fixtures for the template tests: baked repos, one shared venv for them, Docker.

The slow fixtures are session-scoped: one venv holds both example tasks (their runtime
dependencies are the same), so the generated repos are installed once per test session.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template.template_helpers import KIT, TEST_LABEL, bake, base_python, clean_env, run


def pytest_configure(config: pytest.Config) -> None:
    # pytest-cookies bakes `--template`, "." by default: pin it to this kit wherever pytest runs.
    if getattr(config.option, "template", ".") == ".":
        config.option.template = str(KIT)


@pytest.fixture(scope="session")
def generated(cookies_session: Any) -> dict[str, Path]:
    """Two generated repos (one per task, Python 3.11) for the slow tests."""
    return {
        "classification": bake(cookies_session, task="classification"),
        "regression": bake(cookies_session, task="regression", project_name="Diabetes Service"),
    }


@pytest.fixture(scope="session")
def team_venv(generated: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv made by `make setup` of the classification repo; the regression repo's
    package joins it without dependencies (they are the same pins)."""
    venv_dir = tmp_path_factory.mktemp("team-venv") / "venv"
    repo = generated["classification"]
    python = base_python()
    run(
        ["make", "setup", f"PYTHON={python}", f"VENV={venv_dir}"],
        cwd=repo,
        env=clean_env(),
        timeout=1200,
    )
    uv, python = Path(sys.executable).parent / "uv", venv_dir / "bin" / "python"
    run(
        [str(uv), "pip", "install", "-q", "--python", str(python), "--no-deps", "-e", "."],
        cwd=generated["regression"],
        env=clean_env(),
    )
    return venv_dir


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    client = docker.from_env(timeout=600)
    try:
        yield client
    finally:
        for container in client.containers.list(all=True, filters={"label": TEST_LABEL}):
            container.remove(force=True)
        client.close()
