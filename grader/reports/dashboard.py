"""A self-contained HTML dashboard of a batch: score per team, a check-by-team heat map,
links to each team's feedback.md. Plain HTML and inline CSS, no script, no network.

Every string a team controls (team and member names, check messages) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from grader.reports.files import write_atomic
from grader.results import CheckResult, TeamOutcome

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.5rem}table{border-collapse:collapse;margin:1rem 0}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;font-size:.9rem}
th{background:#f6f8fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#eaeef2;width:10rem;height:.8rem}
.bar span{display:block;height:100%;background:#1a7f37}
.cell{width:2.2rem;text-align:center}.passed{background:#aceebb}.failed{background:#ffcecb}
.partial{background:#fff1b3}.error{background:#d8b9ff}.blocked{background:#ffd8b5}
.skipped{background:#eaeef2;color:#656d76}.missing{background:#fff}.team-error{color:#8250df}
"""


def _pct(score: float, max_score: float) -> float:
    return 100 * score / max_score if max_score else 0.0


def _score_row(o: TeamOutcome) -> str:
    name = escape(o.name)
    link = f'<a href="teams/{escape(o.id)}/feedback.md">feedback.md</a>'
    if o.result is None:
        return (
            f'<tr class="team-error"><td>{name}</td><td>error</td><td class="num">—</td>'
            f"<td></td><td>{escape(o.reason)}</td></tr>"
        )
    r = o.result
    if o.status == "needs review":
        return (
            f'<tr class="team-error"><td>{name}</td><td><strong>needs review</strong></td>'
            f'<td class="num">—</td><td></td><td>{escape(o.reason)} {link}</td></tr>'
        )
    pct = _pct(r.score, r.max_score)
    bar = f'<div class="bar"><span style="width:{pct:.0f}%"></span></div>'
    commit = escape((r.commit or "")[:10])
    note = f" {escape(o.reason)}" if o.reason else ""  # errors accepted as zero
    return (
        f'<tr><td>{name}</td><td>{escape(o.status)}</td><td class="num">{r.score:g} / '
        f"{r.max_score:g}</td><td>{bar}</td><td>{link} <code>{commit}</code>{note}</td></tr>"
    )


def _cell(r: CheckResult | None) -> str:
    if r is None:
        return '<td class="cell missing"></td>'
    kind = "partial" if r.status == "failed" and r.score > 0 else r.status
    tip = escape(f"{r.id}: {r.status} {r.score:g}/{r.max_score:g} — {r.message}")
    return f'<td class="cell {kind}" title="{tip}">{r.score:g}</td>'


def _heat_map(outcomes: Sequence[TeamOutcome]) -> str:
    ids: dict[str, str] = {}
    for o in outcomes:
        for r in o.result.checks if o.result else ():
            ids.setdefault(r.id, r.title)
    head = "".join(f'<th title="{escape(t)}">{escape(i)}</th>' for i, t in ids.items())
    rows = []
    for o in outcomes:
        found = {r.id: r for r in (o.result.checks if o.result else ())}
        cells = "".join(_cell(found.get(i)) for i in ids)
        rows.append(f"<tr><th>{escape(o.name)}</th>{cells}</tr>")
    return f'<table class="heat"><tr><th>team</th>{head}</tr>{"".join(rows)}</table>'


def dashboard_html(outcomes: Sequence[TeamOutcome], title: str) -> str:
    graded = [o for o in outcomes if o.status == "graded" and o.result]
    review = sum(o.status == "needs review" for o in outcomes)
    errors = len(outcomes) - len(graded)
    summary = f"{len(graded)} of {len(outcomes)} teams graded" + (
        f", {errors} need a TA" if errors else ""
    )
    if review:
        summary += f" ({review} with checks in error: needs review, no score)"
    scores = "".join(_score_row(o) for o in outcomes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{escape(title)}</h1><p>{escape(summary)}</p>
<h2>Scores</h2>
<table class="scores"><tr><th>team</th><th>status</th><th>score</th><th></th><th>details</th></tr>
{scores}</table>
<h2>Checks by team</h2>
{_heat_map(outcomes)}
</body></html>
"""


def write_dashboard(outcomes: Sequence[TeamOutcome], out: Path, title: str) -> Path:
    return write_atomic(out / "dashboard.html", dashboard_html(outcomes, title))
