"""Machine-wide locks between graders: a file under the grader's cache, held with flock.

Two graders on one machine (a batch's jobs, a TA's second terminal) take turns where
doing the same thing at once would clash (one service port), be paid twice (installing
one dependency environment) or overload the machine (more checks than cores). A lock dies
with its holder, so a killed grader never leaves one held.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from grader.target import cache_dir


def _path(name: str) -> Path:
    path = cache_dir() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def hold(name: str) -> Iterator[float]:
    """Hold the lock `name` for the block; yields the seconds spent waiting for it. A check
    that must wait lends its core meanwhile (`lend_core_while_waiting`)."""
    with _path(name).open("a") as handle:
        start = time.monotonic()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with _core_lent():
                fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Core:
    handle: TextIO
    count: int


_mine: _Core | None = None  # in a check's process: the core it runs on
CORE_POLL = 0.2  # seconds between tries for a core when taking one back


def lend_core_while_waiting(handle: TextIO, count: int) -> None:
    """In a check's own process: `handle` is the core it holds (of `count`). While it waits
    for a lock another grader holds (the install of the environment it needs), the core
    is free for other checks, and it takes one back before it goes on: a check waiting
    for another team's install never keeps a core idle."""
    global _mine
    _mine = _Core(handle, count)


@contextlib.contextmanager
def _core_lent() -> Iterator[None]:
    global _mine
    lent = _mine
    if lent is None:
        yield
        return
    # The descriptor is the one the runner locked before forking (one open file, shared):
    # unlocking it here frees the core; the runner's own unlock at the end does nothing.
    fcntl.flock(lent.handle, fcntl.LOCK_UN)
    try:
        yield
    finally:
        while (again := core(lent.count)) is None:
            time.sleep(CORE_POLL)
        _mine = _Core(again, lent.count)  # closed, so freed, when this process ends


def attempt(name: str) -> TextIO | None:
    """The lock `name` if it is free now (never waits), else None; `release` gives it back."""
    handle = _path(name).open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def release(handle: TextIO) -> None:
    # Unlocked explicitly: a forked child that inherited the descriptor must not keep it.
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def core(count: int) -> TextIO | None:
    """One of this machine's `count` cores, if one is free now. Every check a grader runs
    holds one: graders on one machine (the teams of a batch, a TA's second terminal) run
    at most one check per core between them, and a team graded alone has all of them."""
    for index in range(count):
        held = attempt(f"core-{index}")
        if held is not None:
            return held
    return None
