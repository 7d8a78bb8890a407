"""Helpers for tests: fixture repos from small dicts, git with a test identity."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def build_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write `files` (relative path -> content) under `root`; return root."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=full_env
    )
    return done.stdout.strip()


def commit_all(repo: Path, message: str, author: tuple[str, str] | None = None) -> str:
    """Stage everything and commit (as `author` = (name, email) if given); return the SHA."""
    env = {}
    if author:
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
        }
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, env=env)
    return git(repo, "rev-parse", "HEAD")


def init_repo(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """A git repository holding `files` in one commit on branch main."""
    build_tree(root, files)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "initial commit")
    return root


MANIFEST = """\
version: 1
team:
  name: Team Alpha
  members:
    - {name: Ann Lee, github: ann-lee, email: ann@example.edu}
    - {name: Bo Chen, github: bochen}
"""

README = """\
# Alpha

## Quick start
Run it.

## Architecture
Boxes.
"""


def team_files(**extra: str | bytes) -> dict[str, str | bytes]:
    """A small, tidy team repository (no service yet): the base of fixture repos."""
    files: dict[str, str | bytes] = {
        "README.md": README,
        "capstone.yaml": MANIFEST,
        ".gitignore": ".venv/\n__pycache__/\nmlruns/\n",
        ".dockerignore": ".git\n.venv\n",
        "src/alpha/__init__.py": '"""Alpha."""\n',
        "tests/test_smoke.py": "def test_ok():\n    assert True\n",
    }
    files.update(extra)
    return files


ANN = ("Ann Lee", "ann@example.edu")
BO = ("Bo Chen", "12345+bochen@users.noreply.github.com")


def write_rubric(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def answer_json(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    """Send `body` as a JSON answer from a stand-in service's handler."""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) for the block; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
