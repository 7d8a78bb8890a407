"""The installer a sandbox's setup steps find on their PATH: uv, the grader's own binary.

Base images have pip; uv (a dependency of the grader) installs the same requirements many
times faster and installs a `uv.lock` exactly as the team's own `uv sync` does. It is copied
into each setup container at /usr/local/bin/uv, from a tar kept in the grader's cache (one
per uv version), so a base image needs nothing extra and nothing is downloaded for it.
"""

from __future__ import annotations

import contextlib
import os
import tarfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import IO

from grader.target import cache_dir

UV_PATH = "usr/local/bin/uv"
# Read by uv in the sandbox: the image's CA certificates (a proxy's CA, as pip uses), and
# never a Python downloaded in place of the image's.
UV_ENV = {"UV_SYSTEM_CERTS": "1", "UV_PYTHON_DOWNLOADS": "never"}


# A setup step's packages keep their bytecode (pip's default, not uv's): the cached
# environment is run many times, each in a new container, and without it every run compiles
# what it imports again (importing MLflow 5.5 s instead of about 2 s).
UV_INSTALL = "uv pip install --system --compile-bytecode -q"


def pip_install(args: str) -> str:
    """A setup step's `pip install -q ARGS` into the sandbox's Python: by uv, else by pip
    (where uv refuses what pip accepts, or the grader has no uv)."""
    return f"{{ {UV_INSTALL} {args} || pip install -q {args}; }}"


def uv_binary() -> Path | None:
    """The grader's uv, or None when it is not installed (setup steps then use pip)."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        return Path(find_uv_bin())
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def tools_archive() -> Iterator[IO[bytes] | None]:
    """An open tar holding uv at /usr/local/bin/uv (for `put_archive("/", ...)`), or None."""
    binary = uv_binary()
    if binary is None:
        yield None
        return
    archive = cache_dir() / "sandbox-tools" / f"uv-{version('uv')}.tar"
    if not archive.is_file():
        _write(archive, binary)
    with archive.open("rb") as stream:
        yield stream


def _write(archive: Path, binary: Path) -> None:
    """The tar, written beside its place and renamed in: a concurrent run sees it whole."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
    with tarfile.open(partial, "w") as tar, binary.open("rb") as data:
        info = tarfile.TarInfo(UV_PATH)
        info.size, info.mode = binary.stat().st_size, 0o755
        tar.addfile(info, data)
    partial.replace(archive)
