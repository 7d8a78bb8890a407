"""Build the reference team: a repository from the template with a semester's work done.

It is what a diligent team hands in: every member commits, the documents are written
(each italic prompt of the template answered), the model is trained twice and the
tracking store, the registered champion and the exported bundle are committed, and the
release is tagged. `make demo`, the end-to-end tests, the grader's self-test and the
benchmarks all start from it.

    python scripts/reference_team.py DEST [--no-train]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
MEMBERS = (("Ada Lovelace", "ada-lovelace"), ("Alan Turing", "aturing"))
CONTEXT = {
    "project_name": "Wine Quality Service",
    "team_name": "Team Reference",
    "members": ", ".join(f"{name} <{handle}>" for name, handle in MEMBERS),
}
ANSWER = (
    "The team answered this part of the template after two weeks of work with the data. "
    "Wine buyers at a regional cooperative sort incoming lots by cultivar before pricing them; "
    "today a chemist does it by hand, which takes a day per lot and delays payment. Our "
    "service predicts the cultivar from thirteen laboratory measurements in milliseconds, "
    "reports how confident it is, and leaves the final call to the chemist when the "
    "confidence is low. We measure success with macro F1 on a held-out split, watch drift "
    "of every feature in production, and review the model each month with the chemists."
)
PROMPT = re.compile(r"(?ms)^[_*][^\n].*?[_*]\s*$")


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    # The team's store is its own mlflow.db: no MLflow setting of the caller applies.
    base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(cmd, cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def commit_as(repo: Path, member: int, message: str, *paths: str) -> None:
    name, handle = MEMBERS[member]
    email = f"{handle}@users.noreply.github.com"
    ident = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    run(["git", "add", "--force", *(paths or ["-A"])], repo)
    run(["git", "commit", "-q", "--no-verify", "-m", message], repo, ident)


def bake(dest: Path) -> Path:
    from cookiecutter.main import cookiecutter

    dest.mkdir(parents=True, exist_ok=True)
    return Path(cookiecutter(str(KIT), no_input=True, output_dir=str(dest), extra_context=CONTEXT))


def write_documents(repo: Path) -> None:
    """Answer every italic prompt of the documents and drop the template's instructions."""
    for doc in sorted((repo / "docs").glob("*.md")):
        text = PROMPT.sub(ANSWER, doc.read_text(encoding="utf-8"))
        # The template's instructions to the team ("Replace ...", "Fill in ...") go, as a
        # team that did the work would delete them.
        kept = (ln for ln in text.splitlines() if not re.search(r"Replace|Fill in", ln))
        text = "\n".join(kept) + "\n"
        doc.write_text(text, encoding="utf-8")


def train(repo: Path, times: int = 2) -> None:
    run(["make", "setup"], repo)
    for _ in range(times):
        run(["make", "train"], repo)


def build(dest: Path, *, do_train: bool = True) -> Path:
    repo = bake(dest)
    write_documents(repo)
    commit_as(repo, 0, "Write the proposal, data card, model card and monitoring plan")
    if do_train:
        train(repo)
        commit_as(repo, 1, "Train and register the champion model", "mlflow.db", "mlruns", "model")
    run(["git", "tag", "v1.0"], repo)
    return repo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args(argv)
    print(build(args.dest, do_train=not args.no_train))
    return 0


if __name__ == "__main__":
    sys.exit(main())
