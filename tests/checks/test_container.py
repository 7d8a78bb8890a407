"""Container checks against the real engine: the good fixture passes, each variant fails."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader import layerscan
from grader.checks import container, containerbuild, service
from grader.checks.base import Context, NoParams, Outcome
from grader.engine import Engine
from grader.engineruns import cleanup
from tests.helpers import build_tree, commit_all
from tests.services import (
    context,
    docker_client,
    ensure_base_image,
    free_port,
    manifest_data,
    new_run_id,
    service_repo,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]
Variant = Callable[[str], tuple[Context, Outcome]]


@pytest.fixture(scope="module")
def run_id() -> Iterator[str]:
    rid = new_run_id()
    yield rid
    cleanup(run_id=rid)


def build_variant(
    root: Path, run_id: str, variant: str | None = None, **extra: str
) -> tuple[Context, Outcome]:
    ensure_base_image()
    repo = service_repo(root, variant, **extra)
    ctx = context(repo, manifest_data(free_port()), run_id=run_id, check_id="container.build")
    outcome = containerbuild.build(ctx, containerbuild.BuildParams(timeout=300))
    ctx.provided = ctx.provided.merged(outcome.provides)
    return ctx, outcome


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory, run_id: str) -> tuple[Context, Outcome]:
    return build_variant(tmp_path_factory.mktemp("good"), run_id)


@pytest.fixture(scope="module")
def variant(
    tmp_path_factory: pytest.TempPathFactory, run_id: str
) -> Callable[[str], tuple[Context, Outcome]]:
    """variant(name) -> its build (built once per module, whichever test asks first)."""
    built: dict[str, tuple[Context, Outcome]] = {}
    extra = {"secret": {".env": "API_KEY=abc123\n"}}

    def get(name: str) -> tuple[Context, Outcome]:
        if name not in built:
            root = tmp_path_factory.mktemp(name)
            built[name] = build_variant(root, run_id, name, **extra.get(name, {}))
        return built[name]

    return get


@pytest.fixture
def good_ctx(good: tuple[Context, Outcome]) -> Context:
    return dataclasses.replace(good[0], provided=good[0].provided)


def test_build_passes_and_provides_the_image(good: tuple[Context, Outcome]) -> None:
    outcome = good[1]
    assert outcome.status == "passed", outcome.message
    assert outcome.message.startswith("built in ")
    assert outcome.provides.image.startswith("sha256:")
    assert outcome.evidence["size_mb"] > 0


def test_build_fails_on_a_dockerfile_syntax_error(tmp_path: Path, run_id: str) -> None:
    _, outcome = build_variant(tmp_path, run_id, "syntax")
    assert outcome.status == "failed"
    assert outcome.message.startswith("the image does not build:")
    assert "unknown instruction" in outcome.message.lower()


def test_build_fails_without_a_dockerfile(tmp_path: Path, run_id: str) -> None:
    ctx = context(tmp_path, manifest_data(8000), run_id=run_id)
    outcome = containerbuild.build(ctx, containerbuild.BuildParams())
    assert (outcome.status, outcome.message) == (
        "failed",
        "Dockerfile is not in the graded commit",
    )


def test_build_is_skipped_in_url_mode(tmp_path: Path, run_id: str) -> None:
    ctx = context(tmp_path, manifest_data(8000), run_id=run_id, url="http://127.0.0.1:9")
    assert containerbuild.build(ctx, containerbuild.BuildParams()).status == "skipped"


def test_size_within_budget_passes(good_ctx: Context) -> None:
    outcome = container.image_size(good_ctx, container.SizeParams(max_mb=2000))
    assert outcome.status == "passed"
    assert "within the 2000 MB budget" in outcome.message


def test_size_over_budget_earns_partial_credit(good_ctx: Context) -> None:
    size = container.image_size(good_ctx, container.SizeParams(max_mb=2000)).evidence["size_mb"]
    outcome = container.image_size(
        good_ctx, container.SizeParams(max_mb=size / 2, zero_mb=size * 1.5)
    )
    assert outcome.status == "failed"
    assert outcome.fraction == pytest.approx(0.5, abs=0.01)
    assert "over the" in outcome.message


def test_lint_passes_on_a_clean_dockerfile(good_ctx: Context) -> None:
    outcome = container.lint(good_ctx, container.LintParams())
    assert outcome.status == "passed", outcome.message


def test_lint_fails_at_the_configured_severity(tmp_path: Path, good_ctx: Context) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y curl\nCMD python\n"
    )
    ctx = dataclasses.replace(good_ctx, repo=tmp_path)
    outcome = container.lint(ctx, container.LintParams(severity="warning"))
    assert outcome.status == "failed"
    assert outcome.message.startswith("2 hadolint finding(s): Dockerfile:2 DL3008 (warning)")
    relaxed = container.lint(ctx, container.LintParams(severity="error"))
    assert relaxed.status == "passed"
    ignored = container.lint(ctx, container.LintParams(ignore=("DL3008", "DL3025")))
    assert ignored.status == "passed"


def test_non_root_passes_with_a_user(good_ctx: Context) -> None:
    outcome = container.non_root(good_ctx, NoParams())
    assert (outcome.status, outcome.message) == ("passed", "the image runs as user '10001'")


def test_non_root_fails_for_an_image_running_as_root(variant: Variant) -> None:
    ctx, _ = variant("root")
    outcome = container.non_root(ctx, NoParams())
    assert (outcome.status, outcome.message) == (
        "failed",
        "the image runs as root: add a `USER` instruction",
    )


def test_healthcheck_turns_healthy(good_ctx: Context) -> None:
    outcome = container.healthcheck(good_ctx, container.HealthcheckParams(seconds=30))
    assert outcome.status == "passed", outcome.message
    assert outcome.message.startswith("HEALTHCHECK healthy after")


def test_healthcheck_judges_the_service_service_starts_left_running(good_ctx: Context) -> None:
    """After service.starts (the lane runs it first), no second container: Docker's verdict
    on the running one, timed from when that container started."""
    started = service.starts(good_ctx, service.StartsParams())
    assert started.status == "passed", started.message
    ctx = dataclasses.replace(good_ctx, provided=good_ctx.provided.merged(started.provides))
    container_id = started.provides.service_container
    assert container_id
    time.sleep(1.5)
    with Engine(run_id=ctx.settings.run_id) as engine:
        before = engine.client.containers.list(all=True)
        outcome = container.healthcheck(ctx, container.HealthcheckParams(seconds=30))
        after = engine.client.containers.list(all=True)
        engine.remove_container(container_id)
    assert outcome.status == "passed", outcome.message
    assert outcome.evidence["container"] == "the service service.starts started"
    assert outcome.evidence["seconds"] >= 1.5  # since the container started, not the check
    assert {c.id for c in after} == {c.id for c in before}  # only the probe's, and it is gone


def test_healthcheck_fails_when_not_declared(variant: Variant) -> None:
    ctx, _ = variant("nohealthcheck")
    outcome = container.healthcheck(ctx, container.HealthcheckParams())
    assert (outcome.status, outcome.message) == ("failed", "the image declares no HEALTHCHECK")


def test_healthcheck_fails_when_never_healthy(good_ctx: Context) -> None:
    data = manifest_data(free_port(), fault="never-healthy")
    ctx = context(good_ctx.repo, data, run_id=good_ctx.settings.run_id, provided=good_ctx.provided)
    outcome = container.healthcheck(ctx, container.HealthcheckParams(seconds=4))
    assert outcome.status == "failed"
    assert outcome.message.startswith("the HEALTHCHECK did not turn healthy: not healthy within 4s")


def test_layer_secrets_passes_on_a_clean_image(good_ctx: Context) -> None:
    outcome = container.layer_secrets(good_ctx, container.LayerSecretsParams())
    assert (outcome.status, outcome.message) == ("passed", "no secret or .env files in any layer")


def test_layer_secrets_finds_a_deleted_env_file(variant: Variant) -> None:
    ctx, built = variant("secret")
    assert built.status == "passed", built.message
    outcome = container.layer_secrets(ctx, container.LayerSecretsParams())
    assert (outcome.status, outcome.message) == (
        "failed",
        "secret files in image layers: app/.env",
    )


def test_layer_secrets_read_each_layer_once_per_machine(
    variant: Variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    ctx, _ = variant("secret")
    first = container.layer_secrets(ctx, container.LayerSecretsParams())
    again = container.layer_secrets(ctx, container.LayerSecretsParams())
    judged = first.evidence["layers"] - first.evidence["base_layers_not_scanned"]
    assert (first.evidence["layers_scanned"], first.evidence["layers_known"]) == (judged, 0)
    # The second time, every layer's findings are known: the image is not even saved.
    assert (again.evidence["layers_scanned"], again.evidence["layers_known"]) == (0, judged)
    assert (again.status, again.message) == (first.status, first.message)
    assert first.message == "secret files in image layers: app/.env"
    # Other patterns are other findings: not read from the same entries.
    other = container.LayerSecretsParams(names=("*.txt",))
    assert container.layer_secrets(ctx, other).evidence["layers_known"] == 0


def test_a_saved_image_names_its_known_layers_so_they_are_not_read_again(
    variant: Variant, tmp_path: Path
) -> None:
    """On this engine's real save stream: the second save of an image is read for no layer,
    and the findings of the skipped layers (a deleted .env) still come out."""
    ctx, _ = variant("secret")
    params = container.LayerSecretsParams()
    patterns = layerscan.Patterns(params.names, params.allow, params.system)
    cache = layerscan.LayerCache(tmp_path, patterns)
    client = docker_client()
    try:
        image = client.images.get(ctx.provided.image)

        def saved() -> io.BufferedReader:
            return io.BufferedReader(layerscan.ChunkStream(image.save(named=False)), 1 << 20)

        first = layerscan.scan_saved(saved(), patterns, cache)
        for diff_id in first.read:
            cache.put(diff_id, sorted(first.found[diff_id]))
        again = layerscan.scan_saved(saved(), patterns, cache)
        layers = set(image.attrs["RootFS"]["Layers"])
    finally:
        client.close()
    assert first.read == layers
    assert (again.read, again.found) == (set(), first.found)
    assert "app/.env" in set().union(*again.found.values())


def test_layers_read_where_the_engine_keeps_them_are_judged_as_the_save_is(
    variant: Variant, tmp_path: Path, run_id: str
) -> None:
    """On this engine's real images (a deleted .env, a deleted private key, a .env that is
    a hard link): every layer's findings from its directory equal those from the save."""
    import os

    if os.geteuid() != 0:
        pytest.skip("the engine's storage can be read by root only")
    ctx, _ = variant("secret")
    keys = tiny_image(
        tmp_path / "keys",
        run_id,
        f"FROM python:3.11-slim\nCOPY somepkg/ {SITE_PACKAGES}\n"
        "COPY somepkg/tests/test_key.pem /app/key.pem\nRUN rm /app/key.pem\n"
        # A second name of a file is a hard link in the layer's tar.
        "RUN echo API_KEY=abc > /srv/blob && ln /srv/blob /app/.env\n",
    )
    params = container.LayerSecretsParams()
    patterns = layerscan.Patterns(params.names, params.allow, params.system)
    client = docker_client()
    try:
        expected = {
            ctx.provided.image: {"app/.env"},
            keys.provided.image: {"app/.env", "app/key.pem"},
        }
        for image_id in (ctx.provided.image, keys.provided.image):
            image = client.images.get(image_id)
            dirs = layerscan.layer_dirs(image.attrs)
            assert list(dirs) == image.attrs["RootFS"]["Layers"]
            raw = io.BufferedReader(layerscan.ChunkStream(image.save(named=False)), 1 << 20)
            saved = layerscan.scan_saved(raw, patterns).found
            assert {d: layerscan._scan_dir(p, patterns) for d, p in dirs.items()} == saved
            assert set().union(*saved.values()) == expected[image_id]
    finally:
        client.close()


