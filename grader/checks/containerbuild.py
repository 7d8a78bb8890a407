"""container.build: the team's image, built from the graded commit (never the working tree),
and kept by content (the commit's tree, the Dockerfile, build args and base images), so
an unchanged commit is never built twice; it provides the image to the other checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field

from grader import dockerstages, fs, gitrepo
from grader.checks.base import (
    Context,
    Outcome,
    Params,
    Provided,
    failed,
    passed,
    skipped,
)
from grader.checks.container import URL_MODE, engine_for, mb, need_service
from grader.engineimages import BuildResult
from grader.errors import CheckError
from grader.manifest import Service
from grader.text import tail


class BuildParams(Params):
    timeout: float = Field(600, gt=0, description="Seconds the build may take.")
    steps_timeout: float = Field(
        900, gt=0, description="Seconds the manifest's build steps (and their install) may take."
    )
    buildargs: dict[str, str] = Field(default_factory=dict, description="--build-arg values.")
    nocache: bool = False


def build(ctx: Context, params: BuildParams) -> Outcome:
    """The Docker image builds from the graded commit.

    Builds `service.dockerfile` with `service.context` (capstone.yaml) from a clean
    checkout of the graded commit, so files you have locally but never committed are
    missing here. Fix: run `git stash -u && docker build .` on a fresh clone; read the
    build log tail in the evidence.
    """
    if ctx.settings.url:
        return skipped(URL_MODE)
    service = need_service(ctx)
    context = fs.inside(ctx.repo, service.context)
    dockerfile = fs.inside(ctx.repo, service.dockerfile)
    if context is None or dockerfile is None:
        return failed("service.context or service.dockerfile points outside the repository")
    if not dockerfile.is_file():
        return failed(f"{service.dockerfile} is not in the graded commit")
    evidence: dict[str, Any] = {}
    buildargs = {**service.build_args, **params.buildargs}
    key = None if service.build_steps or params.nocache else build_key(ctx, buildargs)
    reused = _reuse(ctx, key) if key else None
    if reused:
        return reused
    with contextlib.ExitStack() as scratch:
        if service.build_steps:
            prepared = _run_build_steps(ctx, service, params, scratch)
            if isinstance(prepared, Outcome):
                return prepared
            root, evidence["build_steps"] = prepared
            context, dockerfile = root / service.context, root / service.dockerfile
        result, size = _build(ctx, context, dockerfile, buildargs, params, key)
        evidence.update(seconds=round(result.seconds, 1), log=result.log_tail)
        if not result.ok or result.image_id is None:
            return failed(f"the image does not build: {result.error}", evidence)
    evidence.update(image=result.image_id, size_mb=round(size / 1e6, 1))
    message = f"built in {result.seconds:.0f}s ({mb(size)})"
    return passed(message, evidence, Provided(image=result.image_id))


def build_key(ctx: Context, buildargs: dict[str, str]) -> str | None:
    """What an image is built from, as a key: the commit's tree of the build context, the
    Dockerfile's blob and path, the build args and the ids of the images it starts FROM.
    None when that cannot be known (not a git checkout): the image is then always built."""
    service = need_service(ctx)
    if ctx.commit is None:
        return None
    try:
        context = gitrepo.git(ctx.repo, "rev-parse", f"HEAD:{_git_path(service.context)}")
        dockerfile = gitrepo.git(ctx.repo, "rev-parse", f"HEAD:{_git_path(service.dockerfile)}")
    except CheckError:
        return None
    with engine_for(ctx) as engine:
        bases = [(name, engine.image_id(name)) for name in _from_images(ctx, buildargs)]
    parts = [BUILD_FORMAT, context.strip(), service.dockerfile, dockerfile.strip()]
    parts += [f"{k}={v}" for k, v in sorted(buildargs.items())]
    parts += [f"FROM {name}@{image_id}" for name, image_id in bases]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


BUILD_FORMAT = "build-key-1"  # part of every key: change it when what a key means changes


def _git_path(path: str) -> str:
    """A manifest path as git names it in a tree ("." is the root, "")."""
    return "/".join(p for p in PurePosixPath(path).parts if p not in (".", "/"))


def _from_images(ctx: Context, buildargs: dict[str, str]) -> list[str]:
    """The images the Dockerfile's stages start from (not its own stages), in order, with
    the ARGs they name resolved (the build args, else the Dockerfile's defaults)."""
    text = fs.read_text(ctx.repo, need_service(ctx).dockerfile) or ""
    return dockerstages.from_images(text, buildargs)


def _source(ctx: Context) -> str:
    """The repository an image is built from: its first commit (every team has its own)."""
    try:
        roots = gitrepo.git(ctx.repo, "rev-list", "--max-parents=0", "HEAD").split()
    except CheckError:
        return ""
    return sorted(roots)[0] if roots else ""


def _reuse(ctx: Context, key: str) -> Outcome | None:
    """The image built earlier from exactly these files, if the engine still has it."""
    with engine_for(ctx) as engine:
        image = engine.built(key)
        if image is None or not engine.anchor(image):
            return None
        size = int(engine.image_attrs(image).get("Size", 0))
    evidence = {"image": image, "size_mb": round(size / 1e6, 1), "reused": key[:12]}
    message = f"built earlier from the same files: image reused ({mb(size)})"
    return passed(message, evidence, Provided(image=image))


def _build(
    ctx: Context,
    context: Path,
    dockerfile: Path,
    buildargs: dict[str, str],
    params: BuildParams,
    key: str | None = None,
) -> tuple[BuildResult, int]:
    """The build's result, and the image's size in bytes (0 when it did not build)."""
    with engine_for(ctx) as engine:
        result = engine.build(
            context,
            str(dockerfile.relative_to(context))
            if context in dockerfile.parents
            else str(dockerfile),
            buildargs=buildargs,
            timeout=params.timeout,
            nocache=params.nocache,
            key=key,
            source=_source(ctx) if key else "",
        )
        if not result.ok or result.image_id is None:
            return result, 0
        engine.keep(result.image_id)  # the run's final cleanup removes it
        if key and not engine.anchor(result.image_id):  # kept between runs: held for this one
            raise CheckError(
                "the image was removed as soon as it was built, by another run of the same"
                " repository building another commit: grade again"
            )
        return result, int(engine.image_attrs(result.image_id).get("Size", 0))


BUILD_OUTPUT_LIMIT = 1_000_000_000  # bytes per output path: a model, not a data set


def _run_build_steps(
    ctx: Context, service: Service, params: BuildParams, scratch: contextlib.ExitStack
) -> tuple[Path, dict[str, Any]] | Outcome:
    """Run the manifest's build steps in the sandbox, then lay out a copy of the checkout
    with their outputs added: the build context. The graded checkout is never written."""
    from grader.checks.projectenv import project_sandbox

    command = " && ".join(f"( {step} )" for step in service.build_steps)
    done = project_sandbox(ctx).run(
        ctx.repo,
        command,
        timeout=params.steps_timeout,
        setup_timeout=params.steps_timeout,
        memory="2g",
        collect=list(service.build_outputs),
        collect_limit=BUILD_OUTPUT_LIMIT,
    )
    evidence: dict[str, Any] = {
        "commands": list(service.build_steps),
        "exit_code": done.exit_code,
        "seconds": round(done.seconds, 1),
        "output": tail(done.output, 3000),
    }
    if done.setup_failed or done.timed_out or done.exit_code != 0:
        why = "timed out" if done.timed_out else f"exit code {done.exit_code}"
        what = (
            "installing the build steps' dependencies" if done.setup_failed else "the build steps"
        )
        return failed(f"{what} failed ({why}) before the image could build", evidence)
    missing = [o for o in service.build_outputs if not _produced(done.files, o)]
    if missing:
        return failed(f"the build steps did not make {', '.join(missing)}", evidence)
    root = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="grader-build-")))
    copy = root / "repo"
    shutil.copytree(ctx.repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    for rel, data in done.files.items():
        target = fs.inside(copy, rel)
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    evidence["outputs"] = {rel: len(data) for rel, data in sorted(done.files.items())}
    return copy, evidence


def _produced(files: dict[str, bytes], output: str) -> bool:
    rel = output.strip("/")
    return any(path == rel or path.startswith(rel + "/") for path in files)
