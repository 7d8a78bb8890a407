"""Repository checks: each passes on a tidy repo and fails, with its message, when broken."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.checks import repo
from grader.checks.base import Context, Outcome
from grader.checks.registry import REGISTRY
from grader.envcache import remove_cache_images
from grader.grade import Options, context_for
from grader.main import main
from grader.target import prepare
from tests.helpers import ANN, BO, MANIFEST, commit_all, git, team_files, write_rubric

MakeRepo = Callable[..., Path]


def run(repo_dir: Path, name: str, /, **params: Any) -> Outcome:
    """Run registry check `name` on the HEAD commit of `repo_dir`, as the grader would."""
    co = prepare(str(repo_dir))
    try:
        ctx: Context = context_for(co, Options(), "test")
        definition = REGISTRY[name]
        return definition.func(ctx, definition.params.model_validate(params))
    finally:
        co.close()


# --- repo.files ---------------------------------------------------------------------


def test_files_pass(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.files", paths=["README.md", "tests/test_*.py"])
    assert (out.status, out.message) == ("passed", "all 2 required files present")


def test_files_fail_with_partial_credit(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.files", paths=["README.md", "Dockerfile"])
    assert (out.status, out.fraction, out.message) == ("failed", 0.5, "missing: Dockerfile")


def test_files_from_manifest_path(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{"docs/proposal.md": "# Proposal\n"}))
    assert run(path, "repo.files", paths=["manifest:docs.proposal"]).status == "passed"
    out = run(path, "repo.files", paths=["manifest:docs.model_card"])
    assert out.message == "missing: docs/model_card.md"


def test_files_are_where_the_manifest_says_not_where_the_template_puts_them(
    make_repo: MakeRepo,
) -> None:
    manifest = MANIFEST + (
        "service:\n  dockerfile: infra/Dockerfile.api\n  examples: [{name: x, body: {}}]\n"
        "tests:\n  paths: [test, integration]\n"
    )
    files = {"capstone.yaml": manifest, "infra/Dockerfile.api": "FROM x\n", "test/t.py": ""}
    paths = ["manifest:service.dockerfile", "manifest:tests.paths"]
    out = run(make_repo(files), "repo.files", paths=paths)
    assert (out.status, out.fraction) == ("failed", 0.5)
    assert out.message == "missing: integration"  # every listed test path must exist
    out = run(make_repo({**files, "integration/t.py": ""}), "repo.files", paths=paths)
    assert (out.status, out.message) == ("passed", "all 2 required files present")


def test_uncommitted_files_are_not_graded(make_repo: MakeRepo) -> None:
    path = make_repo(team_files())
    (path / "Dockerfile").write_text("FROM scratch\n")
    out = run(path, "repo.files", paths=["Dockerfile"])
    assert out.message == "missing: Dockerfile"


def test_precommit_accepts_the_hooks_a_rubric_names_as_equivalent(make_repo: MakeRepo) -> None:
    config = (
        "repos:\n  - repo: https://github.com/psf/black\n    rev: 24.1.0\n"
        "    hooks: [{id: black}]\n"
    )
    path = make_repo({".pre-commit-config.yaml": config})
    params = {
        "hooks": ["ruff", "ruff-format"],
        "equivalents": {"ruff-format": ["black"], "ruff": ["flake8"]},
    }
    out = run(path, "precommit.config", **params)
    assert (out.status, out.fraction) == ("failed", 0.5)
    assert out.message == "missing hooks: ruff (or flake8)"
    assert run(path, "precommit.config", hooks=["ruff-format"]).message == (
        "missing hooks: ruff-format"
    )


# --- repo.readme_sections -------------------------------------------------------------


def test_readme_sections_pass(make_repo: MakeRepo) -> None:
    out = run(
        make_repo(team_files()), "repo.readme_sections", sections=["quick start", "Architecture"]
    )
    assert out.status == "passed"


def test_readme_sections_fail(make_repo: MakeRepo) -> None:
    out = run(
        make_repo(team_files()), "repo.readme_sections", sections=["Quick start", "Model card"]
    )
    assert (out.status, out.fraction) == ("failed", 0.5)
    assert out.message == "README.md lacks sections: Model card"


# --- repo.manifest ----------------------------------------------------------------------


def test_manifest_pass(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.manifest")
    assert (out.status, out.message) == ("passed", "capstone.yaml is valid")


def test_manifest_missing(make_repo: MakeRepo) -> None:
    files = team_files()
    del files["capstone.yaml"]
    out = run(make_repo(files), "repo.manifest")
    assert out.status == "failed"
    assert out.message.startswith(
        "capstone.yaml not found at the repository root: the other checks used a manifest"
        " inferred from its files ("
    )
    assert out.evidence["manifest"] == "inferred"


def test_manifest_invalid_names_line_and_field(make_repo: MakeRepo) -> None:
    bad = "version: 1\nteam:\n  name: A\n  members:\n    - {name: Ann, github: 'not a handle'}\n"
    out = run(make_repo(team_files(**{"capstone.yaml": bad})), "repo.manifest")
    assert out.status == "failed"
    assert out.message == (
        "capstone.yaml:5: team.members[0].github: 'not a handle' is not a valid GitHub handle"
    )


# --- repo.ignore_files ------------------------------------------------------------------


def test_ignore_files_pass(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.ignore_files", gitignore_patterns=[".venv"])
    assert out.status == "passed"


def test_ignore_files_fail(make_repo: MakeRepo) -> None:
    files = team_files()
    del files[".dockerignore"]
    out = run(make_repo(files), "repo.ignore_files", gitignore_patterns=[".venv", "data"])
    assert out.status == "failed"
    assert out.message == ".dockerignore missing; .gitignore lacks data"
    assert out.fraction == pytest.approx(0.5)


# --- repo.large_files -------------------------------------------------------------------


def test_large_files_pass(make_repo: MakeRepo) -> None:
    out = run(
        make_repo(team_files(**{"data/small.csv": "a,b\n1,2\n"})), "repo.large_files", max_kb=1
    )
    assert (out.status, out.message) == ("passed", "no file over 1 KiB")


def test_large_file_in_tree_fails(make_repo: MakeRepo) -> None:
    blob = os.urandom(3 * 1024 * 1024)
    out = run(make_repo(team_files(**{"data/big.bin": blob})), "repo.large_files", max_kb=1024)
    assert out.status == "failed"
    assert out.message == "files over 1024 KiB in the tree: data/big.bin (3.0 MiB)"


def test_a_large_lock_file_is_not_data(make_repo: MakeRepo) -> None:
    lock = "".join(f'[[package]]\nname = "p{i}"\nversion = "1.0"\n\n' for i in range(80_000))
    files = team_files(**{"uv.lock": lock, "web/package-lock.json": lock})
    out = run(make_repo(files), "repo.large_files", max_kb=1024)
    assert (out.status, out.message) == ("passed", "no file over 1024 KiB")
    # A lock is only a lock by its name: the same text as data still counts.
    out = run(make_repo({**files, "data/lock.txt": lock}), "repo.large_files", max_kb=1024)
    assert out.status == "failed"
    assert out.message.startswith("files over 1024 KiB in the tree: data/lock.txt")


def test_large_file_deleted_but_in_history_fails(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{"model.pkl": os.urandom(2 * 1024 * 1024)}))
    (path / "model.pkl").unlink()
    commit_all(path, "remove the model")
    out = run(path, "repo.large_files", max_kb=1024)
    assert out.status == "failed"
    assert out.message == "files over 1024 KiB in history: model.pkl (2.0 MiB)"
    assert run(path, "repo.large_files", max_kb=1024, history=False).status == "passed"


# --- repo.secrets -----------------------------------------------------------------------

FAKE_AWS = 'AWS_ACCESS_KEY_ID = "AKIAZ3MSJV4WDQ7EXMPL"\n'
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"


def test_secrets_pass(make_repo: MakeRepo) -> None:
    assert run(make_repo(team_files()), "repo.secrets").status == "passed"


def test_secrets_fail_on_cloud_key(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files(**{"src/alpha/config.py": FAKE_AWS})), "repo.secrets")
    assert out.status == "failed"
    assert out.message == "1 possible secret: src/alpha/config.py:1 (AWS Access Key)"


def test_secrets_fail_on_private_key(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files(**{"deploy/id_rsa": PRIVATE_KEY})), "repo.secrets")
    assert out.status == "failed"
    assert "deploy/id_rsa:1 (Private Key)" in out.message


# Each leaks one value (unique, so a test can look for it in every output).
CONFIG_LEAKS = {
    "tfvars": (
        "infra/prod.tfvars",
        'region = "eu-west-1"\ndatabase_password = "Tf-Leak-4417"\n',
        "Tf-Leak-4417",
        "infra/prod.tfvars:2 (Password assignment: database_password)",
    ),
    "yaml": (
        "config/serving.yaml",
        "model:\n  name: iris\nhub:\n  token: hf_YamlLeak9931\n",
        "hf_YamlLeak9931",
        "config/serving.yaml:4 (Token assignment: token)",
    ),
    "ini": (
        "deploy/settings.ini",
        "[upload]\nrepository = internal\napi_key = IniLeak-8a7c6e\n",
        "IniLeak-8a7c6e",
        "deploy/settings.ini:3 (API key assignment: api_key)",
    ),
}


@pytest.mark.parametrize("kind", sorted(CONFIG_LEAKS))
def test_secrets_fail_on_a_credential_in_a_config_file_without_its_value(
    make_repo: MakeRepo, kind: str
) -> None:
    rel, text, value, where = CONFIG_LEAKS[kind]
    out = run(make_repo(team_files(**{rel: text})), "repo.secrets")
    assert (out.status, out.message) == ("failed", f"1 possible secret: {where}")
    assert value not in json.dumps(out.evidence)


@pytest.mark.parametrize("kind", sorted(CONFIG_LEAKS))
def test_secrets_fail_on_a_credential_only_in_history(make_repo: MakeRepo, kind: str) -> None:
    rel, text, value, where = CONFIG_LEAKS[kind]
    path = make_repo(team_files(**{rel: text}))
    added = git(path, "rev-parse", "--short", "HEAD").strip()
    (path / rel).unlink()
    commit_all(path, "move the credential to an environment variable")
    out = run(path, "repo.secrets")
    assert (out.status, out.message) == (
        "failed",
        f"1 possible secret: {where} in history ({added})",
    )
    assert out.evidence["findings"] == []
    assert value not in out.message + json.dumps(out.evidence)
    assert run(path, "repo.secrets", history=False).status == "passed"


def test_secrets_in_history_name_the_commit_that_added_them(make_repo: MakeRepo) -> None:
    rel, text, _, where = CONFIG_LEAKS["yaml"]
    path = make_repo(team_files(**{rel: text}))
    added = git(path, "rev-parse", "--short", "HEAD").strip()
    (path / rel).write_text(f"{text}logging: debug\n")
    commit_all(path, "more settings")
    (path / rel).unlink()
    commit_all(path, "read the token from the environment")
    out = run(path, "repo.secrets")
    assert out.message == f"1 possible secret: {where} in history ({added})"


def test_secrets_in_history_and_in_the_tree_are_named_once(make_repo: MakeRepo) -> None:
    rel, text, _, where = CONFIG_LEAKS["tfvars"]
    path = make_repo(team_files(**{rel: text}))
    (path / rel).write_text(f"# production\n{text}")  # a new version, the same secret
    commit_all(path, "comment")
    out = run(path, "repo.secrets")
    assert out.message == f"1 possible secret: {where.replace(':2 ', ':3 ')}"


PLACEHOLDERS = {
    "infra/prod.tfvars": 'database_password = ""\napi_token = "${var.api_token}"\n',
    "infra/main.tf": (
        'variable "db_password" {\n  type = string\n  sensitive = true\n}\n'
        'resource "aws_db_instance" "db" {\n  password = var.db_password\n}\n'
    ),
    "config/serving.yaml": (
        "hub:\n  token: ${HF_TOKEN}\n  password: changeme\n  api_key: <your-api-key>\n"
        "  secret: '{{ vault_secret }}'\n"
    ),
    "deploy/settings.ini": "[upload]\npassword = your-password-here\ntoken = ***\n",
    "config/app.json": '{"client_secret": null, "api_key": "example"}\n',
    ".env": "DB_PASSWORD=\nAPI_TOKEN=${API_TOKEN}\n",
    ".env.example": "DB_PASSWORD=postgres\n",
    "src/alpha/settings.py": 'import os\nPASSWORD = os.environ["DB_PASSWORD"]\n',
}


def test_secrets_pass_on_placeholders_and_references(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files(**PLACEHOLDERS)), "repo.secrets")
    assert (out.status, out.message) == ("passed", "no secrets found")


def test_secrets_in_a_notebook_output_are_found(make_repo: MakeRepo) -> None:
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": ["print(config)\n"],
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["{'password': 'Nb-9918'}\n"]}
        ],
    }
    notebook = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}, indent=1)
    line = next(n for n, text in enumerate(notebook.splitlines(), 1) if "Nb-9918" in text)
    out = run(make_repo(team_files(**{"notebooks/eda.ipynb": notebook})), "repo.secrets")
    where = f"notebooks/eda.ipynb:{line} (Password assignment: password)"
    assert (out.status, out.message) == ("failed", f"1 possible secret: {where}")


def test_secrets_python_sources_are_read_for_assignments_when_asked(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{"src/alpha/db.py": 'DB_PASSWORD = "Py-Leak-5521"\n'}))
    assert run(path, "repo.secrets").status == "passed"
    out = run(path, "repo.secrets", assignments=["*.py"])
    assert out.message == "1 possible secret: src/alpha/db.py:1 (Password assignment: DB_PASSWORD)"


def test_secrets_pass_on_files_installed_packages_ship(make_repo: MakeRepo) -> None:
    files = team_files(
        **{
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/python3.11/site-packages/x/tests/key.pem": PRIVATE_KEY,
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/lib/python3.11/x/conf.yaml": "password: Venv-7731\n",
            "web/node_modules/pkg/test/fixtures/key.pem": PRIVATE_KEY,
        }
    )
    path = make_repo(files)
    assert run(path, "repo.secrets").status == "passed"
    shutil.rmtree(path / ".venv")
    commit_all(path, "untrack the virtual environment")
    assert run(path, "repo.secrets").status == "passed"


def test_secrets_never_reach_any_report(
    make_repo: MakeRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaks = {rel: text for rel, text, _, _ in CONFIG_LEAKS.values()}
    path = make_repo(team_files(**leaks))
    (path / "infra/prod.tfvars").unlink()
    commit_all(path, "remove the Terraform variables")
    rubric = write_rubric(
        tmp_path / "t.yaml",
        "milestone: t\ntitle: T\nchecks:\n  - {id: secrets, check: repo.secrets, points: 5}\n",
    )
    out = tmp_path / "out"
    assert main(["check", str(path), "--rubric", str(rubric), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    results = json.loads((out / "results.json").read_text())
    assert results["tests"][0]["score"] == 0
    feedback = (out / "feedback.md").read_text()
    assert "infra/prod.tfvars:2 (Password assignment: database_password) in history" in feedback
    assert "config/serving.yaml:4 (Token assignment: token)" in feedback
    outputs = [captured.out, captured.err, *(f.read_text() for f in out.rglob("*") if f.is_file())]
    for _, _, value, _ in CONFIG_LEAKS.values():
        assert not [text for text in outputs if value in text], value


# --- repo.commits -----------------------------------------------------------------------


def _two_member_repo(make_repo: MakeRepo, ann: int, bo: int) -> Path:
    path = make_repo(team_files())  # initial commit by the test identity (unattributed)
    for i in range(ann):
        (path / f"ann{i}.txt").write_text(str(i))
        commit_all(path, f"ann {i}", author=ANN)
    for i in range(bo):
        (path / f"bo{i}.txt").write_text(str(i))
        commit_all(path, f"bo {i}", author=BO)
    return path


def test_commits_pass(make_repo: MakeRepo) -> None:
    out = run(_two_member_repo(make_repo, 3, 2), "repo.commits", min_commits=2, max_share=0.7)
    assert (out.status, out.message) == ("passed", "each of 2 members has at least 2 commits")
    assert out.evidence["commits"] == {"ann-lee": 3, "bochen": 2}
    assert out.evidence["unattributed"] == {"Test Author <author@example.edu>": 1}


def test_commits_fail_member_without_commits(make_repo: MakeRepo) -> None:
    out = run(_two_member_repo(make_repo, 4, 0), "repo.commits", min_commits=1)
    assert out.status == "failed"
    assert out.message == "bochen has 0 commits (need at least 1)"
    assert out.fraction == 0.5


def test_commits_fail_one_member_does_everything(make_repo: MakeRepo) -> None:
    out = run(_two_member_repo(make_repo, 8, 1), "repo.commits", min_commits=1, max_share=0.6)
    assert out.status == "failed"
    assert out.message == "ann-lee authored 80% of commits (limit 60%)"


def test_commits_count_the_other_names_a_member_commits_with(make_repo: MakeRepo) -> None:
    laptop = ("annie-laptop", "root@localhost")  # a name and address only the team knows
    manifest = MANIFEST.replace(
        "{name: Ann Lee, github: ann-lee, email: ann@example.edu}",
        "{name: Ann Lee, github: ann-lee, email: ann@example.edu, names: [annie-laptop]}",
    )
    path = make_repo(team_files(**{"capstone.yaml": manifest}))
    commit_all(path, "from the laptop", author=laptop)
    commit_all(path, "bo", author=BO)
    out = run(path, "repo.commits", min_commits=1)
    assert out.evidence["commits"] == {"ann-lee": 1, "bochen": 1}
    assert "annie-laptop <root@localhost>" not in out.evidence["unattributed"]


# --- repo.tag ---------------------------------------------------------------------------


def test_tag_pass(make_repo: MakeRepo) -> None:
    path = make_repo(team_files())
    git(path, "tag", "m1")
    out = run(path, "repo.tag", pattern="m1*")
    assert (out.status, out.message) == ("passed", "tag m1 is in the graded history")


def test_tag_missing_fails(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.tag", pattern="m1*")
    assert (out.status, out.message) == ("failed", "no tag matches 'm1*'")


def test_tag_outside_graded_history_fails(make_repo: MakeRepo) -> None:
    path = make_repo(team_files())
    git(path, "checkout", "-q", "-b", "side")
    commit_all(path, "side work")
    git(path, "tag", "m1")
    git(path, "checkout", "-q", "main")
    out = run(path, "repo.tag", pattern="m1")
    assert out.message == "tag m1 is not in the graded commit's history"


# --- pre-commit -------------------------------------------------------------------------

PRECOMMIT_OK = """\
repos:
  - repo: local
    hooks:
      - id: no-todo
        name: no TODO markers
        entry: "TODO-FORBIDDEN"
        language: pygrep
        types: [python]
      - id: ruff
        name: ruff stand-in
        entry: "true"
        language: system
        pass_filenames: false
