"""CI checks: fixture workflows per anti-pattern, and run status against a fake GitHub API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.checks.base import Context, Outcome
from grader.checks.registry import REGISTRY
from grader.errors import CheckError
from grader.grade import Options, context_for
from grader.target import prepare
from tests.fixtures import fake_github
from tests.fixtures.fake_github import FakeGitHub
from tests.helpers import git, team_files

MakeRepo = Callable[..., Path]

GOOD = """\
name: CI
on:
  push:
    branches: [main]
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install
        run: pip install -e .[dev]
      - name: Lint
        run: ruff check .
      - name: Tests
        run: |
          pytest --cov=src --junitxml=report.xml
  image:
    runs-on: ubuntu-latest
    needs: test
    steps:
      - uses: actions/checkout@v4
      - run: docker build -t app .
"""


def workflow(text: str = GOOD, name: str = "ci.yml") -> dict[str, str | bytes]:
    return team_files(**{f".github/workflows/{name}": text})


def run(path: Path, name: str, **params: Any) -> Outcome:
    co = prepare(str(path))
    try:
        ctx: Context = context_for(co, Options(), "test")
        definition = REGISTRY[name]
        return definition.func(ctx, definition.params.model_validate(params))
    finally:
        co.close()


# --- ci.workflows ---------------------------------------------------------------------


def test_valid_workflow_passes(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow()), "ci.workflows")
    assert (out.status, out.message) == ("passed", "1 valid workflow")


def test_no_workflow_fails(make_repo: MakeRepo) -> None:
    out = run(make_repo(team_files()), "ci.workflows")
    assert (out.status, out.message) == ("failed", "0 workflows under .github/workflows/ (need 1)")


def test_schema_error_is_named_with_file_and_line(make_repo: MakeRepo) -> None:
    broken = GOOD.replace("    runs-on: ubuntu-latest\n    needs", "    runs-onn: x\n    needs")
    files = {**workflow(), **workflow(broken, "deploy.yml")}
    out = run(make_repo(files), "ci.workflows")
    assert (out.status, out.fraction) == ("failed", 0.5)
    assert out.message.startswith("1 invalid workflow: .github/workflows/deploy.yml:")
    assert "jobs.image" in out.message


def test_yaml_syntax_error_is_named(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow("on: push\njobs: [\n")), "ci.workflows")
    assert out.status == "failed"
    assert ".github/workflows/ci.yml:3: invalid YAML" in out.message


def test_on_key_is_not_a_boolean(make_repo: MakeRepo) -> None:
    # PyYAML would read `on:` as True and the schema would reject every workflow.
    text = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: pytest\n"
    assert run(make_repo(workflow(text)), "ci.workflows").status == "passed"


# --- ci.required_steps ----------------------------------------------------------------


def test_required_steps_pass(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow()), "ci.required_steps")
    assert (out.status, out.message) == ("passed", "CI runs tests, lint, image")


def test_missing_image_build_fails_with_partial_credit(make_repo: MakeRepo) -> None:
    text = GOOD.replace("docker build -t app .", "echo skip")
    out = run(make_repo(workflow(text)), "ci.required_steps")
    assert (out.status, out.message) == ("failed", "no CI step for: image")
    assert out.fraction == pytest.approx(2 / 3)


def test_step_names_do_not_count(make_repo: MakeRepo) -> None:
    text = GOOD.replace("ruff check .", "echo ok")  # still named "Lint"
    assert run(make_repo(workflow(text)), "ci.required_steps").message == "no CI step for: lint"


def test_custom_patterns(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow()), "ci.required_steps", steps={"types": r"\bmypy\b"})
    assert out.message == "no CI step for: types"


# --- ci.anti_patterns -----------------------------------------------------------------


def test_clean_workflow_has_no_anti_pattern(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow()), "ci.anti_patterns")
    assert (out.status, out.message) == ("passed", "no CI anti-pattern found")


F = ".github/workflows/ci.yml"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "        run: ruff check .\n",
            "        run: ruff check .\n        continue-on-error: true\n",
            f"{F}:18: continue-on-error: true on lint step",
        ),
        (
            "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
            "      - uses: actions/setup-python@v5",
            "    runs-on: ubuntu-latest\n    continue-on-error: true\n    steps:\n"
            "      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5",
            f"{F}:9: continue-on-error: true on lint step",
        ),
        (
            "pytest --cov=src --junitxml=report.xml",
            "pytest --cov=src --junitxml=report.xml || true",
            f"{F}:20: `|| true` hides a failing test step",
        ),
        (
            "ruff check .",
            "ruff check . --exit-zero",
            f"{F}:17: --exit-zero makes the lint step always pass",
        ),
        (
            "pytest --cov=src",
            "pytest --collect-only --cov=src",
            f"{F}:20: the test step collects or selects no test",
        ),
        (
            "pytest --cov=src",
            "pytest --ignore=tests --cov=src",
            f"{F}:20: the test step ignores the whole tests folder",
        ),
        (
            "      - name: Tests\n",
            "      - name: Tests\n        if: ${{ false }}\n",
            f"{F}:19: test step never runs (if: ${{{{ false }}}})",
        ),
        (
            "          pytest --cov=src --junitxml=report.xml\n",
            "          echo no tests\n",
            ".github/workflows: no CI step runs the tests",
        ),
    ],
    ids=[
        "coe-step",
        "coe-job",
        "or-true",
        "exit-zero",
        "collect-only",
        "ignore-tests",
        "if-false",
        "no-tests",
    ],
)
def test_anti_pattern_is_named_with_file_and_line(
    make_repo: MakeRepo, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    out = run(make_repo(workflow(GOOD.replace(old, new))), "ci.anti_patterns")
    assert out.status == "failed"
    assert expected in out.evidence["findings"], out.evidence
    assert out.fraction == pytest.approx(1 - 0.5 * len(out.evidence["findings"]))


def test_or_true_outside_test_and_lint_is_allowed(make_repo: MakeRepo) -> None:
    text = GOOD.replace("docker build -t app .", "docker rmi app || true")
    assert run(make_repo(workflow(text)), "ci.anti_patterns").status == "passed"


def test_commented_out_or_true_is_ignored(make_repo: MakeRepo) -> None:
    text = GOOD.replace(
        "          pytest --cov", "          # pytest || true\n          pytest --cov"
    )
    assert run(make_repo(workflow(text)), "ci.anti_patterns").status == "passed"


# --- ci.run_status --------------------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[FakeGitHub]:
    yield from fake_github.serve()


@pytest.fixture
def gh_repo(make_repo: MakeRepo, api: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A team repo whose origin is a GitHub URL, graded through the fake API."""
    path = make_repo(workflow())
    git(path, "remote", "add", "origin", "https://github.com/ml-course/team-alpha.git")
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    api.answers.clear()
    api.requests.clear()
    return path


