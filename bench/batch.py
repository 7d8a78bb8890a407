"""Benchmark `grader batch` on 10 teams generated from a roster.

Prints the cold batch time with 1 and 2 jobs (target: 2 jobs at least 1.6 times faster)
and the warm regrade with nothing changed (target: under 5 s for all 10).

Run: .venv/bin/python bench/batch.py [--teams 10] [--keep]
The rubric is the kit's m0 without pre-commit's run (repo checks only: no Docker needed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
CHECKS = [
    "manifest",
    "files",
    "readme",
    "ignores",
    "large-files",
    "secrets",
    "commits",
    "precommit-config",
]


def roster(path: Path, teams: int) -> Path:
    lines = ["team,name,email,github,repo"]
    for t in range(1, teams + 1):
        for m in (1, 2):
            handle = f"student-{t:02d}-{m}"
            lines.append(
                f"Team {t:02d},Student {t} {m},{handle}@example.edu,{handle},repos/team-{t:02d}"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def grader(*args: str, env: dict[str, str], cwd: Path) -> float:
    """Run the grader CLI; return its wall time (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"grader {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed


LOAD = [0.0]


def batch(work: Path, out: str, jobs: int, env: dict[str, str]) -> float:
    only = [arg for c in CHECKS for arg in ("--check", c)]
    return grader(
        "batch", "roster.csv", "--milestone", "m0", *only, "--jobs", str(jobs), "--out", out,
        env=env, cwd=work,
    )  # fmt: skip


def isolated_env(work: Path, name: str) -> dict[str, str]:
    """A fresh HOME and result cache, so a cold run really starts cold."""
    home = work / f"home-{name}"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GRADER_CACHE": str(home / ".cache" / "mlops-grader"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Course Staff",
        "GIT_AUTHOR_EMAIL": "staff@example.edu",
        "GIT_COMMITTER_NAME": "Course Staff",
        "GIT_COMMITTER_EMAIL": "staff@example.edu",
        "PYTHONPATH": str(KIT),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    LOAD[0] = os.getloadavg()[0]  # other work on the machine skews the speed-up: show it
    try:
        roster(work / "roster.csv", args.teams)
        gen = grader(
            "teams",
            "create",
            "roster.csv",
            "--out",
            "repos",
            env=isolated_env(work, "gen"),
            cwd=work,
        )
        print(f"generated {args.teams} team repositories in {gen:.1f}s")
        cold1 = batch(work, "out-1", 1, isolated_env(work, "j1"))
        env2 = isolated_env(work, "j2")
        cold2 = batch(work, "out-2", 2, env2)
        warm = batch(work, "out-2", 2, env2)
        print(f"cold batch, 1 job : {cold1:6.1f}s  ({cold1 / args.teams:.2f}s per team)")
        print(f"cold batch, 2 jobs: {cold2:6.1f}s  (speed-up {cold1 / cold2:.2f}x; target >= 1.6x)")
        print(f"warm regrade      : {warm:6.1f}s  (target < 5s for {args.teams} teams)")
        load = os.getloadavg()
        print(f"cpus: {os.cpu_count()}; load average before/after: {LOAD[0]:.2f}/{load[0]:.2f}")
        print(f"checks: {', '.join(CHECKS)}")
        if args.keep:
            print(f"work folder: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
