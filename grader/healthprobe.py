"""Does an image's HEALTHCHECK tell a failing service from a working one?

A probe that counts any HTTP answer as healthy (`curl http://...` without `-f`, a
`urlopen` wrapped in `|| exit 0`) keeps a broken service in rotation. The grader runs the
image with a stand-in on the service port that answers 500 to everything, in a container
with no network (the probe reaches it on the container's own loopback), and runs the
image's own HEALTHCHECK command there: it must fail.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from docker.errors import DockerException

from grader.engine import Engine, Limits

STANDIN = """\
import http.server, sys
class Failing(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = b'{"status": "error"}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_HEAD = do_PUT = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Failing).serve_forever()
"""


@dataclass(frozen=True)
class ProbeVerdict:
    """tells_failure: None when it could not be tried (no python in the image to stand in)."""

    tells_failure: bool | None
    exit_code: int | None
    output: str
    note: str = ""


def probe_command(test: Sequence[str]) -> list[str] | None:
    """The command Docker runs for a HEALTHCHECK `Test` (CMD or CMD-SHELL)."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def against_failing_service(
    engine: Engine,
    image: str,
    test: Sequence[str],
    port: int,
    env: Mapping[str, str],
    timeout: float = 30.0,
) -> ProbeVerdict:
    command = probe_command(test)
    if command is None:
        return ProbeVerdict(None, None, "", "the image declares no HEALTHCHECK")
    container = engine.create(
        image,
        ["-c", STANDIN, str(port)],
        entrypoint=["python"],
        network="none",
        env=env,
        limits=Limits(memory="256m", cpus=0.5, pids=64),
    )
    try:
        container.start()
    except DockerException as exc:
        return ProbeVerdict(None, None, "", f"the stand-in could not start: {exc}")
    if not _listening(container, port):
        logs = engine.logs(container.id, 1000)
        return ProbeVerdict(None, None, logs, "no python in the image to stand in for the service")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(container.exec_run, command, environment=dict(env))
        try:
            code, raw = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            engine.remove_container(container.id)
            return ProbeVerdict(True, None, "", f"the probe did not finish within {timeout:g}s")
    output = (raw or b"").decode("utf-8", errors="replace")[-2000:]
    return ProbeVerdict(code != 0, code, output)


def _listening(container: object, port: int, seconds: float = 10.0) -> bool:
    """The stand-in answers (checked from inside, with the image's python)."""
    check = [
        "python",
        "-c",
        f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()",
    ]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            code, _ = container.exec_run(check)  # type: ignore[attr-defined]
        except DockerException:
            return False
        if code == 0:
            return True
        time.sleep(0.2)
    return False
