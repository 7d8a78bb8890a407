"""Gradescope: build the autograder zip of a milestone, and grade a submission as it runs there.

Example: grader gradescope autograder --milestone m1 --out autograder-m1.zip
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from grader.autograder import build_autograder, grade_submission
from grader.commands.check import resolve_rubric_path
from grader.commands.output import reporting, result, wrote
from grader.errors import EXIT_INFRA, EXIT_OK
from grader.reports.terminal import print_result, status_text
from grader.results import CheckResult

app = typer.Typer(
    help="Gradescope: build the autograder zip; grade a submission as Gradescope runs it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("autograder", no_args_is_help=True)
@reporting
def autograder(
    milestone: str | None = typer.Option(
        None, "--milestone", "-m", help="Milestone id: m0..m4, expo."
    ),
    rubric: Path | None = typer.Option(
        None, help="Rubric file (default: the kit's rubric for the milestone)."
    ),
    out: Path = typer.Option(Path("autograder.zip"), help="The zip to write."),
) -> int:
    """Build the zip to upload to a Gradescope "Autograder" assignment.

    It holds setup.sh (installs git and this grader), run_autograder (grades each
    submission without Docker) and the rubric. Checks that need Docker are left to
    course staff: grade them with `grader check` on a machine with Docker.

    Example: grader gradescope autograder --milestone m1 --out autograder-m1.zip
    """
    bundle = build_autograder(resolve_rubric_path(milestone, rubric), out)
    console = Console(highlight=False, soft_wrap=True)
    rubric_ = bundle.rubric
    wrote(out, f"{rubric_.milestone}: {len(rubric_.checks)} checks")
    result(
        milestone=rubric_.milestone,
        autograded=[c.id for c in bundle.autograded],
        autograded_points=bundle.autograded_points,
        staff=[c.id for c in bundle.staff],
        staff_points=bundle.staff_points,
        manual=[m.id for m in rubric_.manual],
    )
    console.print(
        f"On Gradescope: {len(bundle.autograded)} checks, {bundle.autograded_points:g} points."
        f" Set the assignment's autograder points to {bundle.autograded_points:g}."
    )
    if bundle.staff:
        ids = ", ".join(c.id for c in bundle.staff)
        console.print(
            f"Graded by course staff (they need Docker; `grader check`): {ids}"
            f" ({bundle.staff_points:g} points)."
        )
    if rubric_.manual:
        ids = ", ".join(m.id for m in rubric_.manual)
        points = sum(m.points for m in rubric_.manual)
        console.print(f"Scored by staff (manual items): {ids} ({points:g} points).")
    return EXIT_OK


@app.command("run")
@reporting
def run(
    rubric: Path = typer.Option(..., help="The rubric file (in the zip: rubrics/<id>.yaml)."),
    submission: Path = typer.Option(
        Path("/autograder/submission"), help="The submitted files or repository."
    ),
    results: Path = typer.Option(
        Path("/autograder/results/results.json"), help="Where to write results.json."
    ),
) -> int:
    """Grade one submission as Gradescope does, without Docker (run_autograder calls this).

    Always writes results.json: if grading fails, it says the grade is pending review by
    course staff (exit code 3). The submission folder is never modified.

    Example: grader gradescope run --submission ../team-07 --rubric rubrics/m1.yaml
    --results /tmp/results.json
    """
    console = Console(highlight=False, soft_wrap=True)

    def progress(r: CheckResult) -> None:
        console.print(f"  {status_text(r)} {r.id} ({r.duration:.1f}s)")

    console.print(f"Grading {submission} with {rubric} (no Docker engine)")
    graded = grade_submission(submission, rubric, results, on_result=progress)
    if graded is None:
        wrote(results, "pending review by course staff: the grader failed")
        return EXIT_INFRA
    print_result(graded, console)
    result(grade=graded.model_dump(mode="json"))
    wrote(results)
    return EXIT_OK
