"""Remove the files of options that were not selected, then make the first git commit.

The first commit is only for a bake by hand (`cookiecutter`). cruft renders the template
again to compute every update (the team's version and the new one, in temporary folders):
a git repository made there would put `.git/` internals into the update's diff, and the
update would never apply. cruft marks its renders with `_commit` in the context; then the
hook leaves git alone (`grader teams create` makes the first commit itself).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TASK = {{ cookiecutter.task | tojson }}
LICENSE = {{ cookiecutter.license | tojson }}
INCLUDE_COMPOSE = {{ "True" if cookiecutter.include_compose else "False" }}
KIT_REPOSITORY = {{ cookiecutter.kit_repository | tojson }}
RENDERED_BY_CRUFT = {{ "True" if cookiecutter.get("_commit") is not none else "False" }}
DATASETS = {
    "classification": ("data/wine.csv", "data/wine_holdout.csv"),
    "regression": ("data/diabetes.csv", "data/diabetes_holdout.csv"),
}

FALLBACK_IDENTITY = ("-c", "user.name=Capstone Template", "-c", "user.email=template@example.invalid")


def remove(path: str) -> None:
    target = Path(path)
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


def prune() -> None:
    for task, paths in DATASETS.items():
        if task != TASK:
            for path in paths:
                remove(path)
    if LICENSE == "none":
        remove("LICENSE")
    if not INCLUDE_COMPOSE:
        remove("compose.yaml")
    if not KIT_REPOSITORY.strip():
        remove(".github/workflows/grade.yml")  # no course kit to call: it could only fail


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def first_commit() -> None:
    """Commit the generated files; skipped quietly when git is missing or fails."""
    if shutil.which("git") is None:
        print("git not found: skipping the first commit (run `git init` yourself).")
        return
    if Path(".git").exists():
        return
    if git("init", "--quiet", "--initial-branch=main").returncode != 0:
        if git("init", "--quiet").returncode != 0:
            print("git init failed: skipping the first commit.")
            return
    git("add", "--all")
    identity: tuple[str, ...] = ()
    if not git("config", "user.email").stdout.strip() or not git("config", "user.name").stdout.strip():
        identity = FALLBACK_IDENTITY
    done = git(*identity, "commit", "--quiet", "--no-verify", "-m", "Start from the MLOps capstone template")
    if done.returncode != 0:
        print(f"git commit failed, commit yourself:\n{done.stderr.strip()}")


if __name__ == "__main__":
    prune()
    if not RENDERED_BY_CRUFT:
        first_commit()
