"""`grader manifest init` on repositories that never saw the template: scored field by field
against the manifests a careful TA wrote for the corpus (tests/corpus.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.infer import infer
from grader.infer.render import grading_manifest, render
from grader.main import main
from grader.manifest import Manifest
from tests import corpus


@pytest.fixture(scope="session")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    return {name: corpus.build(name, root) for name in corpus.CORPUS}


def test_the_corpus_has_eight_real_world_shapes_and_valid_ta_manifests() -> None:
    assert len(corpus.CORPUS) >= 8
    for name in corpus.CORPUS:
        Manifest.model_validate(corpus.manifest(name))


def test_inference_recovers_nine_in_ten_fields_and_every_miss_is_a_todo(
    repos: dict[str, Path],
) -> None:
    verdicts = [v for name, repo in repos.items() for v in corpus.score(name, infer(repo))]
    report = corpus.table(verdicts)
    print(report)
    wrong = [v for v in verdicts if v.verdict == "wrong"]
    exact = sum(v.verdict == "exact" for v in verdicts)
    assert not wrong, report
    assert exact / len(verdicts) >= 0.9, report


def test_inference_reads_and_never_writes_the_repository(repos: dict[str, Path]) -> None:
    from tests.helpers import git

    for repo in repos.values():
        before = git(repo, "status", "--porcelain", "--ignored")
        infer(repo)
        assert git(repo, "status", "--porcelain", "--ignored") == before


def test_the_draft_names_each_values_source_and_marks_what_it_could_not_find(
    repos: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "init", str(repos["compose-command"])]) == 0
    text = capsys.readouterr().out
    assert "  port: 9696  # from docker-compose.yml (service api: command)\n" in text
    assert "  dockerfile: deployment/Dockerfile  # from docker-compose.yml (service api)\n" in text
    assert "  health_path: /health  # from app/main.py:" in text
    assert "      # github:  # TODO: this author's GitHub handle\n" in text
    data = yaml.safe_load(text)
    assert data["service"]["command"] == [
        "uvicorn",
        "app.main:app",
        "--host",
        "0.0.0.0",
        "--port",
        "9696",
    ]


def test_a_flask_service_has_no_openapi_and_no_template_paths(repos: dict[str, Path]) -> None:
    data = infer(repos["flask-gunicorn"]).data()["service"]
    assert data["openapi_path"] is None
    assert data["ready_path"] is None
    assert data["metrics_path"] is None
    assert data["port"] == 5000


def test_init_writes_out_refuses_to_overwrite_and_needs_a_folder(
    repos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "manifests" / "team.yaml"
    assert main(["manifest", "init", str(repos["mlruns-only"]), "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["tracking"]["experiment"] == "churn"
    assert main(["manifest", "init", str(repos["mlruns-only"]), "--out", str(out)]) == 2
    assert "exists: pass --force" in capsys.readouterr().err
    assert main(["manifest", "init", str(tmp_path / "nowhere")]) == 2


def test_a_draft_grades_as_a_manifest_with_the_sections_it_could_fill(
    repos: dict[str, Path],
) -> None:
    manifest, dropped = grading_manifest(infer(repos["mlruns-only"]))
    assert manifest is not None
    assert manifest.tracking is not None
    assert manifest.tracking.registered_model == "churn-model"
    assert manifest.service is None
    assert dropped == []
    manifest, dropped = grading_manifest(infer(repos["mlflow-db"]))
    assert manifest is not None
    assert manifest.service is None
    assert dropped == ["service"]  # no example request to send: the TA must write one
    assert {m.github for m in manifest.team.members} == {"chenwei", "dkim"}


def test_the_rendered_draft_validates_once_its_todos_are_filled(repos: dict[str, Path]) -> None:
    text = render(infer(repos["port-from-env"]), "port-from-env")
    data = yaml.safe_load(text)
    data["team"]["members"] = corpus.manifest("port-from-env")["team"]["members"]
    Manifest.model_validate(data)


REPO_RUBRIC = {
    "milestone": "byo",
    "title": "Repository checks of a course that did not use the template",
    "checks": [
        {"id": "manifest", "check": "repo.manifest", "points": 5},
        {
            "id": "files",
            "check": "repo.files",
            "points": 5,
            "needs": ["manifest"],
            "params": {"paths": ["manifest:service.dockerfile"]},
        },
        {"id": "commits", "check": "repo.commits", "points": 5, "needs": ["manifest"]},
        {"id": "workflows", "check": "ci.workflows", "points": 5},
    ],
}


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    path = tmp_path / "byo.yaml"
    path.write_text(yaml.safe_dump(REPO_RUBRIC), encoding="utf-8")
    return path


def _tree(repo: Path) -> dict[str, bytes]:
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git/" not in p.as_posix() + "/"
    }


def test_without_any_manifest_check_infers_one_grades_and_marks_what_it_used(
    repos: dict[str, Path], rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repos["infra-dockerfile"]
    before = _tree(repo)
    out = tmp_path / "out"
    assert main(["check", str(repo), "--rubric", str(rubric), "--out", str(out)]) == 0
    assert "Inferred manifest: the repository has no capstone.yaml" in capsys.readouterr().out
    assert _tree(repo) == before  # nothing written into the team's checkout
    record = json.loads((out / "results.json").read_text())["extra_data"]["grader"]
    assert record["manifest"]["kind"] == "inferred"
    assert "service.dockerfile" in record["manifest"]["inferred"]
    checks = {c["id"]: c for c in record["checks"]}
    assert checks["manifest"]["status"] == "failed"  # the team has none: its points are lost
    assert checks["files"]["status"] == "passed"  # infra/Dockerfile.api, from the CI's -f
    assert "service.dockerfile" in checks["files"]["inferred"]
    assert checks["commits"]["status"] == "passed"
    assert checks["workflows"]["inferred"]  # the test paths, to find the test steps
    assert all(path.startswith("tests.") for path in checks["workflows"]["inferred"])
    feedback = (out / "feedback.md").read_text()
    assert "the grader inferred these values" in feedback
    assert "  - inferred `service.dockerfile`" in feedback
    row = next(line for line in feedback.splitlines() if line.startswith("| files |"))
    assert "(graded with inferred values: " in row
    assert "service.dockerfile" in row
    assert "- Team: infra-dockerfile" in feedback


def test_a_ta_manifest_is_used_and_recorded_with_its_hash(
    repos: dict[str, Path], rubric: Path, tmp_path: Path
) -> None:
    repo = repos["mlruns-only"]
    before = _tree(repo)
    manifest = tmp_path / "manifests" / "mlruns-only.yaml"
    manifest.parent.mkdir()
    manifest.write_text(yaml.safe_dump(corpus.manifest("mlruns-only")), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["check", str(repo), "--rubric", str(rubric), "--manifest", str(manifest)]
    assert main([*argv, "--out", str(out)]) == 0
    assert _tree(repo) == before
    record = json.loads((out / "results.json").read_text())["extra_data"]["grader"]
    assert record["manifest"]["kind"] == "file"
    assert record["manifest"]["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    checks = {c["id"]: c for c in record["checks"]}
    assert checks["manifest"]["status"] == "passed"
    assert (
        checks["manifest"]["message"] == "graded with the course staff's manifest mlruns-only.yaml"
    )
    assert checks["files"]["status"] == "failed"  # the TA's manifest has no service section
    assert all(not c["inferred"] for c in record["checks"])


def test_a_bad_ta_manifest_is_a_usage_error_with_its_line(
    repos: dict[str, Path], rubric: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nteam:\n  name: x\n  members: []\n", encoding="utf-8")
    argv = ["check", str(repos["mlruns-only"]), "--rubric", str(rubric), "--manifest", str(bad)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: team.members" in err


def _team_record(out: Path, team: str) -> dict[str, Any]:
    data = json.loads((out / "teams" / team / "results.json").read_text())
    return dict(data["extra_data"]["grader"])


def test_batch_grades_each_team_with_its_manifest_from_a_folder_or_the_roster(
    repos: dict[str, Path], rubric: Path, tmp_path: Path
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    ta = manifests / "infra-dockerfile.yaml"
    ta.write_text(yaml.safe_dump(corpus.manifest("infra-dockerfile")), encoding="utf-8")
    other = tmp_path / "elsewhere.yaml"
    other.write_text(yaml.safe_dump(corpus.manifest("mlruns-only")), encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "team,repo,manifest\n"
        f"infra-dockerfile,{repos['infra-dockerfile']},\n"
        f"mlruns-only,{repos['mlruns-only']},elsewhere.yaml\n"
        f"port-from-env,{repos['port-from-env']},\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["batch", str(roster), "--rubric", str(rubric), "--out", str(out)]
    assert main([*argv, "--manifests", str(manifests)]) == 0
    teams = ("infra-dockerfile", "mlruns-only", "port-from-env")
    kinds = {t: _team_record(out, t)["manifest"] for t in teams}
    assert kinds["infra-dockerfile"]["kind"] == "file"
    assert kinds["infra-dockerfile"]["path"] == str(ta.resolve())
    assert kinds["mlruns-only"]["path"] == str(other.resolve())  # the roster's column
    assert kinds["port-from-env"]["kind"] == "inferred"  # neither: inferred and marked
    # The TA corrects a manifest: that team is graded again, the others come from the cache.
    data = corpus.manifest("infra-dockerfile")
    data["service"]["dockerfile"] = "infra/missing.Dockerfile"
    ta.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main([*argv, "--manifests", str(manifests)]) == 0
    checks = {c["id"]: c for c in _team_record(out, "infra-dockerfile")["checks"]}
    assert checks["files"]["status"] == "failed"
    assert main([*argv, "--manifests", str(tmp_path / "nowhere")]) == 2


TRACKING = ("manifest", "experiment", "runs", "logged", "registered", "signature", "lineage")


@pytest.mark.parametrize(
    ("name", "verdicts"),
    [
        # A real mlruns/ file store: one run, the model registered without an alias.
        ("mlruns-only", ["passed", "passed", "failed", "blocked", "failed", "blocked", "blocked"]),
        # A real mlflow.db: one run, the model registered as production, no model files
        # and no commit tag on the run.
        ("mlflow-db", ["passed", "passed", "failed", "blocked", "passed", "failed", "failed"]),
    ],
)
def test_the_tracking_stores_of_repos_outside_the_template_are_judged_as_a_ta_would(
    repos: dict[str, Path], tmp_path: Path, name: str, verdicts: list[str]
) -> None:
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(yaml.safe_dump(corpus.manifest(name)), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["check", str(repos[name]), "-m", "m3", "--no-engine", "--manifest", str(manifest)]
    argv += [arg for check in TRACKING for arg in ("--only", check)]
    assert main([*argv, "--out", str(out)]) == 0
    checks = {c["id"]: c for c in _team_record_file(out)["checks"]}
    assert [checks[c]["status"] for c in TRACKING] == verdicts
    if name == "mlruns-only":
        assert (
            checks["registered"]["message"] == "'churn-model' has no version with alias 'champion'"
        )


def _team_record_file(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "results.json").read_text())["extra_data"]["grader"])


def test_a_manifest_may_take_the_service_from_a_compose_file(
    repos: dict[str, Path], tmp_path: Path
) -> None:
    from grader.grade import Options, context_for
    from grader.target import prepare

    data = corpus.manifest("compose-command")
    service = data["service"]
    for field in ("dockerfile", "context", "command", "env", "port"):
        del service[field]
    service["compose"] = {"file": "docker-compose.yml", "service": "api"}
    service["port"] = 9000  # what the manifest says itself wins
    path = tmp_path / "staff.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    co = prepare(str(repos["compose-command"]))
    try:
        ctx = context_for(co, Options(manifest_file=path), "compose")
        assert ctx.manifest is not None
        assert ctx.manifest.service is not None
        got = ctx.manifest.service
        assert (got.dockerfile, got.context, got.port) == ("deployment/Dockerfile", ".", 9000)
        assert got.command == ("uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "9696")
        assert got.env == {"MODEL_PATH": "/code/models/model.bin"}
        service["compose"]["service"] = "web"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        ctx = context_for(co, Options(manifest_file=path), "compose")
        assert ctx.manifest is None
        assert ctx.manifest_problem == (
            "service.compose: docker-compose.yml has no service 'web' (services: api)"
        )
    finally:
        co.close()
