"""Test-suite checks: the team's suite runs in a sandbox container; its reports are scored.

The Docker tests run real suites (passing, failing, low coverage, hanging, reaching for the
network); the rest score hand-written reports without an engine.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import suitereport
from grader.checks import projectenv, testsuite
from grader.checks.base import Context, Outcome
from grader.checks.registry import REGISTRY
from grader.envcache import remove_cache_images
from grader.errors import CheckError
from grader.grade import Options, context_for
from grader.manifest import Manifest
from grader.sandbox import SandboxResult
from grader.sandboxtools import pip_install
from grader.target import prepare
from tests.fixtures.suites import PYPROJECT, ensure_base_image, suite_files
from tests.helpers import commit_all

MakeRepo = Callable[..., Path]
SCORING = ("tests.pass", "tests.count", "tests.coverage", "tests.kinds")


def grade(path: Path, run_id: str, run_params: dict[str, Any], **params: Any) -> dict[str, Outcome]:
    """Run tests.run on `path`, then the scoring checks on what it provided."""
    co = prepare(str(path))
    try:
        ctx: Context = context_for(co, Options(network_mode="host"), run_id)
        ctx.check_id = "tests.run"
        outcomes = {"tests.run": _call(ctx, "tests.run", run_params)}
        ctx.provided = ctx.provided.merged(outcomes["tests.run"].provides)
        if ctx.provided.test_report is not None:
            for name in SCORING:
                outcomes[name] = _call(ctx, name, params.get(name, {}))
        return outcomes
    finally:
        co.close()


def _call(ctx: Context, name: str, params: dict[str, Any]) -> Outcome:
    definition = REGISTRY[name]
    return definition.func(ctx, definition.params.model_validate(params))


@pytest.fixture(scope="module")
def image() -> str:
    return ensure_base_image()


def fast(image: str, **extra: Any) -> dict[str, Any]:
    """tests.run params for a suite whose dependencies the base image already has."""
    return {"image": image, "setup": None, "timeout": 120, **extra}


def leftover_containers(run_id: str) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        found = client.containers.list(
            all=True, filters={"label": f"org.mlops-capstone-kit.run={run_id}"}
        )
        return [c.name for c in found]
    finally:
        client.close()


# --- with a real engine -------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_passing_suite_passes_every_check(make_repo: MakeRepo, image: str) -> None:
    # `auto` setup: pip install -e '.[dev]' with network, then the tests without.
    out = grade(
        make_repo(suite_files()),
        "ts-pass",
        {"image": image, "timeout": 120},
        **{"tests.count": {"min_tests": 4}, "tests.coverage": {"threshold": 50}},
    )
    assert out["tests.run"].status == "passed", out["tests.run"]
    assert out["tests.run"].message.startswith("the suite ran: 4 passed, coverage ")
    assert out["tests.pass"].message == "all 4 tests passed"
    assert out["tests.count"].message == "4 tests ran"
    assert out["tests.kinds"].message == "1 data, 2 model, 1 api tests"
    assert {name: o.status for name, o in out.items()} == dict.fromkeys(out, "passed")
    assert leftover_containers("ts-pass") == []


@pytest.mark.docker
@pytest.mark.slow
def test_failing_test_fails_with_its_name(make_repo: MakeRepo, image: str) -> None:
    broken = "def test_wrong():\n    assert 1 + 1 == 3\n"
    out = grade(make_repo(suite_files(test_broken=broken)), "ts-fail", fast(image))
    assert out["tests.run"].status == "passed"
    result = out["tests.pass"]
    assert (result.status, result.fraction) == ("failed", 0.8)
    assert result.message == "1 of 5 tests failed: tests/test_broken.py::test_wrong"
    assert "assert (1 + 1) == 3" in result.evidence["failing"][0]["message"]


@pytest.mark.docker
@pytest.mark.slow
def test_low_coverage_fails_with_partial_credit(make_repo: MakeRepo, image: str) -> None:
    out = grade(
        make_repo(suite_files()),
        "ts-cov",
        fast(image),
        **{"tests.coverage": {"threshold": 95}},
    )
    result = out["tests.coverage"]
    assert result.status == "failed"
    value = result.evidence["coverage"]
    assert value < 95
    assert result.message == f"coverage {value:.1f}% (need 95%)"
    assert result.fraction == pytest.approx(value / 95, abs=0.01)


@pytest.mark.docker
@pytest.mark.slow
def test_hanging_suite_is_stopped_and_removed(make_repo: MakeRepo, image: str) -> None:
    hang = "import time\n\n\ndef test_forever():\n    time.sleep(3600)\n"
    out = grade(make_repo(suite_files(test_hang=hang)), "ts-hang", fast(image, timeout=15))
    result = out["tests.run"]
    assert (result.status, result.message) == (
        "failed",
        "the test suite did not finish within 15s and was stopped",
    )
    assert "tests.pass" not in out  # nothing to score: tests.pass is blocked in a rubric
    assert leftover_containers("ts-hang") == []


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on the host's 127.0.0.1 that records every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except OSError:
                continue
            seen.append(str(addr))
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(2)
    server.close()


@pytest.mark.docker
@pytest.mark.slow
def test_suite_reaching_the_network_fails(
    make_repo: MakeRepo, image: str, listener: tuple[int, list[str]]
) -> None:
    port, seen = listener
    reach = (
        "import socket\n\n\n"
        "def test_calls_home():\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
    )
    out = grade(make_repo(suite_files(test_net=reach)), "ts-net", fast(image))
    result = out["tests.pass"]
    assert result.status == "failed"
    assert result.message == (
        "1 of 5 tests failed: tests/test_net.py::test_calls_home "
        "(tried to reach the network; tests run offline)"
    )
    assert seen == []  # the host's listener never saw the container


@pytest.mark.docker
@pytest.mark.slow
def test_failed_install_is_named(make_repo: MakeRepo, image: str) -> None:
    out = grade(make_repo(suite_files()), "ts-setup", fast(image, setup="exit 3"))
    assert (out["tests.run"].status, out["tests.run"].message) == (
        "failed",
        "installing the dependencies failed (exit code 3)",
    )


@pytest.mark.docker
@pytest.mark.slow
def test_a_regrade_reuses_the_dependencies_and_runs_the_current_code(
    make_repo: MakeRepo, image: str
) -> None:
    run_id = "ts-cache-" + uuid.uuid4().hex[:8]
    files = suite_files()
    files["pyproject.toml"] = PYPROJECT + own_key(run_id)
    path = make_repo(files)
    try:
        first = grade(path, run_id, {"image": image, "timeout": 120})["tests.run"]
        assert first.status == "passed", first
        assert first.evidence["environment"].startswith("installed, now cached (key ")
        code = (path / "tiny/__init__.py").read_text()
        (path / "tiny/__init__.py").write_text(code.replace("2 * x", "3 * x"))
        commit_all(path, "triple")
        second = grade(path, run_id, {"image": image, "timeout": 120})["tests.run"]
        assert second.evidence["environment"].startswith("cached (key ")
        # The suite ran the new code, not the copy the cache was built from.
        assert second.message.startswith("the suite ran: 3 passed, 1 failed"), second
    finally:
        remove_cache_images(run_id)


def own_key(run_id: str) -> str:
    """A tool table that is part of the dependency set: this test's own cache key."""
    return f'\n[tool.grader-test]\nkey = "{run_id}"\n'


