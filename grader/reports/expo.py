"""Expo pages: a one-page poster per team, a leaderboard, and a status wall.

Rendered from templates/ with autoescaping; README text goes through markdown-it-py with raw
HTML off. URLs are kept only if they are http(s). The wall's only script polls health URLs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.reports.render import num, render
from grader.results import points


@dataclass(frozen=True)
class Facts:
    """What the expo shows about one team, from its manifest, README and graded evidence."""

    team: str
    members: tuple[tuple[str, str], ...] = ()
    project: str = ""
    problem: str = ""
    architecture: str = ""
    metric_name: str | None = None
    metric_value: float | None = None
    maximize: bool = True
    p50_ms: float | None = None
    p95_ms: float | None = None
    checks_passed: int | None = None
    checks_total: int | None = None
    score: float | None = None
    max_score: float | None = None
    milestone: str | None = None
    commit: str | None = None
    service_url: str | None = None
    health_url: str | None = None
    repo_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


def _figures(f: Facts) -> list[tuple[str, str, str]]:
    """The poster's large figures, measured ones first: label, value, note."""
    direction = "higher is better" if f.maximize else "lower is better"
    figures = [
        (f.metric_name or "primary metric", num(f.metric_value), direction),
        ("latency p95", num(f.p95_ms, " ms"), f"p50 {num(f.p50_ms, ' ms')}"),
    ]
    if f.checks_total:
        figures.append(("checks passed", f"{f.checks_passed} of {f.checks_total}", "graded"))
    if f.score is not None:
        score = f"{points(f.score)} / {points(f.max_score or 0)}"
        figures.append((f"score at {f.milestone}", score, "graded"))
    return figures


def poster_html(f: Facts) -> str:
    service, repo = safe_url(f.service_url), safe_url(f.repo_url)
    qr_url, label = (service, "live service") if service else (repo, "repository")
    return render("poster.html", f=f, figures=_figures(f), qr_url=qr_url, qr_label=label)


def _rank_key(f: Facts) -> tuple[str, float]:
    value = f.metric_value if f.metric_value is not None else float("inf")
    if f.metric_value is not None and f.maximize:
        value = -value
    return (f.metric_name or "~", value)


def board_html(teams: Sequence[Facts], title: str) -> str:
    """One table per metric (teams with different metrics are not ranked together)."""
    groups: dict[str, list[Facts]] = {}
    for f in sorted(teams, key=_rank_key):
        groups.setdefault(f.metric_name or "no metric", []).append(f)
    sections = [
        {
            "metric": metric,
            "better": "higher" if members[0].maximize else "lower",
            "rows": list(enumerate(members, 1)),
        }
        for metric, members in groups.items()
    ]
    return render("board.html", title=title, groups=sections)


def wall_html(teams: Sequence[Facts], title: str) -> str:
    rows = [(f.team, safe_url(f.health_url)) for f in teams]
    config = [{"team": team, "health": url} for team, url in rows]
    return render("wall.html", title=title, rows=rows, config=config)
