"""Requests to a team's service that a hung or flooding service cannot stall.

A `/predict` that never answers used to keep a grade busy for minutes: every example, every
latency request and the fuzz run waited out its own timeout. Here every request has one
deadline for its whole answer (headers and body), and a body is read up to a cap and no
further. What went wrong is tallied per service across all the checks of a run (each check
runs in its own process, some at the same time) in a small append-only file: after
`TIMEOUT_LIMIT` timeouts the service is taken as hung and every later request waits
`HUNG_SECONDS` at most (a route that works still answers in milliseconds, so its verdict is
unchanged), and the checks that would send hundreds of requests (latency, fuzz) fail at once,
naming what went wrong.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from grader.text import plural

REQUEST_SECONDS = 10.0
HUNG_SECONDS = 1.0
BODY_CAP = 1 << 20  # 1 MiB: no prediction, health or metrics answer needs more
TIMEOUT_LIMIT = 3
# The body is handed on decoded, so the headers that described its encoding go.
DECODED = ("content-encoding", "content-length", "transfer-encoding")


class AnswerTooLarge(httpx.HTTPError):
    """The answer's body passed the cap: reading stopped there."""


@dataclass(frozen=True)
class Tally:
    """What went wrong calling one service in one run, shared by every check's process."""

    path: Path

    @classmethod
    def for_service(cls, run_id: str, service: str) -> Tally:
        key = hashlib.sha256(service.encode()).hexdigest()[:24]
        folder = _run_folder(run_id)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(folder / key)

    def events(self, kind: str) -> list[str]:
        """The requests that ended in `kind` ("timeout" or "flood"), as 'METHOD path in check'."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [what for k, _, what in (ln.partition("\t") for ln in lines) if k == kind]

    def record(self, kind: str, what: str) -> None:
        # One short O_APPEND write per line: atomic between processes and threads.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{kind}\t{' '.join(what.split())}\n".encode())
        finally:
            os.close(fd)

    def hung(self, route: str | None = None, limit: int = TIMEOUT_LIMIT) -> str | None:
        """Why the service (or its route 'METHOD path') is taken as hung, or None."""
        seen = self.events("timeout")
        if len(seen) < limit or (route and not any(w.startswith(f"{route} ") for w in seen)):
            return None
        return (
            f"the service stopped answering: {plural(len(seen), 'request')} got no answer "
            f"within {REQUEST_SECONDS:g} s ({'; '.join(seen[:TIMEOUT_LIMIT])})"
        )

    def trouble(self, route: str | None = None, limit: int = TIMEOUT_LIMIT) -> str | None:
        """Why a check that sends many requests should not start: hung, or flooding."""
        floods = self.events("flood")
        if floods:
            return f"the service answered with more than {BODY_CAP // 1024} KiB ({floods[0]})"
        return self.hung(route, limit)


def _run_folder(run_id: str) -> Path:
    name = hashlib.sha256(run_id.encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "mlops-grader-calls" / name


def forget_run(run_id: str) -> None:
    """Remove a run's tallies (the run is over: no check of it calls its service again)."""
    shutil.rmtree(_run_folder(run_id), ignore_errors=True)


class Caller:
    """An httpx client for one service, whose every request goes through `send`."""

    def __init__(self, http: httpx.Client, tally: Tally, label: str = "") -> None:
        self.http, self.tally, self.label = http, tally, label

    def __enter__(self) -> Caller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def send(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return send(self.http, method, path, body, tally=self.tally, label=self.label)

    def trouble(self, route: str | None = None, limit: int = TIMEOUT_LIMIT) -> str | None:
        return self.tally.trouble(route, limit)


def send(
    http: httpx.Client,
    method: str,
    path: str,
    body: Any = None,
    *,
    tally: Tally,
    cap: int = BODY_CAP,
    label: str = "",
) -> httpx.Response:
    """One request whose whole answer arrives in time and within `cap` bytes, else an
    httpx error; timeouts and floods are tallied for the run's other checks."""
    seconds = HUNG_SECONDS if tally.hung() else REQUEST_SECONDS
    deadline = time.monotonic() + seconds
    request = http.build_request(method, path, json=body, timeout=seconds)
    what = f"{method} {path}{f' in {label}' if label else ''}"
    try:
        response = http.send(request, stream=True)
        try:
            content = _read(response, deadline, cap, seconds)
        finally:
            response.close()
    except httpx.TimeoutException:
        tally.record("timeout", what)
        raise
    except AnswerTooLarge:
        tally.record("flood", what)
        raise
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in DECODED]
    return httpx.Response(response.status_code, headers=headers, content=content, request=request)


def _read(response: httpx.Response, deadline: float, cap: int, seconds: float) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > cap:
            raise AnswerTooLarge(f"the answer passed {cap // 1024} KiB; reading stopped there")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(f"the whole answer took over {seconds:g} s")
    return bytes(data)
