"""The engine layer: limits, time limits, labels and cleanup, and a missing engine."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from docker import errors as docker_errors

from grader import engine as engine_module
from grader import engineruns
from grader.checks import container
from grader.checks.base import Context, NoParams, Provided, RunSettings
from grader.engine import Engine, Limits, decide_network, mode_for
from grader.engineruns import cleanup, connect
from grader.errors import CheckError, EngineError, UsageError
from grader.main import main
from grader.manifest import Manifest
from tests.helpers import init_repo
from tests.services import (
    docker_client,
    ensure_base_image,
    free_port,
    grader_leftovers,
    manifest_data,
    network_mode,
    new_run_id,
    service_repo,
    write_manifest,
)

IMAGE = "python:3.11-slim"
docker_only = pytest.mark.docker


@pytest.fixture
def engine() -> Iterator[Engine]:
    run_id = new_run_id()
    with Engine(run_id=run_id, check_id="engine-test", network_mode=network_mode()) as eng:
        yield eng
    cleanup(run_id=run_id)


# without an engine ----------------------------------------------------------------------


def test_network_mode_comes_from_the_option_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # bridge unknown
    monkeypatch.setenv("GRADER_NETWORK", "HOST")
    assert decide_network() == "host"
    assert decide_network("published") == "published"  # the option wins
    monkeypatch.setenv("GRADER_NETWORK", "published")
    assert decide_network() == "published"
    monkeypatch.setenv("GRADER_NETWORK", "bridge")
    with pytest.raises(
        UsageError, match="GRADER_NETWORK='bridge': expected auto, published or host"
    ):
        decide_network()
    with pytest.raises(UsageError, match="network mode 'bridge': expected auto"):
        decide_network("bridge")


def test_auto_network_mode_without_an_engine_keeps_published_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GRADER_NETWORK", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert decide_network() == "published"


@docker_only
def test_auto_network_mode_follows_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADER_NETWORK", raising=False)
    assert decide_network() == network_mode()  # host here: the engine has no bridge
    assert decide_network("published") == network_mode()  # no bridge: nothing to publish on


def test_an_unreachable_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EngineError) as info:
        connect()
    assert str(info.value).startswith("no Docker engine answers at unix:///nonexistent/docker.sock")
    assert "check that `docker info` answers" in str(info.value)


def test_a_check_without_an_engine_is_an_error_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    ctx = Context(
        tmp_path,
        None,
        Manifest.model_validate(manifest_data(8000)),
        settings=RunSettings(run_id="x"),
        provided=Provided(image="sha256:0"),
    )
    with pytest.raises(CheckError, match="no Docker engine answers"):
        container.non_root(ctx, NoParams())


def test_the_grader_process_turns_mlflow_telemetry_off() -> None:
    """MLflow calls its telemetry servers when a run starts, unless it sees CI or a test
    (what this suite's own environment shows it): the grader's processes turn it off."""
    ci = {"CI", "GITHUB_ACTIONS", "PYTEST_CURRENT_TEST", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"}
    env = {k: v for k, v in os.environ.items() if k not in ci}
    probe = "from mlflow.telemetry.utils import is_telemetry_disabled as off; print(off())"
    seen = {}
    for first in ("", "import grader; "):
        done = subprocess.run(
            [sys.executable, "-c", first + probe], env=env, capture_output=True, text=True
        )
        seen[first] = done.stdout.strip() or done.stderr[-500:]
    assert seen == {"": "False", "import grader; ": "True"}


# run limits -----------------------------------------------------------------------------


@docker_only
def test_run_drops_privileges_and_passes_no_host_environment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    script = "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; env; cat /sys/class/net/*/address"
    env = {"MODE": "test", "DO_NOT_TRACK": "0"}
    result = engine.run(IMAGE, ["sh", "-c", script], env=env, timeout=30)
    assert result.exit_code == 0, result.output
    assert "CapEff:\t0000000000000000" in result.output
    assert "NoNewPrivs:\t1" in result.output
    assert "MODE=test" in result.output
    assert "hunter2" not in result.output
    # No usage telemetry from what runs inside, unless the check or manifest says otherwise.
    assert "MLFLOW_DISABLE_TELEMETRY=true" in result.output
    assert "DO_NOT_TRACK=0" in result.output
    # network "none": only the loopback interface exists
    assert result.output.strip().endswith("00:00:00:00:00:00")


@docker_only
def test_run_stops_at_the_memory_limit(engine: Engine) -> None:
    hog = "x = bytearray(400 * 1024 * 1024); print('survived')"
    result = engine.run(IMAGE, ["python", "-c", hog], limits=Limits(memory="128m"), timeout=60)
    assert result.exit_code == 137
    assert result.oom_killed
    assert "survived" not in result.output


@docker_only
def test_run_stops_a_fork_bomb_at_the_pids_limit(engine: Engine) -> None:
    script = "for i in $(seq 1 100); do sleep 5 & done 2>&1 | head -1; echo done"
    result = engine.run(IMAGE, ["sh", "-c", script], limits=Limits(pids=20), timeout=60)
    assert "cannot fork" in result.output.lower()


@docker_only
def test_run_kills_at_the_time_limit_and_truncates_output(engine: Engine) -> None:
    begin = time.monotonic()
    script = "python -c \"print('x' * 100000)\"; sleep 60"
    result = engine.run(IMAGE, ["sh", "-c", script], timeout=2)
    assert result.timed_out
    assert result.exit_code is None
    assert time.monotonic() - begin < 20
    assert len(result.output) < 9000
    assert result.output.startswith("[... ")


@docker_only
def test_build_stops_at_its_time_limit_and_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    marker = new_run_id()
    (tmp_path / "Dockerfile").write_text(f"FROM {IMAGE}\nRUN sleep 120 && echo {marker}\n")
    result = engine.build(tmp_path, timeout=3)
    assert (result.ok, result.timed_out, result.error) == (False, True, "timed out after 3s")
    client = docker_client()
    for _ in range(50):
        steps = [c for c in client.containers.list(all=True) if marker in str(c.attrs["Config"])]
        if not steps:
            break
        time.sleep(0.2)
    client.close()
    assert not steps, "the build step's container was left behind"


@docker_only
def test_cleanup_removes_what_a_killed_check_left(tmp_path: Path) -> None:
    run_id = new_run_id()
    eng = Engine(run_id=run_id, check_id="service.starts", network_mode=network_mode())
    box = eng.create(IMAGE, ["sleep", "300"])
    box.start()
    eng.keep(box.id)
    eng.close()  # a kept container survives its engine, as a started service does
    assert docker_client().containers.get(box.id).status == "running"
    assert cleanup(run_id=run_id, checks={"other.check"}).containers == 0
    assert cleanup(run_id=run_id, checks={"other.check", "service.health"}).containers == 0
    assert docker_client().containers.get(box.id).status == "running"
    assert cleanup(run_id=run_id, checks={"other.check", "service.starts"}).containers == 1
    assert cleanup(run_id=run_id).containers == 0


@docker_only
def test_a_runs_image_built_from_another_goes_with_it_whatever_the_order() -> None:
    """The engine refuses to remove a parent before its child, and lists images by the
    second they were made: cleanup takes what was refused again once the rest is gone."""
    run_id = new_run_id()
    client = docker_client()
    labels = {engineruns.LABEL: "1", engineruns.RUN_LABEL: run_id}
    made = []
    try:
        parent = IMAGE
        for _ in range(2):  # a parent, then its child
            box = client.containers.create(parent, ["true"])
            made.append(box.commit(conf={"Labels": labels}).id)
            box.remove()
            parent = made[-1]
        assert client.images.get(made[1]).attrs["Parent"] == made[0]
        with pytest.raises(docker_errors.APIError):  # the engine's refusal
            client.images.remove(made[0], force=True)
        assert engineruns.remove_images(client, made) == []
        assert grader_leftovers(run_id) == []
    finally:
        for image_id in reversed(made):
            with contextlib.suppress(docker_errors.NotFound):
                client.images.remove(image_id, force=True)
        client.close()


@docker_only
def test_grader_clean_removes_a_crashed_runs_leftovers(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = new_run_id()
    eng = Engine(run_id=run_id, check_id="build", network_mode=network_mode())
    eng.keep(eng.create(IMAGE, ["true"]).id)
    eng.close()
    assert main(["clean", "--run", run_id]) == 0
    assert capsys.readouterr().out == "removed 1 containers, 0 images, 0 networks\n"
    assert grader_leftovers(run_id) == []


def _owned_container(owner: str, run_id: str) -> str:
    labels = {
        engineruns.LABEL: "1",
        engineruns.RUN_LABEL: run_id,
        engineruns.OWNER_LABEL: owner,
    }
    box = docker_client().containers.create(IMAGE, ["sleep", "300"], labels=labels)
    return str(box.id)


@docker_only
def test_the_next_run_removes_what_ended_runs_left_and_nothing_else() -> None:
    """A killed grader's containers (its process is gone) and a finished run's leftovers in
    this process go; a live grader's, another host's and a run in progress stay."""
    host = socket.gethostname()
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ids = {
        "killed": _owned_container(f"{host}:{gone.stdout.strip()}", new_run_id()),
        "ended": _owned_container(f"{host}:{os.getpid()}", new_run_id()),
        "live": _owned_container(f"{host}:{live.pid}", new_run_id()),
        "elsewhere": _owned_container(f"another-host:{os.getpid()}", new_run_id()),
    }
    current = new_run_id()
    client = docker_client()

    def left() -> set[str]:
        return {n for n, c in ids.items() if client.containers.list(all=True, filters={"id": c})}

    try:
        with engineruns.owned_run(current):  # sweeps, then this run is in progress
            assert left() == {"live", "elsewhere"}
            ids["current"] = _owned_container(f"{host}:{os.getpid()}", current)
            engineruns.sweep_ended_runs()
            assert left() == {"live", "elsewhere", "current"}
        with engineruns.owned_run(new_run_id()):  # `current` has ended now
            assert left() == {"live", "elsewhere"}
    finally:
        live.kill()
        live.wait()
        for cid in ids.values():
            with contextlib.suppress(Exception):
                client.api.remove_container(cid, force=True)
        client.close()


@docker_only
def test_what_a_grading_run_creates_names_its_owner(engine: Engine) -> None:
    with engineruns.owned_run("owner-test"):
        labels = engineruns.labels_for("owner-test")
    assert labels[engineruns.OWNER_LABEL] == f"{socket.gethostname()}:{os.getpid()}"
    assert engineruns.OWNER_LABEL not in engineruns.labels_for("outside-a-run")


# a whole run interrupted ----------------------------------------------------------------

RUBRIC = {
    "milestone": "m3",
    "title": "Container and service",
    "checks": [
        {"id": "build", "check": "container.build", "points": 10},
        {"id": "starts", "check": "service.starts", "points": 10, "needs": ["build"]},
        {
            "id": "latency",
            "check": "service.latency",
            "points": 10,
            "needs": ["starts"],
            "params": {"requests": 100000, "concurrency": 1},
        },
    ],
}


@docker_only
@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 130)])
def test_an_interrupted_run_leaves_no_container_or_image(
    tmp_path: Path, signum: int, code: int
) -> None:
    ensure_base_image()
    repo = service_repo(tmp_path / "team")
    port = free_port()
    write_manifest(repo, manifest_data(port, fault="slow"))
    init_repo(repo, {})
    rubric = tmp_path / "m3.yaml"
    rubric.write_text(yaml.safe_dump(RUBRIC), encoding="utf-8")
    env = {**os.environ, "GRADER_NETWORK": network_mode()}
    cmd = [sys.executable, "-m", "grader", "check", str(repo), "--rubric", str(rubric)]
    cmd += ["--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        run_id = _wait_for_running_service(proc, port, timeout=120)
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, output.decode()
    assert grader_leftovers(run_id) == []


def _wait_for_running_service(proc: subprocess.Popen[bytes], port: int, timeout: float) -> str:
    """The run id of the grader run whose service (on `port`) is up; fails if it never is."""
    client = docker_client()
    flt = {"label": "org.mlops-capstone-kit.check=starts", "status": "running"}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            for box in client.containers.list(filters=flt):
                if f"PORT={port}" in box.attrs["Config"]["Env"]:
                    time.sleep(1.0)  # into the latency check
                    return str(box.labels["org.mlops-capstone-kit.run"])
            time.sleep(0.3)
    finally:
        client.close()
    pytest.fail("the grader never started the service")


# published ports (the users' default; this kit's CI engine has no bridge) --------------


class _FakeContainer:
    def __init__(self, ports: list[dict[str, Any] | None]) -> None:
        self._ports = iter(ports)
        self.attrs: dict[str, Any] = {}

    def reload(self) -> None:
        self.attrs = {"NetworkSettings": {"Ports": next(self._ports)}}


def test_the_published_host_port_is_read_once_the_engine_binds_it() -> None:
    bound = {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]}
    container = _FakeContainer([None, {"8000/tcp": None}, bound])
    assert engine_module._published_port(container, 8000) == 49153  # type: ignore[arg-type]


def test_published_falls_back_to_host_only_without_a_bridge() -> None:
    assert mode_for("published", has_bridge=True) == "published"
    assert mode_for("auto", has_bridge=True) == "published"
    assert mode_for("published", has_bridge=False) == "host"
    assert mode_for("auto", has_bridge=False) == "host"
    assert mode_for("auto", has_bridge=None) == "published"  # no engine yet: the default
    assert mode_for("host", has_bridge=True) == "host"
