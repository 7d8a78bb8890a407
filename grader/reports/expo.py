"""Expo pages: a one-page poster per team, a leaderboard, and a status wall.

Plain HTML and inline CSS; the wall's only script polls health URLs. Everything a team
wrote (names, README text, URLs) is escaped; URLs are kept only if they are http(s).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1f2328}
h1{font-size:2rem;margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.facts{display:flex;gap:1rem;flex-wrap:wrap}.fact{border:1px solid #d0d7de;border-radius:8px;
padding:.6rem 1rem;min-width:10rem}.fact b{display:block;font-size:1.6rem}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3rem .6rem}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto}.up{background:#aceebb}
.down{background:#ffcecb}.unknown{background:#eaeef2}.muted{color:#656d76}
"""


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
    score: float | None = None
    max_score: float | None = None
    milestone: str | None = None
    commit: str | None = None
    service_url: str | None = None
    health_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def safe_url(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:.4g}{unit}"


def markdown_blocks(text: str) -> str:
    """Just enough Markdown for README excerpts: paragraphs, lists, code; all escaped."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        if lines[0].lstrip().startswith("```"):
            body = [ln for ln in lines if not ln.lstrip().startswith("```")]
            out.append(f"<pre>{escape(chr(10).join(body))}</pre>")
        elif all(re.match(r"^\s*([-*]|\d+\.)\s", ln) for ln in lines):
            items = (re.sub(r"^\s*([-*]|\d+\.)\s+", "", ln) for ln in lines)
            out.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{escape(' '.join(ln.strip() for ln in lines))}</p>")
    return "\n".join(out)


def _page(title: str, body: str, script: str = "") -> str:
    tail = f"<script>{script}</script>" if script else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{CSS}</style></head><body>
{body}
{tail}</body></html>
"""


def _fact(label: str, value: str, note: str = "") -> str:
    small = f'<span class="muted">{escape(note)}</span>' if note else ""
    return f'<div class="fact">{escape(label)}<b>{escape(value)}</b>{small}</div>'


def poster_html(f: Facts) -> str:
    direction = "higher is better" if f.maximize else "lower is better"
    facts = [
        _fact(f.metric_name or "primary metric", _num(f.metric_value), direction),
        _fact("latency p95", _num(f.p95_ms, " ms"), f"p50 {_num(f.p50_ms, ' ms')}"),
    ]
    if f.score is not None:
        facts.append(
            _fact(f"score at {f.milestone}", f"{f.score:g} / {f.max_score or 0:g}", "graded")
        )
    members = "".join(
        f"<li>{escape(name)} <span class='muted'>@{escape(handle)}</span></li>"
        for name, handle in f.members
    )
    url = safe_url(f.service_url)
    live = f'<p>Live service: <a href="{escape(url)}">{escape(url)}</a></p>' if url else ""
    commit = f'<p class="muted">Evidence from commit {escape((f.commit or "")[:12])}</p>'
    body = f"""<header><h1>{escape(f.project or f.team)}</h1>
<p class="muted">{escape(f.team)}</p></header>
<section class="problem"><h2>Problem</h2>{markdown_blocks(f.problem) or "<p>—</p>"}</section>
<section class="architecture"><h2>Architecture</h2>
{markdown_blocks(f.architecture) or "<p>—</p>"}</section>
<section class="results"><h2>Results</h2><div class="facts">{"".join(facts)}</div>
{live}{commit if f.commit else ""}</section>
<section class="team"><h2>Team</h2><ul>{members}</ul></section>"""
    return _page(f"{f.project or f.team} · poster", body)


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
    sections = []
    for metric, members in groups.items():
        rows = "".join(
            f"<tr><td class='num'>{rank}</td><td>{escape(f.team)}</td>"
            f"<td class='num'>{_num(f.metric_value)}</td><td class='num'>{_num(f.p95_ms)}</td>"
            f"<td class='num'>{_num(f.score)}</td></tr>"
            for rank, f in enumerate(members, 1)
        )
        better = "higher" if members[0].maximize else "lower"
        sections.append(
            f"<section><h2>{escape(metric)} <span class='muted'>({better} is better)</span></h2>"
            "<table class='board'><tr><th>#</th><th>team</th><th>value</th>"
            f"<th>latency p95 (ms)</th><th>score</th></tr>{rows}</table></section>"
        )
    body = f"<h1>{escape(title)}</h1>\n" + "\n".join(sections)
    return _page(title, body)


WALL_SCRIPT = """
const teams = JSON.parse(document.getElementById("teams").textContent);
async function probe(team, cell) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    // no-cors: team services need not send CORS headers; an answer at all means up.
    await fetch(team.health, {mode: "no-cors", cache: "no-store", signal: ctl.signal});
    cell.textContent = "up"; cell.className = "up";
  } catch (e) {
    cell.textContent = "down"; cell.className = "down";
  } finally { clearTimeout(timer); }
  document.getElementById("checked").textContent = new Date().toLocaleTimeString();
}
function poll() {
  teams.forEach((t, i) => { if (t.health) probe(t, document.getElementById("s" + i)); });
}
poll(); setInterval(poll, 15000);
"""


def wall_html(teams: Sequence[Facts], title: str) -> str:
    rows = []
    for i, f in enumerate(teams):
        url = safe_url(f.health_url)
        link = f'<a href="{escape(url)}">{escape(url)}</a>' if url else "not deployed"
        state = "checking" if url else "no URL"
        rows.append(
            f'<tr><td>{escape(f.team)}</td><td id="s{i}" class="unknown">{state}</td>'
            f"<td>{link}</td></tr>"
        )
    config = [{"team": f.team, "health": safe_url(f.health_url)} for f in teams]
    # JSON inside <script>: escape '<' so no team text can close the element.
    data = json.dumps(config).replace("<", "\\u003c")
    body = f"""<h1>{escape(title)}</h1>
<p class="muted">Health checked every 15 s; last at <span id="checked">—</span>.</p>
<table class="wall"><tr><th>team</th><th>status</th><th>health URL</th></tr>
{"".join(rows)}</table>
<script type="application/json" id="teams">{data}</script>"""
    return _page(title, body, WALL_SCRIPT)