def renamed(pyproject: str, name: str) -> str:
    """The same project under another team's name, description and tool settings."""
    text = pyproject.replace('name = "tiny"', f'name = "{name}"\ndescription = "{name}"')
    return text.replace('markers = ["api', 'addopts = "-q"\nmarkers = ["api')


def env_image(environment: str) -> str:
    """The cache image an evidence's `environment` names (its last key: the one it is now
    cached as)."""
    import docker

    key = re.findall(r"\(key ([0-9a-f]+)\)", environment)[-1]
    client = docker.from_env()
    try:
        [found] = [
            i
            for i in client.images.list("mlops-capstone-kit/env")
            if any(t.split(":")[1].startswith(key) for t in i.tags)
        ]
        return str(found.id)
    finally:
        client.close()


def freeze(image_id: str) -> str:
    """`pip list --format=freeze` in a container of the image, with no network."""
    import docker

    client = docker.from_env()
    try:
        listed = client.containers.run(
            image_id, "pip list --format=freeze", remove=True, network_mode="none"
        )
    finally:
        client.close()
    return listed.decode()


@pytest.mark.docker
@pytest.mark.slow
def test_teams_with_the_same_dependencies_share_one_environment_holding_none_of_their_code(
    make_repo: MakeRepo, image: str
) -> None:
    run_id = "ts-share-" + uuid.uuid4().hex[:8]
    team_a, team_b = suite_files(), suite_files()
    team_a["pyproject.toml"] = renamed(PYPROJECT, "team-a-service") + own_key(run_id)
    team_b["pyproject.toml"] = renamed(PYPROJECT, "team_B.Service") + own_key(run_id)
    path_a, path_b = make_repo(team_a, name="team-a"), make_repo(team_b, name="team-b")
    try:
        first = grade(path_a, run_id, {"image": image, "timeout": 120})["tests.run"]
        assert first.evidence["environment"].startswith("installed, now cached (key ")
        second = grade(path_b, run_id, {"image": image, "timeout": 120})["tests.run"]
        assert second.status == "passed", second
        assert second.evidence["environment"] == first.evidence["environment"].replace(
            "installed, now cached", "cached"
        )
        # The shared environment holds the dependencies, not team A's project.
        listed = freeze(env_image(first.evidence["environment"]))
        assert "pytest-cov==" in listed
        assert "team-a-service" not in listed.lower()
        assert "team_a_service" not in listed
    finally:
        remove_cache_images(run_id)


