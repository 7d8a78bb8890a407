"""Which cached environment a new lock is installed over, and the container's check that
the result is what a fresh install gives (run here by a real interpreter)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from grader import depset, envderive
from grader.envderive import LABEL, MISMATCH, Lineage, choose, label

SETUP = "uv export ... -o /tmp/locked.txt && uv pip install --require-hashes -r /tmp/locked.txt"
TEMPLATE = frozenset({"mlflow==3.1.0", "pandas==2.3.0", "scikit-learn==1.7.0"})


def lineage(pins: frozenset[str], setup: str = SETUP, base: str = "sha256:base") -> Lineage:
    return Lineage(setup, base, pins, "/tmp/locked.txt")


def seed(image: str, pins: frozenset[str], depth: int = 0, **other: str) -> tuple:
    return (image, f"key-{image}", {LABEL: label(lineage(pins, **other), depth)})


def test_a_lock_that_adds_a_package_is_installed_over_the_lock_it_extends() -> None:
    wants = lineage(TEMPLATE | {"tabulate==0.9.0"})
    found = choose([seed("template", TEMPLATE)], wants)
    assert found is not None
    assert (found.image, found.key, found.depth) == ("template", "key-template", 0)


def test_of_several_seeds_the_one_with_the_most_packages_is_chosen() -> None:
    wants = lineage(TEMPLATE | {"tabulate==0.9.0", "six==1.17.0"})
    small = seed("small", frozenset({"pandas==2.3.0"}))
    large = seed("large", TEMPLATE | {"six==1.17.0"})
    found = choose([small, large, seed("template", TEMPLATE)], wants)
    assert found is not None
    assert found.image == "large"


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        (seed("bumped", (TEMPLATE - {"pandas==2.3.0"}) | {"pandas==2.2.0"}), "another version"),
        (seed("more", TEMPLATE | {"xgboost==3.0.0"}), "a package the new lock lacks"),
        (seed("setup", TEMPLATE, setup="pip install -r requirements.txt"), "another setup"),
        (seed("base", TEMPLATE, base="sha256:other"), "another base image"),
        (seed("deep", TEMPLATE, depth=envderive.MAX_DEPTH), "too many layers deep"),
        (("empty", "key", {LABEL: label(lineage(frozenset()), 0)}), "no pins"),
        (("garbled", "key", {LABEL: "{not json"}), "an unreadable label"),
        (("unlabelled", "key", {}), "no label"),
    ],
)
def test_no_seed_where_one_would_not_give_what_a_fresh_install_gives(
    candidate: tuple, why: str
) -> None:
    assert choose([candidate], lineage(TEMPLATE | {"tabulate==0.9.0"})) is None, why


def test_the_pins_of_a_lock_leave_out_the_project_itself() -> None:
    lock = """\
version = 1
[[package]]
name = "Wine_Quality.Service"
version = "0.1.0"
source = { editable = "." }
[[package]]
name = "Scikit_Learn"
version = "1.7.0"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "numpy"
version = "2.3.1"
source = { registry = "https://pypi.org/simple" }
"""
    assert depset.locked_pins(lock) == {"scikit-learn==1.7.0", "numpy==2.3.1"}
    assert depset.locked_pins("not [toml") == frozenset()


# --- the container's check, by a real interpreter --------------------------------------------

SEED_LINES = """\
numpy==2.3.1 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:ccc
Scikit_Learn==1.7.0 \\
    --hash=sha256:ddd
"""


def run_script(mode: str, exported: str, record: Path) -> subprocess.CompletedProcess[str]:
    path = record.parent.parent / "exported.txt"
    path.write_text(exported)
    argv = [sys.executable, "-c", envderive.SCRIPT, mode, str(path), str(record)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_the_check_records_then_accepts_a_lock_with_every_line_of_the_seed(
    tmp_path: Path,
) -> None:
    record = tmp_path / "share" / "locked.txt"
    assert run_script("record", SEED_LINES, record).returncode == 0
    assert record.read_text() == SEED_LINES
    # The hashes in another order, a new package, the name in another spelling.
    extended = (
        SEED_LINES.replace(
            "--hash=sha256:aaa \\\n    --hash=sha256:bbb",
            "--hash=sha256:bbb \\\n    --hash=sha256:aaa",
        ).replace("Scikit_Learn", "scikit-learn")
        + "no-such-package-here==0.9.0 \\\n    --hash=sha256:eee\n"
    )
    done = run_script("verify", extended, record)
    assert done.returncode == 0, done.stderr
    assert record.read_text() == extended  # what this environment installed, for the next
    listed = (record.parent / "installed.txt").read_text().split()
    assert f"pytest=={version('pytest')}" in listed


def test_the_check_refuses_a_lock_that_now_pins_what_the_seed_had_from_elsewhere(
    tmp_path: Path,
) -> None:
    """pytest came with the base image or the setup's own install in the seed; a lock
    that pins it would leave behind what that install brought, which a fresh one lacks."""
    record = tmp_path / "share" / "locked.txt"
    assert run_script("record", SEED_LINES, record).returncode == 0
    pinned = f"{SEED_LINES}pytest=={version('pytest')} \\\n    --hash=sha256:eee\n"
    done = run_script("verify", pinned, record)
    assert done.returncode == MISMATCH
    assert f"would not be as a fresh install has them: pytest=={version('pytest')}" in done.stderr


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (("numpy==2.3.1", "numpy==2.3.2"), "numpy"),  # another version
        (("sha256:ddd", "sha256:fff"), "scikit-learn"),  # another file
        (("sys_platform == 'win32'", "sys_platform != 'win32'"), "colorama"),  # a marker
        (("colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:ccc\n", ""), "colorama"),
    ],
)
def test_the_check_refuses_a_lock_that_pins_a_package_of_the_seed_otherwise(
    tmp_path: Path, change: tuple[str, str], name: str
) -> None:
    record = tmp_path / "locked.txt"
    record.write_text(SEED_LINES)
    done = run_script("verify", SEED_LINES.replace(*change), record)
    assert done.returncode == MISMATCH
    assert f"pins these otherwise: {name}" in done.stderr
    assert record.read_text() == SEED_LINES  # left as the seed had it


def test_the_check_refuses_when_the_seed_recorded_nothing(tmp_path: Path) -> None:
    done = run_script("verify", SEED_LINES, tmp_path / "missing" / "locked.txt")
    assert done.returncode not in (0, None)