def test_success_passes(gh_repo: Path, api: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_test-token")
    api.runs(
        "ml-course/team-alpha", fake_github.run("CI", "success"), fake_github.run("Docs", "skipped")
    )
    out = run(gh_repo, "ci.run_status")
    sha = git(gh_repo, "rev-parse", "HEAD")
    assert (out.status, out.message) == ("passed", f"all 2 workflow runs of {sha[:10]} succeeded")
    request = api.requests[-1]
    assert request["path"] == "/repos/ml-course/team-alpha/actions/runs"
    assert request["query"]["head_sha"] == [sha]
    assert request["headers"]["Authorization"] == "Bearer ghp_test-token"


def test_failure_fails_naming_the_workflow(gh_repo: Path, api: FakeGitHub) -> None:
    api.runs(
        "ml-course/team-alpha", fake_github.run("CI", "failure"), fake_github.run("Lint", "success")
    )
    out = run(gh_repo, "ci.run_status")
    assert out.status == "failed"
    assert out.message.endswith("did not pass: CI (failure)")
    urls = {r["name"]: r["url"] for r in out.evidence["runs"]}
    assert urls["CI"].endswith("/actions/runs/CI")


def test_rerun_that_succeeded_supersedes_the_failure(gh_repo: Path, api: FakeGitHub) -> None:
    api.runs(
        "ml-course/team-alpha",
        fake_github.run("CI", "failure", id=1, created_at="2026-11-20T10:00:00Z"),
        fake_github.run("CI", "success", id=2, created_at="2026-11-20T11:00:00Z"),
    )
    assert run(gh_repo, "ci.run_status").status == "passed"


def test_pending_is_an_error_by_default(gh_repo: Path, api: FakeGitHub) -> None:
    api.runs("ml-course/team-alpha", fake_github.run("CI", None, status="in_progress"))
    with pytest.raises(CheckError, match=r"has not finished: CI \(in_progress\); grade again"):
        run(gh_repo, "ci.run_status")


def test_pending_can_fail(gh_repo: Path, api: FakeGitHub) -> None:
    api.runs("ml-course/team-alpha", fake_github.run("CI", None, status="queued"))
    out = run(gh_repo, "ci.run_status", pending="failed")
    assert (out.status, out.message.split(": ", 1)[1]) == ("failed", "CI (queued)")


def test_no_run_for_the_commit_fails(gh_repo: Path, api: FakeGitHub) -> None:
    api.runs("ml-course/team-alpha")
    out = run(gh_repo, "ci.run_status")
    assert out.status == "failed"
    assert "no workflow run on GitHub for commit" in out.message


def test_404_is_an_error_with_the_reason(gh_repo: Path) -> None:
    with pytest.raises(CheckError, match=r"404 for ml-course/team-alpha.*without a token"):
        run(gh_repo, "ci.run_status")


def test_404_can_fail(gh_repo: Path) -> None:
    out = run(gh_repo, "ci.run_status", not_found="failed")
    assert out.status == "failed"
    assert "does not exist" in out.message


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_is_an_error(gh_repo: Path, api: FakeGitHub, status: int) -> None:
    api.fail(
        "ml-course/team-alpha",
        status,
        "API rate limit exceeded for 127.0.0.1.",
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": fake_github.reset_in(600)},
    )
    with pytest.raises(CheckError, match=r"GitHub API rate limit reached .*retry after"):
        run(gh_repo, "ci.run_status")


def test_repository_param_and_api_url_param(make_repo: MakeRepo, api: FakeGitHub) -> None:
    path = make_repo(workflow())  # no origin remote at all
    api.runs("other/repo", fake_github.run("CI", "success"))
    out = run(path, "ci.run_status", repository="other/repo", api_url=api.url)
    assert out.status == "passed"


def test_no_github_remote_is_not_applicable(make_repo: MakeRepo) -> None:
    out = run(make_repo(workflow()), "ci.run_status")
    assert out.status == "skipped"
    assert out.message.startswith("no GitHub remote: the repository is not on GitHub")


def test_unreachable_api_is_an_error(gh_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    with pytest.raises(CheckError, match="cannot reach the GitHub API"):
        run(gh_repo, "ci.run_status")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/a-b/c.d.git", ("a-b", "c.d")),
        ("git@github.com:org/repo.git", ("org", "repo")),
        ("ssh://git@github.example.edu/org/repo", ("org", "repo")),
        ("/tmp/some/local/path", None),
        ("file:///tmp/mirror/team.git", None),
    ],
)
def test_parse_remote(url: str, expected: tuple[str, str] | None) -> None:
    from grader.github import parse_remote

    assert parse_remote(url) == expected
