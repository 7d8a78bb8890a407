"""The sandbox that runs team-controlled commands in a container, never on the host."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.checks import repo as repo_checks
from grader.checks.base import Context, RunSettings
from grader.sandbox import run_in_sandbox
from tests.helpers import build_tree
from tests.services import grader_leftovers, network_mode, new_run_id

pytestmark = pytest.mark.docker


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = build_tree(tmp_path / "team", {"src/app.py": "print('hello from the team')\n"})
    secret = tmp_path / "ta-only.txt"
    secret.write_text("the TA's secret\n")
    os.symlink(secret, root / "escape.txt")
    return root


def test_runs_a_copy_of_the_repo_offline_and_collects_files(repo: Path) -> None:
    run_id = new_run_id()
    script = (
        "python src/app.py; cat escape.txt || echo link-not-followed; "
        "echo report > out.txt; touch src/app.py.changed; "
        "python -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 2)' "
        "|| echo offline"
    )
    result = run_in_sandbox(
        repo, script, collect=["out.txt", "missing.txt"], run_id=run_id, network_mode="host"
    )
    assert result.ok, result.output
    assert "hello from the team" in result.output
    assert "the TA's secret" not in result.output
    assert "link-not-followed" in result.output
    assert "offline" in result.output
    assert result.files == {"out.txt": b"report\n"}
    assert not (repo / "src/app.py.changed").exists()  # a copy: the checkout is untouched
    assert grader_leftovers(run_id) == []


def test_setup_runs_before_the_command_and_its_result_is_kept(repo: Path) -> None:
    result = run_in_sandbox(
        repo,
        ["sh", "-c", "cat /tmp/home/prepared && ls src"],
        setup="echo deps-installed > /tmp/home/prepared",
        network_mode=network_mode(),
    )
    assert result.ok, result.output
    assert result.output.split() == ["deps-installed", "app.py"]


def test_a_failed_setup_is_reported_as_such(repo: Path) -> None:
    result = run_in_sandbox(repo, "true", setup="exit 3", network_mode=network_mode())
    assert (result.ok, result.setup_failed, result.exit_code) == (False, True, 3)
    assert result.output.startswith("setup failed (exit 3): exit 3")


def test_the_command_stops_at_its_time_limit(repo: Path) -> None:
    run_id = new_run_id()
    result = run_in_sandbox(repo, "sleep 60", timeout=2, network_mode=network_mode(), run_id=run_id)
    assert result.timed_out
    assert not result.ok
    assert result.seconds < 20
    assert grader_leftovers(run_id) == []


HOOK_ON_HOST_FAILS = """\
repos:
  - repo: local
    hooks:
      - id: not-on-the-host
        name: runs in a container, offline, without the grader's environment
        entry: sh -c 'test -z "$GRADER_TEST_SECRET" && test ! -e "$HOST_ONLY_PATH"'
        language: system
        pass_filenames: false
        always_run: true
"""


@pytest.mark.slow
def test_precommit_hooks_run_in_the_sandbox(
    make_repo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host_only = tmp_path / "host-only"
    host_only.write_text("x")
    config = HOOK_ON_HOST_FAILS.replace("$HOST_ONLY_PATH", str(host_only))
    repo_dir = make_repo({".pre-commit-config.yaml": config, "a.py": "x = 1\n"})
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    settings = RunSettings(network_mode=network_mode(), run_id=new_run_id())
    ctx = Context(repo_dir, "HEAD", None, settings=settings)
    outcome = repo_checks.precommit_run(ctx, repo_checks.PrecommitRunParams())
    assert (outcome.status, outcome.message) == ("passed", "pre-commit passed on all files")
    assert grader_leftovers(settings.run_id) == []
