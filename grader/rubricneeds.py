"""What a rubric's `needs` say, checked when it loads and followed when it runs: every id
exists, no cycle, each check's needs supply what it requires (the registry's `requires`
and `provides`), and the order checks run in (each after what it needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grader.checks.base import KEYS, Key
from grader.checks.registry import REGISTRY
from grader.yamlsrc import Issue

if TYPE_CHECKING:
    from grader.rubric import ResolvedCheck, RubricCheck


def requirement_issues(own: Sequence[RubricCheck], checks: Sequence[ResolvedCheck]) -> list[Issue]:
    """A check whose `needs` (directly or through theirs) provide none of a value it reads."""
    by_id = {c.id: c for c in checks}
    issues = []
    for i, c in enumerate(own):
        missing = REGISTRY[c.check].requires - _supplied(c.id, by_id)
        for key in sorted(missing):
            givers = " or ".join(n for n, d in REGISTRY.items() if key in d.provides)
            issues.append(
                Issue(
                    ("checks", i, "needs"),
                    f"{c.check} reads {KEYS[key]} ({key!r}), which none of the checks it needs"
                    f" provides: add the id of a {givers} check to its needs",
                )
            )
    return issues


def _supplied(check_id: str, by_id: dict[str, ResolvedCheck]) -> frozenset[Key]:
    """What the checks `check_id` needs, directly or through theirs, provide."""
    seen: set[str] = set()
    todo = list(by_id[check_id].needs)
    while todo:
        need = todo.pop()
        if need in seen or need not in by_id:
            continue
        seen.add(need)
        todo.extend(by_id[need].needs)
    return frozenset(k for n in seen for k in REGISTRY[by_id[n].check].provides)


def needs_issues(raw: list[Any], inherited: set[str]) -> list[Issue]:
    """Unknown ids in `needs`, and cycles, from the raw entries (so they show with others)."""
    entries = [(i, e) for i, e in enumerate(raw) if isinstance(e, dict)]
    ids = inherited | {e["id"] for _, e in entries if isinstance(e.get("id"), str)}
    index = {e["id"]: i for i, e in entries if isinstance(e.get("id"), str)}
    graph: dict[str, list[str]] = {}
    issues = []
    for i, e in entries:
        raw_needs = e.get("needs")
        needs: list[Any] = raw_needs if isinstance(raw_needs, list) else []
        for k, need in enumerate(needs):
            if isinstance(need, str) and need not in ids:
                issues.append(Issue(("checks", i, "needs", k), f"unknown check id {need!r}"))
        if isinstance(e.get("id"), str):
            graph[e["id"]] = [n for n in needs if isinstance(n, str) and n in index]
    for cycle in _cycles(graph):
        issues.append(
            Issue(("checks", index[cycle[0]], "needs"), f"needs cycle: {' -> '.join(cycle)}")
        )
    return issues


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected loop, each reported once."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    return found


def order(checks: tuple[ResolvedCheck, ...]) -> list[ResolvedCheck]:
    """Checks in rubric order, except that each comes after everything it needs."""
    by_id = {c.id: c for c in checks}
    done: dict[str, ResolvedCheck] = {}

    def place(c: ResolvedCheck) -> None:
        if c.id in done:
            return
        for need in c.needs:
            place(by_id[need])
        done[c.id] = c

    for c in checks:
        place(c)
    return list(done.values())
