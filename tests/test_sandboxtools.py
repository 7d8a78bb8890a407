"""The uv binary a sandbox's setup step finds: the grader's own, as a tar kept in its cache."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from grader.sandboxtools import UV_PATH, pip_install, tools_archive, uv_binary


def test_the_archive_holds_the_graders_uv_executable_and_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    binary = uv_binary()
    assert binary is not None
    assert binary.is_file()
    with tools_archive() as stream:
        assert stream is not None
        with tarfile.open(fileobj=stream) as tar:
            (member,) = tar.getmembers()
            assert (member.name, member.mode, member.size) == (
                UV_PATH,
                0o755,
                binary.stat().st_size,
            )
    kept = list((tmp_path / "sandbox-tools").iterdir())
    assert [p.suffix for p in kept] == [".tar"]
    before = kept[0].stat().st_mtime_ns
    with tools_archive() as stream:
        assert stream is not None
    assert kept[0].stat().st_mtime_ns == before  # written once, then reused


def test_pip_install_tries_uv_then_pip() -> None:
    assert pip_install("-r requirements.txt") == (
        "{ uv pip install --system --compile-bytecode -q -r requirements.txt"
        " || pip install -q -r requirements.txt; }"
    )
