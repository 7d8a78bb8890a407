"""`grader expo`: poster, leaderboard and status wall, checked with an HTML parser."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest

from grader.main import main
from grader.reports.gradescope import write_results_json
from grader.results import CheckResult, GradeResult, Measure
from tests.helpers import team_files
from tests.htmlcheck import parse

MakeRepo = Callable[..., Path]

MANIFEST = """\
version: 1
team:
  name: "Team <b>{team}</b>"
  members:
    - {{name: Ann Lee, github: ann-lee}}
    - {{name: Bo Chen, github: bochen}}
project:
  name: Wine Quality
  description: Predict the cultivar of a wine.
service:
  url: {url}
  examples:
    - {{name: one, body: {{}}}}
tracking:
  experiment: wine
  registered_model: wine
  primary_metric: {{name: {metric}, direction: {direction}}}
"""

README = """\
# Wine Quality

## Problem
Sommeliers disagree. We predict the cultivar from **13** measurements <script>x</script>.

### Data

| feature | unit |
|---|---|
| alcohol | `% vol` |

## Architecture
- FastAPI service
- MLflow registry

```
data -> train -> registry -> api
```

## Quick start
make run
"""


def _team(make_repo: MakeRepo, name: str, metric: str, direction: str, url: str) -> Path:
    manifest = MANIFEST.format(url=url, metric=metric, direction=direction, team=name.title())
    return make_repo(team_files(**{"capstone.yaml": manifest, "README.md": README}), name=name)


def _check(check: str, *measures: Measure) -> CheckResult:
    return CheckResult(
        id=check.split(".")[1],
        check=check,
        title=check,
        status="passed",
        score=10,
        max_score=10,
        message="ok",
        evidence={"metrics": {"f1_macro": 0.1}},  # free-form: never read as a figure
        measures=measures,
    )


def _results(path: Path, team: str, value: float, p95: float, metric: str = "f1_macro") -> Path:
    rank: Literal["asc", "desc"] = "asc" if metric == "rmse" else "desc"
    result = GradeResult(
        grader_version="0.1.0",
        milestone="expo",
        rubric="rubrics/expo.yaml",
        rubric_hash="h",
        team=team,
        target=team,
        commit="c" * 40,
        commit_time=None,
        graded_at="2026-12-10T10:00:00+00:00",
        checks=(
            _check("tracking.metric", Measure(kind="metric", name=metric, value=value, order=rank)),
            _check(
                "service.latency",
                Measure(kind="latency_p50_ms", name="p50", value=p95 / 2, order="asc"),
                Measure(kind="latency_p95_ms", name="p95", value=p95, order="asc"),
            ),
        ),
        automated_score=20,
        manual_score=0,
        score=20,
        max_score=20,
        execution_time=3,
    )
    return write_results_json(result, path)


def test_poster_shows_problem_architecture_metric_latency_and_team(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    repo = _team(make_repo, "alpha", "f1_macro", "maximize", "https://alpha.example.org/")
    results = _results(tmp_path / "results.json", "Team <b>Alpha</b>", 0.9412, 48.0)
    out = tmp_path / "poster.html"
    assert main(["expo", "poster", str(repo), "--results", str(results), "--out", str(out)]) == 0

    html = out.read_text()
    page = parse(html)
    sections = [s["class"] for s in page.all("section")]
    # The measured figures come first, large; the README's prose after them.
    assert sections == ["results", "problem", "architecture", "team"]
    text = page.body_text
    assert "Wine Quality" in text
    assert "Sommeliers disagree." in text
    assert "<script>x</script>" in text  # README text is shown, never run
    assert "<script>" not in html
    assert "Team <b>Alpha</b>" in text
    assert len(page.all("b")) == 4  # only the poster's own figures are bold
    assert "0.9412" in text
    assert "48 ms" in text
    assert "2 of 2" in text  # checks passed
    assert "higher is better" in text
    # README Markdown is rendered: emphasis, a sub-heading, a table, code; no raw syntax.
    assert len(page.all("strong")) == 1
    assert len(page.all("h3")) == 1
    assert len(page.all("table")) == 1
    assert "% vol" in text
    assert not any(mark in text for mark in ("|", "###", "`", "**"))
    assert len(page.all("li")) == 2 + 2  # two architecture bullets, two members
    assert "data -> train -> registry -> api" in text
    # A QR code of the live service, for visitors' phones.
    assert len(page.all("svg")) == 1
    assert [a["href"] for a in page.all("a")] == ["https://alpha.example.org"]
    assert "@page{size:A4 landscape" in html


def test_poster_without_results_still_renders(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = _team(make_repo, "alpha", "rmse", "minimize", "javascript:alert(1)")
    out = tmp_path / "poster.html"
    assert main(["expo", "poster", str(repo), "--out", str(out)]) == 0
    page = parse(out.read_text())
    assert "lower is better" in page.body_text
    assert page.all("a") == []  # a URL that is not http(s) is never a link
    assert page.all("svg") == []  # nor a QR code


def test_poster_without_a_service_links_its_repository(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = _team(make_repo, "alpha", "rmse", "minimize", "")
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:org/alpha.git"],
        check=True,
    )
    out = tmp_path / "poster.html"
    assert main(["expo", "poster", str(repo), "--out", str(out)]) == 0
    page = parse(out.read_text())
    assert [a["href"] for a in page.all("a")] == ["https://github.com/org/alpha"]
    assert len(page.all("svg")) == 1
    assert "Scan for the repository" in page.body_text


def test_board_ranks_teams_per_metric_by_its_direction(make_repo: MakeRepo, tmp_path: Path) -> None:
    out = tmp_path / "grades"
    teams = [
        ("alpha", "f1_macro", "maximize", 0.91, 40.0),
        ("beta", "f1_macro", "maximize", 0.95, 90.0),
        ("gamma", "rmse", "minimize", 52.0, 30.0),
        ("delta", "rmse", "minimize", 48.0, 35.0),
    ]
    for name, metric, direction, value, p95 in teams:
        repo = _team(make_repo, name, metric, direction, "https://x.example.org")
        folder = out / "teams" / name
        _results(folder / "results.json", name, value, p95, metric)
        (folder / "batch.json").write_text(json.dumps({"source": str(repo)}))
    assert main(["expo", "board", str(out)]) == 0

    page = parse((out / "leaderboard.html").read_text())
    tables = page.all("table")
    assert len(tables) == 2
    order = [t for t in page.text if t.startswith("Team ")]
    # Ranked within each metric, by its direction; names come from each team's manifest.
    assert order == [f"Team <b>{n}</b>" for n in ("Beta", "Alpha", "Delta", "Gamma")]
    assert "(lower is better)" in page.body_text


def test_wall_polls_each_deployed_health_url(make_repo: MakeRepo, tmp_path: Path) -> None:
    folder = tmp_path / "repos"
    _team(make_repo, "repos/alpha", "f1_macro", "maximize", "https://alpha.example.org/")
    _team(make_repo, "repos/beta", "f1_macro", "maximize", "http://beta.example.org:8000")
    out = tmp_path / "wall.html"
    assert main(["expo", "wall", str(folder), "--out", str(out)]) == 0

    html = out.read_text()
    page = parse(html)
    hrefs = [a["href"] for a in page.all("a")]
    assert hrefs == ["https://alpha.example.org/health", "http://beta.example.org:8000/health"]
    data = html.split('id="teams">', 1)[1].split("</script>", 1)[0]
    config = json.loads(data)
    assert [t["health"] for t in config] == hrefs
    assert "\\u003cb\\u003e" in data  # team names cannot close the script element
    assert "fetch(team.health" in html
    assert len(page.all("script")) == 2


def test_poster_of_a_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["expo", "poster", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
