"""`--quiet` and `--json`: the same two options on every command.

`--quiet` prints nothing but errors (the exit code tells the result); `--json` prints the
result as JSON on stdout and sends the human output to stderr, so `> file.json` captures
only the JSON. `check`, `batch` and `diff` declare the options themselves (their JSON is the
grade); every other command gets them from `@reporting`, and states its result with
`result(...)` (files it wrote with `wrote(...)`). `--network` is the one option of every
command that runs containers (`check`, `batch`, `rubric validate --against`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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


def network_option() -> Any:
    return typer.Option(
        None,
        "--network",
        envvar="GRADER_NETWORK",
        show_default="auto",
        help="How containers are reached: published ports, host networking, or auto"
        " (host where the engine has no bridge network). Env GRADER_NETWORK.",
    )


def human_console(quiet: bool, as_json: bool) -> Console:
    """Where the command's human output goes: nowhere, stderr beside JSON, else stdout."""
    return Console(highlight=False, soft_wrap=True, quiet=quiet, stderr=as_json)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@dataclass
class _Report:
    data: dict[str, Any] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)


_REPORT: ContextVar[_Report | None] = ContextVar("grader_report", default=None)


def result(**data: Any) -> None:
    """What the running command found or did, for --json (ignored without it)."""
    report = _REPORT.get()
    if report is not None:
        report.data.update(data)


def wrote(path: Path, what: str = "") -> Path:
    """Say a file was written (`wrote PATH`, and what it is), and list it for --json."""
    Console(highlight=False, soft_wrap=True).print(f"wrote {path}{f' ({what})' if what else ''}")
    report = _REPORT.get()
    if report is not None:
        report.written.append(str(path))
    return path


@contextlib.contextmanager
def _human_output(quiet: bool, as_json: bool) -> Iterator[None]:
    if not (quiet or as_json):
        yield
        return
    with contextlib.redirect_stdout(io.StringIO() if quiet else sys.stderr):
        yield


F = TypeVar("F", bound=Callable[..., Any])


def reporting(func: F) -> F:
    """Give a command `--json` and `--quiet`: the human output is silenced or moved to
    stderr, and with --json the command's `result(...)` is printed on stdout at the end."""
    signature = inspect.signature(func)
    extra = [
        inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=json_option()),
        inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=quiet_option()),
    ]

    @functools.wraps(func)
    def command(*args: Any, as_json: bool = False, quiet: bool = False, **kwargs: Any) -> Any:
        report = _Report()
        token = _REPORT.set(report)
        try:
            with _human_output(quiet, as_json):
                code = func(*args, **kwargs)
        finally:
            _REPORT.reset(token)
        if as_json and not quiet:
            print_json({**report.data, **({"written": report.written} if report.written else {})})
        return code

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    command.__annotations__ = {**func.__annotations__, "as_json": bool, "quiet": bool}
    return command  # type: ignore[return-value]
