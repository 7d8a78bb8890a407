"""Layer scanning on saved images laid out as the engine saves them (legacy and OCI)."""

from __future__ import annotations

import gzip
import hashlib
import inspect
import io
import os
import sys
import tarfile
from pathlib import Path

import pytest

from grader import layerscan
from grader.checks.container import LayerSecretsParams
from tests.helpers import build_tree

PATTERNS = layerscan.Patterns(
    LayerSecretsParams().names, LayerSecretsParams().allow, LayerSecretsParams().system
)


def layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def diff_id(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def saved_image(members: dict[str, bytes]) -> io.BytesIO:
    """An image as `docker save` streams it: a tar of layer tars and JSON files."""
    return io.BytesIO(layer(members))


LAYERS = [
    layer({"usr/lib/os-release": b"debian"}),
    layer({"app/.env": b"API_KEY=abc123\n", "app/main.py": b"print()"}),
    layer({"app/.wh..env": b""}),  # `RUN rm .env`: the file stays in the layer before
]


def legacy(layers: list[bytes]) -> dict[str, bytes]:
    """The legacy format: `<v1 id>/layer.tar` (ids made up here, as the engine's are to us)."""
    members = {}
    for n, data in enumerate(layers):
        v1 = hashlib.sha256(f"v1-{n}".encode()).hexdigest()
        members[f"{v1}/VERSION"] = b"1.0"
        members[f"{v1}/json"] = b"{}"
        members[f"{v1}/layer.tar"] = data
    members["manifest.json"] = b"[]"
    return members


def oci(layers: list[bytes]) -> dict[str, bytes]:
    members = {f"blobs/sha256/{diff_id(data)[7:]}": data for data in layers}
    members["blobs/sha256/" + "0" * 64] = b'{"config": "not a layer"}'
    members["index.json"] = b"{}"
    return members


def test_a_saved_image_is_read_whole_the_first_time(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    saved = layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)
    assert saved.read == {diff_id(data) for data in LAYERS}
    assert saved.found[diff_id(LAYERS[1])] == {"app/.env"}
    assert saved.found[diff_id(LAYERS[0])] == set()


def test_known_legacy_layers_are_skipped_by_name_with_their_findings(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    first = layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)
    for d in first.read:
        cache.put(d, sorted(first.found[d]))
    # The same image again, and an image with one more layer on the same chain.
    again = layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)
    assert (again.read, again.found) == (set(), first.found)
    new = layer({"app/id_rsa": b"key"})
    grown = layerscan.scan_saved(saved_image(legacy([*LAYERS, new])), PATTERNS, cache)
    assert grown.read == {diff_id(new)}
    assert grown.found[diff_id(new)] == {"app/id_rsa"}
    assert grown.found[diff_id(LAYERS[1])] == {"app/.env"}  # known, and still reported


def test_a_name_without_known_findings_is_read(tmp_path: Path) -> None:
    """Learnt names alone skip nothing: findings under other patterns are other findings."""
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)  # names, no findings
    other = layerscan.Patterns(("*.py",), (), ())
    again = layerscan.scan_saved(
        saved_image(legacy(LAYERS)), other, layerscan.LayerCache(tmp_path, other)
    )
    assert again.read == {diff_id(data) for data in LAYERS}
    assert again.found[diff_id(LAYERS[1])] == {"app/main.py"}


def test_a_remembered_name_that_is_not_a_diff_id_is_ignored(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    first = layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)
    for d in first.read:
        cache.put(d, sorted(first.found[d]))
    for entry in cache.names.iterdir():
        entry.write_text("not a diff id", encoding="utf-8")
    again = layerscan.scan_saved(saved_image(legacy(LAYERS)), PATTERNS, cache)
    assert again.read == first.read


