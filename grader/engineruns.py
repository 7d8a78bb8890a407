"""Who owns what the grader creates on the engine, and how it is all removed.

Every container and image the grader creates carries the grader's label, the run's id, the
check's id and its owner (host:pid of the grading process), so it can be removed by label:
after a normal run, an exception, a check's timeout, Ctrl-C or SIGTERM (`cleanup_on_signals`),
a crash of the whole grader (the next run on this host removes what an ended run left,
`owned_run`), or by hand (`grader clean`). Images kept on purpose (dependency
environments, team images by content) carry CACHE_LABEL and are never a run's to remove.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from requests.exceptions import ConnectionError as RequestsConnectionError

from grader.errors import EngineError

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


HINT = (
    "Start Docker (Docker Desktop, or `sudo systemctl start docker`; in this kit "
    "`make docker`) and check that `docker info` answers."
)


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


def _filters(run_id: str | None) -> dict[str, list[str]]:
    wanted = [f"{LABEL}=1"]
    if run_id:
        wanted.append(f"{RUN_LABEL}={run_id}")
    return {"label": wanted}


def cleanup(
    run_id: str | None = None,
    checks: Collection[str] | None = None,
    client: docker.DockerClient | None = None,
) -> Cleaned:
    """Remove the grader's containers, networks and images (of one run, or of the run's
    `checks`, or all): each kind listed once, whatever the number of checks."""
    owned = client is None
    client = client or connect()
    filters = _filters(run_id)

    def of_checks(found: list[Any]) -> list[Any]:
        if checks is None:
            return found
        return [item for item in found if _labels(item).get(CHECK_LABEL) in checks]

    try:
        containers = of_checks(client.containers.list(all=True, filters=filters))
        _remove(client, containers, ())  # a network or image in use cannot go
        networks = of_checks(client.networks.list(filters=filters))
        for net in networks:
            with contextlib.suppress(NotFound, APIError):
                net.remove()
        images = of_checks(client.images.list(filters=filters))
        _remove(client, (), images)
        return Cleaned(len(containers), len(images), len(networks))
    finally:
        if owned:
            client.close()


def _labels(item: Any) -> dict[str, str]:
    """An engine object's labels: a network's at the top, a container's or image's in Config."""
    attrs = item.attrs or {}
    return dict(attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {})


def _remove(client: docker.DockerClient, containers: Sequence[Any], images: Sequence[Any]) -> None:
    """Containers first (an image in use cannot go), each removal on its own; an image
    built FROM another of the run's goes before it (`remove_images`: the engine lists
    images by the second they were made, so a child may come after its parent)."""
    for container in containers:
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True, v=True)
    remove_images(client, [str(image.id) for image in images])


def remove_images(client: docker.DockerClient, image_ids: Sequence[str]) -> list[str]:
    """Remove images, children before their parents whatever the order given: what the
    engine refuses is tried again once the others are gone, while each pass removes
    something. Returns what it still refuses."""
    left = list(image_ids)
    while left:
        refused = []
        for image_id in left:
            try:
                client.images.remove(image_id, force=True)
            except NotFound:
                pass
            except DockerException:
                refused.append(image_id)
        if len(refused) == len(left):
            return refused
        left = refused
    return []


@contextlib.contextmanager
def cleanup_on_signals(run_id: str) -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, as Ctrl-C is, so `finally` blocks run and the
    grader exits 130 either way, and clean the run up at the end.

    SIGTERM would otherwise kill the process with no cleanup at all. Only the main thread
    may install handlers, so elsewhere it just cleans.
    """
    previous: Any = None
    main = threading.current_thread() is threading.main_thread()
    if main:

        def _terminate(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        with contextlib.suppress(EngineError, DockerException, RequestsConnectionError):
            cleanup(run_id=run_id)
        if main:
            signal.signal(signal.SIGTERM, previous)