def test_layer_secrets_read_the_engines_storage_and_saves_the_image_where_it_cannot(
    variant: Variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    ctx, _ = variant("secret")
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "here"))
    here = container.layer_secrets(ctx, container.LayerSecretsParams())
    if os.geteuid() == 0:
        assert here.evidence["layers_read_from"] == layerscan.STORAGE
    # An engine whose storage is not on this machine (Docker Desktop's VM): saved instead.
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(layerscan, "layer_dirs", lambda attrs: {})
    saved = container.layer_secrets(ctx, container.LayerSecretsParams())
    assert saved.evidence["layers_read_from"] == layerscan.SAVE
    assert (saved.status, saved.message) == (here.status, here.message)
    assert saved.message == "secret files in image layers: app/.env"
    assert saved.evidence["layers_scanned"] == here.evidence["layers_scanned"] > 0


FAKE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
)
SITE_PACKAGES = "/usr/local/lib/python3.11/site-packages/somepkg/"


def tiny_image(root: Path, run_id: str, dockerfile: str) -> Context:
    """A two-layer image FROM python:3.11-slim that COPYs a fake package: no install."""
    files = {
        "Dockerfile": dockerfile,
        "somepkg/__init__.py": "",
        "somepkg/tests/test_key.pem": FAKE_KEY,
    }
    ctx = context(build_tree(root, files), manifest_data(8000), run_id=run_id)
    outcome = containerbuild.build(ctx, containerbuild.BuildParams(timeout=120))
    assert outcome.status == "passed", outcome.message
    ctx.provided = ctx.provided.merged(outcome.provides)
    return ctx


