"""Self-test of a rubric: every check passes on a reference repo and fails on a mutant of it.

A mutant is the reference broken in one known way (a deleted test file, a broken
Dockerfile, `/predict` answering 500, an empty tracking store, ...). A check that no
mutant makes fail may be a check that cannot fail; a check that fails on the reference
is wrong or the reference is. `grader rubric validate RUBRIC --against REPO` prints both.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.grade import Options, grade
from grader.manifest import MANIFEST_NAME, Manifest, load_manifest
from grader.results import CheckResult, GradeResult
from grader.rubric import ResolvedCheck, Rubric

# Families whose checks take seconds: every mutant is graded on all of them, so a
# mutant that breaks more than it should is caught there too.
CHEAP_FAMILIES = ("repo", "ci", "tracking")
# Not graded on every mutant: consistency loads the model in a sandbox (minutes), and a
# mutant is a new commit that was never pushed, so it has no CI run on GitHub.
EXPENSIVE = ("tracking.consistency", "ci.run_status")
FAKE_AWS_KEY = 'AWS_ACCESS_KEY_ID = "AKIAZ3MSJV4WDQ7EXMPL"\n'
MUTANT_AUTHOR = "Self Test"


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    breaks: frozenset[str]
    apply: Callable[[Path, Manifest], None]
    may_break: frozenset[str] = frozenset()


def _delete_data_tests(repo: Path, manifest: Manifest) -> None:
    for rel in manifest.tests.kinds.get("data", ()):
        target = repo / rel
        if target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)


def _break_dockerfile(repo: Path, manifest: Manifest) -> None:
    dockerfile = repo / (manifest.service.dockerfile if manifest.service else "Dockerfile")
    dockerfile.write_text("FRUM python:3.11-slim\n" + dockerfile.read_text(encoding="utf-8"))


PREDICT_500 = """\
@app.middleware("http")
async def _self_test_mutant(request, call_next):
    from fastapi.responses import JSONResponse

    if request.url.path.startswith("{path}"):
        return JSONResponse({{"detail": "mutant"}}, status_code=500)
    return await call_next(request)
