"""How a team's project is set up in a sandbox: base image, install command, cache.

`tests.run` and every check that runs the team's own code (training, evaluation, a rerun
of the tests, the image's tests) make their container the same way (`project_sandbox`), so
they share one cached dependency environment:

- the base image: python:X.Y-slim with the version the manifest, the Dockerfile,
  `.python-version` or `requires-python` names;
- the `auto` install: the project (with its `dev` extra; exactly its uv.lock when it has
  one), its requirement files, else a Pipfile, then pytest (and pytest-cov) if missing,
  after writing the grader's pytest plugin;
- the cache key: the files that declare the dependencies (grader/envcache.py).
"""

from __future__ import annotations

import base64
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import depset, fs
from grader.checks.base import Context
from grader.envcache import EnvCache
from grader.modelsandbox import ProjectEnv
from grader.sandbox import COLLECT_LIMIT, SandboxResult, run_in_sandbox
from grader.sandboxtools import UV_INSTALL, pip_install
from grader.suitereport import OUT_DIR, PLUGIN, PLUGIN_CODE

if TYPE_CHECKING:
    from grader.engine import NetworkMode


@dataclass(frozen=True)
class ProjectSandbox:
    """How the suite's container is made: other checks that run the team's code (training,
    a rerun of the tests) use the same, so they share its cached environment."""

    image: str
    setup: str
    cache: EnvCache | None
    network_mode: NetworkMode
    run_id: str
    check_id: str

    def run(
        self,
        repo: Path,
        command: str,
        *,
        timeout: float,
        setup_timeout: float,
        memory: str,
        cpus: float = 1.0,
        env: dict[str, str] | None = None,
        collect: Sequence[str] = (),
        collect_limit: int = COLLECT_LIMIT,
        files: Mapping[str, bytes] | None = None,
    ) -> SandboxResult:
        return run_in_sandbox(
            repo,
            command,
            image=self.image,
            setup=self.setup,
            cache=self.cache,
            timeout=timeout,
            setup_timeout=setup_timeout,
            memory=memory,
            cpus=cpus,
            env=env,
            collect=collect,
            run_id=self.run_id,
            check_id=self.check_id,
            network_mode=self.network_mode,
            collect_limit=collect_limit,
            files=files,
        )


def project_sandbox(
    ctx: Context, image: str = "auto", setup: str | None = "auto"
) -> ProjectSandbox:
    return ProjectSandbox(
        base_image(ctx, image),
        setup_command(ctx, setup),
        env_cache(ctx, setup),
        ctx.settings.network_mode,
        ctx.settings.run_id,
        ctx.check_id,
    )


def model_project(ctx: Context) -> ProjectEnv | None:
    """The team's project environment, for loading its champion (grader/modelsandbox.py):
    the `auto` install of a project with a uv.lock, cached; None for any other."""
    box = project_sandbox(ctx)
    if box.cache is None or fs.read_text(ctx.repo, "uv.lock") is None:
        return None
    return ProjectEnv(ctx.repo, box.image, project_python(ctx), box.setup, box.cache)


DEFAULT_PYTHON = "3.11"

FROM_PYTHON = re.compile(
    r"^\s*FROM\s+(?:--\S+\s+)*(?:docker\.io/(?:library/)?)?python:(\d+\.\d+)", re.I | re.M
)


def base_image(ctx: Context, image: str) -> str:
    """The base image: the rubric's, the manifest's `tests.python`, the Python version the
    team's Dockerfile uses, `.python-version`, or `requires-python`."""
    if image != "auto":
        return image
    return f"python:{project_python(ctx)}-slim"


def project_python(ctx: Context) -> str:
    """The Python version the project runs (`auto`'s base image): the manifest's
    `tests.python`, else what the repo says (`_repo_python`), else 3.11."""
    given = ctx.manifest.tests.python if ctx.manifest else None
    return given or _repo_python(ctx) or DEFAULT_PYTHON


def _repo_python(ctx: Context) -> str | None:
    service = ctx.manifest.service if ctx.manifest else None
    dockerfile = service.dockerfile if service else "Dockerfile"
    context = service.context if service else "."
    text = fs.read_text(ctx.repo, dockerfile) or fs.read_text(ctx.repo, f"{context}/{dockerfile}")
    match = FROM_PYTHON.search(text or "")
    if match:
        return match.group(1)
    pinned = PYTHON_VERSION.match(fs.read_text(ctx.repo, ".python-version") or "")
    if pinned:
        return pinned.group(1)
    requires = _pyproject(ctx.repo).get("project", {}).get("requires-python")
    found = PYTHON_VERSION.search(requires) if isinstance(requires, str) else None
    return found.group(1) if found else None


