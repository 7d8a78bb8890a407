"""A student's loop in a generated repository: `make setup` cold and warm, then `make test`.

Bakes the template into a temporary folder and times, as a student would run them:
  1. `make setup` with an empty package cache (cold: everything downloaded),
  2. `make setup` again in a fresh clone with that cache kept (warm: a teammate's second
     machine, or a new clone on the same laptop),
  3. `make test`.
Targets: setup at most 90 s cold and 30 s warm, test at most 30 s.

Run: .venv/bin/python bench/template_loop.py [--python python3.11]
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
TARGETS = {"setup cold": 90.0, "setup warm": 30.0, "test": 30.0}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=f"python{sys.version_info[0]}.{sys.version_info[1]}")
    args = parser.parse_args()
    from cookiecutter.main import cookiecutter

    work = Path(tempfile.mkdtemp(prefix="template-loop-"))
    try:
        repo = Path(cookiecutter(str(KIT), no_input=True, output_dir=str(work / "a")))
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}} | {
            "PIP_CACHE_DIR": str(work / "pip-cache"),
            "UV_CACHE_DIR": str(work / "uv-cache"),
        }
        make = ["make", f"PYTHON={args.python}"]
        figures = {"setup cold": timed([*make, "setup"], repo, env)}
        second = work / "b" / repo.name
        shutil.copytree(repo, second, ignore=shutil.ignore_patterns(".venv"))
        figures["setup warm"] = timed([*make, "setup"], second, env)
        figures["test"] = timed([*make, "test"], second, env)
        for name, seconds in figures.items():
            print(f"make {name:<11} {seconds:6.1f} s  (target <= {TARGETS[name]:.0f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
