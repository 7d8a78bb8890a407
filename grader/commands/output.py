"""`--quiet` and `--json`: the same two options on every command that prints a result.

`--quiet` prints nothing but errors (the exit code tells the result); `--json` prints the
result as JSON on stdout and sends the human output to stderr, so `> file.json` captures
only the JSON.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console


def quiet_option() -> Any:
    return typer.Option(
        False, "--quiet", "-q", help="Print nothing but errors (the exit code tells the result)."
    )


def json_option() -> Any:
    return typer.Option(
        False,
        "--json",
        help="Print the result as JSON on stdout (the human output goes to stderr).",
    )


def human_console(quiet: bool, as_json: bool) -> Console:
    """Where the command's human output goes: nowhere, stderr beside JSON, else stdout."""
    return Console(highlight=False, soft_wrap=True, quiet=quiet, stderr=as_json)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
