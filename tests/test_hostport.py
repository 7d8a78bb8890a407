"""A service port another program holds on the host is the grader's problem (`error`),
named with its holder; never a team's service that "exited with code 3"."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from docker.errors import APIError

from grader import hostport, locks
from grader.checks.base import CheckDef, Context, Outcome, Params, failed, passed
from grader.checks.registry import REGISTRY
from grader.engineruns import CHECK_LABEL, RUN_LABEL
from grader.hostport import start_error
from grader.main import main
from tests.helpers import init_repo
from tests.services import (
    docker_client,
    ensure_base_image,
    free_port,
    manifest_data,
    service_repo,
    write_manifest,
)

LISTENER = """\
import socket, sys, time
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
print(sock.getsockname()[1], flush=True)
time.sleep(120)
"""


@pytest.fixture
def listener() -> Iterator[tuple[int, int]]:
    """(port, pid) of a real server process listening on 127.0.0.1."""
    proc = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield port, proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_free_port_is_not_taken() -> None:
    assert hostport.taken(free_port()) is None


def test_a_port_another_process_listens_on_names_its_pid_and_command(
    listener: tuple[int, int],
) -> None:
    port, pid = listener
    held = hostport.taken(port)
    assert held is not None
    assert held.startswith(f"port {port} is already in use on this machine by pid {pid} (")
    assert f"{sys.executable} -c import socket, sys, time" in held


def test_a_listener_of_this_process_on_ipv4_loopback_is_found() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert f"by pid {os.getpid()} (" in (hostport.taken(port) or "")
    assert hostport.taken(port) is None  # closed: free again


FORKING_LISTENER = """\
import os, socket, sys, time
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen()
child = os.fork()
if child == 0:
    time.sleep(120)
    os._exit(0)
print(sock.getsockname()[1], child, flush=True)
time.sleep(120)
"""


def test_children_that_inherited_the_socket_are_not_named_besides_their_parent() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", FORKING_LISTENER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port, child = map(int, proc.stdout.readline().split())
        held = hostport.taken(port) or ""
        assert held.startswith(f"port {port} is already in use on this machine by pid {proc.pid} (")
        assert f"pid {child}" not in held
    finally:
        proc.kill()
        proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize(
    "message",
    [
        "driver failed programming external connectivity on endpoint x: Bind for"
        " 127.0.0.1:{port} failed: port is already allocated",
        "failed to set up container networking: listen tcp4 127.0.0.1:{port}: bind:"
        " address already in use",
    ],
)
def test_the_engine_refusing_a_published_port_names_port_and_holder(
    listener: tuple[int, int], message: str
) -> None:
    port, pid = listener
    error = start_error(APIError(message.format(port=port)))
    assert str(error).startswith(f"port {port} is already in use on this machine by pid {pid} (")
    assert "--network published" in str(error)


def test_another_engine_error_stays_as_it_was() -> None:
    assert str(start_error(APIError("no such image"))) == (
        "the engine could not start the container: no such image"
    )


RUBRIC = {
    "milestone": "port",
    "title": "A port another program holds",
    "checks": [
        {"id": "build", "check": "container.build", "points": 10},
        {"id": "starts", "check": "service.starts", "points": 10, "needs": ["build"]},
    ],
}


@pytest.mark.docker
@pytest.mark.slow
def test_service_starts_with_its_port_taken_is_an_error_naming_port_and_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_base_image()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        repo = write_manifest(service_repo(tmp_path / "team"), manifest_data(port))
        init_repo(repo, {})
        rubric = tmp_path / "port.yaml"
        rubric.write_text(yaml.safe_dump(RUBRIC), encoding="utf-8")
        out = tmp_path / "out"
        argv = ["check", str(repo), "--rubric", str(rubric), "--out", str(out)]
        start = time.monotonic()
        code = main([*argv, "--network", "host"])
    assert code == 3, capsys.readouterr().out
    checks = json.loads((out / "results.json").read_text())["extra_data"]["grader"]["checks"]
    build, starts = checks
    assert build["status"] == "passed"
    assert starts["status"] == "error"
    assert starts["message"].startswith(
        f"port {port} is already in use on this machine by pid {os.getpid()} ("
    )
    assert "stop that process, or grade with published ports" in starts["message"]
    assert "exited" not in starts["message"]
    assert time.monotonic() - start < 120


# the port and the service go when the service's checks are done -----------------------------


class WatchParams(Params):
    port: int


def watch_the_port(ctx: Context, params: WatchParams) -> Outcome:
    """Beside the service's checks: sees the run take the port, then give it back (its service
    container gone) while this check still runs."""
    client = docker_client()
    started = f"{RUN_LABEL}={ctx.settings.run_id}"
    deadline = time.monotonic() + 60
    seen_held = False
    while time.monotonic() < deadline:
        held = locks.attempt(f"port-{params.port}")
        if held is None:
            seen_held = True
        else:
            locks.release(held)
            service = client.containers.list(all=True, filters={"label": [started]})
            if seen_held and not [c for c in service if c.labels.get(CHECK_LABEL) == "starts"]:
                return passed("the port and the service container were let go")
        time.sleep(0.05)
    return failed(f"not let go in time (seen held: {seen_held})")


LANE_RUBRIC = {"milestone": "lane", "title": "The service's checks end before the run does"}
LANE_CHECKS = [
    {"id": "build", "check": "container.build", "points": 1},
    {"id": "starts", "check": "service.starts", "points": 1, "needs": ["build"]},
    {"id": "health", "check": "service.health", "points": 1, "needs": ["starts"]},
]


@pytest.mark.docker
@pytest.mark.slow
def test_the_port_and_service_go_when_the_services_checks_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another team's service may take the port while this run's other checks go on."""
    ensure_base_image()
    monkeypatch.setitem(REGISTRY, "t.watch", CheckDef(watch_the_port, WatchParams, timeout=90))
    port = free_port()
    repo = write_manifest(service_repo(tmp_path / "team"), manifest_data(port))
    init_repo(repo, {})
    watch = {"id": "watch", "check": "t.watch", "points": 1, "needs": ["build"]}
    rubric = {**LANE_RUBRIC, "checks": [*LANE_CHECKS, {**watch, "params": {"port": port}}]}
    path = tmp_path / "lane.yaml"
    path.write_text(yaml.safe_dump(rubric), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["check", str(repo), "--rubric", str(path), "--out", str(out), "--network", "host"])
    checks = json.loads((out / "results.json").read_text())["extra_data"]["grader"]["checks"]
    assert code == 0, checks
    assert [c["status"] for c in checks] == ["passed"] * 4
    assert checks[3]["message"] == "the port and the service container were let go"
