"""Which jobs of a team's workflows run for the graded branch: the triggers (push and pull
request branch filters, globs as GitHub matches them), jobs that can never run (a job that
needs one that never runs, a false `if`), and reusable workflows called by others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from grader.ghexpr import constant
from grader.workflows import Step, Workflow, _shown, steps

BRANCH_EVENTS = ("push", "pull_request", "pull_request_target")


@dataclass(frozen=True)
class Dead:
    """Something that never runs for the branch: where, why, and the steps it takes along."""

    file: str
    line: int
    why: str
    steps: tuple[Step, ...]
    what: Literal["workflow", "job", "step"] = "job"


@dataclass(frozen=True)
class Plan:
    branch: str
    live: tuple[Step, ...]
    dead: tuple[Dead, ...]


def plan(loaded: list[Workflow], branch: str) -> Plan:
    """The steps that run on a push or pull request to `branch`, and what never runs."""
    valid = [w for w in loaded if isinstance(w.data, dict) and isinstance(w.data.get("jobs"), dict)]
    firing = {w.file for w in valid if fires_for(w, branch)}
    for _ in range(3):  # `on: workflow_call` runs when a job of a running workflow calls it
        firing |= {
            w.file for w in valid if "workflow_call" in triggers(w) and _called(w, valid, firing)
        }
    live: list[Step] = []
    dead: list[Dead] = []
    for w in valid:
        if w.file not in firing:
            why = f"workflow never runs on a push or pull request to {branch} (on: {_on_text(w)})"
            dead.append(Dead(w.file, w.key_line(("on",)), why, tuple(steps(w)), "workflow"))
            continue
        _sort_jobs(w, live, dead)
    return Plan(branch, tuple(live), tuple(dead))


def _sort_jobs(w: Workflow, live: list[Step], dead: list[Dead]) -> None:
    jobs: dict[str, Any] = w.data["jobs"]
    off = _dead_jobs(w, jobs)
    for step in steps(w):
        if step.job in off:
            continue
        if constant(step.condition) is False:
            why = f"step never runs (if: {step.condition})"
            dead.append(Dead(step.file, step.if_line, why, (step,), "step"))
        else:
            live.append(step)
    for job_id, (line, why) in off.items():
        job_steps = tuple(s for s in steps(w) if s.job == job_id)
        dead.append(Dead(w.file, line, f"job `{job_id}` never runs ({why})", job_steps))


def _dead_jobs(w: Workflow, jobs: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """job id -> (line, why) for jobs whose `if` is false or that need such a job."""
    off: dict[str, tuple[int, str]] = {}
    for job_id, job in jobs.items():
        cond = job.get("if") if isinstance(job, dict) else None
        if cond is not None and constant(cond) is False:
            off[str(job_id)] = (w.key_line(("jobs", job_id, "if")), f"if: {_shown(cond)}")
    changed = True
    while changed:
        changed = False
        for job_id, job in jobs.items():
            if str(job_id) in off or not isinstance(job, dict):
                continue
            needs = job.get("needs") or []
            needs = needs if isinstance(needs, list) else [needs]
            gone = [str(n) for n in needs if str(n) in off]
            if gone and not re.search(r"\b(always|cancelled)\(\)", str(job.get("if", ""))):
                why = f"it needs `{gone[0]}`, which never runs"
                off[str(job_id)] = (w.key_line(("jobs", job_id, "needs")), why)
                changed = True
    return off


def triggers(w: Workflow) -> dict[str, Any]:
    """The workflow's `on:` as event -> its filters (None when it has none)."""
    on = w.data.get("on") if isinstance(w.data, dict) else None
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {str(event): None for event in on}
    return {str(k): v for k, v in on.items()} if isinstance(on, dict) else {}


def _on_text(w: Workflow) -> str:
    events = triggers(w)
    parts = [f"{e} to {_branches_text(events[e])}" if e in BRANCH_EVENTS else e for e in events]
    return ", ".join(parts) or "nothing"


def _branches_text(config: Any) -> str:
    if not isinstance(config, dict):
        return "any branch"
    for key, prefix in (("branches", ""), ("branches-ignore", "not ")):
        if key in config:
            return prefix + ", ".join(str(p) for p in _as_list(config[key]))
    return "tags only"


def fires_for(w: Workflow, branch: str) -> bool:
    """A push or pull request to `branch` starts the workflow (paths filters aside)."""
    events = triggers(w)
    return any(e in events and _branch_filter(events[e], branch) for e in BRANCH_EVENTS)


def _branch_filter(config: Any, branch: str) -> bool:
    if not isinstance(config, dict):
        return True
    if "branches" in config:
        return branch_matches(_as_list(config["branches"]), branch)
    if "branches-ignore" in config:
        return not branch_matches(_as_list(config["branches-ignore"]), branch)
    # Only tag filters: GitHub then runs the workflow for tags, never for branches.
    return not ("tags" in config or "tags-ignore" in config)


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def branch_matches(patterns: list[str], branch: str) -> bool:
    """GitHub's filter: the last pattern that matches decides; `!pattern` excludes."""
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern).fullmatch(branch):
            matched = not negated
    return matched


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """`*` (not `/`), `**` (anything), `?`/`+` (zero-or-one/one-or-more of the previous
    character), `[...]` and `\\` escapes, as in GitHub's filter pattern cheat sheet."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 1
        elif c == "*":
            out.append("[^/]*")
        elif c in "?+" and out:
            out.append(c)
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append(pattern[i : end + 1])
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(re.escape(pattern))


def _called(w: Workflow, valid: list[Workflow], firing: set[str]) -> bool:
    for caller in valid:
        if caller.file not in firing:
            continue
        for job in caller.data["jobs"].values():
            uses = str(job.get("uses", "")) if isinstance(job, dict) else ""
            if uses.removeprefix("./") == w.file:
                return True
    return False