def test_only_the_auto_setup_is_cached_keyed_by_the_dependency_files(
    make_repo: MakeRepo,
) -> None:
    path = make_repo(suite_files())
    (path / "requirements-dev.txt").write_text("-r requirements/base.txt\n-e .\n")
    cache = projectenv._env_cache(path, "auto")
    assert cache is not None
    assert cache.key_files == (
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements",
        "Pipfile",
        "Pipfile.lock",
        "uv.lock",
        "requirements-dev.txt",
        "requirements/base.txt",
    )
    assert cache.refresh == pip_install("--no-deps --force-reinstall -e .")
    assert cache.forget == "uv pip uninstall --system -q tiny"
    # Run first in the command's container: no network, the backend from the environment.
    assert cache.offline is not None
    assert "--no-build-isolation" in cache.offline
    assert "--no-index" in cache.offline.split(" || ")[1]
    assert projectenv._env_cache(path, "make deps") is None
    # A local package other than the project would be a stale copy in the cache.
    (path / "requirements.txt").write_text("numpy\n./libs/helpers\n")
    assert projectenv._env_cache(path, "auto") is None


@pytest.mark.parametrize(
    ("build_system", "expected"),
    [
        ('[build-system]\nrequires = ["hatchling>=1.20"]\n', ["hatchling>=1.20"]),
        ("", ["setuptools>=40.8.0", "wheel"]),  # PEP 517's default without a build system
        ("[build-system]\nrequires = []\n", ["setuptools>=40.8.0", "wheel"]),
        ('[build-system]\nrequires = "hatchling"\n', ["setuptools>=40.8.0", "wheel"]),
    ],
)
def test_the_build_backend_installed_with_the_dependencies(
    tmp_path: Path, build_system: str, expected: list[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(build_system + '[project]\nname = "x"\n')
    assert projectenv._build_requires(tmp_path) == expected


def test_dependencies_read_from_files_by_setuptools_are_in_the_key(make_repo: MakeRepo) -> None:
    dynamic = (
        '\n[tool.setuptools.dynamic]\ndependencies = {file = ["deps.in"]}\n'
        'optional-dependencies.dev = {file = ["dev.in", "lint.in"]}\n'
    )
    path = make_repo(suite_files())
    (path / "pyproject.toml").write_text(PYPROJECT + dynamic)
    cache = projectenv._env_cache(path, "auto")
    assert cache is not None
    assert cache.key_files[-3:] == ("deps.in", "dev.in", "lint.in")


# --- scoring a report, no engine ---------------------------------------------------------------

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.test_data" name="test_ok" file="tests/test_data.py">
  <properties><property name="grader_markers" value=""/>
  <property name="grader_nodeid" value="tests/test_data.py::test_ok"/></properties>
</testcase>
<testcase classname="tests.test_api" name="test_get">
  <properties><property name="grader_markers" value="api,slow"/>
  <property name="grader_nodeid" value="tests/test_api.py::test_get"/></properties>
  <failure message="AssertionError: 500 != 200">trace</failure>
</testcase>
<testcase classname="tests.test_model" name="test_skip"><skipped message="later"/></testcase>
<testcase classname="tests.model.test_fit" name="test_fit"/>
</testsuite></testsuites>
"""
COVERAGE = b'<?xml version="1.0" ?><coverage line-rate="0.7342" branch-rate="0"></coverage>'


def report_ctx(make_repo: MakeRepo) -> Context:
    path = make_repo(suite_files())
    result = SandboxResult(
        1, "output", False, 3.0, {suitereport.JUNIT: JUNIT, suitereport.COVERAGE: COVERAGE}
    )
    outcome = testsuite._judge_run("pytest", result, testsuite.RunParams())
    assert outcome.message == "the suite ran: 2 passed, 1 failed, 1 skipped, coverage 73.4%"
    from grader.manifest import load_manifest

    return Context(path, None, load_manifest(path / "capstone.yaml"), provided=outcome.provides)


def test_report_parsing(make_repo: MakeRepo) -> None:
    report = report_ctx(make_repo).provided.test_report
    assert [(c.nodeid, c.outcome, c.markers) for c in report.cases] == [
        ("tests/test_data.py::test_ok", "passed", ()),
        ("tests/test_api.py::test_get", "failed", ("api", "slow")),
        ("tests/test_model.py::test_skip", "skipped", ()),
        ("tests/model/test_fit.py::test_fit", "passed", ()),
    ]


def test_scoring_checks_on_a_report(make_repo: MakeRepo) -> None:
    ctx = report_ctx(make_repo)
    out = _call(ctx, "tests.pass", {})
    assert (out.message, out.fraction) == (
        "1 of 3 tests failed: tests/test_api.py::test_get",
        pytest.approx(2 / 3),
    )
    assert _call(ctx, "tests.pass", {"partial": False}).fraction == 0.0
    out = _call(ctx, "tests.count", {"min_tests": 6})
    assert (out.message, out.fraction) == ("3 tests ran (need 6)", 0.5)
    out = _call(ctx, "tests.coverage", {"threshold": 80, "zero_at": 60})
    assert out.fraction == pytest.approx((73.42 - 60) / 20)
    out = _call(ctx, "tests.kinds", {})
    assert out.message == "1 data, 1 model, 1 api tests"
    out = _call(ctx, "tests.kinds", {"kinds": {"data": ["tests/test_data.py"]}})
    assert (out.message, out.fraction) == ("no model, api tests ran", pytest.approx(1 / 3))


def test_the_suites_own_coverage_report_is_read() -> None:
    files = {suitereport.JUNIT: JUNIT, suitereport.TEAM_COVERAGE: COVERAGE}
    result = SandboxResult(0, "", False, 1.0, files)
    report = testsuite._judge_run("make test", result, testsuite.RunParams()).provides
    assert report.test_report is not None
    assert report.test_report.coverage == 73.42


def test_no_report_means_the_suite_did_not_run(make_repo: MakeRepo) -> None:
    result = SandboxResult(4, "ERROR: file not found: tests", False, 1.0, {})
    out = testsuite._judge_run("pytest", result, testsuite.RunParams())
    assert out.message == "no test ran (exit code 4; collection error or no pytest?)"


COLLECTION_ERROR = b"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>
<testcase classname="tests.test_app" name="tests.test_app" time="0.000">
<error message="collection failure">ImportError while importing test module 'tests/test_app.py'.
tests/test_app.py:1: in &lt;module&gt;
    from app import app
E   ModuleNotFoundError: No module named 'app'</error></testcase></testsuite></testsuites>"""


def test_a_suite_that_only_errors_at_collection_did_not_run() -> None:
    result = SandboxResult(2, "1 error", False, 1.0, {suitereport.JUNIT: COLLECTION_ERROR})
    out = testsuite._judge_run("pytest", result, testsuite.RunParams())
    assert out.status == "failed"
    assert out.message == (
        "no test ran: collecting the suite failed (1 error; tests/test_app.py::tests.test_app:"
        " ModuleNotFoundError: No module named 'app')"
    )


def test_scoring_without_a_report_is_an_error(make_repo: MakeRepo) -> None:
    ctx = Context(make_repo(suite_files()), None, None)
    with pytest.raises(CheckError, match="no 'test_report' from an earlier check"):
        _call(ctx, "tests.pass", {})


def test_auto_setup_installs_the_dev_extra(make_repo: MakeRepo) -> None:
    path = make_repo(suite_files(**{"requirements": None}))
    (path / "requirements.txt").write_text("numpy\n")
    command = projectenv.setup_command(Context(path, None, None), "auto")
    # The build backend first, into the environment: a later run installs the project
    # from the cache offline, and the dependencies installed after it win a conflict.
    backend = pip_install("'setuptools>=69'")
    assert backend in command
    assert command.index(backend) < command.index("-e '.[dev]'")
    assert command.endswith(
        "{ uv pip install --system --compile-bytecode -q -e '.[dev]'"
        " || pip install -q -e '.[dev]'; }"
        " && { uv pip install --system --compile-bytecode -q -r requirements.txt"
        " || pip install -q -r requirements.txt; }"
        ' && { python -c "import pytest" 2>/dev/null || '
        "{ uv pip install --system --compile-bytecode -q pytest || pip install -q pytest; }; }"
    )
    env = suitereport.pytest_env(path, "pytest -q --cov=tiny")
    assert "--cov-report=xml:/tmp/grader/coverage.xml" in env["PYTEST_ADDOPTS"]


LOCKED_TEST = """\
import tomllib
from importlib.metadata import version
from pathlib import Path


def test_every_locked_package_is_installed_at_its_locked_version():
    lock = tomllib.loads(Path("uv.lock").read_text())
    names = {"pytest", "pytest-cov", "coverage", "pluggy", "iniconfig", "packaging"}
    pins = {p["name"]: p["version"] for p in lock["package"] if p["name"] in names}
    assert len(pins) == len(names)
    assert {name: version(name) for name in pins} == pins
"""


@pytest.mark.docker
@pytest.mark.slow
def test_a_uv_project_gets_exactly_its_lock_and_a_stale_lock_fails_the_setup(
    make_repo: MakeRepo, image: str
) -> None:
    # Locked as of an older date: a plain install of the same names would get newer ones.
    files = {
        **suite_files(test_locked=LOCKED_TEST),
        "pyproject.toml": PYPROJECT + '\n[tool.uv]\nexclude-newer = "2025-06-01T00:00:00Z"\n',
    }
    path = make_repo(files)
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "lock", "-q"], cwd=path, check=True)
    commit_all(path, "Lock the dependencies")
    out = grade(path, "ts-uv", {"image": image, "timeout": 120})
    result = out["tests.run"]
    assert result.status == "passed", result
    assert result.message.startswith("the suite ran: 5 passed"), result.evidence["output"]

    # A dependency added to pyproject.toml without `uv lock`: uv's own words say so.
    pyproject = (path / "pyproject.toml").read_text()
    (path / "pyproject.toml").write_text(pyproject.replace('"pytest-cov"]', '"pytest-cov", "six"]'))
    commit_all(path, "Add six")
    result = grade(path, "ts-uv-stale", {"image": image, "timeout": 120})["tests.run"]
    assert (result.status, result.message) == (
        "failed",
        "installing the dependencies failed (exit code 1)",
    )
    assert "needs to be updated" in result.evidence["output"]
    assert leftover_containers("ts-uv") == leftover_containers("ts-uv-stale") == []


