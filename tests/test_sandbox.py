"""The sandbox that runs team-controlled commands in a container, never on the host."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.checks import precommit
from grader.checks.base import Context, RunSettings
from grader.engineruns import CACHE_LABEL
from grader.envcache import ENV_REPOSITORY, EnvCache, cache_key, remove_cache_images
from grader.main import main
from grader.sandbox import SandboxResult, run_in_sandbox
from grader.sandboxtools import pip_install
from tests.helpers import build_tree
from tests.services import docker_client, grader_leftovers, network_mode, new_run_id

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
    outcome = precommit.precommit_run(ctx, precommit.PrecommitRunParams())
    assert (outcome.status, outcome.message) == ("passed", "pre-commit passed on all files")
    assert grader_leftovers(settings.run_id) == []


# --- the dependency-environment cache ---------------------------------------------------------

# `deps.txt` stands for the files that declare dependencies, /opt/deps for site-packages,
# /opt/project for the project's own install. Each setup counts its runs in /opt/setups.
CACHED = EnvCache(("deps.txt",), refresh="cp src/app.txt /opt/project")
SHOW = "cat /opt/deps /opt/project src/app.txt; wc -l < /opt/setups; ls src"


@pytest.fixture
def cache_run(tmp_path: Path) -> Iterator[str]:
    """A run id, also in the setup command so that keys are this test's own; the cache
    images the test built are removed after it."""
    run_id = new_run_id()
    yield run_id
    remove_cache_images(run_id)
    assert grader_leftovers(run_id) == []


def cached_run(repo: Path, run_id: str, cache: EnvCache = CACHED, **options: str) -> SandboxResult:
    setup = options.get(
        "setup", f"echo {run_id} >/dev/null; cp deps.txt /opt/deps; echo x >>/opt/setups"
    )
    return run_in_sandbox(
        repo, SHOW, setup=setup, cache=cache, run_id=run_id, network_mode=network_mode()
    )


def project(tmp_path: Path, **files: str) -> Path:
    tree = {"deps.txt": "numpy\n", "src/app.txt": "v1\n", "src/old.txt": "gone soon\n", **files}
    return build_tree(tmp_path / "team", tree)


def test_a_second_run_with_the_same_dependencies_runs_the_current_code(
    tmp_path: Path, cache_run: str
) -> None:
    repo = project(tmp_path)
    first = cached_run(repo, cache_run)
    assert first.ok, first.output
    assert first.environment.startswith("installed, now cached (key ")
    assert first.output.split() == ["numpy", "v1", "v1", "1", "app.txt", "old.txt"]
    (repo / "src/app.txt").write_text("v2\n")
    (repo / "src/old.txt").unlink()
    second = cached_run(repo, cache_run)
    assert second.ok, second.output
    assert second.environment == "cached (key " + first.environment.split("key ")[1]
    # Setup ran once; the refresh and the command saw the new code and not the old file.
    assert second.output.split() == ["numpy", "v2", "v2", "1", "app.txt"]
    # The cache image is no leftover of the run: the run's cleanup keeps it.
    assert (len(cache_images(cache_run)), grader_leftovers(cache_run)) == (1, [])


# The bytecode files beside a package's __init__, counted without importing it (an import
# would write them).
COMPILED = (
    'python -c "import importlib.util, pathlib; '
    "origin = pathlib.Path(importlib.util.find_spec('tabulate').origin); "
    "print(len(list((origin.parent / '__pycache__').glob('*.pyc'))))\""
)


def test_the_packages_a_setup_installs_are_kept_compiled(tmp_path: Path, cache_run: str) -> None:
    """Each run imports the cached dependencies and never compiles them again (uv does
    not compile unless told)."""
    setup = f"echo {cache_run} >/dev/null; {pip_install('tabulate==0.9.0')}"
    result = run_in_sandbox(
        project(tmp_path),
        COMPILED,
        setup=setup,
        cache=EnvCache(("deps.txt",)),
        run_id=cache_run,
        network_mode=network_mode(),
    )
    assert result.ok, result.output
    assert int(result.output.split()[-1]) >= 2  # tabulate/__init__ and tabulate/version


def test_runs_that_need_one_environment_at_once_install_it_once(
    tmp_path: Path, cache_run: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    repos = [project(tmp_path / f"team-{i}") for i in range(2)]
    setup = f"echo {cache_run} >/dev/null; sleep 2; cp deps.txt /opt/deps; echo x >>/opt/setups"
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda repo: cached_run(repo, cache_run, setup=setup), repos))
    assert all(r.ok for r in done), [r.output for r in done]
    kinds = sorted(r.environment.split(" (")[0] for r in done)
    assert kinds == ["cached", "installed, now cached"]
    assert [r.output.split()[3] for r in done] == ["1", "1"]  # one setup, seen by both
    assert len(cache_images(cache_run)) == 1


def test_changed_dependencies_miss_the_cache(tmp_path: Path, cache_run: str) -> None:
    repo = project(tmp_path)
    assert cached_run(repo, cache_run).environment.startswith("installed, now cached")
    (repo / "deps.txt").write_text("numpy\npandas\n")
    second = cached_run(repo, cache_run)
    assert second.environment.startswith("installed, now cached")
    assert second.output.split()[:2] == ["numpy", "pandas"]


def test_without_a_refresh_the_current_repo_is_copied_in(tmp_path: Path, cache_run: str) -> None:
    repo = project(tmp_path)
    bare = EnvCache(("deps.txt",))
    show = "cat /opt/deps src/app.txt; ls src"
    first = run_in_sandbox(
        repo,
        show,
        setup=f"echo {cache_run}; cp deps.txt /opt/deps",
        cache=bare,
        run_id=cache_run,
        network_mode=network_mode(),
    )
    (repo / "src/app.txt").write_text("v2\n")
    (repo / "src/old.txt").unlink()
    second = run_in_sandbox(
        repo,
        show,
        setup=f"echo {cache_run}; cp deps.txt /opt/deps",
        cache=bare,
        run_id=cache_run,
        network_mode=network_mode(),
    )
    assert first.output.split() == ["numpy", "v1", "app.txt", "old.txt"]
    assert second.environment.startswith("cached (key ")
    assert second.output.split() == ["numpy", "v2", "app.txt"]


def test_a_failed_setup_is_not_cached(tmp_path: Path, cache_run: str) -> None:
    repo = project(tmp_path)
    setup = f"echo {cache_run}; exit 3"
    for _ in range(2):  # the second run installs again: nothing was cached
        result = cached_run(repo, cache_run, setup=setup)
        assert (result.setup_failed, result.exit_code, result.environment) == (True, 3, "")
    assert cache_images(cache_run) == []


def test_a_failed_refresh_is_a_failed_setup(tmp_path: Path, cache_run: str) -> None:
    repo = project(tmp_path)
    result = cached_run(repo, cache_run, EnvCache(("deps.txt",), refresh="exit 4"))
    assert (result.setup_failed, result.exit_code) == (True, 4)
    assert result.output.startswith("setup failed (exit 4): exit 4")


# The offline refresh writes the container's hostname: the command prints its own beside it.
OFFLINE = "cp src/app.txt /opt/project && echo refreshed && hostname > /tmp/refreshed-in"
HERE = "cat /opt/project; cat /tmp/refreshed-in 2>/dev/null || echo elsewhere; hostname"


def test_the_offline_refresh_runs_in_the_commands_own_container(
    tmp_path: Path, cache_run: str
) -> None:
    repo = project(tmp_path)
    cache = EnvCache(("deps.txt",), refresh="exit 9", offline=OFFLINE)
    assert cached_run(repo, cache_run, cache).ok
    (repo / "src/app.txt").write_text("v2\n")
    result = run_in_sandbox(
        repo,
        HERE,
        setup=f"echo {cache_run} >/dev/null; cp deps.txt /opt/deps; echo x >>/opt/setups",
        cache=cache,
        run_id=cache_run,
        network_mode=network_mode(),
    )
    assert result.ok, result.output
    project_text, refreshed_in, ran_in = result.output.split()
    assert project_text == "v2"  # the current code, installed by the offline refresh
    assert refreshed_in == ran_in  # in the command's own container (no step, no image)
    assert "refreshed" not in result.output  # its output is kept apart from the command's


def test_a_failed_offline_refresh_falls_back_to_the_refresh_step(
    tmp_path: Path, cache_run: str
) -> None:
    repo = project(tmp_path)
    fallback = EnvCache(("deps.txt",), refresh="cp src/app.txt /opt/project", offline="exit 5")
    result = cached_run(repo, cache_run, fallback)
    assert result.ok, result.output
    assert result.output.split() == ["numpy", "v1", "v1", "1", "app.txt", "old.txt"]
    both_fail = EnvCache(("deps.txt",), refresh="exit 4", offline="exit 5")
    failed = cached_run(repo, cache_run, both_fail)
    assert (failed.setup_failed, failed.exit_code) == (True, 4)
    assert failed.output.startswith("setup failed (exit 4): exit 4")


def test_a_command_that_exits_like_a_failed_refresh_keeps_its_own_result(
    tmp_path: Path, cache_run: str
) -> None:
    repo = project(tmp_path)
    cache = EnvCache(("deps.txt",), refresh="exit 9", offline=OFFLINE)
    result = run_in_sandbox(
        repo,
        "echo mine; exit 213",
        setup=f"echo {cache_run} >/dev/null; cp deps.txt /opt/deps",
        cache=cache,
        run_id=cache_run,
        network_mode=network_mode(),
    )
    assert (result.exit_code, result.setup_failed, result.output.strip()) == (213, False, "mine")


def test_concurrent_builds_of_one_key_leave_one_cache_image(tmp_path: Path, cache_run: str) -> None:
    repo = project(tmp_path)
    results: list[SandboxResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(cached_run(repo, cache_run)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.ok for r in results] == [True, True], [r.output for r in results]
    assert len(cache_images(cache_run)) == 1
    assert cached_run(repo, cache_run).environment.startswith("cached (key ")


def test_the_key_never_follows_links(tmp_path: Path) -> None:
    repo = project(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("a")
    (repo / "deps.txt").unlink()
    os.symlink(outside, repo / "deps.txt")
    before = cache_key(repo, "sha256:x", "setup", ["deps.txt", "missing.txt"])
    outside.write_text("b")
    assert cache_key(repo, "sha256:x", "setup", ["deps.txt", "missing.txt"]) == before
    assert cache_key(repo, "sha256:x", "other setup", ["deps.txt"]) != before
    os.symlink(tmp_path, repo / "up")
    escaping = ["../outside.txt", "up/outside.txt"]
    before = cache_key(repo, "sha256:x", "setup", escaping)
    outside.write_text("c")
    assert cache_key(repo, "sha256:x", "setup", escaping) == before


def test_grader_clean_cache_removes_the_runs_cache_images(
    tmp_path: Path, cache_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cached_run(project(tmp_path), cache_run).ok
    assert len(cache_images(cache_run)) == 1
    capsys.readouterr()
    assert main(["clean", "--run", cache_run, "--cache"]) == 0
    assert capsys.readouterr().out == (
        "removed 0 containers, 0 images, 0 networks, 1 cache images\n"
    )
    assert cache_images(cache_run) == []


def cache_images(run_id: str) -> list[str]:
    client = docker_client()
    try:
        flt = {"label": [f"{CACHE_LABEL}=1", f"org.mlops-capstone-kit.run={run_id}"]}
        found = client.images.list(filters=flt)
        assert all(t.startswith(ENV_REPOSITORY + ":") for i in found for t in i.tags)
        return [str(i.id) for i in found]
    finally:
        client.close()
