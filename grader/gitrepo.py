"""Small, typed wrappers over the git command line, for checks and targets."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
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


@dataclass(frozen=True)
class Blob:
    sha: str
    path: str
    size: int


def history_blobs(repo: Path) -> list[Blob]:
    """Every blob reachable from any ref, with a path it had, once, roughly oldest first.

    rev-list lists the newest commit's tree first, then what each older commit adds.
    """
    listing = git(repo, "rev-list", "--objects", "--all", timeout=300)
    batch = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "cat-file",
            "--batch-check=%(objecttype) %(objectname) %(objectsize) %(rest)",
        ],
        input=listing,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        errors="replace",
    )
    if batch.returncode != 0:
        raise CheckError(f"git cat-file failed: {batch.stderr.strip()[:500]}")
    seen: dict[Blob, None] = {}
    for line in batch.stdout.splitlines():
        kind, sha, size, *rest = line.split(" ", 3)
        if kind == "blob" and rest:
            seen.setdefault(Blob(sha, rest[0], int(size)))
    return list(reversed(seen))


def blobs_in_history(repo: Path) -> list[tuple[str, int]]:
    """(path, size) of every blob reachable from any ref, once per path and size."""
    return sorted({(b.path, b.size) for b in history_blobs(repo)})


def tree_blobs(repo: Path, rev: str) -> set[str]:
    """The ids of the blobs in the tree of `rev`."""
    out = git(repo, "ls-tree", "-r", rev)
    return {
        parts[2]
        for parts in (line.split(None, 3) for line in out.splitlines())
        if parts[1] == "blob"
    }


def read_blobs(repo: Path, shas: list[str]) -> Iterator[tuple[str, bytes]]:
    """(id, content) of each blob, in order, read by one `git cat-file --batch`."""
    if not shas:
        return
    done = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha in shas).encode(),
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise CheckError(f"git cat-file failed: {done.stderr.decode(errors='replace')[:500]}")
    out, position = done.stdout, 0
    while position < len(out):
        end = out.index(b"\n", position)
        sha, kind, *size = out[position:end].decode().split(" ")
        position = end + 1
        if kind == "missing" or not size:
            continue
        length = int(size[0])
        yield sha, out[position : position + length]
        position += length + 1


def commit_adding(repo: Path, sha: str) -> str | None:
    """The short id of the first commit (on any ref) whose tree holds blob `sha`."""
    out = git(repo, "log", "--all", "--reverse", "--format=%h", f"--find-object={sha}")
    return out.split("\n", 1)[0].strip() or None


def web_url(remote: str) -> str | None:
    """The https address people open for a git remote (git@host:owner/name.git or https)."""
    scp = re.match(r"^[\w.-]+@([\w.-]+):([\w./-]+?)(?:\.git)?/?$", remote)
    if scp:
        return f"https://{scp[1]}/{scp[2]}"
    https = re.match(r"^(https?://)(?:[^@/\s]+@)?([^\s]+?)(?:\.git)?/?$", remote)
    return f"{https[1]}{https[2]}" if https else None


def origin(repo: Path) -> str | None:
    """The URL of the repository's `origin` remote, or None without one (or without git)."""
    try:
        return git(repo, "remote", "get-url", "origin", timeout=30).strip() or None
    except CheckError:
        return None
