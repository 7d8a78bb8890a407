"""Secret files in an image's layers, each layer scanned once per machine.

An image is read as the engine saves it (a tar of layer tars, streamed: never all in
memory). A layer is content-addressed: its diff id is the sha256 of its tar, so what was
found in it holds for every image that has it. The findings are kept per diff id (and per
set of patterns) under the grader's cache: a regrade, another milestone of the same image,
or another team's image that shares its layers reads them there, and when every layer to
judge is known, the image is not saved at all.

When one is new, the image is saved, but only the new layers are read: the engine names a
layer in the stream before its content (`<v1 id>/layer.tar` in the legacy format, whose id
the engine derives from the layer's chain, so it names the same layer in every image;
`blobs/sha256/<digest>` in the OCI one, whose digest of an uncompressed layer is its diff
id; a gzipped layer is read through its compression and its digest learnt like a v1 id),
and a name seen before with known findings is skipped, not hashed and parsed again. A
judged layer the save does not give in a form read here is reported, never passed.

When the engine keeps its layers on this machine where the grader may read them (overlay2,
its directories named by the image's inspect), the new layers are read there instead: each
layer's files as they are, walked without following a link, the base image's layers and the
known ones not even listed. The engine then saves nothing (a save writes every layer of the
image out first). A layer read there is found the same as in the save (a test compares the
two on real images); anything unexpected (another storage driver, another machine's engine,
no permission, a path too long) and the image is saved as above.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import hashlib
import io
import json
import os
import re
import stat
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from grader import secretscan

KEY_SUFFIXES = (".pem", ".key", ".crt")
SCAN_FORMAT = "layer-scan-2"  # part of every cache entry's name: change it with the rules
# A layer's name in a saved image: the legacy format's `<v1 id>/layer.tar`, the OCI's blob.
LAYER_NAME = re.compile(r"(?P<v1>[0-9a-f]{64})/layer\.tar|blobs/sha256/(?P<blob>[0-9a-f]{64})")


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
    unread: tuple[str, ...] = ()  # judged layers the saved image did not give readably
    read_from: str = ""  # where the scanned layers were read: STORAGE or SAVE ("" if none)


STORAGE = "the engine's storage on this machine"
SAVE = "the image as the engine saves it"


@dataclass(frozen=True)
class Storage:
    """Where the engine keeps an image's layers on this machine. `dirs()`: each layer's
    directory by diff id (`layer_dirs`; empty when they cannot be read here). `holds()`:
    whether the image still has those layers once they are read (an image removed while
    they were walked may have left a part of a layer unread: that read is not kept)."""

    dirs: Callable[[], Mapping[str, Path]]
    holds: Callable[[], bool]


class LayerCache:
    """What was found in each layer, by diff id, for one set of patterns."""

    def __init__(self, root: Path, patterns: Patterns) -> None:
        self.folder = root / "layer-scan" / patterns.digest
        self.names = root / "layer-scan" / "saved-names"  # v1 id -> diff id, any patterns

    def diff_id_of(self, member: str) -> str | None:
        """The diff id of a saved image's layer, by its name in the stream, if known: learnt
        before (a legacy v1 id, a compressed blob's digest), else an OCI blob's digest."""
        name = LAYER_NAME.fullmatch(member)
        if name is None:
            return None
        with contextlib.suppress(OSError):
            text = (self.names / (name["v1"] or name["blob"])).read_text(encoding="utf-8")
            if re.fullmatch(r"sha256:[0-9a-f]{64}", text.strip()):
                return text.strip()
        return f"sha256:{name['blob']}" if name["blob"] else None

    def name(self, member: str, diff_id: str) -> None:
        """Remember the diff id a layer's name stands for, learnt by hashing its content
        (an uncompressed OCI blob's digest is its diff id: nothing to learn)."""
        name = LAYER_NAME.fullmatch(member)
        if name is not None and diff_id != f"sha256:{name['blob']}":
            _write(self.names, name["v1"] or name["blob"], diff_id)

    def get(self, diff_id: str) -> list[str] | None:
        try:
            found = json.loads((self.folder / _name(diff_id)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return [str(p) for p in found] if isinstance(found, list) else None

    def put(self, diff_id: str, found: list[str]) -> None:
        _write(self.folder, _name(diff_id), json.dumps(sorted(found)))


def _write(folder: Path, name: str, text: str) -> None:
    with contextlib.suppress(OSError):  # a cache that cannot be written is no cache
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)


def _name(diff_id: str) -> str:
    return diff_id.replace(":", "-")


def scan(
    layers: list[str],
    judged: list[str],
    save: Any,
    patterns: Patterns,
    cache: LayerCache,
    storage: Storage | None = None,
) -> Scan:
    """Secret files of the `judged` layers (diff ids) of an image whose layers are `layers`;
    the new ones are read from the engine's `storage` when it has them all here, else
    `save()` streams the image as the engine saves it (called only if a judged layer is
    new)."""
    known = {d: cache.get(d) for d in judged}
    if all(found is not None for found in known.values()):
        paths = {p for found in known.values() for p in found or ()}
        return Scan(sorted(paths), len(judged), 0)
    new = [d for d in judged if known[d] is None]
    found = _read_storage(storage, new, patterns) if storage else None
    if found is not None:
        read, source = set(found), STORAGE
    else:
        saved = scan_saved(io.BufferedReader(ChunkStream(save()), 1 << 20), patterns, cache)
        found, read, source = saved.found, saved.read & set(layers), SAVE
    for diff_id in read:
        cache.put(diff_id, sorted(found[diff_id]))
    paths = {p for d in judged for p in (found.get(d) or known.get(d) or ())}
    scanned = sum(1 for d in judged if d in read)
    unread = tuple(d for d in judged if d not in found and known.get(d) is None)
    return Scan(sorted(paths), len(judged) - scanned - len(unread), scanned, unread, source)


def _read_storage(
    storage: Storage, new: list[str], patterns: Patterns
) -> dict[str, set[str]] | None:
    """The secret files of each `new` layer, read from its directory; None unless every one
    has a directory here, is read through, and the image still has them afterwards."""
    dirs = storage.dirs()
    if not dirs or any(d not in dirs for d in new):
        return None
    try:
        found = {d: _scan_dir(dirs[d], patterns) for d in new}
    except OSError:
        return None
    return found if storage.holds() else None


def image_layers(attrs: Mapping[str, Any]) -> list[str]:
    """An image's layers (diff ids, bottom first), from its inspect."""
    return list((attrs.get("RootFS") or {}).get("Layers") or [])


def layer_dirs(attrs: Mapping[str, Any]) -> dict[str, Path]:
    """Each layer's directory (by diff id) where the engine keeps the image's files on this
    machine and the grader may read them; empty when it does not (the engine of another
    machine or of a VM, a storage driver other than overlay2, no permission).

    overlay2 names the image's top layer `UpperDir` and the others, top first, `LowerDir`:
    one directory per layer of `RootFS.Layers` (bottom first), or the engine is not
    understood here and nothing is read this way."""
    driver = attrs.get("GraphDriver") or {}
    data = driver.get("Data") or {}
    layers = image_layers(attrs)
    upper, lower = data.get("UpperDir"), data.get("LowerDir")
    if driver.get("Name") != "overlay2" or not isinstance(upper, str) or not layers:
        return {}
    found = [upper, *(lower.split(":") if isinstance(lower, str) and lower else [])]
    if len(found) != len(layers):
        return {}
    paths = [Path(d) for d in reversed(found)]
    try:  # the engine's root is root's alone: another user may not even look
        if not all(p.is_absolute() and _readable_dir(p) for p in paths):
            return {}
    except (OSError, ValueError):
        return {}
    return dict(zip(layers, paths, strict=True))


def _readable_dir(path: Path) -> bool:
    return os.access(path, os.R_OK | os.X_OK) and stat.S_ISDIR(os.stat(path).st_mode)


def native_overlay(info: Mapping[str, Any]) -> bool:
    """Whether the engine (its `docker info`) keeps layers as overlay2 extracts them
    natively. With a naive diff (kernels with overlay's redirect_dir) the engine extracts a
    layer with the classic applier, which drops any top-level `.wh..wh.*` entry that the
    layer's tar (what a save or a push gives) still holds: its directory is not the layer."""
    status = {str(k): str(v) for k, v in (info.get("DriverStatus") or []) if k}
    return info.get("Driver") == "overlay2" and status.get("Native Overlay Diff") == "true"


def _scan_dir(root: Path, patterns: Patterns) -> set[str]:
    """A layer's regular files (no link followed, no device, fifo or whiteout opened),
    walked with a stack: a team's layer may nest deeper than Python recurses."""
    found: set[str] = set()
    keys: dict[int, bool] = {}  # a key file's verdict by inode: its hard links are not read again
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(root / rel if rel else root) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_file(follow_symlinks=False) and secret_name(path, patterns):
                    inode = entry.inode()
                    if inode not in keys and path.endswith(KEY_SUFFIXES):
                        keys[inode] = _key_file(entry.path)
                    if keys.get(inode, True):
                        found.add(path)
    return found


def _key_file(where: str) -> bool:
    """`_private_key` for a key file of a layer directory."""
    fd = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        return stat.S_ISREG(os.fstat(handle.fileno()).st_mode) and _holds_private_key(handle)


@dataclass(frozen=True)
class Saved:
    found: dict[str, set[str]]  # secret files of every layer of the image, by diff id
    read: set[str]  # the layers read from the stream; the others' findings were known


def scan_saved(raw: IO[bytes], patterns: Patterns, cache: LayerCache | None = None) -> Saved:
    """Secret files of every layer of a saved image; with a cache, a layer whose name in the
    stream says which known layer it is gets its findings from the cache, unread."""
    found: dict[str, set[str]] = {}
    read: set[str] = set()
    with tarfile.open(fileobj=raw, mode="r|") as outer:
        for member in outer:
            if not member.isfile() or not (
                member.name.endswith("layer.tar") or member.name.startswith("blobs/")
            ):
                continue
            diff_id = cache.diff_id_of(member.name) if cache else None
            prior = cache.get(diff_id) if cache and diff_id else None
            if diff_id and prior is not None:
                found[diff_id] = set(prior)
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            # A layer is a tar; engines that keep layers compressed (a containerd image
            # store) save it gzipped, and its diff id is the digest of the tar inside.
            peek = handle.peek(2) if isinstance(handle, io.BufferedReader) else b""
            gzipped = peek[:2] == b"\x1f\x8b"
            hashing = _Hashing(gzip.GzipFile(fileobj=handle) if gzipped else handle)
            with contextlib.suppress(tarfile.ReadError, OSError, EOFError):  # a blob, no layer
                paths = _scan_layer(hashing, patterns)
                diff_id = hashing.finish()
                found[diff_id] = paths
                read.add(diff_id)
                if cache:
                    cache.name(member.name, diff_id)
    return Saved(found, read)


def _scan_layer(layer: IO[bytes] | io.RawIOBase, patterns: Patterns) -> set[str]:
    """A layer's secret files. A second name of a file is a hard link in the tar (the
    engine writes the content once): it counts as its file does, read under its first name
    when that is a key's, else (a key linked to any other name) counted."""
    found: set[str] = set()
    keys: dict[str, bool] = {}  # a key file's verdict, by its path in the layer
    with tarfile.open(fileobj=layer, mode="r|") as inner:
        for entry in inner:
            path = _member_path(entry.name)
            if not (entry.isfile() or entry.islnk()) or not secret_name(path, patterns):
                continue
            if not path.endswith(KEY_SUFFIXES):
                found.add(path)
            elif entry.isfile():
                keys[path] = _private_key(inner, entry)
                if keys[path]:
                    found.add(path)
            elif keys.get(_member_path(entry.linkname), True):
                found.add(path)
    return found


def _member_path(name: str) -> str:
    return name.removeprefix("./").lstrip("/")


def secret_name(path: str, patterns: Patterns) -> bool:
    name = PurePosixPath(path).name
    if name in patterns.allow or name.startswith(".wh."):
        return False
    if secretscan.is_third_party(path) or any(fnmatch.fnmatch(path, g) for g in patterns.system):
        return False
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns.names)


def _private_key(layer: tarfile.TarFile, entry: tarfile.TarInfo) -> bool:
    """Whether a key file (KEY_SUFFIXES) of a layer's tar holds a private key: certificates
    are public (every trust store has *.pem), only private keys count."""
    handle = layer.extractfile(entry)
    return handle is not None and _holds_private_key(handle)


def _holds_private_key(handle: IO[bytes]) -> bool:
    return b"PRIVATE KEY" in handle.read(256_000)


class _Hashing(io.RawIOBase):
    """Reads a layer's tar through, hashing it: its sha256 is the layer's diff id."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile) -> None:
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