DERIVE_RUN = "ts-derive"  # fixed: a run of this test removes what an earlier one left


def locked_team(make_repo: MakeRepo, name: str, dev: str) -> Path:
    """A uv project of this test (its own lock date: other tests' environments are no
    seeds for it) with `dev` as its dev extra, locked."""
    pyproject = PYPROJECT.replace('dev = ["pytest", "pytest-cov"]', f"dev = {dev}")
    pyproject += '\n[tool.uv]\nexclude-newer = "2025-03-01T00:00:00Z"\n'
    path = make_repo({**suite_files(), "pyproject.toml": pyproject}, name=name)
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "lock", "-q"], cwd=path, check=True)
    commit_all(path, "Lock the dependencies")
    return path


def installed(image_id: str) -> set[str]:
    return set(freeze(image_id).split())


@pytest.mark.docker
@pytest.mark.slow
def test_a_lock_that_extends_a_cached_one_is_installed_over_it_as_a_fresh_install_would(
    make_repo: MakeRepo, image: str
) -> None:
    remove_cache_images(DERIVE_RUN)
    params = {"image": image, "timeout": 120}
    try:
        first = locked_team(make_repo, "team-a", '["pytest", "pytest-cov"]')
        result = grade(first, DERIVE_RUN, params)["tests.run"]
        assert result.status == "passed", result
        assert result.evidence["environment"].startswith("installed, now cached (key ")
        seed = env_image(result.evidence["environment"])

        # A package added: installed over team A's environment, and only that is new.
        added = locked_team(make_repo, "team-b", '["pytest", "pytest-cov", "six"]')
        result = grade(added, DERIVE_RUN, params)["tests.run"]
        assert result.status == "passed", result
        environment = result.evidence["environment"]
        [seed_key] = docker_tags(seed)
        assert environment.startswith(
            f"installed over the cached environment of a lock it extends (key {seed_key[:12]})"
        ), environment
        derived = installed(env_image(environment))
        assert installed(seed) <= derived
        assert [package.split("==")[0] for package in derived - installed(seed)] == ["six"]

        # Its lock pins all of team A's packages, but its export leaves pytest-cov out (an
        # extra the setup does not install): the container's check sends it to a fresh
        # install, which has no coverage from team A's lock.
        moved = locked_team(make_repo, "team-c", '["pytest"]\ncov = ["pytest-cov"]')
        result = grade(moved, DERIVE_RUN, params)["tests.run"]
        assert result.status == "passed", result
        environment = result.evidence["environment"]
        assert environment.startswith("installed, now cached (key "), environment
        assert environment.endswith(
            f"; not over the cached environment {seed_key[:12]}: "
            "the lock pins these otherwise: coverage, pytest-cov, tomli"
        ), environment
    finally:
        removed = remove_cache_images(DERIVE_RUN)
    assert removed == 3
    assert leftover_images(DERIVE_RUN) == []


