"""What went wrong calling a team's service is tallied per run, and goes with the run."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from grader import servicecalls
from grader.main import main
from tests.helpers import (
    MANIFEST,
    answer_json,
    init_repo,
    loopback_server,
    team_files,
    write_rubric,
)

CALLS = Path(tempfile.gettempdir()) / "mlops-grader-calls"


def test_a_runs_tallies_are_its_own_and_forgotten_with_it() -> None:
    one = servicecalls.Tally.for_service("run-one", "http://127.0.0.1:8000")
    other = servicecalls.Tally.for_service("run-other", "http://127.0.0.1:8000")
    one.record("timeout", "POST /predict in service.examples")
    other.record("flood", "POST /predict in service.examples")
    assert one.events("timeout") == ["POST /predict in service.examples"]
    assert one.events("flood") == []
    servicecalls.forget_run("run-one")
    assert not one.path.exists()
    again = servicecalls.Tally.for_service("run-one", "http://127.0.0.1:8000")
    assert again.events("timeout") == []
    assert other.events("flood") == ["POST /predict in service.examples"]
    servicecalls.forget_run("run-other")
    assert not other.path.parent.exists()


class Flooding(BaseHTTPRequestHandler):
    """A deployed service whose /predict answers 2 MiB: the grader tallies a flood."""

    def do_GET(self) -> None:
        answer_json(self, b'{"status": "ok"}')

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer_json(self, b'{"prediction": "' + b"x" * (2 << 20) + b'"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flooding() -> Iterator[str]:
    with loopback_server(Flooding) as url:
        yield url


SERVICE = """\
service:
  dockerfile: Dockerfile
  port: 8000
  examples:
    - name: one row
      method: POST
      path: /predict
      body: {x: 1}
      expect_status: 200
"""


def test_a_graded_run_leaves_no_tally_behind(tmp_path: Path, flooding: str) -> None:
    repo = init_repo(tmp_path / "team", team_files(**{"capstone.yaml": MANIFEST + SERVICE}))
    rubric = write_rubric(
        tmp_path / "r.yaml",
        "milestone: t\ntitle: T\nchecks:\n"
        "  - {id: build, check: container.build, points: 5}\n"
        "  - {id: starts, check: service.starts, points: 5, needs: [build]}\n"
        "  - {id: examples, check: service.examples, points: 5, needs: [starts]}\n",
    )
    before = set(CALLS.iterdir()) if CALLS.is_dir() else set()
    out = tmp_path / "out"
    code = main(["check", str(repo), "--rubric", str(rubric), "--url", flooding, "--out", str(out)])
    assert code == 0
    result = json.loads((out / "results.json").read_text())["tests"][-1]
    assert result["status"] == "failed", result
    assert "AnswerTooLarge" in result["output"]  # the flood was tallied during the run
    after = set(CALLS.iterdir()) if CALLS.is_dir() else set()
    assert after <= before
