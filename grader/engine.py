"""The container engine: build, run and watch team code in Docker, and always clean up.

Team code is untrusted. Everything here runs it with limits (memory, CPUs, processes),
`no-new-privileges`, every capability dropped, no host environment, a time limit and
bounded logs. Every container and image the grader creates carries the grader's label,
the run's id and the check's id, so `cleanup()` can remove it by label: after a normal
run, an exception, a check's timeout (its process is killed and cannot clean up after
itself), Ctrl-C or SIGTERM, or a crash of the whole grader (`grader clean`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import docker
import httpx
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from docker.types import LogConfig
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ReadTimeout

from grader import hostport, web
from grader.errors import EngineError, UsageError
from grader.text import tail

LABEL = "org.mlops-capstone-kit.grader"
RUN_LABEL = "org.mlops-capstone-kit.run"
CHECK_LABEL = "org.mlops-capstone-kit.check"
# host:pid of the process whose grading run made a resource: the next run on this host
# removes what a run left behind once that process is gone (a killed grader), or, in the
# same process, once the run has ended.
OWNER_LABEL = "org.mlops-capstone-kit.owner"
# Images kept between runs on purpose (dependency environments, team images by content):
# never a run's to remove; `grader clean --cache` removes them.
CACHE_LABEL = "org.mlops-capstone-kit.cache"
BUILD_KEY_LABEL = "org.mlops-capstone-kit.build-key"
BUILD_SOURCE_LABEL = "org.mlops-capstone-kit.build-source"
BUILD_REPOSITORY = "mlops-capstone-kit/build"
NETWORK_MODES = ("published", "host")
LOG_LIMIT = 8000
HINT = (
    "Start Docker (Docker Desktop, or `sudo systemctl start docker`; in this kit "
    "`make docker`) and check that `docker info` answers."
)


def network_mode_from_env(default: str = "auto") -> str:
    """How containers reach the network: GRADER_NETWORK=host|published|auto, else `default`."""
    value = os.environ.get("GRADER_NETWORK", "").strip().lower() or default
    if value not in (*NETWORK_MODES, "auto"):
        raise UsageError(f"GRADER_NETWORK={value!r}: expected auto, published or host")
    return resolve_network(value)


def resolve_network(mode: str) -> str:
    """`auto`: publish ports where the engine has a bridge network, else host networking.

    Docker Desktop and default engines have a bridge; engines started with
    `--bridge=none` (locked-down lab and CI machines) do not, and there only host
    networking reaches a container. An unreachable engine keeps the default.
    """
    if mode not in (*NETWORK_MODES, "auto"):
        raise UsageError(f"network mode {mode!r}: expected auto, published or host")
    if mode != "auto":
        return mode
    try:
        client = docker.from_env(timeout=10)
        try:
            return "published" if client.networks.list(names=["bridge"]) else "host"
        finally:
            client.close()
    except (DockerException, RequestsConnectionError, OSError):
        return "published"


def connect(timeout: float = 60) -> docker.DockerClient:
    """A client of a live engine, or an EngineError that says how to start one."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except (DockerException, RequestsConnectionError, OSError) as exc:
        raise EngineError(f"no Docker engine answers at {where} ({exc}). {HINT}") from None
    return client


@dataclass(frozen=True)
class Limits:
    """Resources one container may use; a fork bomb or a memory leak stops at these."""

    memory: str = "1g"
    cpus: float = 1.0
    pids: int = 256


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    image_id: str | None
    seconds: float
    log_tail: str
    error: str = ""
    timed_out: bool = False


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


@dataclass(frozen=True)
class Cleaned:
    containers: int = 0
    images: int = 0
    networks: int = 0


def labels_for(run_id: str, check_id: str = "") -> dict[str, str]:
    labels = {LABEL: "1", RUN_LABEL: run_id, CHECK_LABEL: check_id}
    if _owner is not None:
        labels[OWNER_LABEL] = _owner
    return labels


_owner: str | None = None  # set while a grading run is in progress (inherited by forks)
_active_runs: set[str] = set()