def docker_tags(image_id: str) -> list[str]:
    """The cache keys (tags) of an image."""
    import docker

    client = docker.from_env()
    try:
        return [t.split(":")[1] for t in client.images.get(image_id).tags]
    finally:
        client.close()


def leftover_images(run_id: str) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        found = client.images.list(filters={"label": f"org.mlops-capstone-kit.run={run_id}"})
        return [str(i.id) for i in found]
    finally:
        client.close()


@pytest.mark.docker
@pytest.mark.slow
def test_flood_of_output_is_truncated(make_repo: MakeRepo, image: str) -> None:
    flood = (
        "import os\n\n\n"
        "def test_floods():\n"
        "    for _ in range(200):\n"
        "        os.write(1, b'x' * 1_000_000 + b'\\n')\n"
    )
    out = grade(make_repo(suite_files(test_flood=flood)), "ts-flood", fast(image))
    result = out["tests.run"]
    assert result.status == "passed", result
    assert len(result.evidence["output"]) < 10_000
    assert "5 passed" in result.evidence["output"]  # the end of the log survives


def _manifest_ctx(path: Path, **tests: object) -> Context:
    data = {
        "version": 1,
        "team": {"name": "T", "members": [{"name": "Ann Lee", "github": "ann-lee"}]},
        "tests": tests,
    }
    return Context(path, None, Manifest.model_validate(data))