PYTHON_VERSION = re.compile(r"\s*[>=~^]*\s*(3\.\d+)")


def _pyproject(repo: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(fs.read_text(repo, "pyproject.toml") or "")
    except tomllib.TOMLDecodeError:
        return {}


def _declares_project(repo: Path) -> bool:
    """pip can install the repo itself: setup.py, or a pyproject.toml with a [project] table
    (one that only configures tools has no dependencies to give)."""
    if fs.read_text(repo, "setup.py") is not None:
        return True
    return isinstance(_pyproject(repo).get("project"), dict)


def setup_command(ctx: Context, setup: str | None, extra_packages: Sequence[str] = ()) -> str:
    """Write the grader's pytest plugin, then install (the network is on for this step)."""
    # Into site-packages, not PYTHONPATH: a command that sets PYTHONPATH still finds it.
    encoded = base64.b64encode(PLUGIN_CODE.encode()).decode()
    write = (
        "import base64, sysconfig; "
        f"path = sysconfig.get_paths()['purelib'] + '/{PLUGIN}.py'; "
        f"open(path, 'w').write(base64.b64decode('{encoded}').decode())"
    )
    steps = [f"mkdir -p {OUT_DIR}", f'python -c "{write}"']
    given = _auto_install(ctx) if setup == "auto" else setup
    if given:
        steps.append(given)
    if extra_packages:
        steps.append(pip_install(" ".join(shlex.quote(p) for p in extra_packages)))
    return " && ".join(steps)


def _auto_install(ctx: Context) -> str:
    """The project (when it declares one; from its uv.lock when it has one), its requirement
    files (else a Pipfile), then pytest and, for a command that measures coverage,
    pytest-cov, when the dependencies did not bring them. uv installs (the sandbox has it);
    pip takes over where uv refuses what pip accepts."""
    repo, commands = ctx.repo, []
    given = _install(ctx)
    if given:
        commands.append(f"( {given} )")
    else:
        if _declares_project(repo):
            commands += _project_install(repo)
        present = tuple(n for n in ROOT_REQUIREMENTS if fs.read_text(repo, n) is not None)
        names = _listed(ctx) or present
        commands += [pip_install(f"-r {shlex.quote(name)}") for name in names]
    if not commands and fs.read_text(repo, "Pipfile") is not None:
        # What a Pipenv project installs: its lock when it has one, else its Pipfile.
        locked = "--deploy" if fs.read_text(repo, "Pipfile.lock") is not None else "--skip-lock"
        commands.append(f"pip install -q pipenv && pipenv install --system --dev {locked}")
    command = ctx.manifest.tests.command if ctx.manifest else "pytest"
    wanted = [("pytest", "pytest")] + [("pytest_cov", "pytest-cov")] * ("--cov" in command)
    for module, package in wanted:
        commands.append(f'{{ python -c "import {module}" 2>/dev/null || {pip_install(package)}; }}')
    return " && ".join(commands)


# What a uv project's CI installs: exactly the lock (it must match pyproject.toml), with
# the dev extra when there is one, then the project itself.
EXPORTED = "/tmp/locked.txt"  # the lock's requirement lines, in the setup's container
LOCKED = (
    "uv export --locked --no-emit-project --no-header --no-annotate -q {extra}-o {out}"
    " && " + UV_INSTALL + " --require-hashes -r {out}"
)


def _project_install(repo: Path) -> list[str]:
    """Its build backend first (a later run reinstalls the project from the cached
    environment with no network: `OFFLINE`), then the project: the dependencies win where
    they pin what the backend also needs."""
    backend = [pip_install(" ".join(map(shlex.quote, _build_requires(repo))))]
    dev = "dev" in _extras(repo)
    if fs.read_text(repo, "uv.lock") is None:
        return [*backend, pip_install(f"-e {shlex.quote('.[dev]' if dev else '.')}")]
    locked = LOCKED.format(extra="--extra dev " if dev else "", out=EXPORTED)
    return [*backend, locked, pip_install("--no-deps -e .")]


def _build_requires(repo: Path) -> list[str]:
    """`[build-system].requires`, else what PEP 517 assumes without one (setuptools)."""
    system = _pyproject(repo).get("build-system")
    requires = system.get("requires") if isinstance(system, dict) else None
    if isinstance(requires, list) and requires and all(isinstance(r, str) for r in requires):
        return requires
    return ["setuptools>=40.8.0", "wheel"]


# The project itself into the cached environment, in the command's container (no network):
# its build backend is there, so nothing is fetched; pip only where uv is missing.
OFFLINE = (
    "uv pip install --system -q --no-deps --no-build-isolation --reinstall -e ."
    " || pip install -q --no-index --no-deps --no-build-isolation --force-reinstall -e ."
)


ROOT_REQUIREMENTS = ("requirements.txt", "requirements-dev.txt", "requirements_dev.txt")


# The files `_auto_install` reads its dependencies from (pip reads them, and setup.py or
# setup.cfg may read more: a `requirements/` folder is the usual place).
DEPENDENCY_FILES = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements",
    "Pipfile",
    "Pipfile.lock",
    "uv.lock",
)

