"""Open a team's MLflow tracking store with MLflow's own client, read-only in effect.

A SQLite database or a file store (`mlruns/`) inside the checkout is copied to a scratch
folder and opened from there: MLflow upgrades an old database schema and creates default
experiments when it opens a store, and the checkout other checks read must stay as
committed. An http(s) tracking server is read with the token in MLFLOW_TRACKING_TOKEN.

Artifact locations in a local store are absolute paths on the team's machine
(`/home/ann/proj/mlruns/1/...`); they are mapped back into the checkout by their longest
suffix that exists there. A path that would leave the checkout is never read.

A local store the team committed broken (a `mlflow.db` that is not a SQLite database, a
truncated one, a `meta.yaml` or `MLmodel` that does not parse) is the team's problem: a
StoreProblem naming the file, whether it shows when the store is opened or in a query.

MLflow is imported lazily: importing it takes seconds, and the registry imports this.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import yaml

from grader import fs
from grader.errors import CheckError
from grader.manifest import Tracking
from grader.target import cache_dir

FINISHED = "FINISHED"
WINDOWS_PATH = re.compile(r"^/?[A-Za-z]:[\\/]")
# Fail fast against a dead server: MLflow's default retries take minutes.
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


class StoreProblem(Exception):
    """The team's store is missing or unreadable: the team's work fails, not the grader."""


@dataclass
class Store:
    client: Any
    uri: str
    repo: Path
    scratch: Path
    remote: bool
    # artifact URIs recorded on the team's machine -> where they were found in the checkout
    rewrites: dict[str, str] = field(default_factory=dict)

    # queries -----------------------------------------------------------------------------

    def experiment(self, name: str) -> Any | None:
        return self.client.get_experiment_by_name(name)

    def runs(self, experiment_id: str, finished_only: bool = True) -> list[Any]:
        """Runs of the experiment, newest first (at most 1000: enough for a course)."""
        where = f"attributes.status = '{FINISHED}'" if finished_only else ""
        found = self.client.search_runs(
            [experiment_id], filter_string=where, max_results=1000, order_by=["start_time DESC"]
        )
        return list(found)

    def registered_model(self, name: str | None) -> Any | None:
        return None if name is None else self._or_none(self.client.get_registered_model, name)

    def version_by_alias(self, name: str | None, alias: str) -> Any | None:
        if name is None:
            return None
        return self._or_none(self.client.get_model_version_by_alias, name, alias)

    def run(self, run_id: str) -> Any | None:
        return self._or_none(self.client.get_run, run_id)

    @staticmethod
    def run_problem(run: Any) -> str | None:
        """Why a run does not count (deleted, or not finished), or None when it does."""
        if getattr(run.info, "lifecycle_stage", "active") == "deleted":
            return "was deleted"
        if run.info.status != FINISHED:
            return f"did not finish (status {run.info.status})"
        return None

    def _or_none(self, func: Any, *args: str) -> Any | None:
        from mlflow.exceptions import MlflowException

        try:
            return func(*args)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    # model artifacts -----------------------------------------------------------------------

    def model_uri(self, version: Any) -> str:
        """Where the version's model files are (its logged model, or a run's artifact path)."""
        source = str(version.source or "")
        if source.startswith("models:/m-"):
            model = self.client.get_logged_model(source.removeprefix("models:/"))
            return str(model.artifact_location)
        if source.startswith("runs:/"):
            run_id, _, path = source.removeprefix("runs:/").partition("/")
            run = self.client.get_run(run_id)
            return f"{run.info.artifact_uri.rstrip('/')}/{path}"
        return source

    def fetch(self, uri: str, name: str) -> Path | None:
        """A local copy of the artifact folder or file at `uri`, or None if it is missing."""
        dest = self.scratch / "artifacts" / name
        if self.remote:
            return self._download(uri, dest)
        local = self.local_path(uri)
        if local is None:
            return None
        if local.is_dir():
            shutil.copytree(local, dest, symlinks=True)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, dest)
        return dest

    def _download(self, uri: str, dest: Path) -> Path | None:
        import mlflow
        from mlflow.exceptions import MlflowException

        dest.mkdir(parents=True, exist_ok=True)
        try:
            got = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(dest), tracking_uri=self.uri
            )
        except (MlflowException, OSError):
            return None
        return Path(got)

    def local_path(self, uri: str) -> Path | None:
        """The checkout's copy of a local artifact URI (its longest suffix found there):
        `/home/ann/proj/mlruns/1/...`, `file:///C:/Users/ann/...` or `E:\\proj\\mlruns\\...`
        recorded on the team's machine. A path that had to be moved is noted in `rewrites`."""
        windows = WINDOWS_PATH.match(uri)
        parsed = urlparse(uri)
        if not windows and parsed.scheme not in ("", "file"):
            return None
        raw = uri if windows or not parsed.scheme else unquote(parsed.path)
        parts = PurePosixPath(raw.replace("\\", "/")).parts
        for start in range(len(parts)):
            rel = PurePosixPath(*parts[start:])
            if rel.is_absolute() or WINDOWS_PATH.match(str(rel)):
                continue
            path = fs.inside(self.repo, str(rel))
            if path is not None and path.exists() and path != self.repo.resolve():
                if start and uri not in self.rewrites:
                    self.rewrites[uri] = str(rel)
                return path
        return None

    def mlmodel(self, version: Any) -> tuple[dict[str, Any] | None, Path | None]:
        """The parsed MLmodel file of a version, and its folder (None when missing); one
        that does not parse is a StoreProblem naming it."""
        uri = self.model_uri(version)
        folder = self.fetch(uri, f"v{version.version}")
        if folder is None or not (folder / "MLmodel").is_file():
            return None, folder
        try:
            data = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            name = self._repo_name(uri, "MLmodel")
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "not valid YAML"
            raise StoreProblem(f"{name} of version {version.version} is {why}") from None
        return (data if isinstance(data, dict) else None), folder

    def _repo_name(self, uri: str, leaf: str) -> str:
        """`leaf` under the artifact at `uri`, named by its path in the repository."""
        local = None if self.remote else self.local_path(uri)
        if local is None:
            return f"{uri.rstrip('/')}/{leaf}"
        return str((local / leaf).relative_to(self.repo.resolve()))


