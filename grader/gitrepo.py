"""Small, typed wrappers over the git command line, for checks and targets."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.errors import CheckError


def git(repo: Path, *args: str, timeout: float = 120) -> str:
    """Run git in `repo` and return its stdout; a failure is a CheckError with git's words."""
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        raise CheckError(f"git {' '.join(args)} took longer than {timeout:.0f}s") from None
    if done.returncode != 0:
        raise CheckError(f"git {' '.join(args)} failed: {done.stderr.strip()[:500]}")
    return done.stdout


def is_git_repo(path: Path) -> bool:
    try:
        return git(path, "rev-parse", "--is-inside-work-tree", timeout=30).strip() == "true"
    except CheckError:
        return False


@dataclass(frozen=True)
class Commit:
    sha: str
    author_name: str
    author_email: str
    parents: int


def commits(repo: Path, rev: str = "HEAD") -> list[Commit]:
    out = git(repo, "log", "--format=%H%x1f%an%x1f%ae%x1f%P", rev)
    result = []
    for line in out.splitlines():
        sha, name, email, parents = line.split("\x1f")
        result.append(Commit(sha, name, email, len(parents.split())))
    return result


def blobs_in_history(repo: Path) -> list[tuple[str, int]]:
    """(path, size) of every blob reachable from any ref, once per path and size."""
    listing = git(repo, "rev-list", "--objects", "--all", timeout=300)
    batch = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch-check=%(objecttype) %(objectsize) %(rest)"],
        input=listing,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        errors="replace",
    )
    if batch.returncode != 0:
        raise CheckError(f"git cat-file failed: {batch.stderr.strip()[:500]}")
    seen: set[tuple[str, int]] = set()
    for line in batch.stdout.splitlines():
        kind, size, *rest = line.split(" ", 2)
        if kind == "blob" and rest:
            seen.add((rest[0], int(size)))
    return sorted(seen)
