"""The `grader` executable's entry point: start-up tuned before the CLI is imported."""

from __future__ import annotations

import gc


def run() -> None:
    # Importing the CLI makes hundreds of thousands of long-lived objects (pydantic models,
    # the Docker and HTTP clients): the cyclic collector would scan them over and over.
    gc.disable()
    try:
        from grader.main import main
    finally:
        gc.enable()
    # What start-up made lives until exit: keep it out of every later collection, and out
    # of the pages each forked check would otherwise copy.
    gc.freeze()
    raise SystemExit(main())