@contextlib.contextmanager
def open_store(repo: Path, tracking: Tracking) -> Iterator[Store]:
    """The manifest's tracking store, opened from a scratch copy (local) or over http(s)."""
    scratch = Path(tempfile.mkdtemp(prefix="grader-mlflow-"))
    try:
        with _environment(tracking.uri):
            uri, remote = _store_uri(repo, tracking.uri, scratch)
            try:
                store = Store(_client(uri), uri, repo, scratch, remote)
                _probe(store)
            except (CheckError, StoreProblem):
                raise
            except Exception as exc:  # MLflow, SQLAlchemy and YAML errors of a corrupt store
                raise _unreadable(tracking.uri, uri, remote, exc) from None
            try:
                yield store
            except (CheckError, StoreProblem):
                raise
            except Exception as exc:
                # A store that opened may still be broken further in (a truncated database).
                if remote or _broken_file(exc) is None:
                    raise
                raise _unreadable(tracking.uri, uri, remote, exc) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def _environment(uri: str) -> Iterator[None]:
    # Reading a file store needs an explicit opt-in in MLflow 3; a local store must not
    # send anything to a server named in the grader's own environment.
    wanted = {**HTTP_ENV, "MLFLOW_ALLOW_FILE_STORE": "true"}
    saved = {key: os.environ.get(key) for key in [*wanted, "MLFLOW_TRACKING_URI"]}
    os.environ.update(wanted)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _store_uri(repo: Path, uri: str, scratch: Path) -> tuple[str, bool]:
    if uri.startswith(("http://", "https://")):
        return uri, True
    if uri.startswith("sqlite:///"):
        return f"sqlite:///{_copy_db(repo, uri.removeprefix('sqlite:///'), scratch)}", False
    return str(_copy_folder(repo, uri.removeprefix("file:").removeprefix("//"), scratch)), False


