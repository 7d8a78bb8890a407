"""How long m3's service checks take on a service whose /predict never answers, or floods.

Builds the kit's fixture service (tests/fixtures/services) as a team repository, then grades
it with m3's build, start and service checks (m3's own params), through the grader's runner
as `grader check` does, once per variant: good, hang (/predict never answers), flood
(/predict answers 256 MiB). Prints each service check's status and wall time, and the sum.
Target: each hostile variant's service checks finish within 60 s.

Run: .venv/bin/python bench/hostile_service.py   (needs a Docker engine: make docker)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.engine import decide_network  # noqa: E402
from grader.grade import Options, grade  # noqa: E402
from grader.rubric import KIT_RUBRICS, load_rubric  # noqa: E402
from tests.helpers import init_repo  # noqa: E402
from tests.services import (  # noqa: E402
    ensure_base_image,
    free_port,
    manifest_data,
    service_repo,
    write_manifest,
)

CHECKS = {
    "manifest", "build", "starts", "health", "examples", "bad-input", "openapi", "fuzz",
    "latency", "metrics", "model-info",
}  # fmt: skip
SERVICE = CHECKS - {"manifest", "build", "starts"}


def repo(root: Path, fault: str) -> Path:
    path = service_repo(root / fault)
    write_manifest(path, manifest_data(free_port(), fault))
    init_repo(path, {})
    return path


def main() -> int:
    ensure_base_image()
    rubric = load_rubric(KIT_RUBRICS / "m3.yaml")
    network = decide_network("auto")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for fault in ("", "hang", "flood"):
            options = Options(network_mode=network, only=CHECKS)
            start = time.monotonic()
            result = grade(str(repo(Path(tmp), fault)), rubric, options)
            total = time.monotonic() - start
            rows = [r for r in result.checks if r.id in SERVICE]
            service_seconds = sum(r.duration for r in rows)
            print(
                f"{fault or 'good'}: service checks {service_seconds:.1f} s (grade {total:.1f} s)"
            )
            for r in rows:
                print(f"  {r.id:<12} {r.status:<7} {r.duration:6.1f} s  {r.message[:90]}")
            if fault:
                worst = max(worst, service_seconds)
    print(f"slowest hostile variant: {worst:.1f} s of service checks (target: at most 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