"""


def test_precommit_config_pass(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{".pre-commit-config.yaml": PRECOMMIT_OK}))
    out = run(path, "precommit.config", hooks=["ruff", "no-todo"])
    assert (out.status, out.message) == ("passed", "2 hooks configured")


def test_precommit_config_missing_hook(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{".pre-commit-config.yaml": PRECOMMIT_OK}))
    out = run(path, "precommit.config", hooks=["ruff", "ruff-format"])
    assert (out.status, out.message, out.fraction) == ("failed", "missing hooks: ruff-format", 0.5)


def test_precommit_config_absent(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "precommit.config", hooks=["ruff"])
    assert out.message == ".pre-commit-config.yaml not found"


@pytest.mark.docker
@pytest.mark.slow
def test_precommit_run_pass(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{".pre-commit-config.yaml": PRECOMMIT_OK}))
    out = run(path, "precommit.run")
    assert (out.status, out.message) == ("passed", "pre-commit passed on all files")


@pytest.mark.docker
@pytest.mark.slow
def test_precommit_hooks_are_cached_and_run_on_the_current_code(make_repo: MakeRepo) -> None:
    run_id = "pc-cache-" + uuid.uuid4().hex[:8]
    config = PRECOMMIT_OK + f"# {run_id}: this test's own cache key\n"
    path = make_repo(team_files(**{".pre-commit-config.yaml": config}))
    try:
        first = run_as(run_id, path, "precommit.run")
        assert first.status == "passed", first
        assert first.evidence["environment"].startswith("installed, now cached (key ")
        (path / "src/alpha/bad.py").write_text("x = 1  # TODO-FORBIDDEN\n")
        commit_all(path, "a marker")
        second = run_as(run_id, path, "precommit.run")
        assert second.evidence["environment"].startswith("cached (key ")
        assert second.message == "pre-commit failed: no TODO markers"
    finally:
        remove_cache_images(run_id)


def run_as(run_id: str, repo_dir: Path, name: str) -> Outcome:
    co = prepare(str(repo_dir))
    try:
        ctx: Context = context_for(co, Options(), run_id)
        definition = REGISTRY[name]
        return definition.func(ctx, definition.params.model_validate({}))
    finally:
        co.close()


@pytest.mark.docker
@pytest.mark.slow
def test_precommit_run_fail_names_the_hook(make_repo: MakeRepo) -> None:
    files = team_files(**{".pre-commit-config.yaml": PRECOMMIT_OK})
    files["src/alpha/bad.py"] = "x = 1  # TODO-FORBIDDEN\n"
    out = run(make_repo(files), "precommit.run")
    assert out.status == "failed"
    assert out.message == "pre-commit failed: no TODO markers"
    assert "src/alpha/bad.py:1" in out.evidence["log"]


def test_links_out_of_the_repo_are_not_followed(make_repo: MakeRepo, tmp_path: Path) -> None:
    secret = tmp_path / "ta-secret.txt"
    secret.write_text(FAKE_AWS)
    files = team_files()
    path = make_repo(files)
    (path / "README.md").unlink()
    os.symlink(secret, path / "README.md")
    os.symlink(secret, path / "leak.py")
    commit_all(path, "links")
    assert run(path, "repo.secrets").status == "passed"
    out = run(path, "repo.readme_sections", sections=["Quick start"])
    assert out.message == "README.md not found"


def test_every_check_has_a_docstring_explanation() -> None:
    for name, definition in REGISTRY.items():
        assert definition.title, name
        assert definition.explanation, f"{name} needs an explanation after its title"
    assert repo.required_files.__doc__


# --- repo.doc_filled --------------------------------------------------------------------

SKELETON = "# Proposal\n\n## Problem\n<!-- fill in: who has the problem? -->\nTODO\n"
PROMPTS = (
    "# Proposal\n\n## Problem\n_Who has the problem, and what decision will the\n"
    "predictions support?_\n\n## Data\n*Where the data comes from.*\n\n"
)


def test_doc_filled_pass(make_repo: MakeRepo) -> None:
    prose = "# Proposal\n\n## Problem\n" + "Wine buyers need fast quality estimates. " * 10
    path = make_repo(team_files(**{"docs/proposal.md": prose}))
    out = run(path, "repo.doc_filled", path="manifest:docs.proposal", min_words=50)
    assert (out.status, out.message) == ("passed", "docs/proposal.md is filled in (60 words)")


def test_doc_filled_fails_on_skeleton(make_repo: MakeRepo) -> None:
    path = make_repo(team_files(**{"docs/proposal.md": SKELETON}))
    out = run(path, "repo.doc_filled", path="docs/proposal.md", min_words=50)
    assert out.status == "failed"
    assert out.message == (
        "docs/proposal.md is not filled in: 1 of 50 words;"
        " placeholders left: TODO, FILL IN, <!-- fill"
    )
    assert out.fraction == pytest.approx(0.01)


def test_doc_filled_missing(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "repo.doc_filled", path="docs/model_card.md")
    assert out.message == "docs/model_card.md not found"


def test_doc_filled_fails_on_unanswered_italic_prompts(make_repo: MakeRepo) -> None:
    text = PROMPTS + "Wine buyers. " * 30
    path = make_repo(team_files(**{"docs/proposal.md": text}))
    out = run(path, "repo.doc_filled", path="docs/proposal.md", min_words=50)
    assert out.message == "docs/proposal.md is not filled in: placeholders left: 2 italic prompts"
    assert out.evidence["words"] == 60
