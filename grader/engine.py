"""The container engine: build, run and watch team code in Docker, and always clean up.

Team code is untrusted. Everything here runs it with limits (memory, CPUs, processes),
`no-new-privileges`, every capability dropped, no host environment, a time limit and
bounded logs. Everything it creates is labelled with its run and check, and removed by
label (grader/engineruns.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import docker
import httpx
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout

from grader import NO_TELEMETRY, hostport, web
from grader.engineimages import LOG_LIMIT, Images, slug
from grader.engineruns import (
    connect,
    labels_for,
)
from grader.errors import EngineError, UsageError
from grader.text import tail

NetworkMode = Literal["published", "host"]
NETWORK_MODES: tuple[NetworkMode, ...] = ("published", "host")
_DECIDED: dict[tuple[str, str], NetworkMode] = {}


def decide_network(requested: str | None = None) -> NetworkMode:
    """How the run's containers are reached, decided once per process and engine.

    `requested` is the CLI's --network; None reads GRADER_NETWORK, else `auto`. Published
    ports need the engine's bridge network: Docker Desktop and default engines have one;
    engines started with `--bridge=none` (locked-down lab and CI machines) do not, and there
    only host networking reaches a container, so `auto` and `published` both mean host. An
    engine that does not answer yet keeps published ports.
    """
    named = requested if requested is not None else os.environ.get("GRADER_NETWORK")
    value = (named or "auto").strip().lower()
    if value not in (*NETWORK_MODES, "auto"):
        where = "network mode " if requested is not None else "GRADER_NETWORK="
        raise UsageError(f"{where}{value!r}: expected auto, published or host")
    key = (value, os.environ.get("DOCKER_HOST", ""))
    if key not in _DECIDED:
        _DECIDED[key] = mode_for(value, None if value == "host" else _has_bridge())
    return _DECIDED[key]


def mode_for(value: str, has_bridge: bool | None) -> NetworkMode:
    """The mode for a requested value, given whether the engine has a bridge (None: unknown)."""
    if value == "host" or has_bridge is False:
        return "host"
    return "published"


def _has_bridge() -> bool | None:
    try:
        client = docker.from_env(timeout=10)
        try:
            return bool(client.networks.list(names=["bridge"]))
        finally:
            client.close()
    except (DockerException, RequestsConnectionError, OSError):
        return None


@dataclass(frozen=True)
class Limits:
    """Resources one container may use; a fork bomb or a memory leak stops at these."""

    memory: str = "1g"
    cpus: float = 1.0
    pids: int = 256


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None
    output: str
    timed_out: bool
    seconds: float
    oom_killed: bool = False


@dataclass(frozen=True)
class ServiceHandle:
    """A started service container and where the grader reaches it."""

    container_id: str
    base_url: str
    port: int


@dataclass(frozen=True)
class Health:
    healthy: bool
    seconds: float
    reason: str
    via: str
    attempts: int = 0


class Engine(Images):
    """One check's view of the engine: what it creates is labelled and removed on close.

    Use as a context manager. `keep()` a container or image that later checks need
    (the built image, the started service): the run's final cleanup removes those.
    """

    def __init__(
        self,
        *,
        run_id: str = "local",
        check_id: str = "",
        network_mode: NetworkMode | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        if network_mode is not None and network_mode not in NETWORK_MODES:
            raise UsageError(f"network mode {network_mode!r} is not one of {NETWORK_MODES}")
        self.run_id = run_id
        self.check_id = check_id
        self.client = client or connect()
        self.network_mode: NetworkMode = network_mode or decide_network()
        self.labels = labels_for(run_id, check_id)
        self._containers: list[str] = []
        self._images: list[str] = []
        self._kept: set[str] = set()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def adopt_image(self, image_id: str) -> None:
        """Remove this image on close too (e.g. a committed container)."""
        self._images.append(image_id)

    def keep(self, resource_id: str) -> None:
        self._kept.add(resource_id)

    def close(self) -> None:
        """Remove what this engine created and was not kept; never raises."""
        for cid in self._containers:
            if cid not in self._kept:
                self.remove_container(cid)
        for iid in self._images:
            if iid not in self._kept:
                with contextlib.suppress(DockerException):
                    self.client.images.remove(iid, force=True)
        self._containers.clear()
        self._images.clear()
        self.client.close()

    def anchor(self, image: str) -> bool:
        """Hold `image` for the rest of the run: a created, never started container of it
        (removed by the run's cleanup), so that no other run can remove the image meanwhile
        (one that builds the same repository's next commit replaces its image). False when
        the image is already gone."""
        try:
            self.keep(self.create(image, ["true"]).id)
        except (ImageNotFound, NotFound):
            return False
        return True

    # run -----------------------------------------------------------------------------

    def create(
        self,
        image: str,
        command: list[str] | str | None = None,
        *,
        limits: Limits = Limits(),
        network: str = "none",
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        working_dir: str | None = None,
        ports: dict[str, Any] | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
        entrypoint: list[str] | str | None = None,
    ) -> Container:
        """A created (not started) container with every sandbox limit applied."""
        name = f"grader-{self.run_id}-{slug(self.check_id or 'run')}-{uuid.uuid4().hex[:6]}"
        container: Container = self.client.containers.create(
            image,
            command,
            name=name,
            labels=self.labels,
            # What the manifest or check sets; telemetry off unless they say otherwise.
            environment={**NO_TELEMETRY, **(env or {})},
            mem_limit=limits.memory,
            memswap_limit=limits.memory,
            nano_cpus=int(limits.cpus * 1e9),
            pids_limit=limits.pids,
            security_opt=["no-new-privileges"],
            cap_drop=["ALL"],
            network_mode=network if network != "published" else None,
            ports=ports,
            user=user,
            working_dir=working_dir,
            volumes=volumes,
            entrypoint=entrypoint,
            log_config=LogConfig(type="json-file", config={"max-size": "2m", "max-file": "1"}),
            detach=True,
        )
        self._containers.append(container.id)
        return container

    def run(
        self,
        image: str,
        command: list[str] | str | None = None,
        *,
        timeout: float = 60,
        limits: Limits = Limits(),
        network: str = "none",
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        working_dir: str | None = None,
        volumes: dict[str, dict[str, str]] | None = None,
    ) -> RunResult:
        """Run a command to its end (or its time limit) and return its truncated output."""
        container = self.create(
            image,
            command,
            limits=limits,
            network=network,
            env=env,
            user=user,
            working_dir=working_dir,
            volumes=volumes,
        )
        return self.wait(container, timeout)

    def wait(self, container: Container, timeout: float) -> RunResult:
        """Start a created container and wait for it; kill it at the time limit."""
        start = time.monotonic()
        container.start()
        timed_out, code = False, None
        try:
            code = int(container.wait(timeout=timeout)["StatusCode"])
        except (ReadTimeout, RequestsConnectionError):
            timed_out = True
            with contextlib.suppress(DockerException):
                container.kill()
        seconds = time.monotonic() - start
        container.reload()
        oom = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return RunResult(code, self.logs(container.id), timed_out, seconds, oom)

    def logs(self, container_id: str, limit: int = LOG_LIMIT) -> str:
        """The end of a container's output (stdout and stderr), for evidence."""
        try:
            raw = self.client.api.logs(container_id, stdout=True, stderr=True, tail=400)
        except DockerException:
            return ""
        return tail(raw.decode("utf-8", errors="replace"), limit)

    def remove_container(self, container_id: str) -> None:
        with contextlib.suppress(DockerException):
            self.client.api.remove_container(container_id, force=True, v=True)

    # services ------------------------------------------------------------------------

    def start_service(
        self,
        image: str,
        *,
        port: int,
        env: Mapping[str, str] | None = None,
        limits: Limits = Limits(),
        command: Sequence[str] | None = None,
    ) -> ServiceHandle:
        """Start a long-running service and say where it answers (127.0.0.1 only)."""
        held = hostport.taken(port) if self.network_mode == "host" else None
        if held:
            raise EngineError(f"{held}: {hostport.HOST_PORT_HINT}")
        ports = None
        if self.network_mode == "published":
            ports = {f"{port}/tcp": ("127.0.0.1", None)}  # a free host port, loopback only
        network = "host" if self.network_mode == "host" else "published"
        container = self.create(
            image,
            list(command) if command else None,
            limits=limits,
            network=network,
            env=env,
            ports=ports,
        )
        try:
            container.start()
        except APIError as exc:
            raise hostport.start_error(exc) from None
        host_port = port if self.network_mode == "host" else _published_port(container, port)
        return ServiceHandle(container.id, f"http://127.0.0.1:{host_port}", host_port)

    def wait_healthy(
        self,
        service: ServiceHandle,
        *,
        health_path: str | None,
        timeout: float,
        docker_health: bool = False,
        health_method: str = "GET",
    ) -> Health:
        """Wait until the service is healthy, or exits, or the time limit passes.

        With `docker_health`, healthy means the image's HEALTHCHECK reports `healthy`;
        otherwise `health_path` answers 2xx. Polls with backoff from 0.05 s up to 0.25 s:
        a poll costs a few milliseconds, an over-wait is time the whole run loses.
        """
        via = "Docker HEALTHCHECK" if docker_health else f"{health_method} {health_path}"
        start = time.monotonic()
        delay, attempts, last = 0.05, 0, "no answer yet"
        with web.client(local=True, timeout=2.0) as http:
            while True:
                attempts += 1
                state = self._state(service.container_id)
                if state.get("Status") in ("exited", "dead"):
                    code = state.get("ExitCode")
                    reason = f"the container exited with code {code}"
                    if state.get("OOMKilled"):
                        reason += " (out of memory)"
                    return Health(False, time.monotonic() - start, reason, via, attempts)
                if docker_health:
                    ok, last = _docker_health(state)
                else:
                    url = service.base_url + (health_path or "/")
                    ok, last = _http_health(http, url, health_method)
                elapsed = time.monotonic() - start
                if ok:
                    return Health(True, elapsed, last, via, attempts)
                if elapsed >= timeout:
                    reason = f"not healthy within {timeout:g}s ({last})"
                    return Health(False, elapsed, reason, via, attempts)
                time.sleep(min(delay, max(0.0, timeout - elapsed)))
                delay = min(delay * 1.5, 0.25)

    def _state(self, container_id: str) -> dict[str, Any]:
        try:
            attrs = self.client.api.inspect_container(container_id)
        except NotFound:
            return {"Status": "dead", "ExitCode": None}
        state: dict[str, Any] = attrs.get("State", {})
        return state

    def seconds_running(self, container_id: str) -> float:
        """Seconds since the container started (0 if the engine does not say)."""
        started = str(self._state(container_id).get("StartedAt") or "")
        try:  # RFC 3339 with nanoseconds: Python reads microseconds
            when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", started))
        except ValueError:
            return 0.0
        return max(0.0, (datetime.now(UTC) - when).total_seconds())

    def container_running(self, container_id: str) -> bool:
        return self._state(container_id).get("Status") == "running"


def _docker_health(state: dict[str, Any]) -> tuple[bool, str]:
    health = state.get("Health")
    if not health:
        return False, "the image declares no HEALTHCHECK"
    status = str(health.get("Status"))
    probes = health.get("Log") or []
    detail = ""
    if probes:
        last = probes[-1]
        detail = f"; last probe exit {last.get('ExitCode')}: {str(last.get('Output', ''))[:200]}"
    return status == "healthy", f"health status {status}{detail}"


def _http_health(http: httpx.Client, url: str, method: str = "GET") -> tuple[bool, str]:
    try:
        response = http.request(method, url)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}"
    return response.is_success, f"HTTP {response.status_code}"


def _published_port(container: Container, port: int) -> int:
    for _ in range(50):
        container.reload()
        bound = (container.attrs["NetworkSettings"].get("Ports") or {}).get(f"{port}/tcp")
        if bound:
            return int(bound[0]["HostPort"])
        time.sleep(0.1)
    raise EngineError(f"the engine published no host port for container port {port}")
