"""Machine-wide locks between graders: a file under the grader's cache, held with flock.

Two graders on one machine (a batch's jobs, a TA's second terminal) take turns where
doing the same thing at once would clash (one service port) or be paid twice (installing
one dependency environment). A lock dies with its holder, so a killed grader never leaves
one held.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator

from grader.target import cache_dir


@contextlib.contextmanager
def hold(name: str) -> Iterator[float]:
    """Hold the lock `name` for the block; yields the seconds spent waiting for it."""
    path = cache_dir() / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        start = time.monotonic()
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