def test_layer_secrets_pass_on_test_keys_that_a_package_ships(tmp_path: Path, run_id: str) -> None:
    dockerfile = f"FROM python:3.11-slim\nCOPY somepkg/ {SITE_PACKAGES}\n"
    ctx = tiny_image(tmp_path, run_id, dockerfile)
    outcome = container.layer_secrets(ctx, container.LayerSecretsParams())
    assert (outcome.status, outcome.message) == ("passed", "no secret or .env files in any layer")
    assert outcome.evidence["base"] == "python:3.11-slim"
    assert outcome.evidence["base_layers_not_scanned"] == outcome.evidence["layers"] - 1


def test_layer_secrets_fail_on_the_same_key_copied_into_the_app(
    tmp_path: Path, run_id: str
) -> None:
    dockerfile = (
        f"FROM python:3.11-slim\nCOPY somepkg/ {SITE_PACKAGES}\n"
        "COPY somepkg/tests/test_key.pem /app/key.pem\n"
    )
    ctx = tiny_image(tmp_path / "app", run_id, dockerfile)
    outcome = container.layer_secrets(ctx, container.LayerSecretsParams())
    assert (outcome.status, outcome.message) == (
        "failed",
        "secret files in image layers: app/key.pem",
    )
    # Built FROM that image, the key is the base image's, not a file this Dockerfile adds.
    client = docker_client()
    try:
        client.images.get(ctx.provided.image).tag("mlops-kit-test/key-base", "1")
        child = tiny_image(
            tmp_path / "child",
            run_id,
            "FROM mlops-kit-test/key-base:1\nCOPY somepkg/__init__.py /srv/\n",
        )
        outcome = container.layer_secrets(child, container.LayerSecretsParams())
        assert outcome.status == "passed", outcome.message
        assert outcome.evidence["base"] == "mlops-kit-test/key-base:1"
    finally:
        client.images.remove("mlops-kit-test/key-base:1")
        client.close()