@contextlib.contextmanager
def owned_run(run_id: str) -> Iterator[None]:
    """Mark what this run creates with its owner, after removing what ended runs left."""
    global _owner
    with contextlib.suppress(EngineError, DockerException, RequestsConnectionError):
        sweep_ended_runs()
    previous = _owner
    _owner = f"{socket.gethostname()}:{os.getpid()}"
    _active_runs.add(run_id)
    try:
        yield
    finally:
        _active_runs.discard(run_id)
        _owner = previous


def sweep_ended_runs(client: docker.DockerClient | None = None) -> Cleaned:
    """Remove containers and images of runs on this host that have ended: their process is
    gone, or it is this process and the run is no longer in progress. Runs of other live
    processes, other hosts and the environment caches are never touched."""
    owned = client is None
    client = client or connect()
    try:
        flt = {"label": [f"{LABEL}=1", OWNER_LABEL]}
        containers = [c for c in client.containers.list(all=True, filters=flt) if _ended(c.labels)]
        images = [i for i in client.images.list(filters=flt) if _ended(i.labels)]
        _remove(client, containers, images)
        return Cleaned(len(containers), len(images), 0)
    finally:
        if owned:
            client.close()


def _ended(labels: Mapping[str, str]) -> bool:
    host, _, pid_text = str(labels.get(OWNER_LABEL, "")).rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return labels.get(RUN_LABEL) not in _active_runs
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _filters(run_id: str | None, check_id: str | None) -> dict[str, list[str]]:
    wanted = [f"{LABEL}=1"]
    if run_id:
        wanted.append(f"{RUN_LABEL}={run_id}")
    if check_id:
        wanted.append(f"{CHECK_LABEL}={check_id}")
    return {"label": wanted}


def cleanup(
    run_id: str | None = None,
    check_id: str | None = None,
    client: docker.DockerClient | None = None,
) -> Cleaned:
    """Remove the grader's containers, networks and images (of one run or check, or all)."""
    owned = client is None
    client = client or connect()
    filters = _filters(run_id, check_id)
    try:
        containers = client.containers.list(all=True, filters=filters)
        _remove(client, containers, ())  # a network or image in use cannot go
        networks = client.networks.list(filters=filters)
        for net in networks:
            with contextlib.suppress(NotFound, APIError):
                net.remove()
        images = client.images.list(filters=filters)
        _remove(client, (), images)
        return Cleaned(len(containers), len(images), len(networks))
    finally:
        if owned:
            client.close()


def _remove(client: docker.DockerClient, containers: Sequence[Any], images: Sequence[Any]) -> None:
    """Containers first (an image in use cannot go), each removal on its own."""
    for container in containers:
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True, v=True)
    for image in images:
        with contextlib.suppress(NotFound, APIError):
            client.images.remove(image.id, force=True)


@contextlib.contextmanager
def cleanup_on_signals(run_id: str) -> Iterator[None]:
    """Turn SIGTERM into SystemExit so `finally` blocks run, and clean the run up at the end.

    SIGINT already raises KeyboardInterrupt; SIGTERM would kill the process with no
    cleanup at all. Only the main thread may install handlers, so elsewhere it just cleans.
    """
    previous: Any = None
    main = threading.current_thread() is threading.main_thread()
    if main:

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        with contextlib.suppress(EngineError, DockerException, RequestsConnectionError):
            cleanup(run_id=run_id)
        if main:
            signal.signal(signal.SIGTERM, previous)


HOST_PORT_HINT = (
    "the team's service must listen on it (host networking); stop that process, or grade"
    " with published ports (--network published)"
)
PORT_CLASH = re.compile(r"port is already allocated|address already in use", re.IGNORECASE)


def _start_error(exc: APIError) -> EngineError:
    """The engine could not start a container; a host port another process holds is named
    with its holder, like the check before starting a service on the host's network."""
    text = str(exc)
    if PORT_CLASH.search(text):
        ports = re.findall(r":(\d{1,5})\b", text)
        held = hostport.taken(int(ports[-1])) if ports else None
        if held:
            return EngineError(f"{held}: {HOST_PORT_HINT}")
        return EngineError(f"the engine could not publish the service's port: {text}")
    return EngineError(f"the engine could not start the container: {text}")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def inside(root: Path, rel: str) -> Path:
    """`root/rel` if it stays inside root once links resolve; else an EngineError."""
    base = root.resolve()
    path = (root / rel).resolve()
    if path != base and base not in path.parents:
        raise EngineError(f"{rel!r} leaves the repository")
    return path


