"""scripts/ensure-docker.sh builds base-image stand-ins from the machine's own Debian mirror."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "ensure-docker.sh"


def mirror(apt_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "KIT_APT_DIR": str(apt_dir)}
    return subprocess.run(
        ["bash", str(SCRIPT), "--mirror"], env=env, capture_output=True, text=True, check=False
    )


def test_mirror_is_read_from_deb822_sources_skipping_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example.test/debian-security\n"
        "Suites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example.test/debian/\nSuites: bookworm\n",
        encoding="utf-8",
    )
    done = mirror(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://mirror.example.test/debian"


def test_mirror_is_read_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] https://apt.example.test/debian bookworm main\n",
        encoding="utf-8",
    )
    done = mirror(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "https://apt.example.test/debian"


@pytest.mark.parametrize("content", ["", "# nothing here\n"])
def test_no_mirror_is_an_error_saying_so(tmp_path: Path, content: str) -> None:
    (tmp_path / "sources.list").write_text(content, encoding="utf-8")
    done = mirror(tmp_path)
    assert done.returncode != 0
    assert "no Debian mirror in this machine's apt sources" in done.stderr