CONTAINER_CHECKS = {
    "size": lambda ctx: container.image_size(ctx, container.SizeParams(max_mb=2000)),
    "lint": lambda ctx: container.lint(ctx, container.LintParams()),
    "non_root": lambda ctx: container.non_root(ctx, NoParams()),
    "healthcheck": lambda ctx: container.healthcheck(ctx, container.HealthcheckParams(seconds=20)),
    "layer_secrets": lambda ctx: container.layer_secrets(ctx, container.LayerSecretsParams()),
}


@pytest.mark.parametrize(
    ("name", "failing"),
    [("root", {"non_root"}), ("nohealthcheck", {"healthcheck"}), ("secret", {"layer_secrets"})],
)
def test_a_broken_variant_fails_only_its_own_check(
    variant: Variant, name: str, failing: set[str]
) -> None:
    ctx, built = variant(name)
    assert built.status == "passed", built.message
    outcomes = {check: run(ctx) for check, run in CONTAINER_CHECKS.items()}
    assert {c for c, o in outcomes.items() if o.status != "passed"} == failing, outcomes


# the image of a commit is built once ---------------------------------------------------


def committed(root: Path, run_id: str, **extra: str) -> Context:
    """A git checkout of the fixture service (as `grader check` has), graded by `run_id`."""
    from tests.helpers import commit_all, git

    ensure_base_image()
    repo = service_repo(root, **extra)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "service")
    ctx = context(repo, manifest_data(8000), run_id=run_id, check_id="container.build")
    return dataclasses.replace(ctx, commit=git(repo, "rev-parse", "HEAD").strip())