class Engine:
    """One check's view of the engine: what it creates is labelled and removed on close.

    Use as a context manager. `keep()` a container or image that later checks need
    (the built image, the started service): the run's final cleanup removes those.
    """

    def __init__(
        self,
        *,
        run_id: str = "local",
        check_id: str = "",
        network_mode: str = "published",
        client: docker.DockerClient | None = None,
    ) -> None:
        if network_mode not in NETWORK_MODES:
            raise UsageError(f"network mode {network_mode!r} is not one of {NETWORK_MODES}")
        self.run_id = run_id
        self.check_id = check_id
        self.client = client or connect()
        self.network_mode = _effective_mode(self.client, network_mode)
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

    # build ---------------------------------------------------------------------------

    def build(
        self,
        context: Path,
        dockerfile: str = "Dockerfile",
        *,
        buildargs: Mapping[str, str] | None = None,
        timeout: float = 600,
        network_mode: str | None = None,
        memory: str = "2g",
        nocache: bool = False,
        key: str | None = None,
        source: str = "",
    ) -> BuildResult:
        """Build an image; a failing or slow build is a BuildResult, not an exception.

        `network_mode` is the build's (None: "host" when the grader runs with host
        networking, else the engine's default, which reaches the package index).
        `key` (what the build was made from, see `built`): the image is kept between runs
        as `mlops-capstone-kit/build:<key>`, so the same files are never built twice, and
        it replaces the one kept for the same `source` (a repository): one image per team
        is kept, and its layers are the build cache of the team's next commit.
        """
        tag = f"grader-{self.run_id}/{_slug(self.check_id or 'build')}:{uuid.uuid4().hex[:8]}"
        # Each label is one more step of the classic builder: images carry only the ones
        # cleanup needs (a timed-out build leaves no image to find by check).
        labels = {LABEL: "1", RUN_LABEL: self.run_id, **({OWNER_LABEL: _owner} if _owner else {})}
        if key is not None:
            tag = f"{BUILD_REPOSITORY}:{key[:32]}"
            labels = {
                LABEL: "cache",
                CACHE_LABEL: "1",
                BUILD_KEY_LABEL: key,
                BUILD_SOURCE_LABEL: source,
            }
        net = network_mode or ("host" if self.network_mode == "host" else None)
        kwargs: dict[str, Any] = {
            "path": str(context),
            "dockerfile": dockerfile,
            "tag": tag,
            "buildargs": dict(buildargs or {}),
            "labels": labels,
            "network_mode": net,
            "rm": True,
            "forcerm": True,
            "pull": False,
            "nocache": nocache,
            "decode": True,
            "container_limits": {"memory": _bytes(memory)},
        }
        lines: list[str] = []
        state: dict[str, Any] = {}
        start = time.monotonic()
        finished = _stream_build(
            kwargs, timeout, lambda chunk: _take_build_chunk(chunk, lines, state)
        )
        seconds = time.monotonic() - start
        if not finished:
            self._forget_tag(tag)
            log = tail("".join(lines), LOG_LIMIT)
            return BuildResult(False, None, seconds, log, f"timed out after {timeout:g}s", True)
        log = tail("".join(lines), LOG_LIMIT)
        image_id = state.get("image_id")
        if "error" in state or not image_id:
            return BuildResult(False, None, seconds, log, state.get("error", "no image produced"))
        if key is None:
            self._images.append(image_id)
        elif source:
            self._replace_builds(source, image_id)
        return BuildResult(True, image_id, seconds, log)

    def _replace_builds(self, source: str, image_id: str) -> None:
        """Remove the images kept for `source` but the new one; one that a run in progress
        holds (`anchor`) stays: the engine refuses to remove an image a container uses."""
        flt = {"label": [f"{CACHE_LABEL}=1", f"{BUILD_SOURCE_LABEL}={source}"]}
        with contextlib.suppress(DockerException):
            for image in self.client.images.list(filters=flt):
                if image.id == image_id:
                    continue
                for tag in image.tags:  # untagged, it goes with its layers no other holds
                    with contextlib.suppress(DockerException):
                        self.client.images.remove(tag)

    def image_id(self, name: str) -> str:
        """The id of a local image by name, or "absent" (a build would then pull it)."""
        try:
            return str(self.client.images.get(name).id)
        except (ImageNotFound, APIError):
            return "absent"

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

    def built(self, key: str) -> str | None:
        """The id of the image built earlier from the same files (`key`), if still here."""
        try:
            image = self.client.images.get(f"{BUILD_REPOSITORY}:{key[:32]}")
        except (ImageNotFound, APIError):
            return None
        return str(image.id) if image.labels.get(BUILD_KEY_LABEL) == key else None

    def _forget_tag(self, tag: str) -> None:
        with contextlib.suppress(DockerException):
            self.client.images.remove(tag, force=True)

    def image_attrs(self, image: str) -> dict[str, Any]:
        try:
            attrs: dict[str, Any] = self.client.images.get(image).attrs
        except ImageNotFound:
            raise EngineError(f"image {image} is gone (removed by a cleanup?)") from None
        return attrs

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
        name = f"grader-{self.run_id}-{_slug(self.check_id or 'run')}-{uuid.uuid4().hex[:6]}"
        container: Container = self.client.containers.create(
            image,
            command,
            name=name,
            labels=self.labels,
            environment=dict(env or {}),  # only what the manifest or check sets
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
            raise EngineError(f"{held}: {HOST_PORT_HINT}")
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
            raise _start_error(exc) from None
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

    def container_running(self, container_id: str) -> bool:
        return self._state(container_id).get("Status") == "running"


def _effective_mode(client: docker.DockerClient, mode: str) -> str:
    """Published ports need the engine's bridge network; an engine without one (started
    with --bridge=none, as on this kit's CI machines) can only use host networking."""
    if mode != "published":
        return mode
    try:
        has_bridge = bool(client.networks.list(names=["bridge"]))
    except DockerException:
        return mode
    return mode if has_bridge else "host"


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


def _stream_build(
    kwargs: dict[str, Any], timeout: float, take: Callable[[dict[str, Any]], None]
) -> bool:
    """Run a build in a forked child, passing its progress to `take`; False on timeout.

    The engine cancels a build (and kills its step's container) only when the client's
    connection closes: killing the child that holds the connection is the sure way.
    (os.fork, not multiprocessing: checks already run in daemonic processes.)
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _build_child(kwargs, timeout, write_fd)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    pending = b""
    try:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([pipe], [], [], remaining)[0]:
                    return False
                data = pipe.read(1 << 16)
                if not data:
                    return True
                *lines, pending = (pending + data).split(b"\n")
                for line in filter(None, lines):
                    take(json.loads(line))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _build_child(kwargs: dict[str, Any], timeout: float, write_fd: int) -> None:
    """The forked child: stream the build's JSON progress lines into the pipe, then exit."""
    try:
        with os.fdopen(write_fd, "w", encoding="utf-8") as out:
            try:
                api = docker.from_env(timeout=int(timeout) + 30).api
                for chunk in api.build(**kwargs):
                    out.write(json.dumps(chunk) + "\n")
                    out.flush()
            except APIError as exc:  # the engine refused the build: say what it said
                out.write(json.dumps({"error": str(exc.explanation or exc)}) + "\n")
            except Exception as exc:  # the build's error, shown in the check's evidence
                out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
    finally:
        os._exit(0)  # never run the parent's cleanup handlers in the child


def _take_build_chunk(chunk: dict[str, Any], lines: list[str], state: dict[str, Any]) -> None:
    if "stream" in chunk:
        lines.append(str(chunk["stream"]))
    if "error" in chunk:
        state["error"] = str(chunk["error"]).strip()
        lines.append(f"ERROR: {chunk['error']}\n")
    aux = chunk.get("aux")
    if isinstance(aux, dict) and "ID" in aux:
        state["image_id"] = str(aux["ID"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "x"


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = size.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)
