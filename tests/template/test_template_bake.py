"""Baking the template: every option combination, exact file sets, the manifest, the hooks.

Fast: no venv, no Docker. The generated repo's own lint and tests are in
test_template_repo.py, its image in test_template_image.py.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.manifest import load_manifest
from tests.template.template_helpers import KIT, bake, run

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
COMMON = {
    ".dockerignore",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "Dockerfile",
    "Makefile",
    "README.md",
    "capstone.yaml",
    "docs/data_card.md",
    "docs/model_card.md",
    "docs/monitoring.md",
    "docs/proposal.md",
    "pyproject.toml",
    "scripts/smoke.py",
    "tests/conftest.py",
    "tests/fixtures/corrupted.csv",
    "tests/test_api.py",
    "tests/test_data.py",
    "tests/test_model.py",
    "tests/test_monitoring.py",
    "tests/test_train.py",
    "uv.lock",
}
MODULES = (
    "__init__.py",
    "api.py",
    "bundle.py",
    "config.py",
    "data.py",
    "modeling.py",
    "monitoring.py",
    "observability.py",
    "py.typed",
    "schema.py",
    "serve.py",
    "train.py",
)
DATA = {
    "classification": ("data/wine.csv", "data/wine_holdout.csv"),
    "regression": ("data/diabetes.csv", "data/diabetes_holdout.csv"),
}
# GitHub Actions expressions are the only `${{` meant to survive rendering.
LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|%\}")

COMBINATIONS = [
    {"task": task, "python_version": python, "include_compose": compose}
    for task, python, compose in itertools.product(
        ["classification", "regression"], ["3.11", "3.13"], [True, False]
    )
]


def expected_files(package: str, task: str, compose: bool, license_: str) -> set[str]:
    files = COMMON | {f"src/{package}/{name}" for name in MODULES} | set(DATA[task])
    if compose:
        files.add("compose.yaml")
    if license_ != "none":
        files.add("LICENSE")
    return files


def tracked_files(repo: Path) -> set[str]:
    out = run(["git", "ls-files"], cwd=repo).stdout
    return set(out.split())


def on_disk(repo: Path) -> set[str]:
    return {
        str(p.relative_to(repo))
        for p in repo.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def combo_id(combo: dict[str, Any]) -> str:
    compose = "compose" if combo["include_compose"] else "nocompose"
    return f"{combo['task']}-py{combo['python_version']}-{compose}"


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combo_id)
def test_bake_combination(cookies: Any, combo: dict[str, Any]) -> None:
    repo = bake(cookies, **combo)
    files = expected_files("wine_service", combo["task"], combo["include_compose"], "MIT")
    assert on_disk(repo) == files
    assert tracked_files(repo) == files, "the post-gen hook commits every file"

    for name in sorted(files):
        text = (repo / name).read_text(encoding="utf-8")
        assert not LEFTOVER.search(text), f"template syntax left in {name}"

    manifest = load_manifest(repo / "capstone.yaml")
    assert manifest.team.name == "Team Rocket"
    assert [(m.name, m.github) for m in manifest.team.members] == [
        ("Ada Lovelace", "ada-lovelace"),
        ("Grace Hopper", "ghopper"),
    ]
    assert manifest.tracking is not None
    metric = manifest.tracking.primary_metric
    if combo["task"] == "classification":
        assert (metric.name, metric.direction) == ("f1_macro", "maximize")
    else:
        assert (metric.name, metric.direction) == ("rmse", "minimize")
    assert manifest.data.paths == DATA[combo["task"]]
    assert manifest.evaluation is not None
    assert manifest.evaluation.data == DATA[combo["task"]][1:]
    assert manifest.training is not None
    assert manifest.training.seed == 42
    assert manifest.training.artifact == "model/model.joblib"
    for path in [*manifest.tests.paths, *manifest.data.paths, manifest.docs.proposal]:
        assert path is not None
        assert (repo / path).exists(), path

    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    # One lock for every team: it resolves from 3.11 up; .python-version picks the version.
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert (repo / ".python-version").read_text() == f"{combo['python_version']}\n"
    assert all("==" in dep for dep in pyproject["project"]["dependencies"])
    dockerfile = (repo / "Dockerfile").read_text()
    assert f"FROM python:{combo['python_version']}-slim AS runtime" in dockerfile
    # The runtime's user and dependencies come before the team's labels: every team with
    # the same lock shares those layers (built and scanned once).
    runtime = dockerfile.split(" AS runtime", 1)[1]
    assert runtime.index("COPY --from=deps /opt/venv") < runtime.index("LABEL ")
    workflow = yaml.safe_load((repo / ".github/workflows/ci.yml").read_text())
    assert workflow["env"]["PYTHON_VERSION"] == combo["python_version"]
    assert workflow["concurrency"]["group"] == "${{ github.workflow }}-${{ github.ref }}"
    assert workflow["permissions"] == {"contents": "read"}
    if combo["include_compose"]:
        compose = yaml.safe_load((repo / "compose.yaml").read_text())
        assert set(compose["services"]) == {"api", "mlflow"}

    # The generated Python is lint- and format-clean as generated (the kit's ruff pin is
    # the same as the template's pre-commit pin).
    run([str(VENV_BIN / "ruff"), "check", "--no-cache", "."], cwd=repo)
    run([str(VENV_BIN / "ruff"), "format", "--no-cache", "--check", "."], cwd=repo)


@pytest.mark.parametrize("slug", ["wine-quality", "team_7_fraud"])
def test_the_lock_matches_the_generated_pyproject(cookies: Any, slug: str) -> None:
    """uv accepts the committed lock as it is (`make setup` runs `uv sync --locked`), for a
    slug with hyphens and one with underscores (the lock holds the normalized name)."""
    result = cookies.bake(extra_context={"project_slug": slug})
    assert result.exit_code == 0, result.exception
    repo = Path(result.project_path)
    run([str(VENV_BIN / "uv"), "lock", "--check", "--offline"], cwd=repo)
    lock = tomllib.loads((repo / "uv.lock").read_text())
    project = [p for p in lock["package"] if p.get("source") == {"editable": "."}]
    assert [p["name"] for p in project] == [slug.replace("_", "-")]


@pytest.mark.parametrize("license_", ["MIT", "Apache-2.0", "BSD-3-Clause", "none"])
def test_license_choice(cookies: Any, license_: str) -> None:
    repo = bake(cookies, license=license_)
    assert on_disk(repo) == expected_files("wine_service", "classification", True, license_)
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    if license_ == "none":
        assert "license" not in pyproject["project"]
        return
    assert pyproject["project"]["license"] == license_
    text = (repo / "LICENSE").read_text()
    first = {"MIT": "MIT License", "BSD-3-Clause": "BSD 3-Clause License"}.get(license_)
    assert text.startswith(first) if first else "Apache License" in text.splitlines()[0]
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_defaults_derive_slug_and_package(cookies: Any) -> None:
    result = cookies.bake(extra_context={"project_name": "Fraud Detection v2"})
    assert result.exit_code == 0, result.exception
    repo = Path(result.project_path)
    assert repo.name == "fraud-detection-v2"
    assert (repo / "src" / "fraud_detection_v2" / "api.py").is_file()
    log = run(["git", "log", "--format=%s"], cwd=repo).stdout.strip()
    assert log == "Start from the MLOps capstone template"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"project_slug": "Wine-Service"}, "project_slug 'Wine-Service' is invalid"),
        ({"project_slug": "wine service"}, "project_slug 'wine service' is invalid"),
        ({"project_slug": "-wine"}, "project_slug '-wine' is invalid"),
        ({"package_name": "Wine_Service"}, "package_name 'Wine_Service' is invalid"),
        ({"package_name": "wine-service"}, "'wine-service' is not a valid Python identifier"),
        ({"package_name": "2wine"}, "'2wine' is not a valid Python identifier"),
        ({"package_name": "class"}, "'class' is a Python keyword"),
        ({"package_name": "json"}, "'json' shadows a standard-library module"),
        ({"members": "Ada Lovelace"}, "must be written 'Full Name <github-handle>'"),
        ({"members": "Ada <not a handle!>"}, "must be written 'Full Name <github-handle>'"),
        ({"members": "Ada <-bad->"}, "'-bad-' is not a GitHub handle"),
        ({"team_name": " "}, "team_name must not be empty"),
        ({"kit_repository": "my course/kit"}, "must be a GitHub repository as owner/name"),
        ({"kit_ref": "v1; rm -rf"}, "is not a tag, branch or commit name"),
        ({"milestone": "M 3"}, "'M 3' is not a milestone id"),
    ],
)
def test_invalid_answers_fail_with_the_hook_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], context: dict[str, str], message: str
) -> None:
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    with pytest.raises(FailedHookException, match="Hook script failed"):
        cookiecutter(
            str(KIT),
            no_input=True,
            output_dir=str(tmp_path),
            extra_context={"project_name": "Wine Service", **context},
        )
    err = capfd.readouterr().err
    assert message in err
    assert "nothing was generated" in err
    assert list(tmp_path.iterdir()) == [], "a failed bake leaves nothing behind"


def test_without_git_the_bake_still_works(
    cookies: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A PATH with only the Python interpreter on it: the post-gen hook finds no git.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = Path(subprocess.check_output(["which", "python3"], text=True).strip())
    (bin_dir / "python3").symlink_to(python)
    monkeypatch.setenv("PATH", str(bin_dir))
    repo = bake(cookies)
    assert not (repo / ".git").exists()
    assert (repo / "capstone.yaml").is_file()


def test_git_identity_fallback(cookies: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{who}_NAME", raising=False)
        monkeypatch.delenv(f"GIT_{who}_EMAIL", raising=False)
    repo = bake(cookies)
    author = run(["git", "log", "--format=%an <%ae>"], cwd=repo).stdout.strip()
    assert author == "Capstone Template <template@example.invalid>"


def test_prompts_cover_every_question() -> None:
    import json

    spec = json.loads((KIT / "cookiecutter.json").read_text())
    questions = {key for key in spec if not key.startswith("_")}
    assert questions == set(spec["__prompts__"])
    assert spec["python_version"][0] == "3.11"


def test_self_grading_workflow_calls_the_course_kit(cookies: Any) -> None:
    """With the course kit's repository, grade.yml calls its reusable workflow at the
    milestone; without one there is no workflow (it could only fail)."""
    repo = bake(cookies, kit_repository="my-course/capstone-kit", kit_ref="v2026.1", milestone="m2")
    workflow = yaml.safe_load((repo / ".github/workflows/grade.yml").read_text())
    job = workflow["jobs"]["grade"]
    assert job["uses"] == "my-course/capstone-kit/.github/workflows/self-grade.yml@v2026.1"
    assert job["with"] == {
        "milestone": "m2",
        "kit-repository": "my-course/capstone-kit",
        "kit-ref": "v2026.1",
        "python-version": "3.11",
    }
    assert workflow[True] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert "grade.yml" in run(["git", "ls-files"], cwd=repo).stdout
    kit_workflow = yaml.safe_load((KIT / ".github/workflows/self-grade.yml").read_text())
    assert set(job["with"]) <= set(kit_workflow[True]["workflow_call"]["inputs"])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_hadolint_and_workflow_schema(cookies: Any, task: str) -> None:
    repo = bake(
        cookies,
        task=task,
        python_version="3.13" if task == "regression" else "3.11",
        kit_repository="my-course/capstone-kit",
    )
    assert (repo / ".github" / "workflows" / "grade.yml").is_file()
    hadolint = run([str(VENV_BIN / "hadolint"), "Dockerfile"], cwd=repo, check=False)
    assert hadolint.returncode == 0, hadolint.stdout + hadolint.stderr
    assert hadolint.stdout.strip() == ""
    workflows = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    schema = [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    run([*schema, *workflows], cwd=repo)
