"""Helpers for the template tests: bake, run commands in a generated repo, find a port."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KIT = Path(__file__).resolve().parents[2]
TEMPLATE = KIT
TEST_LABEL = "mlops-capstone-kit.test"

DEFAULT_CONTEXT: dict[str, Any] = {
    "project_name": "Wine Service",
    "team_name": "Team Rocket",
    "members": "Ada Lovelace <ada-lovelace>, Grace Hopper <@ghopper>",
}


def run(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the assertion shows its output."""
    done = subprocess.run(
        args,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert done.returncode == 0, (
            f"{' '.join(args)} exited {done.returncode}\n--- stdout\n{done.stdout[-6000:]}"
            f"\n--- stderr\n{done.stderr[-6000:]}"
        )
    return done


def bake(cookies: Any, **context: Any) -> Path:
    result = cookies.bake(extra_context={**DEFAULT_CONTEXT, **context})
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return Path(result.project_path)


def base_python() -> str:
    """The interpreter the kit runs on, outside any venv (to make fresh venvs)."""
    return getattr(sys, "_base_executable", sys.executable)


def clean_env(venv_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for commands in a generated repo: no kit venv, no CI-only settings."""
    # MLflow settings of the kit's own process (its tests set them) must not leak into the
    # generated repo, whose store is its own mlflow.db; telemetry stays off (grader/__init__).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYTHONPATH"}
        and (not k.startswith("MLFLOW_") or k == "MLFLOW_DISABLE_TELEMETRY")
    }
    if venv_dir is not None:
        env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_image(client: Any, context: Path) -> tuple[Any, list[str]]:
    """Build with the host network (PyPI through the host); return the image and the ids
    of the intermediate images the build made (other stages), to remove them afterwards."""
    tag = f"kit-template-test:{uuid.uuid4().hex[:8]}"
    created: list[str] = []
    try:
        image, logs = client.images.build(
            path=str(context),
            tag=tag,
            labels={TEST_LABEL: "1"},
            network_mode="host",
            rm=True,
            forcerm=True,
        )
    except Exception as error:  # the build log is on the BuildError
        log = "".join(str(c.get("stream", "")) for c in getattr(error, "build_log", []))
        raise AssertionError(f"docker build failed: {error}\n{log[-5000:]}") from error
    for chunk in logs:
        created += re.findall(r"---> ([0-9a-f]{12})\b", str(chunk.get("stream", "")))
    return image, created


def remove_images(client: Any, ids: list[str]) -> None:
    """Remove the images given, skipping tagged ones (a base image) and ones in use."""
    import docker.errors

    for image_id in ids:
        try:
            image = client.images.get(image_id)
            if image.tags and image_id != ids[0]:
                continue
            client.images.remove(image.id, force=image_id == ids[0])
        except docker.errors.APIError:
            continue
