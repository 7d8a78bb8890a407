"""`grader rubric ...`: validate, show and explain rubrics; print their schema."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from grader.checks.registry import REGISTRY
from grader.errors import EXIT_OK, ConfigError, UsageError
from grader.rubric import json_schema, load_rubric, rubric_path

app = typer.Typer(help="Validate, show and explain rubrics.", no_args_is_help=True)


def _path(spec: str) -> Path:
    """A rubric file, or a milestone id of the kit's rubrics."""
    path = Path(spec)
    return path if path.suffix in (".yaml", ".yml") or path.exists() else rubric_path(spec)


@app.command("validate", no_args_is_help=True)
def validate(
    rubrics: list[str] = typer.Argument(..., help="Rubric files or milestone ids."),
) -> int:
    """Validate rubrics; all errors are printed as file:line: field: message.

    Example: grader rubric validate rubrics/*.yaml
    """
    problems: list[str] = []
    for spec in rubrics:
        try:
            rubric = load_rubric(_path(spec))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        typer.echo(
            f"{rubric.path}: valid ({len(rubric.checks)} checks, {rubric.max_points:g} points)"
        )
    if problems:
        raise ConfigError("rubric", ", ".join(rubrics), problems)
    return EXIT_OK


@app.command("show", no_args_is_help=True)
def show(rubric: str = typer.Argument(..., help="Rubric file or milestone id.")) -> int:
    """Show a rubric's checks, points, prerequisites and visibility.

    Example: grader rubric show m3
    """
    loaded = load_rubric(_path(rubric))
    table = Table(title=f"{loaded.milestone}: {loaded.title}")
    for col in ("id", "check", "points", "needs", "visibility", "notes"):
        table.add_column(col)
    for c in loaded.checks:
        notes = ", ".join(
            n for n, on in (("required", c.required), ("regression", c.regression)) if on
        )
        table.add_row(c.id, c.check, f"{c.points:g}", ", ".join(c.needs), c.visibility, notes)
    for m in loaded.manual:
        table.add_row(m.id, "(manual)", f"{m.points:g}", "", m.visibility, m.title)
    console = Console()
    console.print(table)
    console.print(f"Total: {loaded.max_points:g} points")
    if loaded.deadline:
        console.print(f"Deadline: {loaded.deadline.isoformat()}")
    return EXIT_OK


@app.command("schema")
def schema(
    out: Path | None = typer.Option(None, help="Write to this file instead of stdout."),
) -> int:
    """Print the JSON Schema of rubric files (generated from the grader's models).

    Example: grader rubric schema --out rubrics/rubric.schema.json
    """
    text = json.dumps(json_schema(), indent=2) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)
    return EXIT_OK


@app.command("explain", no_args_is_help=True)
def explain(name: str = typer.Argument(..., help="A check name, e.g. repo.secrets.")) -> int:
    """Explain a check: what it verifies, how to fix it, and its params.

    Example: grader rubric explain repo.large_files
    """
    definition = REGISTRY.get(name)
    if definition is None:
        raise UsageError(f"no check {name!r}; checks: {', '.join(sorted(REGISTRY))}")
    lines = [f"{name}: {definition.title}", "", definition.explanation or "(no explanation)", ""]
    fields = definition.params.model_fields
    lines.append("Params:" if fields else "Params: none")
    for field_name, info in fields.items():
        default = (
            "required"
            if info.is_required()
            else f"default {info.get_default(call_default_factory=True)!r}"
        )
        lines.append(f"  {field_name} ({default}): {info.description or ''}".rstrip(": "))
    lines.append(f"Time limit: {definition.timeout:g}s")
    typer.echo("\n".join(lines))
    return EXIT_OK
