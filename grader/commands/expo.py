"""Expo pages: a poster per team, a leaderboard, and a status wall of deployed services.

Example: grader expo poster ../team-07 --results grades/expo/teams/team-07/results.json
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import typer

from grader.batchplan import discover
from grader.commands.output import reporting, result, wrote
from grader.errors import EXIT_OK, ConfigError, UsageError
from grader.fs import read_text
from grader.gitrepo import origin, web_url
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest
from grader.reports.expo import Facts, board_html, poster_html, wall_html
from grader.reports.files import write_atomic
from grader.reports.gradescope import read_grade
from grader.results import GradeResult, Measure, best_measures
from grader.target import is_url

app = typer.Typer(
    help="Expo pages: posters, leaderboard, status wall.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

PROBLEM = re.compile(r"problem|motivation|overview|about|goal", re.IGNORECASE)
ARCHITECTURE = re.compile(r"architecture|how it fits|design|system", re.IGNORECASE)


def readme_section(text: str, title: re.Pattern[str]) -> str:
    """The body of the first heading whose title matches, up to the next heading as high."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = re.match(r"^(#{1,6})\s+(.*)$", line)
        if head and title.search(head[2]):
            level = len(head[1])
            body = []
            for following in lines[i + 1 :]:
                nxt = re.match(r"^(#{1,6})\s", following)
                if nxt and len(nxt[1]) <= level:
                    break
                body.append(following)
            return "\n".join(body).strip()
    return ""


def _manifest(repo: Path | None) -> Manifest | None:
    if repo is None or not (repo / MANIFEST_NAME).is_file():
        return None
    try:
        return load_manifest(repo / MANIFEST_NAME)
    except ConfigError:
        return None  # the expo shows what it can; `grader check` reports manifest errors


def _metric(measures: list[Measure], name: str | None) -> tuple[str | None, float | None]:
    """The primary metric's graded value (measured by the grader, else logged by the team)."""
    for m in measures:
        if m.kind == "metric" and name in (None, m.name):
            return m.name, m.value
    return name, None


def _latency(measures: list[Measure]) -> tuple[float | None, float | None]:
    found = {m.kind: m.value for m in measures}
    return found.get("latency_p50_ms"), found.get("latency_p95_ms")


def _web_origin(repo: Path | None) -> str | None:
    remote = origin(repo) if repo else None
    return web_url(remote) if remote else None


def _passed(result: GradeResult | None) -> tuple[int | None, int | None]:
    """How many of the graded checks passed (checks left out of the run do not count)."""
    if result is None:
        return None, None
    ran = [r for r in result.checks if r.status != "skipped"]
    return sum(r.status == "passed" for r in ran), len(ran)


def facts_for(
    repo: Path | None, result: GradeResult | None, fallback: str, repo_url: str | None = None
) -> Facts:
    """A team's expo facts from its repo (manifest, README, origin) and its graded results."""
    manifest = _manifest(repo)
    readme = (read_text(repo, "README.md") or "") if repo else ""
    tracking = manifest.tracking if manifest else None
    measures = best_measures(result) if result else []
    metric_name, value = _metric(measures, tracking.primary_metric.name if tracking else None)
    p50, p95 = _latency(measures)
    passed, ran = _passed(result)
    service = manifest.service if manifest else None
    url = service.url.rstrip("/") if service and service.url else None
    project = manifest.project if manifest else None
    return Facts(
        team=manifest.team.name
        if manifest
        else (result.team if result and result.team else fallback),
        members=tuple((m.name, m.github) for m in manifest.team.members) if manifest else (),
        project=project.name if project else "",
        problem=readme_section(readme, PROBLEM) or (project.description if project else ""),
        architecture=readme_section(readme, ARCHITECTURE),
        metric_name=metric_name,
        metric_value=value,
        maximize=tracking.primary_metric.direction == "maximize" if tracking else True,
        p50_ms=p50,
        p95_ms=p95,
        checks_passed=passed,
        checks_total=ran,
        score=result.score if result else None,
        max_score=result.max_score if result else None,
        milestone=result.milestone if result else None,
        commit=result.commit if result else None,
        service_url=url,
        health_url=f"{url}{service.health_path}" if url and service else None,
        repo_url=repo_url or _web_origin(repo),
    )


def _grade(path: Path) -> GradeResult:
    try:
        return read_grade(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{path} is not a results.json written by this grader") from None


def _written(path: Path, teams: list[Facts]) -> int:
    wrote(path)
    result(teams=[dataclasses.asdict(f) for f in teams])
    return EXIT_OK


@app.command("poster", no_args_is_help=True)
@reporting
def poster(
    team_repo: Path = typer.Argument(..., help="The team's repository (a local folder)."),
    results: Path | None = typer.Option(None, help="The team's results.json (graded evidence)."),
    out: Path | None = typer.Option(None, help="HTML file to write (default poster-<repo>.html)."),
) -> int:
    """Write a one-page HTML poster: measured figures first, then problem, architecture, team,
    and a QR code of the live service (or the repository).

    Example: grader expo poster ../team-07 --results grades/expo/teams/team-07/results.json
    """
    if not team_repo.is_dir():
        raise UsageError(f"{team_repo} is not a folder (clone the team's repository first)")
    facts = facts_for(team_repo, _grade(results) if results else None, team_repo.name)
    target = out or Path(f"poster-{team_repo.resolve().name}.html")
    return _written(write_atomic(target, poster_html(facts)), [facts])


def _board_entries(results_dir: Path) -> list[Facts]:
    """Teams of a batch folder (teams/<team>/) or any results.json below the folder."""
    entries = []
    for path in sorted(results_dir.glob("**/results.json")):
        repo, url = _source(path.parent / "batch.json")
        entries.append(facts_for(repo, _grade(path), path.parent.name, url))
    return entries


def _source(record: Path) -> tuple[Path | None, str | None]:
    """The local repository a batch graded, if it is still there (for the metric direction),
    or the address it was cloned from."""
    try:
        source = json.loads(record.read_text(encoding="utf-8"))["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(source, str):
        return None, None
    return (None, web_url(source)) if is_url(source) else (Path(source), None)


@app.command("board", no_args_is_help=True)
@reporting
def board(
    results_dir: Path = typer.Argument(..., help="A batch --out folder, or results.json files."),
    out: Path | None = typer.Option(None, help="HTML file (default RESULTS_DIR/leaderboard.html)."),
    title: str = typer.Option("Expo leaderboard", help="Page title."),
) -> int:
    """Write a leaderboard page across teams: primary metric and latency.

    Example: grader expo board grades/expo
    """
    if not results_dir.is_dir():
        raise UsageError(f"{results_dir} is not a folder")
    entries = _board_entries(results_dir)
    if not entries:
        raise UsageError(f"no results.json under {results_dir}")
    page = write_atomic(out or results_dir / "leaderboard.html", board_html(entries, title))
    return _written(page, entries)


@app.command("wall", no_args_is_help=True)
@reporting
def wall(
    teams: Path = typer.Argument(..., help="Roster CSV with a repo column, or a folder of repos."),
    out: Path = typer.Option(Path("status-wall.html"), help="HTML file to write."),
    title: str = typer.Option("Expo status wall", help="Page title."),
) -> int:
    """Write a status wall that polls every team's deployed health URL (service.url).

    Example: grader expo wall roster.csv --out wall.html
    """
    entries = []
    for spec in discover(teams):
        if is_url(spec.source):
            entries.append(facts_for(None, None, spec.name, web_url(spec.source)))
        else:
            entries.append(facts_for(Path(spec.source), None, spec.name))
    return _written(write_atomic(out, wall_html(entries, title)), entries)
