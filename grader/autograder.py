"""Gradescope autograders: the zip a course uploads, and the grading it runs per submission.

Gradescope unpacks the zip to /autograder/source, runs `setup.sh` once as root when it
builds its image (Ubuntu, internet for package registries, no Docker engine), then for
every submission copies the files to /autograder/submission, runs `run_autograder` and
reads /autograder/results/results.json.

The zip carries the grader itself (its package source and a pyproject.toml: the kit is
not on PyPI; its pinned dependencies come from PyPI), the rubric with every rubric it
`extends`, and a pending-review results.json that `run_autograder` puts in place if the
grader cannot write one. Checks that need a container engine are left to course staff.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import shlex
import shutil
import tempfile
import time
import tomllib
import traceback
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.errors import ConfigError
from grader.grade import Options, grade
from grader.manifest import MANIFEST_NAME
from grader.reports.gradescope import (
    pending_review_json,
    write_pending_review,
    write_results_json,
)
from grader.results import GradeResult
from grader.rubric import Extends, ResolvedCheck, Rubric, load_rubric
from grader.runner import OnResult, engine_checks
from grader.target import git
from grader.yamlsrc import load_yaml

DISTRIBUTION = "mlops-capstone-kit"
VENV = "/opt/mlops-capstone-grader"
PENDING_REASON = "run_autograder: the grader stopped before it wrote results.json"
# Zip entries get one fixed time, so the same checkout and rubric give the same zip.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs git and the MLOps capstone grader (its source is in grader-kit/, its pinned
# dependencies come from PyPI) into a virtual environment. GRADER_VENV moves it.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${GRADER_VENV:-@VENV@}"
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_install() {
    if [ "$updated" = 0 ]; then apt-get update -qq; updated=1; fi
    apt-get install -y -qq --no-install-recommends "$@"
}
command -v git >/dev/null || apt_install git ca-certificates
python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
PY=""
for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
        PY="$(command -v "$candidate")"
        break
    fi
done
if [ -z "$PY" ]; then  # Ubuntu 22.04 has Python 3.10; its universe has 3.11
    apt_install python3.11 python3.11-venv
    PY="$(command -v python3.11)"
fi
if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then  # Debian and Ubuntu split venv out
    rm -rf "$VENV"
    apt_install "python3.$("$PY" -c 'import sys; print(sys.version_info[1])')-venv"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "$SOURCE/grader-kit"
"$VENV/bin/grader" --version
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades /autograder/submission with the
# bundled rubric, without Docker (those checks are left to course staff), and always
# leaves a valid /autograder/results/results.json: if the grader wrote none, the
# "pending review by course staff" note takes its place, never a silent 0.
# AUTOGRADER_ROOT and GRADER_VENV move it off /autograder and the setup's venv.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${GRADER_VENV:-@VENV@}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
status=0
"$VENV/bin/grader" gradescope run --submission "$ROOT/submission" \\
    --rubric "$ROOT/source/rubrics/"@RUBRIC@ --results "$RESULTS" || status=$?
if [ ! -s "$RESULTS" ]; then
    echo "run_autograder: the grader exited with $status and wrote no results.json:" \\
        "writing the pending-review note" >&2
    cp "$ROOT/source/pending_review.json" "$RESULTS"
fi
exit 0
"""


@dataclass(frozen=True)
class Bundle:
    """What an autograder zip holds and how its points split between Gradescope and staff."""

    path: Path
    rubric: Rubric
    autograded: tuple[ResolvedCheck, ...]
    staff: tuple[ResolvedCheck, ...]
    files: tuple[str, ...]

    @property
    def autograded_points(self) -> float:
        return round(sum(c.points for c in self.autograded), 2)

    @property
    def staff_points(self) -> float:
        return round(sum(c.points for c in self.staff), 2)


def rubric_chain(path: Path) -> list[Path]:
    """The rubric file and every file it `extends`, nearest first (all in one folder)."""
    chain = [path.resolve()]
    while True:
        data = load_yaml(chain[-1], "rubric").data
        raw = data.get("extends") if isinstance(data, dict) else None
        if raw is None:
            return chain
        name = raw if isinstance(raw, str) else Extends.model_validate(raw).milestone
        parent = chain[-1].parent / f"{name}.yaml"
        if parent in chain:  # load_rubric reports the cycle
            return chain
        chain.append(parent)


