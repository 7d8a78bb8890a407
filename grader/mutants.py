"""The self-test's mutants: the reference team broken in one known way each.

Each mutant names the checks it must break (`breaks`) and those it may take down with
them (`may_break`); `grader.selftest` grades every mutant and compares. Some mutants train
again (a changed training must leave a store that matches it): they run the reference's own
training command with the reference's virtual environment, on the host, as the course's
own trusted code.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.manifest import MANIFEST_NAME, Manifest
from grader.mutantsmodel import (
    lenient_api_tests,
    raise_logged_metric,
    store_paths,
    train_split_metric,
    unseeded_training,
)

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


def _empty_store(repo: Path, manifest: Manifest) -> None:
    for path in store_paths(repo, manifest):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _remove_alias(repo: Path, manifest: Manifest) -> None:
    from mlflow import MlflowClient

    assert manifest.tracking is not None
    assert manifest.tracking.registered_model is not None
    db = store_paths(repo, manifest)[0]
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


# --- mutants of the numbers the grader measures itself ---------------------------------------


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
    Mutant(
        "tampered-store",
        "the champion's metric is raised by SQL in the tracking store",
        frozenset({"tracking.reproduce", "tracking.evaluate"}),
        raise_logged_metric,
    ),
    Mutant(
        "train-split-metric",
        "the metrics are logged on the training rows",
        frozenset({"tracking.evaluate"}),
        train_split_metric,
    ),
    Mutant(
        "unseeded-training",
        "training draws its rows without a seed",
        frozenset({"tracking.reproduce"}),
        unseeded_training,
    ),
    Mutant(
        "lenient-api-tests",
        "the API tests accept a server error and ignore the answers",
        frozenset({"tests.sensitivity"}),
        lenient_api_tests,
    ),
)
