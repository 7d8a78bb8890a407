"""tests.sensitivity: the team's tests must notice a broken model.

In the sandbox, the model file the manifest names (`training.artifact`) is replaced by
scikit-learn's DummyClassifier or DummyRegressor, fit on the team's training rows and saved
in the same format; then the team's test command runs again. At least one model or API test
must fail: a suite that still passes cannot tell a working model from a constant one.

For a pytest suite (tests.run read its report), the grader's pytest plugin does the swap in
the run's own pytest process, before the team's conftest files load: scikit-learn and the
model are imported once, not in a process of their own as well (about 2 s of a class's cores
per team). Where the plugin did not swap (the suite turned plugins off, or the swap failed
there), it runs in a process of its own and the suite runs again; the first run is not read.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import Field

from grader import fs
from grader.checks.base import Context, Outcome, Params, failed, passed, skipped
from grader.checks.projectenv import project_sandbox
from grader.manifest import Manifest
from grader.sandbox import SandboxResult
from grader.suitereport import (
    COVERAGE,
    JUNIT,
    SWAP_ARGS_ENV,
    SWAP_ENV,
    SWAP_OUT,
    SWAPPED_IN,
    SuiteCase,
    is_kind,
    pytest_env,
    read_report,
)
from grader.text import tail

NO_ARTIFACT = (
    "capstone.yaml names no model file: add `training.artifact` (the file the service and "
    "your tests load, e.g. model/model.joblib)"
)
# Runs in the container, in the team's environment: unpickling happens only there. In the
# pytest process of the test run when the suite is a pytest one (the grader's plugin runs
# it, before the team's conftest files load), else in a process of its own before the run.
SWAP = r"""
import csv, pathlib, pickle, sys

path, target, sources = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
out = pathlib.Path("/tmp/grader/swap.txt")
out.parent.mkdir(parents=True, exist_ok=True)


def done(message, code=0):
    out.write_text(message)
    sys.exit(code)


if path.is_dir():
    inner = [p for p in (path / "model.pkl", path / "model.joblib") if p.is_file()]
    if not inner:
        done("unsupported: an MLflow model without model.pkl (sklearn flavor)", 3)
    path = inner[0]
if not path.is_file():
    done(f"missing: {sys.argv[1]} is not in the repository", 4)
if path.suffix not in (".joblib", ".pkl", ".pickle"):
    done(f"unsupported: a {path.suffix or 'suffix-less'} model file", 3)
try:
    import joblib
except ImportError:
    joblib = None
with path.open("rb") as handle:
    original = joblib.load(handle) if joblib else pickle.load(handle)

rows = []
for source in sources:
    with open(source, newline="") as handle:
        rows += list(csv.DictReader(handle))
labels = [row.pop(target) for row in rows if target in row]


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def is_model(value):
    return hasattr(value, "predict") and not isinstance(value, type)


def dummy_for(model):
    import numbers

    from sklearn.base import is_classifier
    from sklearn.dummy import DummyClassifier, DummyRegressor

    classes = list(getattr(model, "classes_", []))
    classifier = is_classifier(model) or bool(classes)
    y = labels or classes or [0.0]
    numeric = classes and isinstance(classes[0], numbers.Number)
    if not classifier or numeric:
        y = [number(v) for v in y]
    x = [[number(v) for v in row.values()] for row in rows] if labels else [[0.0]] * len(y)
    made = DummyClassifier(strategy="most_frequent") if classifier else DummyRegressor()
    return made.fit(x, y), "DummyClassifier" if classifier else "DummyRegressor"


kind = None
if is_model(original):
    swapped, kind = dummy_for(original)
elif isinstance(original, dict):
    swapped = dict(original)
    for key, value in original.items():
        if is_model(value):
            swapped[key], kind = dummy_for(value)
else:
    swapped = original
    for key, value in list(vars(original).items()) if hasattr(original, "__dict__") else []:
        if is_model(value):
            dummy, kind = dummy_for(value)
            setattr(swapped, key, dummy)
if kind is None:
    done(f"unsupported: no model object with predict() in {path.name}", 3)
