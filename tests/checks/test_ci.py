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


def run(path: Path | str, name: str, **params: Any) -> Outcome:
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


def test_a_tool_named_in_an_echo_does_not_count(make_repo: MakeRepo) -> None:
    text = GOOD.replace("pytest --cov=src --junitxml=report.xml", 'echo "pytest: later"')
    assert run(make_repo(workflow(text)), "ci.required_steps").message == "no CI step for: tests"
    flagged = run(make_repo(workflow(text)), "ci.anti_patterns").evidence["findings"]
    assert flagged == [
        ".github/workflows: no CI step runs the tests on a push or pull request to main"
    ]


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
            "        run: ruff check .\n",
            "        run: ruff check .\n        continue-on-error: ${{ true }}\n",
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
            f"{F}:20: `|| true` makes the test step pass when"
            " `pytest --cov=src --junitxml=report.xml` fails",
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
            "pytest --co --cov=src",
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
            ".github/workflows: no CI step runs the tests on a push or pull request to main",
        ),
    ],
    ids=[
        "coe-step",
        "coe-expr",
        "coe-job",
        "or-true",
        "exit-zero",
        "collect-only",
        "co",
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


# --- swallowed failures, read as the shell runs the step --------------------------------

TESTS_RUN = "          pytest --cov=src --junitxml=report.xml\n"


def with_tests(script: str, step_extra: str = "") -> str:
    """GOOD with the Tests step's script (line 20 on) replaced, and keys added to the step."""
    body = "".join(f"          {line}\n" for line in script.splitlines())
    text = GOOD.replace(TESTS_RUN, body)
    return text.replace("      - name: Tests\n", f"      - name: Tests\n{step_extra}")


def findings(path: Path) -> list[str]:
    out = run(path, "ci.anti_patterns")
    assert out.status == ("failed" if out.evidence["findings"] else "passed")
    return list(out.evidence["findings"])


@pytest.mark.parametrize(
    ("script", "line", "what", "command"),
    [
        ("pytest || true", 20, "`|| true`", "pytest"),
        ("pytest -q || :", 20, "`|| :`", "pytest -q"),
        ("pytest || echo 'tests failed'", 20, "`|| echo 'tests failed'`", "pytest"),
        (
            'make test-api || echo "Integration tests completed"',
            20,
            '`|| echo "Integration tests completed"`',
            "make test-api",
        ),
        ("timeout 600 pytest || true", 20, "`|| true`", "timeout 600 pytest"),
        ("pytest \\\n  --cov=src \\\n  || true", 22, "`|| true`", "pytest --cov=src"),
        ("pytest | tee pytest.log", 20, "`| tee pytest.log` without `set -o pipefail`", "pytest"),
        ("set +e\npytest\necho done", 20, "`set +e` with no check of `$?`", "pytest"),
        (
            "if pytest; then echo passed; fi",
            20,
            "`if pytest` (its failure only picks a branch)",
            "pytest",
        ),
        ("pytest && echo passed || echo failed", 20, "`|| echo failed`", "pytest"),
        (
            "pytest && echo passed\necho done",
            20,
            "`pytest && echo passed` (exempt from `set -e` in a `&&`/`||` list)",
            "pytest",
        ),
        ("! pytest", 20, "`! pytest` (`!` inverts the status)", "pytest"),
        ("ruff check . || true\npytest", 20, "`|| true`", "ruff check ."),
    ],
    ids=[
        "or-true",
        "or-colon",
        "or-echo",
        "make-or-echo",
        "timeout-or-true",
        "continued-line",
        "tee",
        "set+e",
        "if-cond",
        "and-or",
        "and-exempt",
        "negated",
        "lint-in-test-step",
    ],
)
def test_swallowed_failure_is_named_with_file_and_line(
    make_repo: MakeRepo, script: str, line: int, what: str, command: str
) -> None:
    found = findings(make_repo(workflow(with_tests(script))))
    kind = "lint" if command.startswith("ruff") else "test"
    assert found == [f"{F}:{line}: {what} makes the {kind} step pass when `{command}` fails"]


def test_real_world_make_or_echo_fails_the_check(make_repo: MakeRepo) -> None:
    text = with_tests('make test-api || echo "Integration tests completed"')
    out = run(make_repo(workflow(text)), "ci.anti_patterns")
    assert out.status == "failed"
    assert out.message == (
        f'{F}:20: `|| echo "Integration tests completed"` makes the test step pass'
        " when `make test-api` fails"
    )


@pytest.mark.parametrize(
    "script",
    [
        "pytest || (cat pytest.log; exit 1)",
        "pytest || exit 1",
        "set -e\npytest\necho done",
        "if ! pytest; then exit 1; fi",
        "if pytest; then echo passed; else echo failed; exit 1; fi",
        "set -o pipefail\npytest | tee pytest.log",
        "pytest | tee pytest.log; exit ${PIPESTATUS[0]}",
        "set +e\npytest\nstatus=$?\necho done\nexit $status",
        "pytest --exitfirst",
        "pytest || pytest --last-failed",
        # GitHub runs the step with `bash -e`: a failing pytest ends it before `exit 0`.
        "pytest; exit 0",
    ],
)
def test_legitimate_shell_constructs_pass(make_repo: MakeRepo, script: str) -> None:
    assert findings(make_repo(workflow(with_tests(script)))) == []


def test_shell_without_errexit_makes_exit_0_a_swallow(make_repo: MakeRepo) -> None:
    text = with_tests("pytest; exit 0", "        shell: bash {0}\n")
    found = findings(make_repo(workflow(text)))
    assert found == [f"{F}:21: `exit 0` makes the test step pass when `pytest` fails"]


def test_explicit_bash_shell_has_pipefail(make_repo: MakeRepo) -> None:
    text = with_tests("pytest | tee pytest.log", "        shell: bash\n")
    assert findings(make_repo(workflow(text))) == []


def test_job_default_shell_is_read(make_repo: MakeRepo) -> None:
    text = with_tests("pytest\necho done").replace(
        "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@v5",
        "    runs-on: ubuntu-latest\n    defaults:\n      run:\n        shell: bash {0}\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5",
    )
    assert findings(make_repo(workflow(text))) == [
        f"{F}:23: the shell `bash {{0}}` (no -e) with no check of `$?` makes the test step"
        " pass when `pytest` fails"
    ]


def test_unparsable_script_is_read_line_by_line(make_repo: MakeRepo) -> None:
    text = with_tests('case "$RUNNER_OS" in\n  Linux) pytest || true ;;\nesac')
    out = run(make_repo(workflow(text)), "ci.anti_patterns")
    assert out.evidence["findings"] == [
        f"{F}:21: `|| true` makes the test step pass when `Linux) pytest || true ;;` fails"
    ]
    assert out.evidence["notes"][0].startswith(f"{F}:20: bashlex could not parse the script")
    assert out.evidence["notes"][0].endswith(": read line by line")


# --- wrapper scripts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_line", "script", "expected"),
    [
        (
            "bash scripts/test.sh",
            "#!/usr/bin/env bash\npytest --cov=src\nexit 0\n",
            "scripts/test.sh:3: `exit 0` makes the test step pass when `pytest --cov=src` fails",
        ),
        (
            "./scripts/test.sh",
            "#!/usr/bin/env bash\nset -e\npytest || true\n",
            "scripts/test.sh:3: `|| true` makes the test step pass when `pytest` fails",
        ),
        (
            "bash scripts/test.sh || true",
            "#!/usr/bin/env bash\nset -euo pipefail\npytest\n",
            "`|| true` makes the test step pass when `bash scripts/test.sh` fails",
        ),
    ],
    ids=["exit-0-script", "or-true-in-script", "or-true-on-script"],
)
def test_wrapper_script_that_swallows_is_named(
    make_repo: MakeRepo, run_line: str, script: str, expected: str
) -> None:
    files = {**workflow(with_tests(run_line)), "scripts/test.sh": script}
    assert findings(make_repo(files)) == [f"{F}:20: {expected}"]


