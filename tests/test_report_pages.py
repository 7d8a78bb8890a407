"""Every HTML page the grader writes, as a browser and a screen reader meet it: team text
inert, WCAG AA contrast, and headless Chromium screenshots whose text is checked."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from grader.reports.dashboard import dashboard_html
from grader.reports.expo import board_html, poster_html, wall_html
from grader.reports.feedback import feedback_html
from tests import browser
from tests.htmlcheck import parse
from tests.reportsample import sample_facts, sample_grade, sample_outcomes
from tests.services import free_port

# Hostile text in every string a team controls: markup, an event handler, a script URL.
MARK = (
    ' <script>document.body.dataset.pwned="script"</script>'
    '<img src=x onerror="document.body.dataset.pwned=1">"\'&'
    " [link](javascript:document.body.dataset.pwned=1)"
)

PAGES: dict[str, Callable[[str], str]] = {
    "dashboard.html": lambda mark: dashboard_html(sample_outcomes(mark), "m3: Deploy"),
    "feedback.html": lambda mark: feedback_html(sample_grade(mark)),
    "poster.html": lambda mark: poster_html(sample_facts(mark)[0]),
    "board.html": lambda mark: board_html(sample_facts(mark), "Expo leaderboard"),
    "wall.html": lambda mark: wall_html(sample_facts(mark), "Expo status wall"),
}
OWN_SCRIPTS = {"wall.html": 2}  # the team list (JSON) and the health poller


@pytest.mark.parametrize("name", sorted(PAGES))
def test_team_controlled_text_renders_inert(name: str) -> None:
    html = PAGES[name](MARK)
    page = parse(html)
    assert len(page.all("script")) == OWN_SCRIPTS.get(name, 0)
    assert page.all("img") == []
    handlers = [(tag, a) for tag, attrs in page.tags for a in attrs if a.startswith("on")]
    assert handlers == []
    urls = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("href", "src")]
    assert not [u for u in urls if u and not re.match(r"^(https?://|teams/|#)", u)]
    assert 'dataset.pwned="script"</script>' in page.body_text  # shown as text


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rules(css: str) -> dict[str, dict[str, str]]:
    rules: dict[str, dict[str, str]] = {}
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        props = dict(re.findall(r"(color|background)\s*:\s*(#[0-9a-fA-F]{6})", body))
        if props:
            rules[selector.strip()] = props
    return rules


def test_every_text_colour_meets_wcag_aa() -> None:
    # Every page's rendered stylesheet: the shared palette and the poster's own rules.
    pages = "".join(render("") for render in PAGES.values())
    css = "".join(re.findall(r"<style>(.*?)</style>", pages, flags=re.S))
    rules = _rules(css)
    text = rules["body"]["color"]
    # Text without a background of its own sits on the page, a table header or a flagged row.
    surfaces = [rules["body"]["background"], rules["th"]["background"]]
    surfaces.append(rules[".team-error td"]["background"])
    low = []
    for selector, props in rules.items():
        if selector == ".bar span" or selector == ".bar":
            continue  # the score bar is decoration; its value is printed beside it
        colour = props.get("color", text)
        grounds = [props["background"]] if "background" in props else surfaces
        low += [(selector, colour, g) for g in grounds if contrast(colour, g) < 4.5]
    assert low == []
    assert contrast("#767676", "#ffffff") >= 4.5 > contrast("#777777", "#ffffff")  # the rule


@pytest.fixture
def health_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering /health, as a deployed team service would."""

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pages_in_headless_chromium(tmp_path: Path, health_server: str) -> None:
    """Screenshots of the dashboard, feedback, poster, board and wall with hostile team text:
    each renders, no team text ran, and the text a reader needs is on the page."""
    facts = sample_facts(MARK)
    facts[0] = replace(facts[0], health_url=f"{health_server}/health")
    facts[1] = replace(facts[1], health_url=f"http://127.0.0.1:{free_port()}/health")
    pages = {name: render(MARK) for name, render in PAGES.items()}
    pages["wall.html"] = wall_html(facts, "Expo status wall")
    profile = tmp_path / "profile"
    expected = {
        "dashboard.html": ["Checks by team", "✓ passed: full points", "◐ 3.33", "10 pts"],
        "feedback.html": ["How to fix what failed", "3.33 / 10", "make setup"],
        "poster.html": ["0.9412", "48 ms", "11 of 12", "Scan for the live service"],
        "board.html": ["Team Beta", "0.9521", "12 of 12"],
        "wall.html": ["up", "down", "no URL"],
    }
    for name, html in pages.items():
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        width, height = browser.screenshot(path, tmp_path / f"{name}.png", profile)
        assert (width, height) == (1280, 900)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, f"{name} rendered blank"
        dom = browser.dom(path, profile, wait_ms=3000 if name == "wall.html" else 0)
        assert "data-pwned" not in dom, f"team text ran in {name}"
        text = parse(dom).body_text
        for words in expected[name]:
            assert words in text, f"{words!r} not on {name}"
    # The wall polled both services from the browser: one answers, the other does not.
    wall = parse(browser.dom(tmp_path / "wall.html", profile, wait_ms=3000))
    states = [t for t in wall.text if t in ("up", "down", "checking", "no URL")]
    assert states == ["up", "down", "no URL"]


def test_a_long_poster_prints_on_one_landscape_page(tmp_path: Path) -> None:
    long = "\n\n".join(["Sommeliers disagree about the cultivar of a wine. " * 12] * 14)
    facts = replace(
        sample_facts()[0],
        problem=long,
        architecture=sample_facts()[0].architecture * 8,
        members=sample_facts()[0].members * 5,
    )
    page = tmp_path / "poster.html"
    page.write_text(poster_html(facts), encoding="utf-8")
    pdf = tmp_path / "poster.pdf"
    assert browser.pdf_pages(page, pdf, tmp_path / "profile") == 1
    assert b"/MediaBox [0 0 841.91998 594.95996]" in pdf.read_bytes()  # A4 landscape