def test_a_pyproject_that_only_configures_tools_is_not_installed(make_repo: MakeRepo) -> None:
    """Its dependencies are in requirements.txt; pytest, listed only in CI, is installed."""
    path = make_repo(
        {"pyproject.toml": "[tool.ruff]\nline-length = 100\n", "requirements.txt": "x\n"}
    )
    command = projectenv._auto_install(_manifest_ctx(path, command="pytest --cov=src -q"))
    assert "-e" not in command
    assert command.startswith(pip_install("-r requirements.txt") + " && ")
    assert pip_install("pytest") in command
    assert 'python -c "import pytest_cov" 2>/dev/null || ' + pip_install("pytest-cov") in command
    cache = projectenv._env_cache(path, "auto")
    assert cache is not None
    assert cache.refresh is None


def test_the_manifests_requirement_files_are_installed_and_in_the_cache_key(
    make_repo: MakeRepo,
) -> None:
    path = make_repo({"app/requirements.txt": "x\n", "requirements.txt": "y\n"})
    ctx = _manifest_ctx(path, requirements=["app/requirements.txt"])
    command = projectenv._auto_install(ctx)
    assert command.startswith(pip_install("-r app/requirements.txt") + " && ")
    assert "-r requirements.txt" not in command
    cache = projectenv._env_cache(path, "auto", projectenv._listed(ctx))
    assert cache is not None
    assert "app/requirements.txt" in cache.key_files