@pytest.mark.parametrize(
    ("where", "text_of"),
    [
        ("step", lambda t: with_tests("bash scripts/test.sh", "        working-directory: app\n")),
        (
            "workflow",
            lambda t: with_tests("bash scripts/test.sh").replace(
                "jobs:\n", "defaults:\n  run:\n    working-directory: app\njobs:\n", 1
            ),
        ),
    ],
)
def test_wrapper_script_is_found_from_the_working_directory(
    make_repo: MakeRepo, where: str, text_of: Any
) -> None:
    script = "#!/usr/bin/env bash\npytest || echo failed\n"
    files = {**workflow(text_of(None)), "app/scripts/test.sh": script}
    found = findings(make_repo(files))
    assert len(found) == 1
    assert found[0].endswith(
        ": app/scripts/test.sh:2: `|| echo failed` makes the test step pass when `pytest` fails"
    )


def test_wrapper_script_that_fails_properly_counts_as_the_test_step(make_repo: MakeRepo) -> None:
    script = "#!/usr/bin/env bash\nset -euo pipefail\npytest --cov=src\n"
    files = {**workflow(with_tests("bash scripts/test.sh")), "scripts/test.sh": script}
    path = make_repo(files)
    assert findings(path) == []
    steps = run(path, "ci.required_steps")
    assert (steps.status, steps.evidence["found"]["tests"]) == ("passed", [f"{F}:18"])


