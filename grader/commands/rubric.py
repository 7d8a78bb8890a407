"""`grader rubric ...`: validate, show and explain rubrics; print their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from grader.checks.registry import REGISTRY
from grader.commands.output import network_option, reporting, result, wrote
from grader.engine import decide_network
from grader.errors import EXIT_FAIL_UNDER, EXIT_OK, ConfigError, UsageError
from grader.grade import Options
from grader.mutants import MUTANTS
from grader.rubric import Rubric, json_schema, load_rubric, rubric_path
from grader.runner import engine_checks
from grader.selftest import MutantOutcome, run_selftest

app = typer.Typer(help="Validate, show and explain rubrics.", no_args_is_help=True)


def _path(spec: str) -> Path:
    """A rubric file, or a milestone id of the kit's rubrics."""
    path = Path(spec)
    return path if path.suffix in (".yaml", ".yml") or path.exists() else rubric_path(spec)


@app.command("validate", no_args_is_help=True)
@reporting
def validate(
    rubrics: list[str] = typer.Argument(..., help="Rubric files or milestone ids."),
    against: Path | None = typer.Option(
        None, help="Self-test: grade this reference repo and mutants of it."
    ),
    mutant: list[str] = typer.Option([], help="Only these mutants (repeatable)."),
    network: str | None = network_option(),
) -> int:
    """Validate rubrics; all errors are printed as file:line: field: message.

    With --against REPO, also self-test the rubric: every check must pass on the
    reference repo and fail on a mutant of it broken in one known way.

    Example: grader rubric validate rubrics/*.yaml
    Example: grader rubric validate m3 --against ../reference-team
    """
    if against is not None:
        if len(rubrics) != 1:
            raise UsageError("--against takes exactly one rubric")
        return _self_test(load_rubric(_path(rubrics[0])), against, set(mutant), network)
    problems: list[str] = []
    valid = []
    for spec in rubrics:
        try:
            rubric = load_rubric(_path(spec))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        typer.echo(
            f"{rubric.path}: valid ({len(rubric.checks)} checks, {rubric.max_points:g} points)"
        )
        valid.append(
            {"path": str(rubric.path), "checks": len(rubric.checks), "points": rubric.max_points}
        )
    result(valid=valid)
    if problems:
        raise ConfigError("rubric", ", ".join(rubrics), problems)
    return EXIT_OK


def _self_test(rubric: Rubric, reference: Path, mutants: set[str], network: str | None) -> int:
    console = Console()
    unknown = mutants - {m.name for m in MUTANTS}
    if unknown:
        raise UsageError(
            f"no mutant {', '.join(sorted(unknown))}; mutants: {', '.join(m.name for m in MUTANTS)}"
        )

    def progress(o: MutantOutcome) -> None:
        verdict = "ok" if not (o.problem or o.missed or o.collateral) else "PROBLEM"
        console.print(f"  mutant {o.mutant.name}: {verdict}", highlight=False)

    console.print(f"Self-test of {rubric.milestone} against {reference}")
    report = run_selftest(
        rubric, reference, Options(network_mode=decide_network(network)), mutants or None, progress
    )
    result(
        ok=report.ok,
        reference=[{"id": r.id, "status": r.status} for r in report.reference.checks],
        mutants=[
            {
                "mutant": o.mutant.name,
                "caught": list(o.caught),
                "missed": list(o.missed),
                "collateral": [str(c) for c in o.collateral],
                "problem": o.problem,
            }
            for o in report.mutants
        ],
    )
    caught_by: dict[str, list[str]] = {}
    for o in report.mutants:
        for cid in o.caught:
            caught_by.setdefault(cid, []).append(o.mutant.name)
    ref = {r.id: r for r in report.reference.checks}
    table = Table(title=f"self-test: {rubric.milestone}")
    for col in ("check", "on reference", "fails on mutant"):
        table.add_column(col)
    for c in rubric.checks:
        r = ref.get(c.id)
        on_ref = "passed" if r and r.status == "passed" else f"[red]{r.status if r else '?'}[/]"
        table.add_row(c.id, on_ref, ", ".join(caught_by.get(c.id, [])) or "[yellow]no mutant[/]")
    console.print(table)
    for r in report.failing_on_reference():
        console.print(f"[red]fails on the reference:[/] {r.id}: {r.message}", highlight=False)
    for o in report.mutants:
        if o.problem:
            console.print(f"[red]mutant {o.mutant.name} could not be graded:[/] {o.problem}")
        for name in o.missed:
            console.print(f"[red]mutant {o.mutant.name} did not make {name} fail[/]")
        for line in o.collateral:
            console.print(f"[red]mutant {o.mutant.name} also changed[/] {line}", highlight=False)
    never = report.never_failed(rubric)
    if never:
        console.print(f"[yellow]no mutant shows these can fail:[/] {', '.join(never)}")
    return EXIT_OK if report.ok else EXIT_FAIL_UNDER


