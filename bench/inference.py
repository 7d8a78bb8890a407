"""How much of a TA's manifest `grader manifest init` recovers, per field, on the corpus of
repositories shaped like real student projects (tests/corpus.py).

    .venv/bin/python bench/inference.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.infer import infer
from tests import corpus


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = []
        seconds = []
        for name in corpus.CORPUS:
            repo = corpus.build(name, Path(tmp))
            start = time.perf_counter()
            draft = infer(repo)
            seconds.append(time.perf_counter() - start)
            verdicts += corpus.score(name, draft)
    print(corpus.table(verdicts))
    print(f"inference: {max(seconds) * 1000:.0f} ms at most per repo ({len(seconds)} repos)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
