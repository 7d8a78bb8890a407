"""What the checks that measure instead of believing add to an m2 grade of the reference team.

Grades the template's reference team (scripts/reference_team.py) at m2 twice: once with
tracking.reproduce, tracking.evaluate and tests.sensitivity skipped, once with everything;
then once more with everything, when their sandbox environments are cached. Prints each
of the three checks' wall time, where its environment came from, and the totals.

Usage: python bench/measured_checks.py [--reference DIR]
Without --reference, builds one first (make setup and two trainings: a few minutes).
Needs a Docker engine (make docker).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.engine import decide_network  # noqa: E402
from grader.grade import Options, grade  # noqa: E402
from grader.results import GradeResult  # noqa: E402
from grader.rubric import KIT_RUBRICS, load_rubric  # noqa: E402
from scripts import reference_team  # noqa: E402

MEASURED = ("tracking.reproduce", "tracking.evaluate", "tests.sensitivity")


def timed(reference: Path, skip: set[str]) -> tuple[float, GradeResult]:
    rubric = load_rubric(KIT_RUBRICS / "m2.yaml")
    options = Options(network_mode=decide_network("auto"), skip=skip)
    start = time.monotonic()
    result = grade(str(reference), rubric, options)
    return time.monotonic() - start, result


def report(label: str, seconds: float, result: GradeResult) -> None:
    print(f"{label}: {seconds:.1f} s, score {result.score:g}/{result.max_score:g}")
    for r in result.checks:
        if r.check in MEASURED:
            where = r.evidence.get("environment") or r.evidence.get("how") or ""
            print(f"  {r.id:<14} {r.status:<7} {r.duration:6.1f} s  {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="an existing reference team")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    with tempfile.TemporaryDirectory(prefix="bench-measured-") as tmp:
        reference = args.reference or reference_team.build(Path(tmp))
        rubric = load_rubric(KIT_RUBRICS / "m2.yaml")
        skip = {c.id for c in rubric.checks if c.check in MEASURED}
        base, base_result = timed(reference, skip)
        full, full_result = timed(reference, set())
        again, again_result = timed(reference, set())
        report("m2 without them", base, base_result)
        report("m2 with them (first run)", full, full_result)
        report("m2 with them (environments cached)", again, again_result)
        print(f"added: {full - base:+.1f} s first run, {again - base:+.1f} s cached")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
