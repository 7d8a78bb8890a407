"""Shared fixtures: isolated HOME and git identity, fixture repos from dicts, Docker gating."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.helpers import init_repo

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    """Tests send Ctrl-C (SIGINT) to graders they start. A shell starts a background job
    (`make test &`, nohup) with SIGINT ignored, and an ignored signal stays ignored in every
    process started from it: those graders would never see the Ctrl-C. The suite takes
    SIGINT back, as an interactive run has it (a handler, unlike an ignore, is not passed on)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Docker tests run wherever an engine answers; under CI=true a missing engine fails."""
    if not any(item.get_closest_marker("docker") for item in items):
        return
    if docker_available():
        return
    for item in items:
        if item.get_closest_marker("docker") is None:
            continue
        if IN_CI:
            item.add_marker(
                pytest.mark.usefixtures("_docker_engine_missing_in_ci"),
            )
        else:
            item.add_marker(pytest.mark.skip(reason="no Docker engine (run `make docker`)"))


@pytest.fixture
def _docker_engine_missing_in_ci() -> None:
    pytest.fail("CI=true but no Docker engine answers: .ci/run must start it")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the developer's HOME or git identity."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.edu")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.edu")
    # MLflow's set_tracking_uri writes os.environ: undo whatever a test leaves behind.
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # pre-commit environments are expensive: share them across tests in one session.
    shared = tmp_path_factory.getbasetemp() / "pre-commit-home"
    monkeypatch.setenv("PRE_COMMIT_HOME", str(shared))


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Factory: make_repo(files, name="team") -> path of a fresh one-commit git repo."""
    counter = iter(range(1000))

    def factory(files: Mapping[str, str | bytes], name: str | None = None) -> Path:
        return init_repo(tmp_path / (name or f"repo{next(counter)}"), files)

    return factory