def test_an_unchanged_commit_reuses_its_image_and_a_change_builds_anew(tmp_path: Path) -> None:
    first_run, second_run, third_run = new_run_id(), new_run_id(), new_run_id()
    keys: list[str | None] = []
    try:
        # Built once, in a run of its own; the image outlives that run's cleanup.
        ctx = committed(tmp_path / "a", first_run, **{"notes.txt": f"{first_run}\n"})
        key = containerbuild.build_key(ctx, {})
        assert key is not None
        keys.append(key)
        built = containerbuild.build(ctx, containerbuild.BuildParams(timeout=300))
        cleanup(run_id=first_run)
        assert built.status == "passed", built.message
        assert built.message.startswith("built in ")
        # Another checkout of the same files in another run: reused, not built.
        again = committed(tmp_path / "b", second_run, **{"notes.txt": f"{first_run}\n"})
        assert containerbuild.build_key(again, {}) == key
        reused = containerbuild.build(again, containerbuild.BuildParams(timeout=300))
        assert reused.status == "passed", reused.message
        assert reused.message.startswith("built earlier from the same files: image reused (")
        assert reused.provides.image == built.provides.image
        assert reused.evidence["reused"] == key[:12]
        # A changed file, a build arg or a forced rebuild: built again.
        changed = committed(tmp_path / "c", second_run, **{"notes.txt": "changed\n"})
        keys.append(containerbuild.build_key(changed, {}))
        assert keys[-1] != key
        assert containerbuild.build_key(again, {"MODE": "x"}) != key
        # The images it starts FROM count by their id, ARGs resolved.
        assert containerbuild._from_images(again, {}) == ["mlops-kit-test/service-base:1"]
        assert containerbuild._from_images(again, {"BASE": "python:3.11-slim"}) == [
            "python:3.11-slim"
        ]
        rebuilt = containerbuild.build(changed, containerbuild.BuildParams(timeout=300))
        assert rebuilt.message.startswith("built in "), rebuilt.message
        assert rebuilt.provides.image != built.provides.image
        forced = containerbuild.build(again, containerbuild.BuildParams(timeout=300, nocache=True))
        assert forced.message.startswith("built in "), forced.message
        # The team's next commit, while a run still holds its image: both are kept.
        app = changed.repo / "app.py"
        app.write_text(app.read_text() + "# the next commit\n")
        following = dataclasses.replace(changed, commit=commit_all(changed.repo, "next"))
        keys.append(containerbuild.build_key(following, {}))
        assert (
            containerbuild.build(following, containerbuild.BuildParams(timeout=300)).status
            == "passed"
        )
        with Engine(run_id=second_run) as engine:
            assert engine.built(str(keys[1])) is not None
        # Once no run holds them, the repository's next image replaces them.
        cleanup(run_id=second_run)
        app.write_text(app.read_text() + "# and the one after\n")
        after = dataclasses.replace(
            following,
            commit=commit_all(changed.repo, "after"),
            settings=dataclasses.replace(following.settings, run_id=third_run),
        )
        keys.append(containerbuild.build_key(after, {}))
        assert (
            containerbuild.build(after, containerbuild.BuildParams(timeout=300)).status == "passed"
        )
        with Engine(run_id=third_run) as engine:
            assert engine.built(str(keys[1])) is None
            assert engine.built(str(keys[2])) is None
            assert engine.built(str(keys[3])) is not None
            assert engine.built(key) is not None  # another repository's
    finally:
        cleanup(run_id=second_run)
        cleanup(run_id=third_run)
        client = docker_client()
        try:
            for k in filter(None, keys):
                with contextlib.suppress(Exception):
                    client.images.remove(f"mlops-capstone-kit/build:{k[:32]}", force=True)
        finally:
            client.close()