def _copy_db(repo: Path, rel: str, scratch: Path) -> Path:
    source = None if rel.startswith("/") else fs.inside(repo, rel)
    if source is None or not source.is_file():
        raise StoreProblem(f"tracking database {rel} is not a file in the repository")
    target = scratch / "store" / source.name
    target.parent.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        extra = source.with_name(source.name + suffix)
        if extra.is_file() and not extra.is_symlink():
            shutil.copyfile(extra, target.with_name(target.name + suffix))
    return target


def _copy_folder(repo: Path, rel: str, scratch: Path) -> Path:
    source = None if rel.startswith("/") else fs.inside(repo, rel)
    if source is None or not source.is_dir():
        raise StoreProblem(f"tracking folder {rel} is not a folder in the repository")
    target = scratch / "store" / source.name
    shutil.copytree(source, target, symlinks=True)
    _restore_empty_dirs(target)
    return target


RUN_DIRS = ("metrics", "params", "tags", "artifacts")


def _restore_empty_dirs(root: Path) -> None:
    """Recreate the empty folders git does not keep; MLflow skips a run without them."""
    (root / ".trash").mkdir(exist_ok=True)
    for meta in root.glob("*/*/meta.yaml"):
        if meta.parent.parent.name not in (".trash", "models") and meta.parent.name != "models":
            for name in RUN_DIRS:
                (meta.parent / name).mkdir(exist_ok=True)


def warm() -> None:
    """Do MLflow's and SQLAlchemy's one-time set-up in this process (their lazy imports, the
    ORM's mappers, the schema check): done before the checks' processes fork, each check
    opens its store in 0.2 s instead of 0.7. It opens a copy of an empty store made once
    per MLflow version in the grader's cache (making one takes over a second)."""
    scratch = Path(tempfile.mkdtemp(prefix="grader-mlflow-warm-"))
    try:
        copy = scratch / "warm.db"
        shutil.copyfile(empty_store(), copy)
        with _quiet(), _environment(""):
            _probe_uri(f"sqlite:///{copy}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def empty_store() -> Path:
    """An empty SQLite store of this MLflow version (its tables made, the Default
    experiment in it), made once in the grader's cache: a copy opens without MLflow
    creating its tables, which takes over a second."""
    from mlflow.version import VERSION

    empty = cache_dir() / "mlflow" / f"empty-{VERSION}.db"
    if not empty.is_file():
        empty.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=empty.parent) as making:
            made = Path(making) / empty.name
            with _quiet(), _environment(""):
                _probe_uri(f"sqlite:///{made}")
            made.replace(empty)  # made beside it: a concurrent grader sees it whole
    return empty


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Not "Creating initial MLflow database tables..." on the grader's output."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _probe_uri(uri: str) -> None:
    client = _client(uri)
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _probe(store: Store) -> None:
    """Fail early and clearly when the store cannot be read at all (open_store says why)."""
    store.client.search_experiments(max_results=1)


def store_name(uri: str) -> str:
    """The manifest's local store as a path in the repository: `mlflow.db`, `mlruns`."""
    return uri.removeprefix("sqlite:///").removeprefix("file:").removeprefix("//")


def _unreadable(manifest_uri: str, uri: str, remote: bool, exc: BaseException) -> Exception:
    """A server that fails is the grader's problem (CheckError); a local store that cannot be
    read is the team's (StoreProblem naming its file, and what is wrong with it)."""
    if remote:
        return CheckError(f"cannot read the tracking server {uri}: {_first_line(exc)}")
    why = _broken_file(exc) or _first_line(exc)
    return StoreProblem(f"{store_name(manifest_uri)} is not a readable MLflow store ({why})")


def _broken_file(exc: BaseException) -> str | None:
    """What is wrong with a committed store file, when that is what `exc` comes from: the
    SQLite error (`file is not a database`, `database disk image is malformed`, `no such
    table`) or a file store's YAML error; None for anything else."""
    import sqlite3

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError wraps sqlite3's
        if isinstance(orig, sqlite3.Error):
            return str(orig)
        if isinstance(current, sqlite3.Error):
            return str(current)
        if isinstance(current, yaml.YAMLError):
            return f"a YAML file does not parse: {_first_line(current)}"
        if isinstance(current, UnicodeDecodeError):
            return f"a file is not UTF-8 text: {_first_line(current)}"
        current = current.__cause__ or current.__context__
    return None


def _first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"
