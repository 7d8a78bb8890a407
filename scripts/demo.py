"""`make demo`: generate a sample team repository from the template and grade it.

Steps: bake the template (no prompts) into demo-output/, then `grader check` it at the
demo milestone, printing the table, the total time and where the reports are.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
OUT = KIT / "demo-output"
MILESTONE = os.environ.get("DEMO_MILESTONE", "m0")


def bake() -> Path:
    from cookiecutter.main import cookiecutter

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    extra = {"project_name": "Demo Wine Service", "team_name": "Demo Team"}
    return Path(cookiecutter(str(KIT), no_input=True, output_dir=str(OUT), extra_context=extra))


def main() -> int:
    from grader.main import main as grader

    start = time.monotonic()
    print(f"[demo] generating a team repository from the template into {OUT}")
    repo = bake()
    print(f"[demo] grading {repo} at milestone {MILESTONE}")
    reports = OUT / f"grades-{MILESTONE}"
    code = grader(["check", str(repo), "--milestone", MILESTONE, "--out", str(reports)])
    print(f"[demo] finished in {time.monotonic() - start:.1f}s (grader exit code {code})")
    print(f"[demo] results.json: {reports / 'results.json'}")
    print(f"[demo] feedback.md:  {reports / 'feedback.md'}")
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
