"""Golden files: every report of one deterministic class, byte for byte (the final grades'
CSVs have their own, whole-course tests in tests/test_final.py).

A change to a report is a reviewed diff of tests/golden/: regenerate with `make golden`
(UPDATE_GOLDEN=1), read `git diff tests/golden`, commit it with the change.
"""

from __future__ import annotations

import difflib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from grader.reports.dashboard import dashboard_html
from grader.reports.expo import board_html, poster_html, wall_html
from grader.reports.feedback import feedback_html, feedback_markdown
from grader.reports.gradebook import canvas_column, canvas_csv, gradebook_csv, items_csv
from grader.reports.gradescope import results_json
from grader.reports.junit import junit_xml
from grader.reports.terminal import print_result
from tests.reportsample import sample_facts, sample_grade, sample_outcomes

GOLDEN = Path(__file__).parent / "golden"


def _terminal() -> str:
    out = io.StringIO()
    print_result(sample_grade(), Console(file=out, width=120, color_system=None))
    return out.getvalue()


REPORTS: dict[str, Callable[[], str]] = {
    "feedback.md": lambda: feedback_markdown(sample_grade()),
    "feedback.html": lambda: feedback_html(sample_grade()),
    "junit.xml": lambda: junit_xml(sample_grade()),
    "results.json": lambda: json.dumps(results_json(sample_grade()), indent=2) + "\n",
    "terminal.txt": _terminal,
    "dashboard.html": lambda: dashboard_html(sample_outcomes(), "m3: Deploy"),
    "poster.html": lambda: poster_html(sample_facts()[0]),
    "board.html": lambda: board_html(sample_facts(), "Expo leaderboard"),
    "wall.html": lambda: wall_html(sample_facts(), "Expo status wall"),
    "gradebook.csv": lambda: gradebook_csv(sample_outcomes()),
    "canvas.csv": lambda: canvas_csv(sample_outcomes(), canvas_column("m3", "12345")),
    "items.csv": lambda: items_csv(sample_outcomes()),
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_report_matches_its_golden_file(name: str) -> None:
    rendered = REPORTS[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
        return
    assert path.is_file(), f"no {path}: run `make golden`"
    expected = path.read_text(encoding="utf-8")
    if rendered != expected:
        diff = difflib.unified_diff(
            expected.splitlines(True), rendered.splitlines(True), f"golden/{name}", "rendered"
        )
        pytest.fail(f"{name} changed; if intended, run `make golden` and review:\n{''.join(diff)}")
