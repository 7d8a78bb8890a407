"""One service at a time on a host port: what parallel grading needs under host networking.

With host networking a team's service listens on the machine's own port (the manifest's
`service.port`, 8000 for most teams), so two teams graded at once (`grader batch --jobs 2`,
or two TAs on one machine) would collide, and the second would be told its port is taken.
A grading run takes this lock before the first check that starts the service and keeps it
until the service's checks are done and its container is removed (`runner`'s lane_done),
not to the end of the run; another run that needs the same port waits for it,
running its other checks meanwhile (it tries again between checks, holding no core while
it waits), so the wait never counts against a check's time limit. It is an
flock: a grader that crashes or is killed releases it with its process.

A port another program holds (a TA's own server, a forgotten container) is not the team's
fault: `taken` names the port and its holder (pid and command from /proc, else `ss`), and
the check that would start the service is an `error`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from grader import locks
from grader.errors import EngineError

if TYPE_CHECKING:
    from docker.errors import APIError


def attempt(port: int) -> TextIO | None:
    """The lock of `port` if no other run holds it now (never waits); `locks.release` it."""
    return locks.attempt(f"port-{port}")


# who holds a port ---------------------------------------------------------------------------

LISTEN, BOUND = "0A", "07"  # TCP_LISTEN, TCP_CLOSE (bound, not listening) in /proc/net/tcp


def taken(port: int) -> str | None:
    """None when `port` is free on this machine; else why the team's service cannot listen
    there, naming the port and the process that holds it."""
    if not _bind_fails(port):
        return None
    return f"port {port} is already in use on this machine by {holder(port)}"


def _bind_fails(port: int) -> bool:
    """Binding the wildcard address fails while anything listens on the port, on any address
    (what the team's service, listening on 0.0.0.0, would meet)."""
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def holder(port: int) -> str:
    """'pid 1234 (python3 -m http.server 8000)' from /proc, else `ss -ltnp`'s line for the
    port, else what is known."""
    pids = _listening_pids(port)
    if pids:
        return ", ".join(f"pid {pid} ({_command(pid)})" for pid in pids)
    line = _ss_line(port)
    if line:
        return f"a process this user cannot see (ss -ltnp: {line})"
    return "another process (no listener on it in /proc/net/tcp or ss: a socket only bound to it?)"


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on `port`, else of those only bound to it."""
    found: dict[str, set[str]] = {LISTEN: set(), BOUND: set()}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] in found and _port_of(fields[1]) == port:
                found[fields[3]].add(fields[9])
    inodes = (found[LISTEN] or found[BOUND]) - {"0"}
    return inodes


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)  # 0100007F:1F90 -> 8080


def _listening_pids(port: int) -> list[int]:
    inodes = _listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (proc / "fd").iterdir()):
                pids.append(int(proc.name))
    return _owners(pids)


def _owners(pids: list[int]) -> list[int]:
    """The holders whose parent does not hold the socket too: a forked child inherits its
    parent's sockets (a gunicorn master's workers, a grader's own worker processes), and the
    one to stop is the parent."""
    held = set(pids)
    return sorted(pid for pid in held if _parent(pid) not in held)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])  # after "(comm)": state, ppid


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "command unknown"
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    text = " ".join(" ".join(words).split()) or "command unknown"
    return text if len(text) <= 200 else text[:199] + "…"


def _ss_line(port: int) -> str:
    if shutil.which("ss") is None:
        return ""
    try:
        done = subprocess.run(
            ["ss", "-Hltnp", f"sport = :{port}"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return " ".join(done.stdout.split())[:300]


HOST_PORT_HINT = (
    "the team's service must listen on it (host networking); stop that process, or grade"
    " with published ports (--network published)"
)
PORT_CLASH = re.compile(r"port is already allocated|address already in use", re.IGNORECASE)


def start_error(exc: APIError) -> EngineError:
    """The engine could not start a container; a host port another process holds is named
    with its holder, like the check before starting a service on the host's network."""
    text = str(exc)
    if PORT_CLASH.search(text):
        ports = re.findall(r":(\d{1,5})\b", text)
        held = taken(int(ports[-1])) if ports else None
        if held:
            return EngineError(f"{held}: {HOST_PORT_HINT}")
        return EngineError(f"the engine could not publish the service's port: {text}")
    return EngineError(f"the engine could not start the container: {text}")
