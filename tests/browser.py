"""Headless Chromium for tests that look at pages as a browser renders them.

Chromium is found on PATH (`chromium`, Debian's package; `.ci/run` installs it). Outside CI a
machine without it skips these tests; under CI=true it fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path, or skip (fail under CI=true) when there is none."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but no Chromium on PATH: .ci/run must install it")
    pytest.skip("no Chromium on PATH (apt-get install chromium)")


def _run(page: Path, profile: Path, *flags: str) -> str:
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *flags,
        page.resolve().as_uri(),
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(page: Path, png: Path, profile: Path, size: str = "1280,900") -> tuple[int, int]:
    """Render `page` into `png`; returns the image's width and height (from its header)."""
    _run(page, profile, f"--screenshot={png}", f"--window-size={size}", "--hide-scrollbars")
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def dom(page: Path, profile: Path, wait_ms: int = 0) -> str:
    """The page's DOM after its scripts ran (and `wait_ms` of virtual time passed)."""
    flags = [f"--virtual-time-budget={wait_ms}"] if wait_ms else []
    return _run(page, profile, "--dump-dom", *flags)


def pdf_pages(page: Path, pdf: Path, profile: Path) -> int:
    """Print `page` to PDF as the browser's print dialog would; returns its page count."""
    _run(page, profile, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
