"""Helpers for class-level tests: rosters, a fast rubric of repo checks, fake tools on PATH."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

# Five teams, two members each: what `grader teams create` and `grader batch` start from.
FIVE_TEAMS = {
    "Team Alpha": [
        ("Ann Lee", "ann@example.edu", "ann-lee"),
        ("Bo Chen", "bo@example.edu", "bochen"),
    ],
    "Beta": [("Cy Dee", "cy@example.edu", "cydee"), ("Di Eve", "di@example.edu", "di-eve")],
    "Gamma Rays": [("Ed Fox", "ed@example.edu", "edfox"), ("Flo Gil", "flo@example.edu", "flo")],
    "Delta": [("Gus Ho", "gus@example.edu", "gusho"), ("Hal Ito", "hal@example.edu", "hal-ito")],
    "Epsilon": [("Ida Jo", "ida@example.edu", "idajo"), ("Jan Ku", "jan@example.edu", "jan-ku")],
}

# Repo checks only: no Docker, about a second per team.
FAST_RUBRIC = """\
milestone: t1
title: Test milestone
checks:
  - id: manifest
    check: repo.manifest
    points: 10
  - id: files
    check: repo.files
    points: 10
    params: {paths: [capstone.yaml, Dockerfile, pyproject.toml, FIXED.md]}
  - id: ignores
    check: repo.ignore_files
    points: 5
    params: {gitignore_patterns: [.venv]}
  - id: commits
    check: repo.commits
    points: 5
    needs: [manifest]
    params: {min_commits: 1, max_share: 0.9}
"""


def write_roster(
    path: Path,
    teams: dict[str, list[tuple[str, str, str]]],
    repos: dict[str, str] | None = None,
) -> Path:
    header = "team,name,email,github" + (",repo" if repos is not None else "")
    lines = [header]
    for team, members in teams.items():
        for name, email, github in members:
            row = f"{team},{name},{email},{github}"
            lines.append(row + (f",{repos[team]}" if repos is not None else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fake_tool(bin_dir: Path, name: str, script: str) -> Path:
    """An executable shell script called `name` in `bin_dir` (put bin_dir first on PATH)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def lines_of(text: str) -> Iterable[str]:
    return [ln for ln in text.splitlines() if ln.strip()]
