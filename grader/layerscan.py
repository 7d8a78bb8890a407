"""Secret files in an image's layers, each layer scanned once per machine.

An image is read as the engine saves it (a tar of layer tars, streamed: never all in
memory). A layer is content-addressed: its diff id is the sha256 of its tar, so what was
found in it holds for every image that has it. The findings are kept per diff id (and per
set of patterns) under the grader's cache: a regrade, another milestone of the same image,
or another team's image that shares its layers reads them there, and when every layer to
judge is known, the image is not saved at all.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from grader import secretscan

KEY_SUFFIXES = (".pem", ".key", ".crt")
SCAN_FORMAT = "layer-scan-1"  # part of every cache entry's name: change it with the rules


@dataclass(frozen=True)
class Patterns:
    names: tuple[str, ...]  # file name globs that are secrets
    allow: tuple[str, ...]  # file names that are fine (templates)
    system: tuple[str, ...]  # path globs of the OS and its package manager

    @property
    def digest(self) -> str:
        text = json.dumps([SCAN_FORMAT, self.names, self.allow, self.system])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Scan:
    found: list[str]  # secret files of the judged layers
    cached: int  # judged layers whose findings were known
    scanned: int  # judged layers read from the image


class LayerCache:
    """What was found in each layer, by diff id, for one set of patterns."""

    def __init__(self, root: Path, patterns: Patterns) -> None:
        self.folder = root / "layer-scan" / patterns.digest

    def get(self, diff_id: str) -> list[str] | None:
        try:
            found = json.loads((self.folder / _name(diff_id)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return [str(p) for p in found] if isinstance(found, list) else None

    def put(self, diff_id: str, found: list[str]) -> None:
        with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{_name(diff_id)}.{os.getpid()}"
            tmp.write_text(json.dumps(sorted(found)), encoding="utf-8")
            tmp.replace(self.folder / _name(diff_id))


def _name(diff_id: str) -> str:
    return diff_id.replace(":", "-")


def scan(
    layers: list[str], judged: list[str], save: Any, patterns: Patterns, cache: LayerCache
) -> Scan:
    """Secret files of the `judged` layers (diff ids) of an image whose layers are `layers`;
    `save()` streams the image as the engine saves it, called only if a judged layer is new."""
    known = {d: cache.get(d) for d in judged}
    if all(found is not None for found in known.values()):
        paths = {p for found in known.values() for p in found or ()}
        return Scan(sorted(paths), len(judged), 0)
    by_diff = scan_saved(io.BufferedReader(ChunkStream(save()), 1 << 20), patterns)
    for diff_id, found in by_diff.items():
        if diff_id in layers:
            cache.put(diff_id, sorted(found))
    paths = {p for d in judged for p in (by_diff.get(d) or known.get(d) or ())}
    cached = sum(1 for d in judged if known.get(d) is not None)
    return Scan(sorted(paths), cached, len(judged) - cached)


def scan_saved(raw: IO[bytes], patterns: Patterns) -> dict[str, set[str]]:
    """Secret files of every layer of a saved image, by the layer's diff id."""
    found: dict[str, set[str]] = {}
    with tarfile.open(fileobj=raw, mode="r|") as outer:
        for member in outer:
            handle = outer.extractfile(member) if member.isfile() else None
            if handle is None:
                continue
            if member.name.endswith("layer.tar") or member.name.startswith("blobs/"):
                hashing = _Hashing(handle)
                with contextlib.suppress(tarfile.ReadError):  # an OCI blob that is no layer
                    paths = _scan_layer(hashing, patterns)
                    found[hashing.finish()] = paths
    return found


def _scan_layer(layer: IO[bytes] | io.RawIOBase, patterns: Patterns) -> set[str]:
    found: set[str] = set()
    with tarfile.open(fileobj=layer, mode="r|") as inner:
        for entry in inner:
            path = entry.name.removeprefix("./").lstrip("/")
            secret = entry.isfile() and secret_name(path, patterns)
            if secret and _secret_content(inner, entry):
                found.add(path)
    return found


def secret_name(path: str, patterns: Patterns) -> bool:
    name = PurePosixPath(path).name
    if name in patterns.allow or name.startswith(".wh."):
        return False
    if secretscan.is_third_party(path) or any(fnmatch.fnmatch(path, g) for g in patterns.system):
        return False
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns.names)


def _secret_content(layer: tarfile.TarFile, entry: tarfile.TarInfo) -> bool:
    """Certificates are public (every trust store has *.pem): only private keys count."""
    if not entry.name.endswith(KEY_SUFFIXES):
        return True
    handle = layer.extractfile(entry)
    return handle is not None and b"PRIVATE KEY" in handle.read(256_000)


class _Hashing(io.RawIOBase):
    """Reads a layer's tar through, hashing it: its sha256 is the layer's diff id."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def finish(self) -> str:
        """The diff id, once the rest of the layer (tar padding the parser left) is read."""
        for chunk in iter(lambda: self._inner.read(1 << 20), b""):
            self._digest.update(chunk)
        return f"sha256:{self._digest.hexdigest()}"


class ChunkStream(io.RawIOBase):
    """A readable stream over the engine's byte chunks, so tarfile can read it as it comes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
