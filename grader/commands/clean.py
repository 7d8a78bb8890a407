"""`grader clean`: remove containers, networks and images a crashed run left behind."""

from __future__ import annotations

import shutil

import typer

from grader import engineruns, envcache
from grader.commands.output import reporting, result
from grader.errors import EXIT_OK
from grader.target import cache_dir


@reporting
def clean(
    run: str | None = typer.Option(None, help="Only the leftovers of this run id."),
    cache: bool = typer.Option(
        False,
        "--cache",
        help="Also remove the caches (images of installed dependencies, pre-commit hooks and"
        " teams' builds, what was found in image layers, the uv kept for sandboxes); with"
        " --run, only the"
        " dependency images that run built.",
    ),
) -> int:
    """Remove every container, network and image the grader created and did not remove.

    Only resources carrying the grader's label are touched; nothing of yours is. The
    cache images are kept unless `--cache` is given: the next run installs again.

    Example: grader clean --cache
    """
    done = engineruns.cleanup(run_id=run)
    line = f"removed {done.containers} containers, {done.images} images, {done.networks} networks"
    result(containers=done.containers, images=done.images, networks=done.networks)
    if cache:
        removed = envcache.remove_cache_images(run_id=run)
        line += f", {removed} cache images"
        result(cache_images=removed)
        if run is None:
            for folder in ("layer-scan", "sandbox-tools"):
                shutil.rmtree(cache_dir() / folder, ignore_errors=True)
    typer.echo(line)
    return EXIT_OK
