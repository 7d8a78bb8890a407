"""Repository checks: each passes on a tidy repo and fails, with its message, when broken."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grader.checks import repo
from grader.checks.base import Context, Outcome
from grader.checks.registry import REGISTRY
from grader.grade import Options, context_for
from grader.sandbox import remove_cache_images
from grader.target import prepare
from tests.helpers import ANN, BO, commit_all, git, team_files

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


def test_uncommitted_files_are_not_graded(make_repo: MakeRepo) -> None:
    path = make_repo(team_files())
    (path / "Dockerfile").write_text("FROM scratch\n")
    out = run(path, "repo.files", paths=["Dockerfile"])
    assert out.message == "missing: Dockerfile"


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
    assert (out.status, out.message) == ("failed", "capstone.yaml not found at the repository root")


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


def test_secrets_pass(make_repo: MakeRepo) -> None:
    assert run(make_repo(team_files()), "repo.secrets").status == "passed"


def test_secrets_fail_on_cloud_key(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files(**{"src/alpha/config.py": FAKE_AWS})), "repo.secrets")
    assert out.status == "failed"
    assert out.message == "1 possible secret: src/alpha/config.py:1 (AWS Access Key)"


def test_secrets_fail_on_private_key(make_repo: MakeRepo) -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"
    out = run(make_repo(team_files(**{"deploy/id_rsa": key})), "repo.secrets")
    assert out.status == "failed"
    assert "deploy/id_rsa:1 (Private Key)" in out.message


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
    assert out.message == "bochen has 0 of 1 commits"
    assert out.fraction == 0.5


def test_commits_fail_one_member_does_everything(make_repo: MakeRepo) -> None:
    out = run(_two_member_repo(make_repo, 8, 1), "repo.commits", min_commits=1, max_share=0.6)
    assert out.status == "failed"
    assert out.message == "ann-lee authored 80% of commits (limit 60%)"


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
