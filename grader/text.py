"""Tiny text helpers shared by checks and reports."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def tail(text: str, limit: int = 4000) -> str:
    """The end of a long log, marked as truncated."""
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters cut ...]\n{text[-limit:]}"
