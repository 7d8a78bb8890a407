"""One service at a time on a host port: what parallel grading needs under host networking.

With host networking a team's service listens on the machine's own port (the manifest's
`service.port`, 8000 for most teams), so two teams graded at once (`grader batch --jobs 2`,
or two TAs on one machine) would collide, and the second would be told its port is taken.
A grading run takes this lock before the first check that starts the service and keeps it
until the run's containers are removed; another run that needs the same port waits for it.
The wait happens between checks, so it never counts against a check's time limit. It is an
flock: a grader that crashes or is killed releases it with its process.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator

from grader.target import cache_dir


@contextlib.contextmanager
def hold(port: int) -> Iterator[float]:
    """Hold the lock of `port` for the block; yields the seconds spent waiting for it."""
    path = cache_dir() / "locks" / f"port-{port}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        start = time.monotonic()
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield time.monotonic() - start
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