REQUIREMENTS = ("requirements*.txt", "requirements*.in", "constraints*.txt")

NESTED = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", re.M)


# A requirement line that installs code from the repo: the project itself is reinstalled
# by the refresh; any other local path would be a stale copy, so it disables the cache.
LOCAL = re.compile(r"^\s*(?:-e\s+|--editable[\s=]+)?(?:\.|/|file:)(\S*)", re.M)


def env_cache(ctx: Context, setup: str | None) -> EnvCache | None:
    """The environment cache of the suite's install; none for the manifest's own command."""
    return None if _install(ctx) else _env_cache(ctx.repo, setup, _listed(ctx))


def _install(ctx: Context) -> str | None:
    """The manifest's own install command: it may read any file, so it is never cached."""
    return ctx.manifest.tests.install if ctx.manifest else None


def _listed(ctx: Context) -> tuple[str, ...]:
    return ctx.manifest.tests.requirements if ctx.manifest else ()


def _env_cache(repo: Path, setup: str | None, listed: tuple[str, ...] = ()) -> EnvCache | None:
    """How the `auto` install is cached; None (install every time) for any other setup."""
    if setup != "auto":
        return None
    files = [*DEPENDENCY_FILES, *_requirement_files(repo), *_dynamic_files(repo), *listed]
    texts = [fs.read_text(repo, name) or "" for name in files if name.endswith((".txt", ".in"))]
    nested = sorted({m for t in texts for m in NESTED.findall(t)})
    files += nested
    texts += [fs.read_text(repo, name) or "" for name in nested]
    if any(m.strip("/") not in ("", "[dev]") for t in texts for m in LOCAL.findall(t)):
        return None
    if not _declares_project(repo):
        return EnvCache(tuple(files))
    # Editable, as the setup installed it: the tests import the copied repo's code.
    refresh = pip_install("--no-deps --force-reinstall -e .")
    name = depset.project_name(fs.read_text(repo, "pyproject.toml") or "")
    # The kept environment holds the dependencies only: other teams share it.
    forget = f"uv pip uninstall --system -q {shlex.quote(name)}" if name else None
    lock = fs.read_text(repo, "uv.lock")
    if lock is None or any(path.endswith((".txt", ".in")) for path in files):
        return EnvCache(tuple(files), refresh, forget, OFFLINE)
    # Only the lock installs: it may be installed over a cached lock it extends.
    pins = depset.locked_pins(lock)
    return EnvCache(tuple(files), refresh, forget, OFFLINE, EXPORTED, pins)


def _requirement_files(repo: Path) -> list[str]:
    return sorted({p.name for pattern in REQUIREMENTS for p in repo.glob(pattern)})


def _dynamic_files(repo: Path) -> list[str]:
    """Files pyproject.toml takes its dependencies from (setuptools' `dynamic`)."""
    dynamic = _pyproject(repo).get("tool", {}).get("setuptools", {}).get("dynamic", {})
    if not isinstance(dynamic, dict):
        return []
    optional = dynamic.get("optional-dependencies")
    entries = [
        dynamic.get("dependencies"),
        *(optional.values() if isinstance(optional, dict) else []),
    ]
    found: list[str] = []
    for entry in entries:
        spec = entry.get("file") if isinstance(entry, dict) else None
        names = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else []
        found += [name for name in names if isinstance(name, str)]
    return found


def _extras(repo: Path) -> set[str]:
    extras = _pyproject(repo).get("project", {}).get("optional-dependencies", {})
    return set(extras) if isinstance(extras, dict) else set()