def test_the_manifests_install_command_replaces_the_auto_install_and_is_never_cached(
    make_repo: MakeRepo,
) -> None:
    path = make_repo({"pyproject.toml": '[project]\nname = "x"\n', "requirements.txt": "y\n"})
    ctx = _manifest_ctx(path, install="pip install -q numpy")
    command = projectenv._auto_install(ctx)
    assert command.startswith("( pip install -q numpy ) && ")
    assert "-e" not in command
    assert "-r requirements.txt" not in command
    assert projectenv.project_sandbox(ctx).cache is None


def test_a_pipenv_project_installs_from_its_lock(make_repo: MakeRepo) -> None:
    path = make_repo({"Pipfile": "[packages]\nflask = '*'\n", "Pipfile.lock": "{}\n"})
    command = projectenv._auto_install(_manifest_ctx(path))
    assert command.startswith("pip install -q pipenv && pipenv install --system --dev --deploy && ")
    cache = projectenv._env_cache(path, "auto")
    assert cache is not None
    assert {"Pipfile", "Pipfile.lock"} <= set(cache.key_files)


@pytest.mark.parametrize(
    ("files", "tests", "expected"),
    [
        ({".python-version": "3.12.4\n"}, {}, "python:3.12-slim"),
        (
            {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.13"\n'},
            {},
            "python:3.13-slim",
        ),
        (
            {"Dockerfile": "FROM python:3.10-slim\n", ".python-version": "3.12\n"},
            {},
            "python:3.10-slim",
        ),
        ({"Dockerfile": "FROM python:3.10-slim\n"}, {"python": "3.12"}, "python:3.12-slim"),
        ({"README.md": "x\n"}, {}, "python:3.11-slim"),
    ],
)
def test_the_suites_python_comes_from_the_manifest_then_the_repo(
    make_repo: MakeRepo, files: dict[str, str], tests: dict[str, str], expected: str
) -> None:
    assert projectenv.base_image(_manifest_ctx(make_repo(files), **tests), "auto") == expected


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        ("FROM python:3.13-slim AS deps\nFROM deps\n", "python:3.13-slim"),
        ("FROM --platform=linux/amd64 docker.io/library/python:3.12\n", "python:3.12-slim"),
        ("FROM ubuntu:24.04\n", "python:3.11-slim"),
        (None, "python:3.11-slim"),
    ],
)
def test_auto_image_follows_the_dockerfile(
    make_repo: MakeRepo, dockerfile: str | None, expected: str
) -> None:
    files = suite_files()
    if dockerfile is not None:
        files["Dockerfile"] = dockerfile
    ctx = Context(make_repo(files), None, None)
    assert projectenv.base_image(ctx, "auto") == expected
    assert projectenv.base_image(ctx, "my/image:1") == "my/image:1"


def test_auto_model_image_follows_the_python_that_saved_it(tmp_path: Path) -> None:
    from grader import modelsandbox

    (tmp_path / "python_env.yaml").write_text("python: 3.13.1\nbuild_dependencies: [pip]\n")
    assert modelsandbox._image(tmp_path, "auto") == "python:3.13-slim"
    assert modelsandbox._image(tmp_path / "missing", "auto") == "python:3.11-slim"
