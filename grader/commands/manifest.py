"""`grader manifest ...`: check a team's capstone.yaml, or draft one for a repo without it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from grader.commands.output import reporting, result, wrote
from grader.errors import EXIT_OK, UsageError
from grader.infer import infer
from grader.infer.render import render
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest

app = typer.Typer(help="Validate team manifests (capstone.yaml).", no_args_is_help=True)


@app.command("validate", no_args_is_help=True)
@reporting
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
    result(path=str(file), valid=True, manifest=manifest.model_dump(mode="json"))
    return EXIT_OK


@app.command("schema")
@reporting
def schema() -> int:
    """Print the JSON Schema of capstone.yaml.

    Example: grader manifest schema > capstone.schema.json
    """
    schema_ = Manifest.model_json_schema()
    typer.echo(json.dumps(schema_, indent=2))
    result(schema=schema_)
    return EXIT_OK


@app.command("init", no_args_is_help=True)
@reporting
def init(
    repo: Path = typer.Argument(..., help="The team repository (a local folder)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here (default: print)."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> int:
    """Draft a manifest for a repository that has none, inferred from its files.

    Nothing in the repository is run or written: Dockerfiles, compose files, the Python
    source (read with ast), pytest and CI configuration, a committed MLflow store and the
    git authors are read. Each value says where it came from; what was not found is a
    `# TODO`. Keep the draft outside the team's repository and grade with --manifest.

    Example: grader manifest init ../team-07 --out manifests/team-07.yaml
    """
    if not repo.is_dir():
        raise UsageError(f"{repo}: no such folder")
    if out is not None and out.exists() and not force:
        raise UsageError(f"{out} exists: pass --force to overwrite it")
    text = render(infer(repo), repo.resolve().name)
    result(draft=text)
    if out is None:
        typer.echo(text, nl=False)
        return EXIT_OK
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    wrote(out, f"draft manifest for {repo}: review every TODO")
    return EXIT_OK
