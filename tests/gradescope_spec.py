"""Gradescope's results.json specification, field by field, as a validator for tests.

From "Autograder Specifications" (gradescope-autograders.readthedocs.io/en/latest/specs/)
and its "Leaderboards" page. Every field the specification names is listed here with its
type and allowed values; a field it does not name is an error.
"""

from __future__ import annotations

from typing import Any

FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
STATUS = {"passed", "failed"}
ORDER = {"asc", "desc"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


TOP_LEVEL = {
    "score": _number,
    "execution_time": _number,
    "output": lambda v: isinstance(v, str),
    "output_format": lambda v: v in FORMATS,
    "test_output_format": lambda v: v in FORMATS,
    "test_name_format": lambda v: v in FORMATS,
    "visibility": lambda v: v in VISIBILITY,
    "stdout_visibility": lambda v: v in VISIBILITY,
    "extra_data": lambda v: isinstance(v, dict),
    "tests": lambda v: isinstance(v, list),
    "leaderboard": lambda v: isinstance(v, list),
}
TEST = {
    "score": _number,
    "max_score": _number,
    "status": lambda v: v in STATUS,
    "name": lambda v: isinstance(v, str),
    "name_format": lambda v: v in FORMATS,
    "number": lambda v: isinstance(v, str),
    "output": lambda v: isinstance(v, str),
    "output_format": lambda v: v in FORMATS,
    "tags": _str_list,
    "visibility": lambda v: v in VISIBILITY,
    "extra_data": lambda v: isinstance(v, dict),
}
LEADERBOARD = {
    "name": lambda v: isinstance(v, str),
    "value": lambda v: _number(v) or isinstance(v, str),
    "order": lambda v: v in ORDER,
}


def _fields(where: str, data: Any, spec: dict[str, Any]) -> list[str]:
    if not isinstance(data, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}.{k}: not in Gradescope's specification" for k in data if k not in spec]
    problems += [
        f"{where}.{k}: invalid value {data[k]!r}"
        for k, valid in spec.items()
        if k in data and not valid(data[k])
    ]
    return problems


def problems(data: Any) -> list[str]:
    """Every way `data` departs from Gradescope's results.json specification."""
    found = _fields("results", data, TOP_LEVEL)
    if found:
        return found
    for i, test in enumerate(data.get("tests", [])):
        found += _fields(f"tests[{i}]", test, TEST)
    for i, entry in enumerate(data.get("leaderboard", [])):
        found += _fields(f"leaderboard[{i}]", entry, LEADERBOARD)
        if isinstance(entry, dict) and not {"name", "value"} <= entry.keys():
            found.append(f"leaderboard[{i}]: needs name and value")
    if "score" not in data and any("score" not in t for t in data.get("tests", [])):
        found.append("results: a score is required at the top level or on every test")
    numbers = [t["number"] for t in data.get("tests", []) if isinstance(t, dict) and "number" in t]
    if len(set(numbers)) != len(numbers):
        found.append(f"tests: numbers repeat: {numbers}")
    return found