def test_oci_blobs_are_skipped_by_digest_once_known(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    first = layerscan.scan_saved(saved_image(oci(LAYERS)), PATTERNS, cache)
    assert first.read == {diff_id(data) for data in LAYERS}  # the config blob is no layer
    assert not cache.names.exists()  # an OCI name is its digest: nothing to learn
    cache.put(diff_id(LAYERS[1]), ["app/.env"])
    again = layerscan.scan_saved(saved_image(oci(LAYERS)), PATTERNS, cache)
    assert again.read == {diff_id(LAYERS[0]), diff_id(LAYERS[2])}
    assert again.found[diff_id(LAYERS[1])] == {"app/.env"}


def test_scan_counts_only_the_judged_layers_it_read(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    ids = [diff_id(data) for data in LAYERS]
    cache.put(ids[0], [])  # the base layer, known
    cache.put(ids[1], ["app/.env"])  # a judged layer another image shared
    layerscan.scan_saved(saved_image(legacy(LAYERS[:2])), PATTERNS, cache)  # learns names

    def save() -> list[bytes]:
        return [saved_image(legacy(LAYERS)).getvalue()]

    result = layerscan.scan(ids, ids[1:], save, PATTERNS, cache)
    assert (result.found, result.cached, result.scanned) == (["app/.env"], 1, 1)
    assert cache.get(ids[2]) == []
    assert layerscan.scan(ids, ids[1:], save, PATTERNS, cache).scanned == 0


def gzipped_oci(layers: list[bytes]) -> dict[str, bytes]:
    """OCI with compressed blobs, as an engine with a containerd image store saves them."""
    members = {}
    for data in layers:
        blob = gzip.compress(data, mtime=0)
        members[f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}"] = blob
    members["index.json"] = b"{}"
    return members


def test_gzipped_blobs_are_read_through_and_known_by_their_diff_id(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    first = layerscan.scan_saved(saved_image(gzipped_oci(LAYERS)), PATTERNS, cache)
    assert first.read == {diff_id(data) for data in LAYERS}  # the tar's digest, not the blob's
    assert first.found[diff_id(LAYERS[1])] == {"app/.env"}
    for d in first.read:
        cache.put(d, sorted(first.found[d]))
    again = layerscan.scan_saved(saved_image(gzipped_oci(LAYERS)), PATTERNS, cache)
    assert (again.read, again.found) == (set(), first.found)


def test_a_judged_layer_the_save_does_not_give_is_unread_not_passed(tmp_path: Path) -> None:
    cache = layerscan.LayerCache(tmp_path, PATTERNS)
    ids = [diff_id(data) for data in LAYERS]
    missing = "sha256:" + "f" * 64  # e.g. a compression this reader does not know

    def save() -> list[bytes]:
        return [saved_image(legacy(LAYERS)).getvalue()]

    result = layerscan.scan([*ids, missing], [ids[1], missing], save, PATTERNS, cache)
    assert result.unread == (missing,)
    assert (result.found, result.scanned, result.cached) == (["app/.env"], 1, 0)


# layers read where the engine keeps them (overlay2 on this machine) -----------------------


def layer_dir(root: Path, files: dict[str, bytes]) -> Path:
    """A layer as overlay2 keeps it: its files in a directory."""
    root.mkdir(parents=True)
    return build_tree(root, files)


def here(dirs: dict[str, Path], holds: bool = True) -> layerscan.Storage:
    """The engine's storage on this machine, holding these layer directories."""
    return layerscan.Storage(lambda: dirs, lambda: holds)


def overlay_attrs(dirs: list[Path], layers: list[str]) -> dict[str, object]:
    """An image's inspect as overlay2 gives it: the top layer's directory, then the others
    top first; the layers' diff ids bottom first."""
    top, *lower = list(reversed(dirs))
    data = {"UpperDir": str(top), "MergedDir": "/nowhere", "WorkDir": "/nowhere"}
    if lower:
        data["LowerDir"] = ":".join(str(d) for d in lower)
    return {"GraphDriver": {"Name": "overlay2", "Data": data}, "RootFS": {"Layers": layers}}


def test_layer_dirs_pairs_each_layer_with_its_directory_bottom_first(tmp_path: Path) -> None:
    dirs = [layer_dir(tmp_path / f"l{n}" / "diff", {}) for n in range(3)]
    ids = [f"sha256:{n:064x}" for n in range(3)]
    assert layerscan.layer_dirs(overlay_attrs(dirs, ids)) == dict(zip(ids, dirs, strict=True))
    assert layerscan.layer_dirs(overlay_attrs(dirs[:1], ids[:1])) == {ids[0]: dirs[0]}


def test_layer_dirs_gives_nothing_it_cannot_read_with_certainty(tmp_path: Path) -> None:
    dirs = [layer_dir(tmp_path / f"l{n}" / "diff", {}) for n in range(2)]
    ids = [f"sha256:{n:064x}" for n in range(2)]
    other_driver = overlay_attrs(dirs, ids)
    other_driver["GraphDriver"] = {"Name": "btrfs", "Data": {}}
    elsewhere = overlay_attrs([tmp_path / "gone" / "diff", dirs[1]], ids)  # a VM's engine
    assert layerscan.layer_dirs(other_driver) == {}
    assert layerscan.layer_dirs(overlay_attrs(dirs, ids[:1])) == {}  # one layer not paired
    assert layerscan.layer_dirs(elsewhere) == {}
    assert layerscan.layer_dirs({"RootFS": {"Layers": ids}}) == {}  # no storage data at all


def test_a_layer_directory_is_judged_as_its_tar_is(tmp_path: Path) -> None:
    files = {
        "app/.env": b"API_KEY=abc123\n",
        "app/.env.example": b"API_KEY=\n",
        "app/main.py": b"print()",
        "app/certs/server.pem": b"-----BEGIN CERTIFICATE-----\n",
        "app/certs/deploy.key": b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "usr/lib/python3/dist-packages/somepkg/tests/id_rsa": b"PRIVATE KEY",
        "home/app/.netrc": b"machine example.com password x",
    }
    root = layer_dir(tmp_path / "diff", files)
    data = layer(files)
    expected = {"app/.env", "app/certs/deploy.key", "home/app/.netrc"}
    assert layerscan.scan_saved(saved_image(legacy([data])), PATTERNS).found == {
        diff_id(data): expected
    }
    assert layerscan._scan_dir(root, PATTERNS) == expected


def test_a_layer_directory_walk_opens_no_link_device_or_fifo_and_goes_deep(
    tmp_path: Path,
) -> None:
    root = layer_dir(tmp_path / "diff", {"app/main.py": b""})
    (root / "app" / ".env").symlink_to("/etc/hostname")  # a link is not a file of the layer
    (root / "app" / "keys").symlink_to("/root", target_is_directory=True)
    os.mkfifo(root / "app" / "id_rsa")  # a fifo opened would wait forever
    deep = str(root)
    for _ in range(300):
        deep += "/d"
        os.mkdir(deep)
    Path(deep, ".pypirc").write_text("[pypi]\npassword = x\n")
    # Deeper than Python may recurse here: a walk that recursed would fail.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 100)
    try:
        found = layerscan._scan_dir(root, PATTERNS)
    finally:
        sys.setrecursionlimit(limit)
    assert found == {"/".join(["d"] * 300) + "/.pypirc"}


def test_scan_reads_new_layers_from_their_directories_and_saves_nothing(
    tmp_path: Path,
) -> None:
    cache = layerscan.LayerCache(tmp_path / "cache", PATTERNS)
    ids = [diff_id(data) for data in LAYERS]
    files = [
        {"usr/lib/os-release": b"debian"},
        {"app/.env": b"API_KEY=abc123\n", "app/main.py": b"print()"},
        {},
    ]
    pairs = enumerate(zip(ids, files, strict=True))
    dirs = {d: layer_dir(tmp_path / f"l{n}", f) for n, (d, f) in pairs}
    cache.put(ids[1], ["app/.env"])  # known: not read again

    def save() -> list[bytes]:
        raise AssertionError("the image was saved though its new layers are on this machine")

    result = layerscan.scan(ids, ids[1:], save, PATTERNS, cache, here(dirs))
    assert (result.found, result.cached, result.scanned) == (["app/.env"], 1, 1)
    assert result.read_from == layerscan.STORAGE
    assert cache.get(ids[2]) == []
    # A new layer without its directory here: the image is saved, as without any.
    cache_b = layerscan.LayerCache(tmp_path / "cache-b", PATTERNS)
    saves = []

    def real_save() -> list[bytes]:
        saves.append(1)
        return [saved_image(legacy(LAYERS)).getvalue()]

    partial = {ids[2]: dirs[ids[2]]}
    result = layerscan.scan(ids, ids[1:], real_save, PATTERNS, cache_b, here(partial))
    assert (result.found, result.scanned, result.read_from) == (["app/.env"], 2, layerscan.SAVE)
    assert saves == [1]


def test_a_layer_directory_that_cannot_be_read_through_falls_back_to_the_save(
    tmp_path: Path,
) -> None:
    cache = layerscan.LayerCache(tmp_path / "cache", PATTERNS)
    ids = [diff_id(data) for data in LAYERS]
    dirs = {d: tmp_path / "removed-meanwhile" / str(n) for n, d in enumerate(ids)}

    def save() -> list[bytes]:
        return [saved_image(legacy(LAYERS)).getvalue()]

    result = layerscan.scan(ids, ids[1:], save, PATTERNS, cache, here(dirs))
    assert (result.found, result.scanned, result.read_from) == (["app/.env"], 2, layerscan.SAVE)


def test_an_image_removed_while_its_layers_were_walked_is_not_kept_but_saved(
    tmp_path: Path,
) -> None:
    cache = layerscan.LayerCache(tmp_path / "cache", PATTERNS)
    ids = [diff_id(data) for data in LAYERS]
    dirs = {d: layer_dir(tmp_path / f"l{n}", {}) for n, d in enumerate(ids)}  # half removed

    def save() -> list[bytes]:
        return [saved_image(legacy(LAYERS)).getvalue()]

    result = layerscan.scan(ids, ids[1:], save, PATTERNS, cache, here(dirs, holds=False))
    assert (result.found, result.read_from) == (["app/.env"], layerscan.SAVE)
    assert cache.get(ids[1]) == ["app/.env"]


def test_storage_is_read_only_where_the_engine_extracts_layers_natively() -> None:
    def info(driver: str, native: str) -> dict[str, object]:
        status = [["Backing Filesystem", "extfs"], ["Native Overlay Diff", native]]
        return {"Driver": driver, "DriverStatus": status}

    assert layerscan.native_overlay(info("overlay2", "true"))
    assert not layerscan.native_overlay(info("overlay2", "false"))  # redirect_dir kernels
    assert not layerscan.native_overlay(info("fuse-overlayfs", "true"))
    assert not layerscan.native_overlay({"Driver": "overlay2"})


def test_layer_dirs_gives_nothing_where_it_may_not_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dirs = [layer_dir(tmp_path / f"l{n}" / "diff", {}) for n in range(2)]
    ids = [f"sha256:{n:064x}" for n in range(2)]

    def refused(path: Path) -> bool:  # the engine's root, to a user who is not root
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(layerscan, "_readable_dir", refused)
    assert layerscan.layer_dirs(overlay_attrs(dirs, ids)) == {}


def linked_layer(entries: list[tuple[str, bytes | str]]) -> bytes:
    """A layer's tar with hard links: (name, content) is a file, (name, "->target") a link."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type, info.linkname = tarfile.LNKTYPE, data.removeprefix("->")
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_secret_under_a_hard_link_counts_in_the_tar_and_in_the_directory(
    tmp_path: Path,
) -> None:
    """`RUN echo KEY=v > /aaa && ln /aaa /app/.env`: the tar has /app/.env as a link."""
    entries: list[tuple[str, bytes | str]] = [
        ("aaa", b"API_KEY=abc123\n"),
        ("app/.env", "->aaa"),
        ("app/deploy.key", b"-----BEGIN PRIVATE KEY-----\n"),
        ("app/copy.key", "->app/deploy.key"),
        ("app/server.pem", b"-----BEGIN CERTIFICATE-----\n"),
        ("app/again.pem", "->app/server.pem"),
    ]
    data = linked_layer(entries)
    expected = {"app/.env", "app/deploy.key", "app/copy.key"}
    assert layerscan.scan_saved(saved_image(legacy([data])), PATTERNS).found == {
        diff_id(data): expected
    }
    root = tmp_path / "diff"
    root.mkdir()
    for name, content in entries:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            os.link(root / content.removeprefix("->"), root / name)
        else:
            (root / name).write_bytes(content)
    assert layerscan._scan_dir(root, PATTERNS) == expected
    # A key linked to a name that was not read as a key: counted, not guessed public.
    other = linked_layer(
        [("data/blob", b"-----BEGIN CERTIFICATE-----"), ("app/x.key", "->data/blob")]
    )
    assert layerscan.scan_saved(saved_image(legacy([other])), PATTERNS).found == {
        diff_id(other): {"app/x.key"}
    }
