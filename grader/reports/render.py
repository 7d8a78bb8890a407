"""Jinja2 for every page and Markdown report, markdown-it-py for text a team wrote.

HTML templates (names ending in .html) are autoescaped: nothing a team controls becomes
markup unless it goes through `markdown`, which renders CommonMark with raw HTML turned off
(a `<script>` in a README is shown as text) and drops links that are not http(s), mailto or
relative (markdown-it's own link validation).
"""

from __future__ import annotations

from typing import Any

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from grader.results import points

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str) -> Markup:
    """CommonMark (with tables) as HTML; raw HTML in the source is escaped, not rendered."""
    return Markup(_MARKDOWN.render(text))  # raw HTML is off: markdown-it escapes it


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code of `url` (error correction M: survives a smudged print)."""
    code = segno.make(url, error="m", micro=False)
    return Markup(code.svg_inline(scale=4, dark="#1f2328", light="#ffffff", omitsize=True))


def num(value: float | None, unit: str = "") -> str:
    """A measured figure to four significant digits, or a dash when it was not measured."""
    return "—" if value is None else f"{value:.4g}{unit}"


def md_cell(text: str) -> str:
    """Text in one Markdown table cell: pipes escaped, lines joined."""
    return text.replace("|", "\\|").replace("\n", " ")


ENV = Environment(
    loader=PackageLoader("grader.reports", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters.update(markdown=markdown, points=points, md_cell=md_cell, qr_svg=qr_svg, num=num)


def render(name: str, **context: Any) -> str:
    """The named template (under grader/reports/templates/) filled with `context`."""
    return ENV.get_template(name).render(**context)