@pytest.mark.parametrize(
    ("run_line", "makefile", "expected"),
    [
        (
            "make test",
            "test:  ## the tests\n\tpytest --cov=src || true\n",
            "Makefile:2: `|| true` makes the test step pass when `pytest --cov=src` fails",
        ),
        (
            "make test",
            "PY := .venv/bin/python\ntest:\n\t-$(PY) -m pytest\n",
            "Makefile:3: `-` before the recipe line of `test` makes the test step pass when"
            " `$(PY) -m pytest` fails",
        ),
        (
            "make -C app check",
            "check: lint unit\nlint:\n\truff check .\nunit:\n\tpytest; echo done\n",
            "app/Makefile:5: the shell `sh -c` (no -e) with no check of `$?` makes the test step"
            " pass when `pytest` fails",
        ),
    ],
    ids=["or-true", "dash", "prerequisite"],
)
def test_make_target_that_swallows_is_named(
    make_repo: MakeRepo, run_line: str, makefile: str, expected: str
) -> None:
    where = "app/Makefile" if "-C app" in run_line else "Makefile"
    files = {**workflow(with_tests(run_line)), where: makefile}
    assert findings(make_repo(files)) == [f"{F}:20: {expected}"]


def test_make_target_that_fails_properly_passes(make_repo: MakeRepo) -> None:
    makefile = "setup:\n\t-pre-commit install\ncheck: setup\n\tpytest\n"
    text = with_tests("make check").replace("ruff check .", "echo no lint")
    path = make_repo({**workflow(text), "Makefile": makefile})
    assert findings(path) == []
    out = run(path, "ci.required_steps")
    assert out.evidence["found"]["tests"] == [f"{F}:18"]
    assert out.evidence["missing"] == ["lint"]  # `pre-commit install` runs no hook


ACTION = """\
name: Tests
runs:
  using: composite
  steps:
    - run: pip install -e .
      shell: bash
    - run: |
        pytest --cov=src || echo "tests failed"
      shell: bash
"""


def test_local_composite_action_is_read_as_its_steps(make_repo: MakeRepo) -> None:
    text = with_tests("echo see the action").replace(
        "      - name: Tests\n", "      - uses: ./.github/actions/tests\n      - name: Tests\n"
    )
    files = {**workflow(text), ".github/actions/tests/action.yml": ACTION}
    path = make_repo(files)
    assert findings(path) == [
        '.github/actions/tests/action.yml:8: `|| echo "tests failed"` makes the test step pass'
        f" when `pytest --cov=src` fails (action used at {F}:18)"
    ]
    steps = run(path, "ci.required_steps")
    assert steps.evidence["found"]["tests"] == [".github/actions/tests/action.yml:7"]
    fixed = make_repo(
        {**files, ".github/actions/tests/action.yml": ACTION.replace(' || echo "tests failed"', "")}
    )
    assert findings(fixed) == []


# --- jobs, steps and workflows that never run -------------------------------------------