def _dependencies() -> list[str]:
    """The grader's runtime requirements: this checkout's pyproject.toml, else its install."""
    pyproject = Path(grader.__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return [str(d) for d in project.get("dependencies", [])]
    requires = importlib.metadata.requires(DISTRIBUTION) or []
    return [r for r in requires if "extra ==" not in r]


def kit_pyproject() -> str:
    """A pyproject.toml that installs the bundled grader package and its dependencies."""
    deps = "".join(f"  {json.dumps(d)},\n" for d in _dependencies())
    return (
        "# Written by `grader gradescope autograder`: installs the bundled grader.\n"
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{DISTRIBUTION}"\n'
        f'version = "{grader.__version__}"\n'
        'requires-python = ">=3.11"\n'
        f"dependencies = [\n{deps}]\n\n"
        "[project.scripts]\n"
        'grader = "grader.entry:run"\n\n'
        "[tool.setuptools.packages.find]\n"
        'include = ["grader*"]\n\n'
        "[tool.setuptools.package-data]\n"
        f"grader = {json.dumps(list(PACKAGE_DATA))}\n"
    )


# The package's files besides its modules, as the kit's own pyproject.toml lists them.
PACKAGE_DATA = ("py.typed", "reports/templates/*")


def _package_files() -> list[tuple[str, Path]]:
    package = Path(grader.__file__).resolve().parent
    data = {p for pattern in PACKAGE_DATA for p in package.glob(pattern)}
    return [
        (f"grader-kit/grader/{p.relative_to(package).as_posix()}", p)
        for p in sorted(package.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and (p.suffix == ".py" or p in data)
    ]


def _add(archive: zipfile.ZipFile, name: str, data: str | bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build_autograder(rubric_file: Path, out: Path) -> Bundle:
    """Write the autograder zip for `rubric_file` to `out` (atomically)."""
    rubric = load_rubric(rubric_file)  # a broken rubric fails here, not on Gradescope
    chain = rubric_chain(rubric_file)
    staff_ids = engine_checks(rubric.checks)
    staff = tuple(c for c in rubric.checks if c.id in staff_ids)
    autograded = tuple(c for c in rubric.checks if c.id not in staff_ids)
    run = RUN_AUTOGRADER.replace("@RUBRIC@", shlex.quote(chain[0].name))
    about = {
        "grader_version": grader.__version__,
        "milestone": rubric.milestone,
        "rubric": f"rubrics/{chain[0].name}",
        "rubric_hash": rubric.hash,
        "autograded_checks": [c.id for c in autograded],
        "autograded_points": round(sum(c.points for c in autograded), 2),
        "staff_checks": [c.id for c in staff],
        "staff_points": round(sum(c.points for c in staff), 2),
        "manual_items": [m.id for m in rubric.manual],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    names: list[str] = []
    with zipfile.ZipFile(tmp, "w") as archive:

        def add(name: str, data: str | bytes, executable: bool = False) -> None:
            _add(archive, name, data, executable)
            names.append(name)

        add("setup.sh", SETUP_SH.replace("@VENV@", VENV), executable=True)
        add("run_autograder", run.replace("@VENV@", VENV), executable=True)
        pending = pending_review_json(PENDING_REASON, "see the autograder's stdout")
        add("pending_review.json", json.dumps(pending, indent=2) + "\n")
        add("autograder.json", json.dumps(about, indent=2) + "\n")
        for path in chain:
            add(f"rubrics/{path.name}", path.read_bytes())
        add("grader-kit/pyproject.toml", kit_pyproject())
        for name, path in _package_files():
            add(name, path.read_bytes())
    tmp.replace(out)
    return Bundle(out, rubric, autograded, staff, tuple(names))


def _project_root(submission: Path) -> Path:
    """The submitted repository: the folder itself, or the one folder a zip upload wrapped."""
    if (submission / ".git").is_dir() or (submission / MANIFEST_NAME).is_file():
        return submission
    entries = [p for p in submission.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return submission


@contextlib.contextmanager
def submission_repo(submission: Path) -> Iterator[Path]:
    """A git repository of the submission, in a scratch copy (the submission is never touched).

    A submission uploaded from GitHub is a checkout with `.git`: its HEAD is graded.
    Uploaded files have no history: the copy gets one commit of them, so that the
    grader can grade a commit (checks of the commit history then see that one commit).
    """
    if not submission.is_dir():
        raise ConfigError("submission", submission, [f"{submission}: no such folder"])
    scratch = Path(tempfile.mkdtemp(prefix="grader-submission-"))
    try:
        copy = scratch / "submission"
        shutil.copytree(_project_root(submission), copy, symlinks=True)
        if not (copy / ".git").is_dir():
            with contextlib.suppress(FileNotFoundError):
                (copy / ".git").unlink()  # a worktree's pointer to a repository not uploaded
            _commit_files(copy)
        yield copy
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _commit_files(repo: Path) -> None:
    identity = ["-c", "user.name=Gradescope submission", "-c", "user.email=submission@invalid"]
    quiet = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false"]
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    git("add", "--all", cwd=repo)
    git(*identity, *quiet, "commit", "--quiet", "--allow-empty", "-m", "Submission", cwd=repo)


def grade_submission(
    submission: Path, rubric_file: Path, results: Path, on_result: OnResult | None = None
) -> GradeResult | None:
    """Grade a Gradescope submission without Docker and write results.json.

    Whatever goes wrong (a broken rubric, a submission that cannot be read, a crash of
    the grader) ends in a valid results.json that says the grade is pending review by
    course staff, with the cause for staff in `extra_data`; then None is returned.
    """
    start = time.monotonic()
    try:
        rubric = load_rubric(rubric_file)
        with submission_repo(submission) as repo:
            result = grade(str(repo), rubric, Options(engine=False), on_result=on_result)
        result = result.model_copy(update={"target": str(submission)})
        write_results_json(result, results)
        return result
    except BaseException as exc:
        trace = traceback.format_exc()
        print(trace, flush=True)  # stdout: instructors see it on Gradescope, students do not
        reason = f"{type(exc).__name__}: {exc}"
        elapsed = round(time.monotonic() - start, 3)
        write_pending_review(results, reason, trace[-8000:], elapsed)
        if not isinstance(exc, Exception):
            raise
        return None