@app.command("show", no_args_is_help=True)
@reporting
def show(rubric: str = typer.Argument(..., help="Rubric file or milestone id.")) -> int:
    """Show a rubric's checks, points, prerequisites and visibility.

    Example: grader rubric show m3
    """
    loaded = load_rubric(_path(rubric))
    table = Table(title=f"{loaded.milestone}: {loaded.title}")
    for col in ("id", "check", "points", "needs", "visibility", "notes"):
        table.add_column(col)
    docker = engine_checks(loaded.checks)
    for c in loaded.checks:
        flags = (("required", c.required), ("regression", c.regression), ("Docker", c.id in docker))
        notes = ", ".join(n for n, on in flags if on)
        table.add_row(c.id, c.check, f"{c.points:g}", ", ".join(c.needs), c.visibility, notes)
    for m in loaded.manual:
        table.add_row(m.id, "(manual)", f"{m.points:g}", "", m.visibility, m.title)
    console = Console()
    console.print(table)
    console.print(f"Total: {loaded.max_points:g} points")
    result(
        milestone=loaded.milestone,
        title=loaded.title,
        points=loaded.max_points,
        deadline=loaded.deadline.isoformat() if loaded.deadline else None,
        checks=[
            {
                "id": c.id,
                "check": c.check,
                "title": c.title,
                "points": c.points,
                "needs": list(c.needs),
                "visibility": c.visibility,
                "required": c.required,
                "regression": c.regression,
                "docker": c.id in docker,
            }
            for c in loaded.checks
        ],
        manual=[{"id": m.id, "title": m.title, "points": m.points} for m in loaded.manual],
    )
    if loaded.deadline:
        console.print(f"Deadline: {loaded.deadline.isoformat()}")
    return EXIT_OK


@app.command("schema")
@reporting
def schema(
    out: Path | None = typer.Option(None, help="Write to this file instead of stdout."),
) -> int:
    """Print the JSON Schema of rubric files (generated from the grader's models).

    Example: grader rubric schema --out rubrics/rubric.schema.json
    """
    schema_ = json_schema()
    text = json.dumps(schema_, indent=2) + "\n"
    result(schema=schema_)
    if out:
        out.write_text(text, encoding="utf-8")
        wrote(out)
    else:
        typer.echo(text, nl=False)
    return EXIT_OK


def explain_text(name: str) -> str:
    """What a check verifies, how to fix it, its params and time limit (plain text)."""
    definition = REGISTRY[name]
    lines = [f"{name}: {definition.title}", "", definition.explanation or "(no explanation)", ""]
    fields = definition.params.model_fields
    lines.append("Params:" if fields else "Params: none")
    for field_name, info in fields.items():
        if info.is_required():
            default = "required"
        else:
            default = f"default {info.get_default(call_default_factory=True)!r}"
        lines.append(f"  {field_name} ({default}): {info.description or ''}".rstrip(": "))
    lines.append(f"Time limit: {definition.timeout:g}s")
    if definition.engine:
        lines.append(
            "Needs a container engine: where there is none (Gradescope), course staff grade it."
        )
    return "\n".join(lines)


def checks_markdown() -> str:
    """docs/checks.md: every check of the registry, explained for students."""
    out = [
        "# What every check verifies, and how to fix it",
        "",
        "Generated by `grader rubric explain --all`; `grader rubric explain NAME` prints one.",
        "",
    ]
    for name in sorted(REGISTRY):
        body = explain_text(name).split("\n", 2)
        out += [f"## `{name}`: {REGISTRY[name].title}", "", "```text", body[2].strip(), "```", ""]
    return "\n".join(out)


@app.command("explain")
@reporting
def explain(
    name: str | None = typer.Argument(None, help="A check name, e.g. repo.secrets."),
    all_checks: bool = typer.Option(False, "--all", help="Every check, as Markdown."),
) -> int:
    """Explain a check: what it verifies, how to fix it, and its params.

    Example: grader rubric explain repo.large_files
    """
    if all_checks:
        typer.echo(checks_markdown(), nl=False)
        result(checks=[_explained(n) for n in sorted(REGISTRY)])
        return EXIT_OK
    if name is None or name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise UsageError(
            f"no check {name!r}; checks: {known}" if name else "give a check name or --all"
        )
    typer.echo(explain_text(name))
    result(**_explained(name))
    return EXIT_OK


def _explained(name: str) -> dict[str, Any]:
    definition = REGISTRY[name]
    params = definition.params.model_json_schema().get("properties", {})
    return {
        "check": name,
        "title": definition.title,
        "explanation": definition.explanation,
        "params": params,
        "timeout": definition.timeout,
        "needs_engine": definition.engine,
    }
