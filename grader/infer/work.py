"""The rest of a team's work: who made it (git authors), how it trains, its documents and data."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from grader.infer.draft import Draft
from grader.infer.files import RepoFiles

NOREPLY = re.compile(r"^(?:\d+\+)?([A-Za-z0-9-]+)@users\.noreply\.github\.com$", re.I)
SEED = re.compile(r"(?:random_state|seed|SEED)\s*(?:=|,)\s*['\"]?(\d+)")
ARTIFACT = re.compile(
    r"(?:joblib|pickle|cloudpickle)\.dump\([^)]*?['\"]([\w./-]+\.(?:joblib|pkl|pickle))['\"]"
)
DOCS = {
    "docs.proposal": ("*proposal*.md",),
    "docs.data_card": ("*data_card*.md", "*datacard*.md", "*data-card*.md"),
    "docs.model_card": ("*model_card*.md", "*modelcard*.md", "*model-card*.md"),
    "docs.monitoring": ("*monitoring*.md",),
}
DATA = ("*.csv", "*.parquet", "*.dvc")


def infer_team(root: Path, draft: Draft, name: str | None = None) -> None:
    draft.set("team.name", name or _repo_name(root), "the repository's name", "medium")
    authors = _authors(root)
    if not authors:
        draft.missing("team.members", "no commits to read authors from")
        return
    members = _people(authors)
    draft.set("team.members", members, "git log (commit authors)", "low")
    if any(m.get("github") is None for m in members):
        draft.todo["team.members"] = "GitHub handles of authors who commit with another address"


def _people(authors: list[tuple[str, str]]) -> list[dict[str, object]]:
    """One member per person: the addresses one name commits with are merged, and an author
    whose name is a GitHub handle seen in a noreply address is that handle's member."""

    def key(name: str) -> str:
        return " ".join(name.lower().split())

    github: dict[str, str] = {}  # member key -> handle
    same: dict[str, str] = {}  # handle (lowercase) -> member key
    for name, email in authors:
        if handle := NOREPLY.match(email):
            github[key(name)] = handle.group(1)
            same[handle.group(1).lower()] = key(name)
    names: dict[str, str] = {}
    emails: dict[str, list[str]] = {}
    for name, email in authors:
        who = same.get(name.lower(), key(name))
        names.setdefault(who, name)
        if not NOREPLY.match(email):
            emails.setdefault(who, []).append(email)
    out: list[dict[str, object]] = []
    for who, name in names.items():
        member: dict[str, object] = {"name": name, "github": github.get(who)}
        addresses = emails.get(who, [])
        if addresses:
            member["email"] = addresses[0]
        if len(addresses) > 1:
            member["emails"] = addresses[1:]
        out.append(member)
    return out


def _repo_name(root: Path) -> str:
    return repo_name(str(root.resolve()))


def repo_name(source: str) -> str:
    """team-07 from ../team-07, https://github.com/org/team-07.git or git@host:org/team-07."""
    return re.split(r"[/:]", source.rstrip("/"))[-1].removesuffix(".git") or "team"


def _authors(root: Path) -> list[tuple[str, str]]:
    if not (root / ".git").exists():
        return []
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "log", "--format=%aN%x00%aE"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    seen: dict[str, tuple[str, str]] = {}
    for line in done.stdout.splitlines():
        name, _, email = line.partition("\0")
        key = email.lower()
        if key and key not in seen and "[bot]" not in name:
            seen[key] = (name, email)
    return sorted(seen.values())


def infer_training(files: RepoFiles, draft: Draft) -> None:
    makefile = files.text("Makefile") or ""
    for number, line in enumerate(makefile.splitlines(), 1):
        if re.match(r"^train\s*:", line):
            draft.set("training.command", "make train", f"Makefile:{number}")
            break
    scripts = [
        p for p in files.glob("train.py", "train_model.py", "training.py") if "test" not in p
    ]
    for rel in sorted(scripts, key=lambda p: p.count("/")):
        draft.set("training.command", _run_command(rel), rel, "medium")
        break
    for rel in [*scripts, *files.python_files()]:
        text = files.text(rel) or ""
        if (seed := SEED.search(text)) and "training.command" in draft.found:
            draft.set(
                "training.seed", int(seed.group(1)), f"{rel}:{_line(text, seed.start())}", "medium"
            )
        if artifact := ARTIFACT.search(text):
            draft.set(
                "training.artifact",
                artifact.group(1),
                f"{rel}:{_line(text, artifact.start())}",
                "medium",
            )


def infer_build_steps(files: RepoFiles, draft: Draft) -> None:
    """A model file the training writes but the repository does not hold (gitignored) must be
    made before the image builds: the training's commands become build steps."""
    artifact = draft.value("training.artifact")
    command = draft.value("training.command")
    if not draft.has("service.dockerfile") or not artifact or not command or files.exists(artifact):
        return
    steps, where = [command], draft.found["training.command"].source
    if command.startswith("make "):
        recipe = _recipe(files.text("Makefile") or "", command.split()[1])
        if not recipe:
            return
        steps = recipe  # slim images have no make
    draft.set("service.build_steps", steps, f"{where}: {artifact} is not committed", "medium")
    draft.set(
        "service.build_outputs", [artifact], draft.found["training.artifact"].source, "medium"
    )


def _recipe(makefile: str, target: str) -> list[str]:
    lines = makefile.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"^{re.escape(target)}\s*:", line):
            recipe = []
            for body in lines[i + 1 :]:
                if not body.startswith("\t"):
                    break
                recipe.append(body.strip().lstrip("@-"))
            return [r for r in recipe if r and "$" not in r]
    return []


def _run_command(rel: str) -> str:
    if rel.startswith("src/") and rel.count("/") >= 2:
        return "python -m " + rel.removeprefix("src/").removesuffix(".py").replace("/", ".")
    return f"python {rel}"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def infer_docs(files: RepoFiles, draft: Draft) -> None:
    for path, patterns in DOCS.items():
        found = sorted(files.glob(*patterns), key=lambda p: (p.count("/"), p))
        if found:
            draft.set(path, found[0], found[0])
        else:
            draft.set(path, None, f"no file named like {patterns[0]}")


def infer_data(files: RepoFiles, draft: Draft) -> None:
    found = [p for p in files.glob(*DATA) if p.split("/")[0] in ("data", "dataset", "datasets")]
    if found:
        draft.set("data.paths", sorted(found), "files under data/", "medium")
    holdout = [p for p in found if re.search(r"holdout|held_out|test", Path(p).name)]
    if holdout:
        draft.set("evaluation.data", holdout, holdout[0], "low")
        draft.missing("evaluation.target", "the column the model predicts")
