"""`grader clean`: remove containers, networks and images a crashed run left behind."""

from __future__ import annotations

import typer

from grader import engine
from grader.errors import EXIT_OK


def clean(
    run: str | None = typer.Option(None, help="Only the leftovers of this run id."),
) -> int:
    """Remove every container, network and image the grader created and did not remove.

    Only resources carrying the grader's label are touched; nothing of yours is.

    Example: grader clean
    """
    done = engine.cleanup(run_id=run)
    typer.echo(
        f"removed {done.containers} containers, {done.images} images, {done.networks} networks"
    )
    return EXIT_OK