with path.open("wb") as handle:
    if joblib and path.suffix == ".joblib":
        joblib.dump(swapped, handle)
    else:
        pickle.dump(swapped, handle)
done(f"swapped: {path} now holds a {kind} fit on {len(labels)} training rows")
"""
# An assertion that lets a server error through: the test passes whatever the model does.
LENIENT = re.compile(
    r"status(?:_code)?\s*(?:in\s*[\[\(\{][^\]\)\}]*\b5\d\d\b|[<>]=?\s*(?:5\d\d|600)|!=\s*404)"
)


class SensitivityParams(Params):
    image: str = Field("auto", description="Image the suite runs in (`auto`: as tests.run).")
    setup: str | None = Field(
        "auto", description="Install command (`auto`: as tests.run installs, sharing its cache)."
    )
    timeout: float = Field(600, gt=0, description="Seconds the test command may run.")
    setup_timeout: float = Field(900, gt=0, description="Seconds the install may take.")
    memory: str = "2g"
    cpus: float = Field(1.0, gt=0)


def sensitivity(ctx: Context, params: SensitivityParams) -> Outcome:
    """Your tests fail when the model is replaced by a constant one.

    In a sandbox the grader replaces the model file named by `training.artifact` with
    scikit-learn's DummyClassifier or DummyRegressor (fit on your training rows, saved in
    the same format), then runs your test command again. At least one model or API test
    (`tests.kinds`) must fail. Fix: assert on predictions, not only on status codes: the
    known answer for a known input, and quality on held-out rows (accuracy, R^2) through
    the model the service loads. Never accept a 500 as a pass.
    """
    manifest = ctx.need_manifest()
    artifact = manifest.training.artifact if manifest.training else None
    if not artifact:
        return failed(NO_ARTIFACT)
    result = _rerun(ctx, manifest, artifact, params)
    swap = result.files.get(SWAP_OUT, b"").decode("utf-8", "replace")
    lenient = lenient_assertions(ctx.repo, manifest)
    where = result.files.get(SWAPPED_IN, b"").decode("utf-8", "replace")
    evidence: dict[str, Any] = {
        "artifact": artifact,
        "swap": swap or "the swap did not run",
        "swapped_in": (where or "a process of its own, before the test run") if swap else None,
        "exit_code": result.exit_code,
        "seconds": round(result.seconds, 1),
        "environment": result.environment,
        "output": tail(result.output, 4000),
        "lenient_assertions": lenient,
    }
    if swap.startswith("unsupported"):
        return skipped(f"the grader cannot swap this model ({swap.removeprefix('unsupported: ')})")
    if not swap.startswith("swapped"):
        why = swap or f"setup or swap failed: {tail(result.output, 300)}"
        return failed(f"the model file could not be replaced: {why}", evidence)
    return _verdict(manifest, read_report(result).cases, lenient, evidence)


def _rerun(
    ctx: Context, manifest: Manifest, artifact: str, params: SensitivityParams
) -> SandboxResult:
    evaluation = manifest.evaluation
    target = evaluation.target if evaluation else ""
    held_out = set(evaluation.data) if evaluation else set()
    training_rows = [p for p in manifest.data.paths if p not in held_out and p.endswith(".csv")]
    encoded = base64.b64encode(SWAP.encode()).decode()
    args = [artifact, target, *training_rows]
    alone = f"python -c \"import base64; exec(base64.b64decode('{encoded}'))\" {shlex.join(args)}"
    env = rerun_env(ctx, manifest)
    report = ctx.provided.test_report
    if report is None or not report.cases:  # not known to be a pytest suite
        command = f"{alone} && {manifest.tests.command}"
    else:  # the plugin swaps in the run's pytest; where it did not, as above
        env |= {SWAP_ENV: encoded, SWAP_ARGS_ENV: json.dumps(args)}
        suite = f"{{ {manifest.tests.command}\n}}"
        again = f"rm -f {JUNIT} {SWAPPED_IN}; {alone} && {suite}; code=$?"
        command = f"{suite}; code=$?\nif [ ! -s {SWAP_OUT} ]; then {again}; fi\nexit $code"
    box = project_sandbox(ctx, params.image, params.setup)
    return box.run(
        ctx.repo,
        command,
        timeout=params.timeout,
        setup_timeout=params.setup_timeout,
        memory=params.memory,
        cpus=params.cpus,
        env=env,
        collect=[JUNIT, SWAP_OUT, SWAPPED_IN],
    )


def rerun_env(ctx: Context, manifest: Manifest) -> dict[str, str]:
    """pytest's options for the rerun: only what the verdict reads runs again.

    With the suite's report from tests.run and the manifest's model and API kinds, every
    other test is deselected (it cannot change the verdict), a test file with none of them
    is not even collected (its imports, MLflow's for a training test, cost seconds), and
    coverage is not measured again; without them the whole suite runs as the team's
    command says.
    """
    env = pytest_env(ctx.repo, manifest.tests.command)
    options = [env["PYTEST_ADDOPTS"]]
    if COVERAGE in options[0]:
        options.append("--no-cov")
    report = ctx.provided.test_report
    if report is not None and (selectors := _selectors(manifest)):
        chosen = {_file(c.nodeid) for c in report.cases if is_kind(c, selectors)}
        others = [c.nodeid for c in report.cases if not is_kind(c, selectors)]
        idle = sorted({_file(n) for n in others} - chosen)
        idle = [path for path in idle if _test_module(ctx.repo, path)]
        options += [shlex.quote(f"--ignore={path}") for path in idle]
        options += [shlex.quote(f"--deselect={n}") for n in others if _file(n) not in idle]
    env["PYTEST_ADDOPTS"] = " ".join(options)
    return env


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _test_module(repo: Path, path: str) -> bool:
    """A Python file of the checkout (a node id's path is relative to the repository)."""
    found = fs.inside(repo, path)
    return path.endswith(".py") and found is not None and found.is_file()


def _selectors(manifest: Manifest) -> list[str]:
    return [*manifest.tests.kinds.get("model", ()), *manifest.tests.kinds.get("api", ())]


def _verdict(
    manifest: Manifest,
    cases: tuple[SuiteCase, ...],
    lenient: list[str],
    evidence: dict[str, Any],
) -> Outcome:
    selectors = _selectors(manifest)
    chosen = [c for c in cases if not selectors or is_kind(c, selectors)]
    what = "model and API tests" if selectors else "tests"
    caught = [c.nodeid for c in chosen if c.outcome in ("failed", "error")]
    evidence["caught_by"] = caught
    if not chosen:
        return failed(f"no {what} ran with the constant model in place", evidence)
    if caught:
        return passed(
            f"{len(caught)} of {len(chosen)} {what} fail with a constant model: {_few(caught)}",
            evidence,
        )
    passing = [c.nodeid for c in chosen if c.outcome == "passed"]
    note = f"; these accept a server error: {', '.join(lenient[:3])}" if lenient else ""
    return failed(
        f"your tests pass with a constant model: {len(passing)} {what} passed"
        f" ({_few(passing, 4)}){note}",
        evidence,
    )


def _few(items: list[str], count: int = 3) -> str:
    return ", ".join(items[:count]) + (", ..." if len(items) > count else "")


def lenient_assertions(repo: Path, manifest: Manifest) -> list[str]:
    """file:line of each test assertion that accepts a server error (200 or 500, < 600)."""
    found: list[str] = []
    for path in sorted(_test_files(repo, manifest)):
        text = fs.read_text(repo, path) or ""
        for number, line in enumerate(text.splitlines(), 1):
            if "assert" in line and LENIENT.search(line):
                found.append(f"{path}:{number}")
    return found


def _test_files(repo: Path, manifest: Manifest) -> set[str]:
    roots = [*manifest.tests.kinds.get("api", ()), *manifest.tests.kinds.get("model", ())]
    roots = [r for r in roots if "/" in r or r.endswith(".py")] or list(manifest.tests.paths)
    files: set[str] = set()
    for root in roots:
        base = fs.inside(repo, root)
        if base is None:
            continue
        if base.is_file():
            files.add(root)
        elif base.is_dir():
            files |= {
                str(p.relative_to(repo.resolve())) for p in base.rglob("*.py") if not p.is_symlink()
            }
    return files
