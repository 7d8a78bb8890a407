"""Targets: the team repository to grade, at the commit to grade.

A local git repo or a git URL is cloned into a scratch folder and checked out at the
graded commit, so the grader never sees uncommitted files and never changes the team's
working copy. URLs are mirrored in a cache so a regrade only fetches what is new.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.errors import TargetError

URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


@dataclass
class Checkout:
    """A clean checkout of the graded commit (removed by `close`)."""

    path: Path
    source: str
    commit: str | None
    commit_time: datetime | None
    dirty: bool = False
    scratch: Path | None = None

    def close(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def cache_dir() -> Path:
    base = os.environ.get("GRADER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops-grader"
    )
    return Path(base)


def git(*args: str, cwd: str | Path | None = None, timeout: float = 300) -> str:
    """Run git without prompting; its output, or a TargetError that quotes git's stderr."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TargetError(f"git {args[0]} took longer than {timeout:.0f}s") from None
    except FileNotFoundError:
        raise TargetError("git is not installed") from None
    if done.returncode != 0:
        raise TargetError(f"git {args[0]} failed: {done.stderr.strip()[:400]}")
    return done.stdout.strip()


def is_url(target: str) -> bool:
    return bool(URL.match(target))


def uncommitted(path: Path) -> list[str]:
    """Files of a local repository that its last commit does not have as they are: changed
    or deleted tracked files, and untracked ones that .gitignore does not ignore."""
    listed = git("ls-files", "--modified", "--others", "--exclude-standard", "-z", cwd=path)
    return sorted({name for name in listed.split("\0") if name})


def prepare(target: str, ref: str | None = None, deadline: datetime | None = None) -> Checkout:
    """Resolve `target` at `ref`, or at the last commit before `deadline`, or at HEAD."""
    if ref and deadline:
        raise TargetError("give --ref or --deadline, not both")
    if is_url(target):
        return _checkout(mirror(target), target, ref, deadline, dirty=False)
    path = Path(target).expanduser()
    if not path.is_dir():
        raise TargetError(f"{target} is not a folder or a git URL")
    if not (path / ".git").exists():
        if ref or deadline:
            raise TargetError(f"{target} is not a git repository: --ref/--deadline need one")
        return Checkout(path.resolve(), str(path), None, None)
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", cwd=path))
    return _checkout(str(path.resolve()), str(path), ref, deadline, dirty=dirty)


def mirror(url: str) -> str:
    """A bare mirror of `url` in the grader's cache, fetched anew: its local path."""
    mirror = cache_dir() / "repos" / (hashlib.sha256(url.encode()).hexdigest()[:20] + ".git")
    if (mirror / "HEAD").exists():
        git("remote", "update", "--prune", cwd=mirror)
    else:
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=mirror.parent, prefix=".clone-"))
        try:
            git("clone", "--quiet", "--mirror", url, str(tmp / "m.git"))
            (tmp / "m.git").rename(mirror)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(mirror)


def _checkout(
    source: str, shown: str, ref: str | None, deadline: datetime | None, dirty: bool
) -> Checkout:
    scratch = Path(tempfile.mkdtemp(prefix="grader-target-"))
    path = scratch / "repo"
    try:
        git("clone", "--quiet", "--no-checkout", source, str(path))
        commit = _resolve_commit(path, ref, deadline)
        git("checkout", "--quiet", "--detach", commit, cwd=path)
        when = datetime.fromisoformat(git("show", "-s", "--format=%cI", commit, cwd=path))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Checkout(path, shown, commit, when, dirty=dirty and ref is None, scratch=scratch)


def _resolve_commit(repo: Path, ref: str | None, deadline: datetime | None) -> str:
    if deadline is not None:
        head = "origin/HEAD"
        found = git("rev-list", "-1", f"--before={deadline.isoformat()}", head, cwd=repo)
        if not found:
            raise TargetError(f"no commit on the default branch before {deadline.isoformat()}")
        return found
    for candidate in [ref, f"origin/{ref}"] if ref else ["HEAD"]:
        try:
            return git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", cwd=repo)
        except TargetError:
            continue
    raise TargetError(f"unknown ref {ref!r}: not a tag, branch or commit of the repository")
