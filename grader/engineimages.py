"""Building a team's image and keeping it by content, so the same files are never built
twice: the image half of `grader.engine.Engine` (a mixin of it). The build streams its
output back from a child process, bounded, under its own time limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from grader.engineruns import (
    BUILD_KEY_LABEL,
    BUILD_REPOSITORY,
    BUILD_SOURCE_LABEL,
    CACHE_LABEL,
    CHECK_LABEL,
    LABEL,
    labels_for,
)
from grader.errors import EngineError
from grader.text import tail

LOG_LIMIT = 8000


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    image_id: str | None
    seconds: float
    log_tail: str
    error: str = ""
    timed_out: bool = False


class Images:
    """Build, find, keep and replace team images (the client and labels are `Engine`'s)."""

    client: docker.DockerClient
    run_id: str
    check_id: str
    network_mode: str
    _images: list[str]

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
        tag = f"grader-{self.run_id}/{slug(self.check_id or 'build')}:{uuid.uuid4().hex[:8]}"
        # Each label is one more step of the classic builder: images carry only the ones
        # cleanup needs (a timed-out build leaves no image to find by check).
        labels = {k: v for k, v in labels_for(self.run_id).items() if k != CHECK_LABEL}
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


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "x"


def _bytes(size: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = size.strip().lower().removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)
