"""GitHub Actions expressions made only of constants (`false`, `0 == 1`, `'a' != 'b'`).

`constant` says what such an `if:` is; an expression that reads a context
(`github.ref`, `matrix.os`) or calls a function (`always()`) depends on the run, and
is None. Comparison follows GitHub: strings ignore case, mixed types compare as
numbers, and `false`, `0`, `''`, `null` are falsy.
"""

from __future__ import annotations

import math
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()])"
    r"|(?P<word>[A-Za-z_][\w.\-*]*))"
)
_LITERALS = {"true": True, "false": False, "null": None}
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")


class _Dynamic(Exception):
    """The expression reads something only the run knows."""


def constant(value: Any) -> bool | None:
    """The truth of an `if:` (or `continue-on-error:`) made of constants, else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _truthy(value)
    text = str(value).strip()
    wrapped = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    text = wrapped.group(1) if wrapped else text
    try:
        tokens = _tokens(text)
        result, rest = _or(tokens)
    except (_Dynamic, IndexError):
        return None
    return None if rest else _truthy(result)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Dynamic(text)
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "word" and raw not in _LITERALS:
            raise _Dynamic(raw)
        value = _value(kind, raw)
        out.append((kind, value))
        pos = match.end()
    return out


def _value(kind: str, raw: str) -> Any:
    if kind == "num":
        return float(raw)
    if kind == "str":
        return raw[1:-1].replace("''", "'")
    return _LITERALS[raw] if kind == "word" else raw


def _or(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _and(tokens)
    while tokens and tokens[0] == ("op", "||"):
        right, tokens = _and(tokens[1:])
        left = left if _truthy(left) else right
    return left, tokens


def _and(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _compare(tokens)
    while tokens and tokens[0] == ("op", "&&"):
        right, tokens = _compare(tokens[1:])
        left = right if _truthy(left) else left
    return left, tokens


def _compare(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    left, tokens = _unary(tokens)
    while tokens and tokens[0][0] == "op" and tokens[0][1] in _COMPARE:
        op = tokens[0][1]
        right, tokens = _unary(tokens[1:])
        left = _apply(op, left, right)
    return left, tokens


def _unary(tokens: list[tuple[str, Any]]) -> tuple[Any, list[tuple[str, Any]]]:
    kind, value = tokens[0]
    if (kind, value) == ("op", "!"):
        inner, rest = _unary(tokens[1:])
        return not _truthy(inner), rest
    if (kind, value) == ("op", "("):
        inner, rest = _or(tokens[1:])
        if not rest or rest[0] != ("op", ")"):
            raise _Dynamic("unbalanced parentheses")
        return inner, rest[1:]
    if kind == "op":
        raise _Dynamic(value)
    return value, tokens[1:]


def _apply(op: str, left: Any, right: Any) -> bool:
    a: Any
    b: Any
    if isinstance(left, str) and isinstance(right, str):
        a, b = left.casefold(), right.casefold()
    elif type(left) is type(right) and left is not None:
        a, b = left, right
    else:
        a, b = _number(left), _number(right)
    if isinstance(a, float) and (math.isnan(a) or math.isnan(b)):
        return op == "!="
    results = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}
    return bool(results[op])


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(value.strip() or 0)
    except ValueError:
        return math.nan


def _truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)