JOB = "  test:\n    runs-on: ubuntu-latest\n"
ON = "on:\n  push:\n    branches: [main]\n  pull_request:\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (JOB, "  test:\n    if: false\n" + JOB[8:], f"{F}:8: job `test` never runs (if: false)"),
        (
            JOB,
            "  test:\n    if: ${{ false }}\n" + JOB[8:],
            f"{F}:8: job `test` never runs (if: ${{{{ false }}}})",
        ),
        (JOB, "  test:\n    if: 0 == 1\n" + JOB[8:], f"{F}:8: job `test` never runs (if: 0 == 1)"),
        (
            ON,
            "on:\n  workflow_dispatch:\n  schedule:\n    - cron: '0 3 * * 1'\n",
            f"{F}:2: workflow never runs on a push or pull request to main"
            " (on: workflow_dispatch, schedule)",
        ),
        (
            ON,
            "on:\n  push:\n    branches: [release]\n",
            f"{F}:2: workflow never runs on a push or pull request to main (on: push to release)",
        ),
        (
            ON,
            "on:\n  push:\n    branches-ignore: [main]\n  pull_request:\n"
            "    branches-ignore: ['ma*']\n",
            f"{F}:2: workflow never runs on a push or pull request to main"
            " (on: push to not main, pull_request to not ma*)",
        ),
        (
            ON,
            "on:\n  push:\n    tags: ['v*']\n",
            f"{F}:2: workflow never runs on a push or pull request to main (on: push to tags only)",
        ),
    ],
    ids=[
        "if-false",
        "if-expr-false",
        "if-constants",
        "dispatch-schedule",
        "release",
        "ignore",
        "tags",
    ],
)
def test_test_job_that_never_runs_is_named(
    make_repo: MakeRepo, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    path = make_repo(workflow(GOOD.replace(old, new)))
    found = findings(path)
    assert f"{expected}: its test step never runs" in found
    assert found[-1] == (
        ".github/workflows: no CI step runs the tests on a push or pull request to main"
    )
    steps = run(path, "ci.required_steps")
    assert steps.status == "failed"
    assert steps.message.startswith("no CI step for: tests, lint, image (")


NIGHTLY = GOOD.replace(ON, "on:\n  schedule:\n    - cron: '0 3 * * *'\n")


def test_nightly_workflow_is_fine_when_tests_also_run_on_push(make_repo: MakeRepo) -> None:
    path = make_repo({**workflow(), **workflow(NIGHTLY, "nightly.yml")})
    assert findings(path) == []
    strict = run(path, "ci.anti_patterns", other_triggers_ok=False)
    assert strict.evidence["findings"] == [
        ".github/workflows/nightly.yml:2: workflow never runs on a push or pull request to main"
        " (on: schedule): its test step never runs"
    ]


def test_disabled_test_job_is_flagged_even_when_another_job_runs_tests(
    make_repo: MakeRepo,
) -> None:
    extra = "  integration:\n    if: false\n    runs-on: ubuntu-latest\n    steps:\n"
    extra += "      - run: pytest tests/integration\n"
    path = make_repo(workflow(GOOD + extra))
    assert findings(path) == [
        f"{F}:28: job `integration` never runs (if: false): its test step never runs"
    ]


def test_job_that_needs_a_disabled_job_does_not_count(make_repo: MakeRepo) -> None:
    text = GOOD.replace(JOB, "  test:\n    if: false\n" + JOB[8:])
    out = run(make_repo(workflow(text)), "ci.required_steps")
    assert (
        f"{F}:24: job `image` never runs (it needs `test`, which never runs)"
        in (out.evidence["not_run"])
    )


def test_always_lets_a_job_run_after_a_disabled_one(make_repo: MakeRepo) -> None:
    text = GOOD.replace(JOB, "  test:\n    if: false\n" + JOB[8:]).replace(
        "    needs: test\n", "    needs: test\n    if: always()\n"
    )
    out = run(make_repo(workflow(text)), "ci.required_steps")
    assert out.message == f"no CI step for: tests, lint ({F}:8: job `test` never runs (if: false))"


@pytest.mark.parametrize(
    "on",
    [
        "on: [push, pull_request]\n",
        "on: push\n",
        "on:\n  pull_request:\n    branches: [main]\n",
        "on:\n  push:\n    branches: ['**']\n",
        "on:\n  push:\n    branches: ['ma*', '!release/**']\n    paths: ['src/**']\n",
        "on:\n  push:\n    branches-ignore: ['release/**']\n",
    ],
)
def test_triggers_that_fire_for_main_pass(make_repo: MakeRepo, on: str) -> None:
    path = make_repo(workflow(GOOD.replace(ON, on)))
    assert findings(path) == []
    assert run(path, "ci.required_steps").status == "passed"


def test_step_if_always_is_not_a_swallow(make_repo: MakeRepo) -> None:
    text = with_tests("pytest", "        if: always()\n")
    assert findings(make_repo(workflow(text))) == []


def test_graded_branch_is_the_default_branch(make_repo: MakeRepo) -> None:
    path = make_repo(workflow(GOOD.replace(ON, "on:\n  push:\n    branches: [main]\n")))
    git(path, "branch", "-m", "main", "trunk")
    out = run(path, "ci.required_steps")
    assert out.status == "failed"
    assert out.evidence["branch"] == "trunk"
    assert "workflow never runs on a push or pull request to trunk (on: push to main)" in (
        out.message
    )
    live = make_repo(workflow(GOOD.replace(ON, "on:\n  push:\n    branches: [trunk]\n")))
    git(live, "branch", "-m", "main", "trunk")
    assert run(live, "ci.required_steps").status == "passed"


def test_local_clone_on_a_feature_branch_is_graded_for_its_origins_default(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    origin = make_repo(workflow(GOOD.replace(ON, "on:\n  push:\n    branches: [main]\n")))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "switch", "-q", "-c", "feature/model")
    out = run(clone, "ci.required_steps")
    assert (out.status, out.evidence["branch"]) == ("passed", "main")


def test_url_target_is_graded_for_the_remotes_default_branch(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    source = make_repo(workflow(GOOD.replace(ON, "on:\n  push:\n    branches: [trunk]\n")))
    git(source, "branch", "-m", "main", "trunk")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    out = run(f"file://{bare}", "ci.required_steps")
    assert (out.status, out.evidence["branch"]) == ("passed", "trunk")


def test_reusable_workflow_called_from_a_running_one_runs(make_repo: MakeRepo) -> None:
    caller = "on: [push]\njobs:\n  ci:\n    uses: ./.github/workflows/ci.yml\n"
    called = GOOD.replace(ON, "on:\n  workflow_call:\n")
    path = make_repo({**workflow(called), **workflow(caller, "main.yml")})
    assert findings(path) == []
    lonely = make_repo(workflow(called))
    assert findings(lonely)[0] == (
        f"{F}:2: workflow never runs on a push or pull request to main (on: workflow_call):"
        " its test step never runs"
    )


@pytest.mark.parametrize(
    ("patterns", "branch", "expected"),
    [
        (["main"], "main", True),
        (["mai"], "main", False),
        (["*"], "main", True),
        (["*"], "feature/x", False),
        (["**"], "feature/x", True),
        (["feature/*"], "feature/x", True),
        (["feature/*"], "feature/x/y", False),
        (["feature/**"], "feature/x/y", True),
        (["**", "!main"], "main", False),
        (["!main", "**"], "main", True),
        (["v[12].*"], "v1.x", True),
        (["mai?n"], "man", True),
        (["ma+in"], "maaain", True),
    ],
)
def test_branch_filter_globs(patterns: list[str], branch: str, expected: bool) -> None:
    from grader.workflowplan import branch_matches

    assert branch_matches(patterns, branch) is expected


# --- the template's own workflow --------------------------------------------------------


def test_template_workflow_passes_the_ci_checks(cookies: Any) -> None:
    from tests.template.template_helpers import bake

    repo = bake(cookies)
    for check in ("ci.workflows", "ci.required_steps", "ci.anti_patterns"):
        out = run(repo, check)
        assert out.status == "passed", (check, out.message, out.evidence)


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


# --- through the CLI ----------------------------------------------------------------------


def test_cli_reports_the_swallowed_test_step_with_file_and_line(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    import json

    from grader.main import main
    from tests.helpers import write_rubric

    rubric = write_rubric(
        tmp_path / "ci.yaml",
        "milestone: ci\ntitle: CI\nchecks:\n"
        "  - {id: steps, check: ci.required_steps, points: 3}\n"
        "  - {id: anti, check: ci.anti_patterns, points: 2}\n",
    )
    repo = make_repo(workflow(with_tests('make test-api || echo "Integration tests completed"')))
    out = tmp_path / "out"
    assert main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)]) == 0
    tests = {
        t["name"].split(":")[0]: t for t in json.loads((out / "results.json").read_text())["tests"]
    }
    assert tests["steps"]["score"] == 3
    assert tests["anti"]["score"] == 1
    assert tests["anti"]["extra_data"]["evidence"]["findings"] == [
        f'{F}:20: `|| echo "Integration tests completed"` makes the test step pass when'
        " `make test-api` fails"
    ]
    assert "ci.yml:20:" in tests["anti"]["output"]
