"""Reporters: render a GradeResult. They never compute scores."""

from __future__ import annotations

from pathlib import Path

from grader.reports.feedback import write_feedback, write_feedback_html
from grader.reports.gradescope import write_results_json
from grader.reports.junit import write_junit
from grader.results import GradeResult


def write_all(result: GradeResult, out: Path) -> dict[str, Path]:
    """Write every file report into `out`; return their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    return {
        "results.json": write_results_json(result, out / "results.json"),
        "feedback.md": write_feedback(result, out / "feedback.md"),
        "feedback.html": write_feedback_html(result, out / "feedback.html"),
        "junit.xml": write_junit(result, out / "junit.xml"),
    }
