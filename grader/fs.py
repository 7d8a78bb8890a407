"""Reading a team's checkout without ever following a link out of it."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

SKIP_DIRS = {".git"}


def inside(repo: Path, rel: str) -> Path | None:
    """The path of `rel` in `repo` if it stays inside the repo once links resolve."""
    root = repo.resolve()
    candidate = (repo / rel).resolve()
    if candidate == root or root in candidate.parents:
        return candidate
    return None


def read_text(repo: Path, rel: str, limit: int = 2_000_000) -> str | None:
    """Text of a file in the repo, or None if missing, not a file, or a link that escapes."""
    path = inside(repo, rel)
    if path is None or not path.is_file():
        return None
    with path.open("rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def iter_files(repo: Path) -> Iterator[Path]:
    """Every regular file of the tree (relative paths), links and `.git` skipped."""
    for dirpath, dirnames, filenames in os.walk(repo, followlinks=False):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            full = Path(dirpath) / name
            if not full.is_symlink():
                yield full.relative_to(repo)


def glob_exists(repo: Path, pattern: str) -> list[str]:
    """Files or folders in the repo matching `pattern` (a path, or a glob with * ? [])."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern] if inside(repo, pattern) and (repo / pattern).exists() else []
    return sorted(str(p) for p in iter_files(repo) if fnmatch.fnmatch(str(p), pattern))