"""


def _predict_500(repo: Path, manifest: Manifest) -> None:
    """Register a middleware answering 500 on the predict path, wherever the app is made."""
    path = manifest.service.predict_path if manifest.service else "/predict"
    block = PREDICT_500.format(path=path)
    for module in sorted(repo.glob("src/**/*.py")) + sorted(repo.glob("*.py")):
        text = module.read_text(encoding="utf-8")
        if "FastAPI(" not in text:
            continue
        factory = re.search(r"(?m)^(\s+)return app\s*$", text)
        if factory:  # the app is built in a function: register before it is returned
            indented = textwrap.indent(block, factory.group(1))
            text = text[: factory.start()] + indented + text[factory.start() :]
        elif re.search(r"(?m)^app\s*=\s*FastAPI\(", text):
            text += "\n\n" + block
        else:
            continue
        module.write_text(text, encoding="utf-8")
        return
    raise ValueError("no module that builds a FastAPI `app` was found")


def _store_paths(repo: Path, manifest: Manifest) -> list[Path]:
    uri = manifest.tracking.uri if manifest.tracking else "sqlite:///mlflow.db"
    local = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else uri
    return [repo / local, repo / "mlruns", repo / "mlartifacts"]


def _empty_store(repo: Path, manifest: Manifest) -> None:
    for path in _store_paths(repo, manifest):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _remove_alias(repo: Path, manifest: Manifest) -> None:
    from mlflow import MlflowClient

    assert manifest.tracking is not None
    db = _store_paths(repo, manifest)[0]
    client = MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")
    client.delete_registered_model_alias(
        manifest.tracking.registered_model, manifest.tracking.alias
    )


def _ci_or_true(repo: Path, manifest: Manifest) -> None:
    for workflow in sorted((repo / ".github" / "workflows").glob("*.y*ml")):
        text = workflow.read_text(encoding="utf-8")
        changed = re.sub(r"(run:\s*make test)\s*$", r"\1 || true", text, flags=re.MULTILINE)
        workflow.write_text(changed, encoding="utf-8")


def _big_file(repo: Path, manifest: Manifest) -> None:
    (repo / "data").mkdir(exist_ok=True)
    (repo / "data" / "raw_dump.bin").write_bytes(os.urandom(10 * 1024 * 1024))


def _cloud_key(repo: Path, manifest: Manifest) -> None:
    (repo / "deploy_settings.py").write_text(FAKE_AWS_KEY, encoding="utf-8")


def _silent_member(repo: Path, manifest: Manifest) -> None:
    path = repo / MANIFEST_NAME
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["team"]["members"].append({"name": "Grace Hopper", "github": "ghopper"})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _skeleton_proposal(repo: Path, manifest: Manifest) -> None:
    rel = manifest.docs.proposal or "docs/proposal.md"
    skeleton = (
        "# Project proposal\n\n## Problem\n_Who has the problem?_\n\n## Data\n_Where from?_\n"
    )
    (repo / rel).write_text(skeleton, encoding="utf-8")


def _broken_manifest(repo: Path, manifest: Manifest) -> None:
    (repo / MANIFEST_NAME).write_text("version: 1\nteam: {name: ''}\n", encoding="utf-8")


def _no_readme_sections(repo: Path, manifest: Manifest) -> None:
    readme = repo / "README.md"
    text = readme.read_text(encoding="utf-8")
    readme.write_text(re.sub(r"(?m)^#+\s+", "", text), encoding="utf-8")


def _no_dockerignore(repo: Path, manifest: Manifest) -> None:
    (repo / ".dockerignore").unlink()


def _no_precommit_hooks(repo: Path, manifest: Manifest) -> None:
    path = repo / ".pre-commit-config.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for entry in config.get("repos", []):
        entry["hooks"] = [h for h in entry.get("hooks", []) if not h["id"].startswith("ruff")]
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _lint_error(repo: Path, manifest: Manifest) -> None:
    (repo / "scratch.py").write_text("import os\n", encoding="utf-8")


def _invalid_workflow(repo: Path, manifest: Manifest) -> None:
    (repo / ".github" / "workflows" / "broken.yml").write_text(
        "name: broken\non: push\njobs: 3\n", encoding="utf-8"
    )


def _deleted_tests(repo: Path, manifest: Manifest) -> None:
    for test in repo.glob("tests/*.py"):
        test.unlink()


def _runs_as_root(repo: Path, manifest: Manifest) -> None:
    dockerfile = repo / (manifest.service.dockerfile if manifest.service else "Dockerfile")
    text = dockerfile.read_text(encoding="utf-8")
    dockerfile.write_text(re.sub(r"(?m)^USER .*$", "USER root", text), encoding="utf-8")


def _failing_test(repo: Path, manifest: Manifest) -> None:
    (repo / "tests" / "test_self_test_mutant.py").write_text(
        "def test_mutant_fails():\n    assert 1 == 2\n", encoding="utf-8"
    )


SERVICE = frozenset({"service.bad_input", "service.fuzz", "service.openapi", "service.latency"})
MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "deleted-data-tests",
        "the data tests are deleted",
        frozenset({"tests.kinds"}),
        _delete_data_tests,
        frozenset({"tests.coverage", "tests.count"}),
    ),
    Mutant(
        "broken-dockerfile",
        "the Dockerfile has a syntax error",
        frozenset({"container.build", "container.lint"}),
        _break_dockerfile,
    ),
    Mutant(
        "predict-500",
        "/predict answers 500",
        frozenset({"service.examples"}),
        _predict_500,
        SERVICE | {"tracking.consistency", "service.deployed"},
    ),
    Mutant(
        "empty-store",
        "the tracking store is deleted",
        frozenset({"tracking.experiment"}),
        _empty_store,
    ),
    Mutant(
        "no-alias",
        "the champion alias is removed",
        frozenset({"tracking.registered_model"}),
        _remove_alias,
        frozenset({"tracking.*", "service.model_info"}),
    ),
    Mutant(
        "ci-or-true",
        "`|| true` is added to the CI test step",
        frozenset({"ci.anti_patterns"}),
        _ci_or_true,
    ),
    Mutant(
        "big-file",
        "a 10 MB file is committed",
        frozenset({"repo.large_files"}),
        _big_file,
        frozenset({"precommit.run"}),
    ),
    Mutant("cloud-key", "a fake cloud key is committed", frozenset({"repo.secrets"}), _cloud_key),
    Mutant("silent-member", "a member has no commits", frozenset({"repo.commits"}), _silent_member),
    Mutant(
        "skeleton-proposal",
        "the proposal is the template's skeleton",
        frozenset({"repo.doc_filled"}),
        _skeleton_proposal,
    ),
)


@dataclass
class MutantOutcome:
    mutant: Mutant
    result: GradeResult | None
    problem: str | None = None
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    collateral: list[str] = field(default_factory=list)


@dataclass
class SelfTest:
    reference: GradeResult
    mutants: list[MutantOutcome]

    def failing_on_reference(self) -> list[CheckResult]:
        return [r for r in self.reference.checks if r.status != "passed"]

    def never_failed(self, rubric: Rubric) -> list[str]:
        caught = {c for m in self.mutants for c in m.caught}
        return [c.id for c in rubric.checks if c.id not in caught]

    @property
    def ok(self) -> bool:
        return not self.failing_on_reference() and all(
            not m.problem and not m.missed and not m.collateral for m in self.mutants
        )


def _matches(name: str, patterns: frozenset[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _family(check: ResolvedCheck) -> str:
    return check.check.split(".")[0]


def _selection(rubric: Rubric, mutant: Mutant) -> set[str]:
    """Cheap checks, the checks the mutant targets, and everything those need."""
    names = mutant.breaks | mutant.may_break
    wanted = {
        c.id for c in rubric.checks if _family(c) in CHEAP_FAMILIES or _matches(c.check, names)
    }
    by_id = {c.id: c for c in rubric.checks}
    todo = list(wanted)
    while todo:
        for need in by_id[todo.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                todo.append(need)
    return wanted


def _mutate(reference: Path, mutant: Mutant, into: Path) -> Path:
    clone = into / mutant.name
    _git("clone", "--quiet", str(reference), str(clone))
    mutant.apply(clone, load_manifest(clone / MANIFEST_NAME))
    _git("-C", str(clone), "add", "-A", "--force")
    _git(
        "-C",
        str(clone),
        "-c",
        f"user.name={MUTANT_AUTHOR}",
        "-c",
        "user.email=selftest@example.invalid",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"self-test mutant: {mutant.description}",
    )
    return clone


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True, text=True)


def _judge(outcome: MutantOutcome, reference: GradeResult, rubric: Rubric) -> None:
    assert outcome.result is not None
    before = {r.id: r.status for r in reference.checks}
    names = {c.id: c.check for c in rubric.checks}
    broken = {r.id for r in outcome.result.checks if r.status in ("failed", "blocked")}
    targeted = {cid for cid in broken if names[cid] in outcome.mutant.breaks}
    outcome.caught = sorted(targeted)
    hit = {names[cid] for cid in targeted}
    outcome.missed = sorted(
        n for n in outcome.mutant.breaks if n in names.values() and n not in hit
    )
    allowed = outcome.mutant.breaks | outcome.mutant.may_break
    outcome.collateral = sorted(
        f"{r.id} {r.status}: {r.message}"
        for r in outcome.result.checks
        if r.status != before.get(r.id)
        and not _matches(names[r.id], allowed)
        and not (r.status == "blocked" and r.evidence.get("root_cause") in broken)
    )


def run_selftest(
    rubric: Rubric,
    reference: Path,
    options: Options,
    only_mutants: set[str] | None = None,
    on_mutant: Callable[[MutantOutcome], None] | None = None,
    reference_result: GradeResult | None = None,
) -> SelfTest:
    ref = reference_result or grade(str(reference), rubric, options)
    in_rubric = {c.check for c in rubric.checks}
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="grader-selftest-") as tmp:
        for mutant in MUTANTS:
            if (only_mutants and mutant.name not in only_mutants) or not (
                mutant.breaks & in_rubric
            ):
                continue
            outcome = MutantOutcome(mutant, None)
            try:
                clone = _mutate(reference, mutant, Path(tmp))
                changes = {"only": _selection(rubric, mutant), "ref": None, "deadline": None}
                sub = Options(**{**options.__dict__, **changes})
                outcome.result = grade(str(clone), rubric, sub)
                _judge(outcome, ref, rubric)
            except Exception as exc:  # a mutant that cannot be made is reported, not fatal
                outcome.problem = f"{type(exc).__name__}: {exc}"
            outcomes.append(outcome)
            if on_mutant:
                on_mutant(outcome)
    return SelfTest(ref, outcomes)
