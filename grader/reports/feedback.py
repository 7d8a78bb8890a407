"""feedback.md for the team: what passed, what failed and how to fix it.

Hidden and after-publication checks show only their name and score.
"""

from __future__ import annotations

from pathlib import Path

from grader.reports.files import write_atomic
from grader.results import CheckResult, GradeResult, ManifestSource, score_text

ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "blocked": "⛔", "skipped": "⏭️"}


def _row(r: CheckResult) -> str:
    secret = r.visibility in ("hidden", "after_published")
    message = "(details hidden)" if secret else r.message.replace("|", "\\|").replace("\n", " ")
    if r.inferred and not secret:
        message += " (graded with inferred values: " + ", ".join(r.inferred[:6])
        message += ", …)" if len(r.inferred) > 6 else ")"
    status = "" if secret else f"{ICON[r.status]} {r.status}"
    return f"| {r.id} | {r.title} | {status} | {r.score:g} / {r.max_score:g} | {message} |"


def _fixes(result: GradeResult) -> list[str]:
    out: list[str] = []
    for r in result.checks:
        if r.status not in ("failed", "blocked") or r.visibility in ("hidden", "after_published"):
            continue
        how = r.how_to_fix
        out += [f"### {r.id}: {r.title}", "", f"**Result:** {r.message}", ""]
        if how:
            out += [how, ""]
    return out


def _inferred(source: ManifestSource) -> list[str]:
    """The values a grade without capstone.yaml inferred, and what it could not find."""
    lines = [
        "- No `capstone.yaml` in the repository: the grader inferred these values from its"
        " files (checks that used them say so). Add a manifest to be graded on what you say:",
        "",
    ]
    lines += [f"  - inferred `{path}`" for path in source.inferred]
    lines += [f"  - not found `{path}`: {why}" for path, why in source.todo.items()]
    return lines


def feedback_markdown(result: GradeResult) -> str:
    lines = [
        f"# Feedback: milestone {result.milestone}",
        "",
        f"- Team: {result.team or 'unknown'}",
        f"- Commit graded: `{result.commit or 'working folder (not a git repo)'}`",
        f"- Score: **{score_text(result)}**",
    ]
    if result.gate:
        lines.append(
            f"- The automated score is 0 because a required check did not pass: {result.gate}"
        )
    if result.late:
        lines.append(f"- Late: {result.late.reason} ({result.late.points:g} points)")
    if any(r.status == "error" for r in result.checks):
        lines.append(
            "- Some checks could not be graded (⚠️): a TA will review them;"
            " no points are lost for that yet."
        )
    if result.manifest is not None and result.manifest.kind == "inferred":
        lines += _inferred(result.manifest)
    lines += ["", "| Check | What | Status | Points | Details |", "|---|---|---|---|---|"]
    lines += [_row(r) for r in result.checks]
    if result.manual:
        lines += [
            "",
            "## Scored by staff",
            "",
            "| Item | Points | Level | Comment |",
            "|---|---|---|---|",
        ]
        for m in result.manual:
            pts = "not scored yet" if m.score is None else f"{m.score:g} / {m.max_score:g}"
            lines.append(f"| {m.title} | {pts} | {m.level or ''} | {m.comment} |")
    fixes = _fixes(result)
    if fixes:
        lines += ["", "## How to fix what failed", "", *fixes]
    return "\n".join(lines).rstrip() + "\n"


def write_feedback(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, feedback_markdown(result))
