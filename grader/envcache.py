"""The dependency-environment cache of sandboxes: what a setup step installed, kept as an
image (`mlops-capstone-kit/env:<key>`, labelled CACHE_LABEL: kept by a run's cleanup,
removed by `grader clean --cache`) and reused by every later run with the same key: the base
image, the setup command and the content of the files that declare the dependencies (of a
pyproject.toml or a uv.lock, only what it installs: teams with the same dependencies share
one environment).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container

from grader import depset, envderive
from grader.engine import Engine
from grader.engineruns import CACHE_LABEL, LABEL, RUN_LABEL, connect, remove_images

KEY_LABEL = "org.mlops-capstone-kit.env-key"


ENV_REPOSITORY = "mlops-capstone-kit/env"


CACHE_FORMAT = "env-cache-2"  # part of every key: change it when a cache image's layout changes


@dataclass(frozen=True)
class EnvCache:
    """How to reuse what `setup` installs across runs (see the module's docstring).

    `key_files`: paths relative to the repo (a folder counts with all it holds) that
    declare the dependencies; with the base image and the setup command they are the key.
    `refresh`: a shell command run (with network, like setup) after the current repo is
    copied in, e.g. `pip install --no-deps -e .`; None when the repo needs no install.
    `forget`: a shell command run after the setup, before the environment is kept, that
    removes what belongs to this repo alone (`pip uninstall -y NAME`): a pyproject.toml
    counts by its dependency set (`grader.depset`), so teams with the same dependencies
    share one environment, and each gets its own project back from `refresh`.
    `offline`: what `refresh` does, without network, run first in the command's own
    container (no container and no image of its own: the usual case costs under a
    second); only when it fails does `refresh` run, in its own step.
    `exported`: where the setup writes the requirement lines of a lock it installs (in the
    container), and `pins` the lock's `name==version`s: the environment may then be
    installed over a cached one whose lock this one extends (`grader.envderive`).
    """

    key_files: tuple[str, ...]
    refresh: str | None = None
    forget: str | None = None
    offline: str | None = None
    exported: str | None = None
    pins: frozenset[str] = frozenset()


def cache_key(repo: Path, image_id: str, setup: str, key_files: Sequence[str]) -> str:
    """sha256 of the base image, the setup command and the key files' names and content."""
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, image_id, setup):
        digest.update(part.encode() + b"\0")
    root = repo.resolve()
    for rel in sorted(set(key_files)):
        digest.update(rel.encode() + b"\0")
        path = repo / rel
        if path.parent.resolve() != root and root not in path.parent.resolve().parents:
            digest.update(b"outside\0")  # a team's path: never read the host's files
            continue
        view = _dependency_view(path, rel)
        if view is not None:  # what it installs, not the project's name or tool settings
            digest.update(b"deps:" + view + b"\0")
            continue
        _hash_path(digest, path, rel)
    return digest.hexdigest()


VIEWS: dict[str, Callable[[str], bytes | None]] = {
    "pyproject.toml": depset.dependency_view,
    "uv.lock": depset.lock_view,
}


def _dependency_view(path: Path, rel: str) -> bytes | None:
    view = VIEWS.get(rel)
    if view is None or path.is_symlink() or not path.is_file():
        return None
    return view(path.read_text(encoding="utf-8", errors="replace"))


def _hash_path(digest: hashlib._Hash, path: Path, rel: str) -> None:
    """A file's bytes, a link's target (never followed: it may point anywhere on the
    host), or every entry of a folder in order; a missing path counts as missing."""
    if path.is_symlink():
        digest.update(b"link:" + os.readlink(path).encode() + b"\0")
    elif path.is_file():
        digest.update(b"file:%d\0" % path.stat().st_size)
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    elif path.is_dir():
        digest.update(b"dir\0")
        for child in sorted(path.iterdir()):
            name = f"{rel}/{child.name}"
            digest.update(name.encode() + b"\0")
            _hash_path(digest, child, name)
    else:
        digest.update(b"missing\0")


def image_id(engine: Engine, image: str) -> str:
    return str(engine.client.images.get(image).id)


def _tag(key: str) -> str:
    return f"{ENV_REPOSITORY}:{key[:32]}"


def cached_image(engine: Engine, key: str) -> str | None:
    """The id of the cache image for `key`, if there is one (the id, not the tag: a
    concurrent build may move the tag while this run uses the image)."""
    try:
        image = engine.client.images.get(_tag(key))
    except ImageNotFound:
        return None
    return str(image.id) if image.labels.get(KEY_LABEL) == key else None


def publish(engine: Engine, box: Container, key: str, more: Mapping[str, str] | None = None) -> str:
    """The set-up container as the cache image of `key`; returns the image's id.

    Not the grader's run label (the run's cleanup would remove it) but CACHE_LABEL, the
    key and, for `grader clean --run ID --cache`, the run that built it. Runs on one
    machine take turns per key (`grader.locks`); graders on two machines sharing one
    engine may still build a key at once: each uses its own image, the tag ends on one
    of them, and the other is removed with its run.
    """
    labels = {**engine.labels, LABEL: "cache", CACHE_LABEL: "1", KEY_LABEL: key, **(more or {})}
    image = box.commit(conf={"Labels": labels})
    image_id = str(image.id)
    repository, tag = _tag(key).split(":")
    image.tag(repository, tag)
    if cached_image(engine, key) != image_id:
        engine.adopt_image(image_id)  # another run's image won the tag
    return image_id


def seeds(engine: Engine) -> list[tuple[str, str, dict[str, str]]]:
    """(id, key, labels) of each cached environment that can be a seed (`envderive`); none
    when the engine does not list them (a seed only saves time)."""
    try:
        flt = {"label": [f"{CACHE_LABEL}=1", envderive.LABEL]}
        found = engine.client.images.list(filters=flt)
    except DockerException:
        return []
    return [(str(i.id), str(i.labels.get(KEY_LABEL, "")), dict(i.labels)) for i in found]


def remove_cache_images(run_id: str | None = None) -> int:
    """Remove the cache images (those built by one run, or all); returns how many. An
    environment installed over another is its child in the engine, which refuses to remove
    a parent first: what it refused is tried again once its children are gone."""
    filters = [f"{CACHE_LABEL}=1", *([f"{RUN_LABEL}={run_id}"] if run_id else [])]
    client = connect()
    try:
        images = client.images.list(filters={"label": filters})
        remove_images(client, [str(image.id) for image in images])
        return len(images)
    finally:
        client.close()
