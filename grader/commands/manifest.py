"""`grader manifest ...`: check a team's capstone.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from grader.errors import EXIT_OK
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest

app = typer.Typer(help="Validate team manifests (capstone.yaml).", no_args_is_help=True)


@app.command("validate", no_args_is_help=True)
def validate(
    path: Path = typer.Argument(..., help="capstone.yaml, or the repo that holds it."),
) -> int:
    """Validate a team manifest; every problem is printed with its line.

    Example: grader manifest validate ../team-07
    """
    file = path / MANIFEST_NAME if path.is_dir() else path
    manifest = load_manifest(file)
    members = ", ".join(m.github for m in manifest.team.members)
    typer.echo(f"{file}: valid (team {manifest.team.name}: {members})")
    return EXIT_OK


@app.command("schema")
def schema() -> int:
    """Print the JSON Schema of capstone.yaml.

    Example: grader manifest schema > capstone.schema.json
    """
    typer.echo(json.dumps(Manifest.model_json_schema(), indent=2))
    return EXIT_OK
