"""Repositories that never saw the template, graded at m3 with the manifest a TA wrote for
each (tests/corpus.py): each check family gets the verdict a careful TA would give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.main import main
from tests import corpus
from tests.helpers import commit_all
from tests.services import ensure_base_image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# The checks a repo without MLflow tracking, pre-commit or a template layout fails at m3 for
# reasons that are true of it; the service, container and test families are judged here.
SERVICE_AND_CONTAINER = (
    "manifest,build,healthcheck,starts,health,examples,bad-input,openapi,fuzz,metrics,"
    "model-info,tests-run,tests-pass"
)


def _grade(repo: Path, manifest: dict[str, Any], out: Path, only: str) -> dict[str, Any]:
    path = out.parent / f"{out.name}-manifest.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    argv = ["check", str(repo), "-m", "m3", "--manifest", str(path), "--out", str(out)]
    argv += [arg for check in only.split(",") for arg in ("--only", check)]
    code = main([*argv, "--network", "host"])
    record = json.loads((out / "results.json").read_text())["extra_data"]["grader"]
    checks = {c["id"]: c for c in record["checks"]}
    assert code == 0, {k: (c["status"], c["message"]) for k, c in checks.items()}
    return checks


def _status(checks: dict[str, Any]) -> dict[str, str]:
    return {k: c["status"] for k, c in checks.items()}


GRADED = (
    "flask-gunicorn",
    "compose-command",
    "infra-dockerfile",
    "port-from-env",
    "mlflow-db",
    "flask-blueprint",
    "monorepo",
    "mlruns-only",
)
P, F, S, B = "passed", "failed", "skipped", "blocked"
# What a careful TA concludes for each check of the families judged here, repo by repo.
VERDICTS: dict[str, dict[str, str]] = {
    # No HEALTHCHECK in these images, no /metrics and no model-info route in most: the
    # manifest says so (null), and those checks fail saying it.
    "compose-command": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P,
        "bad-input": F,  # `features: dict` takes an empty object: 200, not 4xx
        "openapi": P, "fuzz": P, "metrics": P, "model-info": F, "tests-run": P, "tests-pass": P,
    },
    "infra-dockerfile": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P, "bad-input": P,
        "openapi": P, "fuzz": P, "metrics": F, "model-info": F, "tests-run": P, "tests-pass": P,
    },
    "port-from-env": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P, "bad-input": P,
        "openapi": P, "fuzz": P, "metrics": F,
        "model-info": F,  # /model-info names the model but no version
        "tests-run": P, "tests-pass": P,
    },
    "mlflow-db": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P, "bad-input": P,
        "openapi": S, "fuzz": S, "metrics": F, "model-info": F, "tests-run": P, "tests-pass": P,
    },
    "flask-blueprint": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P,
        "bad-input": F,  # answers 200 to anything
        "openapi": S, "fuzz": S, "metrics": F, "model-info": F, "tests-run": P, "tests-pass": P,
    },
    "monorepo": {
        "build": P, "healthcheck": F, "starts": P, "health": P, "examples": P, "bad-input": P,
        "openapi": P, "fuzz": P, "metrics": F, "model-info": F, "tests-run": P, "tests-pass": P,
    },
    # No service at all: every service and container check fails on the missing section.
    "mlruns-only": {
        "build": F, "healthcheck": B, "starts": B, "health": B, "examples": B, "bad-input": B,
        "openapi": B, "fuzz": B, "metrics": B, "model-info": B, "tests-run": P, "tests-pass": P,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", list(VERDICTS))
def test_each_corpus_repo_gets_a_careful_tas_verdict_per_check(
    graded: dict[str, dict[str, Any]], name: str
) -> None:
    checks = graded[name]
    assert checks["manifest"]["status"] == "passed"
    got = {k: c["status"] for k, c in checks.items() if k != "manifest"}
    detail = {k: c["message"] for k, c in checks.items() if got.get(k) != VERDICTS[name].get(k)}
    assert got == VERDICTS[name], detail


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    ensure_base_image()
    root = tmp_path_factory.mktemp("corpus-graded")
    out: dict[str, dict[str, Any]] = {}
    for name in GRADED:
        repo = corpus.build(name, root)
        out[name] = _grade(repo, corpus.manifest(name), root / f"out-{name}", SERVICE_AND_CONTAINER)
    return out


def test_a_flask_service_on_5000_passes_its_examples_and_has_no_openapi_to_check(
    graded: dict[str, dict[str, Any]],
) -> None:
    checks = graded["flask-gunicorn"]
    assert _status(checks) | {"metrics": "-", "model-info": "-"} == {
        "manifest": "passed",
        "build": "passed",
        "healthcheck": "passed",  # its urlopen probe fails against a service answering 500
        "starts": "passed",
        "health": "passed",
        "examples": "passed",
        "bad-input": "passed",
        "openapi": "skipped",
        "fuzz": "skipped",
        "metrics": "-",
        "model-info": "-",
        "tests-run": "passed",
        "tests-pass": "passed",
    }
    assert checks["openapi"]["message"].startswith("the service serves no OpenAPI document")
    # It has neither route: the manifest says so, and those checks fail saying that.
    assert checks["metrics"]["status"] == "failed"
    assert checks["model-info"]["message"] == "capstone.yaml sets no service.model_info_path"


def test_a_service_started_by_compose_runs_with_the_manifests_command_and_env(
    graded: dict[str, dict[str, Any]],
) -> None:
    checks = graded["compose-command"]
    for check in ("build", "starts", "health", "examples", "metrics", "openapi", "tests-run"):
        assert checks[check]["status"] == "passed", (check, checks[check]["message"])
    assert checks["starts"]["evidence"]["port"] == 9696


def test_a_suite_whose_pyproject_only_configures_tools_installs_from_requirements(
    graded: dict[str, dict[str, Any]],
) -> None:
    checks = graded["infra-dockerfile"]
    assert checks["tests-run"]["status"] == "passed", checks["tests-run"]["message"]
    assert checks["tests-run"]["message"] == "the suite ran: 1 passed"
    for check in ("build", "starts", "health", "examples", "openapi"):
        assert checks[check]["status"] == "passed", (check, checks[check]["message"])


UNHEALTHY = corpus.FLASK_APP.replace('jsonify(status="ok")', 'jsonify(status="unhealthy")')
# Healthy while anything listens on the port, whatever it answers.
ANY_ANSWER_PROBE = (
    "HEALTHCHECK --interval=2s --timeout=3s --retries=3 CMD python -c"
    " \"import socket; socket.create_connection(('127.0.0.1', 5000), 2)\"\n"
)


def test_a_health_route_that_says_unhealthy_fails_health_and_a_probe_that_passes_any_answer_fails(
    tmp_path: Path,
) -> None:
    ensure_base_image()
    repo = corpus.build("flask-gunicorn", tmp_path)
    (repo / "app.py").write_text(UNHEALTHY, encoding="utf-8")
    dockerfile = (repo / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in dockerfile.splitlines(keepends=True) if "HEALTHCHECK" not in line]
    lines.insert(-1, ANY_ANSWER_PROBE)
    (repo / "Dockerfile").write_text("".join(lines), encoding="utf-8")
    commit_all(repo, "health that lies")
    manifest = corpus.manifest("flask-gunicorn")
    manifest["service"]["health_body"] = {"status": "ok"}
    checks = _grade(repo, manifest, tmp_path / "out", "build,healthcheck,starts,health")
    assert checks["starts"]["status"] == "passed"  # it is up; it says it is not healthy
    assert checks["health"]["status"] == "failed"
    assert checks["health"]["message"] == (
        "/health answered 200 but says status='unhealthy' (healthy is 'ok')"
    )
    assert checks["healthcheck"]["status"] == "failed"
    assert checks["healthcheck"]["message"].startswith(
        "the HEALTHCHECK passes while the service answers HTTP 500 to every request on port 5000"
    )


def test_a_gitignored_model_is_made_by_the_build_steps_and_served(tmp_path: Path) -> None:
    ensure_base_image()
    repo = corpus.build("ignored-model", tmp_path)
    (repo / "models" / "model.joblib").unlink()  # the TA's clone has no untracked model
    before = sorted(
        p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts
    )
    only = "manifest,build,starts,health,examples,model-info"
    checks = _grade(repo, corpus.manifest("ignored-model"), tmp_path / "out", only)
    assert _status(checks) == dict.fromkeys(only.split(","), "passed")
    steps = checks["build"]["evidence"]["build_steps"]
    assert steps["commands"] == ["python train.py"]
    assert list(steps["outputs"]) == ["models/model.joblib"]
    after = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts)
    assert after == before  # the model went into a copy, never into the team's checkout
    # Without the build step the image has no model, and the service cannot start.
    manifest = corpus.manifest("ignored-model")
    del manifest["service"]["build_steps"], manifest["service"]["build_outputs"]
    checks = _grade(repo, manifest, tmp_path / "out-without", "build,starts")
    assert checks["starts"]["status"] == "failed"
    assert "models/model.joblib" in checks["starts"]["evidence"]["logs"]


def test_a_service_that_needs_an_env_var_fails_to_start_without_the_manifests(
    tmp_path: Path,
) -> None:
    ensure_base_image()
    repo = corpus.build("compose-command", tmp_path)
    manifest = corpus.manifest("compose-command")
    del manifest["service"]["env"]
    checks = _grade(repo, manifest, tmp_path / "out", "build,starts")
    assert checks["starts"]["status"] == "failed"
    assert "KeyError: 'MODEL_PATH'" in checks["starts"]["evidence"]["logs"]
