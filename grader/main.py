"""The `grader` command line: parse and dispatch only; the work lives in grader.commands.

Exit codes: 0 graded, 1 score under --fail-under, 2 usage, rubric or manifest error,
3 infrastructure error (engine unreachable, clone failed) or a check in error (the team
needs review), 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer
from rich.console import Console

from grader import __version__
from grader.commands import (
    batch,
    canvas,
    check,
    classroom,
    clean,
    diff,
    expo,
    feedback,
    final,
    gradescope,
    init,
    manifest,
    rubric,
    teams,
    teams_update,
)
from grader.errors import EXIT_INTERRUPTED, EXIT_USAGE, GraderError

# Typer ships its own copy of click: find its base exception without a private import.
CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)

HELP = """Grade MLOps capstone team repositories against milestone rubrics.

Example: grader check ../team-07 --milestone m1

Exit codes: 0 graded, 1 score under --fail-under, 2 usage/rubric/manifest error,
3 infrastructure error or a check in error (needs review; --accept-errors-as-zero),
130 interrupted.
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("check", help=check.__doc__, no_args_is_help=True)(check.check)
app.command("clean", help=clean.clean.__doc__)(clean.clean)
app.command("init", help=init.__doc__, no_args_is_help=True)(init.init)
app.add_typer(rubric.app, name="rubric")
app.add_typer(manifest.app, name="manifest")
teams.app.command("update", no_args_is_help=True)(teams_update.update)
app.add_typer(teams.app, name="teams")
app.command("batch", help=batch.__doc__, no_args_is_help=True)(batch.batch)
app.command("diff", help=diff.__doc__, no_args_is_help=True)(diff.diff)
app.command("final", help=final.__doc__, no_args_is_help=True)(final.final)
app.add_typer(expo.app, name="expo")
app.add_typer(canvas.app, name="canvas")
app.add_typer(feedback.app, name="feedback")
app.add_typer(gradescope.app, name="gradescope")
app.add_typer(classroom.app, name="classroom")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grader {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Grade MLOps capstone team repositories against milestone rubrics."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises for user-facing failures)."""
    err = Console(stderr=True)
    command = typer.main.get_command(app)
    try:
        rv = command.main(
            args=list(argv) if argv is not None else None,
            prog_name="grader",
            standalone_mode=False,
        )
    except typer.Exit as exc:
        return _interrupted(err) if exc.exit_code == EXIT_INTERRUPTED else int(exc.exit_code)
    except typer.Abort:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    except CLICK_ERROR as exc:
        exc.show()  # type: ignore[attr-defined]
        code = int(getattr(exc, "exit_code", EXIT_USAGE))
        return EXIT_USAGE if code == 2 else code
    except GraderError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    if rv == EXIT_INTERRUPTED:  # Typer turns Ctrl-C inside a command into exit code 130
        return _interrupted(err)
    return rv if isinstance(rv, int) else 0


def _interrupted(err: Console) -> int:
    err.print("interrupted: nothing this run started is left running")
    return EXIT_INTERRUPTED


def run() -> None:
    """Entry point of installs made before `grader.entry` existed."""
    raise SystemExit(main())
