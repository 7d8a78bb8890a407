"""Gradescope: results.json field by field, the autograder zip, and run_autograder."""

from __future__ import annotations

import io
import json
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader.checks.registry import REGISTRY
from grader.main import main
from grader.reports.gradescope import (
    pending_review_json,
    read_grade,
    results_json,
    write_results_json,
)
from grader.results import CheckResult, GradeResult, ManualResult, Measure
from tests import gradescope_spec
from tests.classroom import write_roster
from tests.helpers import git
from tests.services import TEST_LABEL

STAFF = {"graded_by": "course staff", "needs": "a Docker engine"}


def _check(id: str, check: str, status: str, score: float, max_score: float, **kw: object):
    return CheckResult(
        id=id,
        check=check,
        title=id.capitalize(),
        status=status,  # type: ignore[arg-type]
        score=score,
        max_score=max_score,
        message=kw.pop("message", f"{id} {status}"),  # type: ignore[arg-type]
        how_to_fix=REGISTRY[check].explanation,  # as the runner sets it
        **kw,  # type: ignore[arg-type]
    )


def _grade() -> GradeResult:
    checks = (
        _check(
            "quality",
            "tracking.metric",
            "passed",
            10,
            10,
            message="f1_macro of the champion = 0.91 (need >= 0.85)",
            measures=(
                Measure(kind="metric", name="f1_macro", value=0.91, order="desc", measured=False),
            ),
        ),
        _check(
            "files",
            "repo.files",
            "failed",
            2.5,
            5,
            message="missing: tests/*.py",
            tags=("docs",),
        ),
        _check("lineage", "tracking.lineage", "error", 0, 5, message="MLflow store unreadable"),
        _check("deployed", "service.deployed", "skipped", 0, 0, message="no service.url"),
        _check(
            "build",
            "container.build",
            "skipped",
            0,
            0,
            message="graded by course staff (needs a Docker engine)",
            evidence=STAFF,
            staff_points=10.0,
            visibility="after_due_date",
        ),
        _check(
            "tests-pass",
            "tests.pass",
            "blocked",
            0,
            15,
            message="blocked: files failed (missing: tests/*.py)",
            blocked_by="files",
            visibility="after_due_date",
        ),
        _check(
            "latency",
            "service.latency",
            "failed",
            2,
            5,
            message="p50 80 ms, p95 600 ms (budget 300 ms)",
            measures=(
                Measure(kind="latency_p95_ms", name="p95 latency (ms)", value=600.0, order="asc"),
                Measure(kind="latency_p50_ms", name="p50 latency (ms)", value=80.0, order="asc"),
            ),
        ),
    )
    manual = (
        ManualResult(id="demo", title="Demo", score=7, max_score=10, level="good", comment="ok"),
        ManualResult(id="poster", title="Poster", score=None, max_score=5),
    )
    return GradeResult(
        grader_version="0.1.0",
        milestone="m3",
        rubric="rubrics/m3.yaml",
        rubric_hash="abc",
        team="Alpha",
        target="../alpha",
        commit="a" * 40,
        commit_time="2026-10-02T10:00:00+00:00",
        graded_at="2026-10-03T00:00:00+00:00",
        checks=checks,
        manual=manual,
        automated_score=14.5,
        manual_score=7,
        score=21.5,
        max_score=65,
        execution_time=42.5,
        needs_review=("lineage: grader error: MLflow store unreadable",),
    )


def test_every_field_of_the_specification_is_written_and_valid() -> None:
    data = results_json(_grade())
    assert gradescope_spec.problems(data) == []
    assert set(data) == set(gradescope_spec.TOP_LEVEL)  # every top-level field, no other
    assert (data["score"], data["execution_time"]) == (21.5, 42.5)
    assert (data["output_format"], data["test_output_format"], data["test_name_format"]) == (
        "md",
        "md",
        "text",
    )
    assert (data["visibility"], data["stdout_visibility"]) == ("visible", "hidden")
    assert data["extra_data"]["needs_review"] == ["lineage: grader error: MLflow store unreadable"]
    assert [t["number"] for t in data["tests"]] == [str(i) for i in range(1, 9)]
    for test in data["tests"]:
        assert {"name", "name_format", "number", "output", "output_format"} <= test.keys()
        assert {"tags", "visibility", "extra_data"} <= test.keys()
        assert (test["name_format"], test["output_format"]) == ("text", "md")


def test_each_status_maps_onto_gradescope() -> None:
    tests = {t["extra_data"]["id"]: t for t in results_json(_grade())["tests"]}
    quality, files, lineage = tests["quality"], tests["files"], tests["lineage"]
    assert (quality["score"], quality["max_score"], quality["status"]) == (10, 10, "passed")
    assert quality["output"] == r"f1\_macro of the champion = 0.91 (need >= 0.85)"
    assert (files["score"], files["max_score"], files["status"]) == (2.5, 5, "failed")
    assert files["tags"] == ["docs"]
    # A failed check says what happened and how to fix it (the check's explanation).
    assert files["output"].startswith("**Result:** missing: tests/\\*.py\n\n**How to fix:** ")
    assert "Fix: add the\nmissing files" in files["output"]
    # A grader error is not a 0: no score, a visible note, and a note for staff.
    assert "score" not in lineage
    assert "max_score" not in lineage
    assert lineage["status"] == "failed"
    assert lineage["visibility"] == "visible"
    assert lineage["output"].startswith("**Pending review by course staff.**")
    assert "its 5 points are not counted yet" in lineage["output"]
    assert lineage["extra_data"]["staff_note"] == "grader error: MLflow store unreadable"
    # Skipped: nothing at stake; a staff-graded check says so.
    deployed, build = tests["deployed"], tests["build"]
    assert (deployed["score"], deployed["max_score"]) == (0.0, 0.0)
    assert "status" not in deployed
    assert deployed["output"] == "Skipped, nothing at stake: no service.url"
    assert (build["score"], build["max_score"]) == (0.0, 0.0)
    assert build["output"].startswith("**Graded by course staff.** This check needs a Docker")
    assert "Its 10 points are not part of the autograder score." in build["output"]
    # No result to hold back, and held back it would hide the student's total: visible.
    assert build["visibility"] == "visible"
    blocked = tests["tests-pass"]
    assert (blocked["score"], blocked["max_score"], blocked["status"]) == (0, 15, "failed")
    assert blocked["visibility"] == "after_due_date"
    assert blocked["output"].startswith("**Result:** blocked: files failed")
    assert "**How to fix:** Counts the tests the suite ran" in blocked["output"]
    assert blocked["extra_data"]["status"] == "blocked"
    demo = tests["demo"]
    assert (demo["score"], demo["max_score"], demo["status"]) == (7, 10, "failed")
    assert (demo["output"], demo["tags"]) == ("Scored by staff (good). ok", ["manual"])
    assert "poster" not in tests  # not scored yet: listed in the summary instead


def test_summary_names_pending_and_staff_graded_points() -> None:
    output = results_json(_grade())["output"]
    assert "**Score: 21.5 / 65**" in output
    assert (
        "- **Pending review by course staff:** lineage could not be graded automatically;"
        " their 5 points are not counted yet. This is not a 0: staff will grade them."
    ) in output
    assert (
        "- **Graded by course staff:** build (10 points) need a Docker engine, which"
        " Gradescope does not have. Their points are not part of this score"
    ) in output
    assert "- Scored by staff later: poster (5 points)." in output


def test_leaderboard_has_the_measured_metric_and_latencies_with_their_order() -> None:
    board = results_json(_grade())["leaderboard"]
    assert board == [
        {"name": "f1_macro", "value": 0.91, "order": "desc"},
        {"name": "p95 latency (ms)", "value": 600.0, "order": "asc"},
        {"name": "p50 latency (ms)", "value": 80.0, "order": "asc"},
    ]


def test_a_measured_value_takes_the_place_of_the_one_the_team_logged() -> None:
    grade = _grade()
    measured = _check(
        "heldout",
        "tracking.metric",
        "passed",
        5,
        5,
        measures=(Measure(kind="metric", name="f1_macro", value=0.87, order="desc"),),
    )
    again = measured.model_copy(
        update={"measures": (Measure(kind="metric", name="f1_macro", value=0.5, order="desc"),)}
    )
    grade = grade.model_copy(update={"checks": (*grade.checks, measured, again)})
    board = results_json(grade)["leaderboard"]
    assert board[0] == {"name": "f1_macro", "value": 0.87, "order": "desc"}
    assert [e["name"] for e in board] == ["f1_macro", "p95 latency (ms)", "p50 latency (ms)"]


def test_evidence_never_reaches_the_leaderboard() -> None:
    """Evidence is free-form (a team's output can end up in it): only typed measures rank."""
    grade = _grade()
    bad = _check(
        "odd",
        "repo.files",
        "passed",
        1,
        1,
        evidence={
            "leaderboard": [
                {"name": "no value"},
                {"name": "flag", "value": True},
                {"name": "sideways", "value": 1, "order": "up"},
                {"name": "default order", "value": 3},
            ]
        },
    )
    grade = grade.model_copy(update={"checks": (bad,)})
    assert results_json(grade)["leaderboard"] == []


def test_our_record_round_trips_through_extra_data(tmp_path: Path) -> None:
    grade = _grade()
    path = write_results_json(grade, tmp_path / "results.json")
    assert read_grade(path) == grade


def test_pending_review_is_valid_and_keeps_the_score_from_students() -> None:
    data = pending_review_json("grader crashed: boom", "Traceback ...")
    assert gradescope_spec.problems(data) == []
    assert set(data) == set(gradescope_spec.TOP_LEVEL)
    assert data["visibility"] == "after_published"  # the 0 is not shown until staff publish
    (note,) = data["tests"]
    assert note["name"] == "Pending review by course staff"
    assert note["visibility"] == "visible"
    assert "score" not in note
    assert note["output"].startswith("**Pending review by course staff.**")
    assert data["extra_data"]["grader_error"] == "grader crashed: boom"
    assert data["extra_data"]["detail"] == "Traceback ..."


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("output_format", "markdown", "results.output_format: invalid value 'markdown'"),
        ("visibility", "public", "results.visibility: invalid value 'public'"),
        ("colour", "red", "results.colour: not in Gradescope's specification"),
    ],
)
def test_the_validator_rejects_what_the_specification_does_not_allow(
    field: str, value: str, problem: str
) -> None:
    data = json.loads(json.dumps(results_json(_grade())))
    data[field] = value
    assert gradescope_spec.problems(data) == [problem]


# the autograder zip --------------------------------------------------------------------------

KIT = Path(__file__).resolve().parent.parent
ONE_TEAM = {"Team Alpha": [("Ann Lee", "ann@example.edu", "ann-lee")]}
M1_STAFF = ["precommit-run", "tests-run", "tests-pass", "data-tests"]


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A team repository generated by `grader teams create` (read-only for the tests)."""
    root = tmp_path_factory.mktemp("class")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("AUTHOR", "COMMITTER"):
            mp.setenv(f"GIT_{var}_NAME", "Ann Lee")
            mp.setenv(f"GIT_{var}_EMAIL", "ann@example.edu")
        roster = write_roster(root / "people.csv", ONE_TEAM)
        assert main(["teams", "create", str(roster), "--out", str(root / "repos")]) == 0
    return root / "repos" / "team-alpha"


def test_the_zip_holds_setup_run_autograder_the_rubric_chain_and_the_grader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "autograder.zip"
    assert main(["gradescope", "autograder", "--milestone", "m1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (m1: 17 checks)" in printed
    assert "On Gradescope: 13 checks, 42.75 points." in printed
    assert "Set the assignment's autograder points to 42.75." in printed
    assert f"Graded by course staff (they need Docker; `grader check`): {', '.join(M1_STAFF)}" in (
        printed.replace("\n", " ")
    )
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        about = json.loads(archive.read("autograder.json"))
        pending = json.loads(archive.read("pending_review.json"))
        pyproject = tomllib.loads(archive.read("grader-kit/pyproject.toml").decode())
        run = archive.read("run_autograder").decode()
    assert names[:2] == ["setup.sh", "run_autograder"]  # at the root, as Gradescope needs
    assert modes["setup.sh"] & 0o111
    assert modes["run_autograder"] & 0o111
    assert "rubrics/m1.yaml" in names
    assert "rubrics/m0.yaml" in names  # m1 extends m0
    assert '--rubric "$ROOT/source/rubrics/"m1.yaml' in run
    # Every module and every data file the kit's package declares (the report templates).
    package = sorted(
        f"grader-kit/grader/{p.relative_to(KIT / 'grader').as_posix()}"
        for p in (KIT / "grader").rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and (p.suffix in (".py", ".typed") or "templates" in p.parts)
    )
    assert "grader-kit/grader/reports/templates/dashboard.html" in package
    assert sorted(n for n in names if n.startswith("grader-kit/grader/")) == package
    kit_toml = tomllib.loads((KIT / "pyproject.toml").read_text())
    kit = kit_toml["project"]
    assert pyproject["project"]["dependencies"] == kit["dependencies"]
    data = kit_toml["tool"]["setuptools"]["package-data"]
    assert pyproject["tool"]["setuptools"]["package-data"] == data
    assert pyproject["project"]["scripts"] == {"grader": "grader.entry:run"}
    assert about["staff_checks"] == M1_STAFF
    assert (about["autograded_points"], about["staff_points"]) == (42.75, 42.25)
    assert gradescope_spec.problems(pending) == []


def test_the_same_rubric_and_checkout_give_the_same_zip(tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert main(["gradescope", "autograder", "-m", "m0", "--out", str(first)]) == 0
    assert main(["gradescope", "autograder", "-m", "m0", "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_a_course_rubric_brings_the_rubric_it_extends(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "milestone: base\ntitle: Base\nchecks:\n"
        "  - {id: manifest, check: repo.manifest, points: 5}\n"
    )
    mine = tmp_path / "mine two.yaml"
    mine.write_text(
        "milestone: mine\ntitle: Mine\nextends: base\nchecks:\n"
        "  - {id: suite, check: tests.run, points: 5, needs: [manifest]}\n"
    )
    out = tmp_path / "ag.zip"
    assert main(["gradescope", "autograder", "--rubric", str(mine), "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as archive:
        assert {"rubrics/mine two.yaml", "rubrics/base.yaml"} <= set(archive.namelist())
        assert (
            "--rubric \"$ROOT/source/rubrics/\"'mine two.yaml'"
            in archive.read("run_autograder").decode()
        )


def test_a_broken_rubric_is_refused_with_its_line_and_no_zip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "milestone: bad\ntitle: Bad\nchecks:\n  - {id: x, check: repo.nope, points: 1}\n"
    )
    out = tmp_path / "ag.zip"
    assert main(["gradescope", "autograder", "--rubric", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: checks[0].check: unknown check 'repo.nope'" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert main(["gradescope", "autograder", "--out", str(out)]) == 2
    assert "give --milestone ID or --rubric FILE" in capsys.readouterr().err


# run_autograder, on this machine (the Docker test below runs it in a Gradescope-like image) --


def _unpack(zip_path: Path, root: Path) -> Path:
    """An /autograder layout under `root`: source/ is the unpacked zip, results/ is empty."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():
            (root / "source" / info.filename).chmod(info.external_attr >> 16 & 0o777)
    (root / "results").mkdir()
    return root


def _run_autograder(root: Path, venv: Path) -> dict[str, Any]:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_VENV": str(venv)}
    done = subprocess.run(
        [str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text())  # type: ignore[no-any-return]


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def _assert_m1_graded_without_docker(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Valid field by field; Docker checks left to staff; every repo check really ran."""
    assert gradescope_spec.problems(data) == []
    tests = {t["extra_data"]["id"]: t for t in data["tests"]}
    for check_id in M1_STAFF:
        t = tests[check_id]
        assert t["extra_data"]["status"] == "skipped", t
        assert t["extra_data"]["evidence"]["graded_by"] == "course staff"
        assert (t["score"], t["max_score"]) == (0.0, 0.0)
        assert t["output"].startswith("**Graded by course staff.**")
    ran = {k: t for k, t in tests.items() if k not in M1_STAFF}
    assert len(ran) == 13
    assert {t["extra_data"]["status"] for t in ran.values()} <= {"passed", "failed"}
    assert tests["manifest"]["status"] == "passed"
    assert tests["secrets"]["extra_data"]["duration"] > 0
    assert (
        "**Graded by course staff:** precommit-run, tests-run, tests-pass, data-tests"
        in (data["output"])
    )
    assert data["extra_data"]["grader"]["max_score"] == 42.75 + 15  # with the manual item
    return tests


@pytest.mark.slow
def test_run_autograder_grades_a_repository_and_never_touches_it(
    team_repo: Path, tmp_path: Path
) -> None:
    zip_path = tmp_path / "autograder.zip"
    assert main(["gradescope", "autograder", "-m", "m1", "--out", str(zip_path)]) == 0
    root = _unpack(zip_path, tmp_path / "autograder")
    shutil.copytree(team_repo, root / "submission", symlinks=True)
    before = _snapshot(root / "submission")
    data = _run_autograder(root, Path(sys.prefix))
    _assert_m1_graded_without_docker(data)
    head = git(team_repo, "rev-parse", "HEAD")
    assert data["extra_data"]["grader"]["commit"] == head  # the uploaded checkout's HEAD
    assert _snapshot(root / "submission") == before


@pytest.mark.slow
def test_uploaded_files_without_git_are_graded_as_one_commit(
    team_repo: Path, tmp_path: Path
) -> None:
    # A zip upload of GitHub's "Download ZIP": no .git, everything in one folder.
    results = tmp_path / "results.json"
    submission = tmp_path / "submission"
    shutil.copytree(
        team_repo, submission / "team-alpha-main", ignore=shutil.ignore_patterns(".git")
    )
    before = _snapshot(submission)
    code = main(
        [
            "gradescope",
            "run",
            "--submission",
            str(submission),
            "--rubric",
            str(KIT / "rubrics" / "m1.yaml"),
            "--results",
            str(results),
        ]
    )
    assert code == 0
    data = json.loads(results.read_text())
    tests = _assert_m1_graded_without_docker(data)
    assert len(data["extra_data"]["grader"]["commit"]) == 40
    assert data["extra_data"]["grader"]["target"] == str(submission)
    assert tests["commits"]["extra_data"]["status"] == "failed"  # one commit, by no member
    assert _snapshot(submission) == before
    assert not (submission / "team-alpha-main" / ".git").exists()


def test_run_autograder_writes_the_pending_review_note_when_the_grader_cannot_run(
    tmp_path: Path,
) -> None:
    zip_path = tmp_path / "autograder.zip"
    assert main(["gradescope", "autograder", "-m", "m0", "--out", str(zip_path)]) == 0
    root = _unpack(zip_path, tmp_path / "autograder")
    (root / "submission").mkdir()
    data = _run_autograder(root, tmp_path / "no-venv")
    assert data == json.loads((root / "source" / "pending_review.json").read_text())
    assert gradescope_spec.problems(data) == []
    assert data["visibility"] == "after_published"
    assert [t["name"] for t in data["tests"]] == ["Pending review by course staff"]


def test_a_grader_failure_is_pending_review_with_the_cause_for_staff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    args = ["gradescope", "run", "--rubric", str(KIT / "rubrics" / "m0.yaml")]
    code = main([*args, "--submission", str(tmp_path / "missing"), "--results", str(results)])
    assert code == 3
    assert "(pending review by course staff: the grader failed)" in capsys.readouterr().out
    data = json.loads(results.read_text())
    assert gradescope_spec.problems(data) == []
    assert data["extra_data"]["grader_error"].startswith("ConfigError: submission ")
    assert "missing: no such folder" in data["extra_data"]["grader_error"]
    assert data["tests"][0]["output"].startswith("**Pending review by course staff.**")
    # A submission that grades fine is not pending review: the failing case above is the cause.
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "README.md").write_text("# Hello\n")
    assert main([*args, "--submission", str(tmp_path / "files"), "--results", str(results)]) == 0
    data = json.loads(results.read_text())
    assert "grader_error" not in data["extra_data"]
    assert data["tests"][0]["extra_data"]["id"] == "manifest"


# on a Gradescope-like image (Docker) ----------------------------------------------------------

IMAGE = "python:3.11-slim"  # Debian with python3, as Gradescope's Ubuntu image has python3
PIP_CACHE = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "mlops-capstone-kit" / "test-pip"


def _tar(entries: list[tuple[str, bytes | None, int]]) -> bytes:
    """A tar of (name, data or None for a folder, mode) entries, for put_archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _exec(box: Any, command: str, workdir: str = "/") -> str:
    code, output = box.exec_run(["bash", "-c", command], workdir=workdir)
    text = output.decode(errors="replace")
    assert code == 0, f"{command} exited {code}:\n{text[-6000:]}"
    return text


@pytest.fixture(scope="module")
def gradescope_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One container laid out like Gradescope's, setup.sh run, shared by the tests below."""
    import docker
    from docker.errors import ImageNotFound

    client = docker.from_env(timeout=900)
    try:
        client.images.get(IMAGE)
    except ImageNotFound:
        client.close()
        pytest.fail(f"no {IMAGE} image: `make docker` builds a local stand-in")
    zip_path = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    assert main(["gradescope", "autograder", "-m", "m1", "--out", str(zip_path)]) == 0
    PIP_CACHE.mkdir(parents=True, exist_ok=True)
    box = client.containers.run(
        IMAGE,
        ["sleep", "infinity"],
        detach=True,
        network_mode="host",  # setup.sh needs the package registries
        labels={TEST_LABEL: "1"},
        volumes={str(PIP_CACHE): {"bind": "/root/.cache/pip", "mode": "rw"}},
    )
    try:
        with zipfile.ZipFile(zip_path) as archive:
            entries = [
                (f"source/{i.filename}", archive.read(i), i.external_attr >> 16 & 0o777)
                for i in archive.infolist()
            ]
        _exec(box, "mkdir -p /autograder/results")
        box.put_archive("/autograder", _tar(entries))
        _exec(box, "bash /autograder/source/setup.sh", workdir="/autograder/source")
        _exec(box, "cp /autograder/source/run_autograder /autograder/run_autograder")
        yield box
    finally:
        box.remove(force=True)
        client.close()


def _submit(box: Any, folder: Path) -> None:
    """Replace /autograder/submission with `folder` (as Gradescope copies a submission in)."""
    _exec(box, "rm -rf /autograder/submission /autograder/results/results.json")
    entries: list[tuple[str, bytes | None, int]] = [("submission", None, 0o755)]
    for path in sorted(folder.rglob("*")):
        name = f"submission/{path.relative_to(folder).as_posix()}"
        if path.is_dir():
            entries.append((name, None, 0o755))
        elif path.is_file() and not path.is_symlink():
            entries.append((name, path.read_bytes(), path.stat().st_mode & 0o777))
    box.put_archive("/autograder", _tar(entries))


def _graded_in(box: Any) -> dict[str, Any]:
    listing = "find /autograder/submission -printf '%p %s %T@\\n' | sort | sha256sum"
    before = _exec(box, listing)
    _exec(box, "/autograder/run_autograder", workdir="/autograder")
    assert _exec(box, listing) == before  # the submission is never modified
    stream, _ = box.get_archive("/autograder/results/results.json")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile("results.json")
        assert member is not None
        return json.loads(member.read())  # type: ignore[no-any-return]


@pytest.mark.docker
@pytest.mark.slow
def test_on_gradescopes_layout_a_checkout_is_graded_and_docker_checks_go_to_staff(
    gradescope_box: Any, team_repo: Path
) -> None:
    _submit(gradescope_box, team_repo)
    data = _graded_in(gradescope_box)
    _assert_m1_graded_without_docker(data)
    assert data["extra_data"]["grader"]["commit"] == git(team_repo, "rev-parse", "HEAD")
    assert data["extra_data"]["grader"]["target"] == "/autograder/submission"
    assert data["tests"][0]["output"] == "capstone.yaml is valid"


@pytest.mark.docker
@pytest.mark.slow
def test_on_gradescopes_layout_uploaded_files_and_a_broken_install_never_give_a_silent_0(
    gradescope_box: Any, team_repo: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    shutil.copytree(team_repo, files, ignore=shutil.ignore_patterns(".git"))
    _submit(gradescope_box, files)
    data = _graded_in(gradescope_box)
    tests = _assert_m1_graded_without_docker(data)
    assert tests["commits"]["extra_data"]["status"] == "failed"  # one throwaway commit
    # The grader cannot start (its venv is gone): the pending-review note, not a 0.
    _exec(gradescope_box, "mv /opt/mlops-capstone-grader /opt/moved")
    try:
        data = _graded_in(gradescope_box)
    finally:
        _exec(gradescope_box, "mv /opt/moved /opt/mlops-capstone-grader")
    assert gradescope_spec.problems(data) == []
    assert data["visibility"] == "after_published"
    assert data["tests"][0]["name"] == "Pending review by course staff"
    assert data["extra_data"]["grader_error"].startswith("run_autograder: the grader stopped")


# the same engine-free grading, for staff --------------------------------------------------


@pytest.mark.slow
def test_check_no_engine_grades_as_gradescope_does_and_without_it_docker_checks_error(
    team_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    args = ["check", str(team_repo), "-m", "m1", "--out"]
    assert main([*args, str(tmp_path / "free"), "--no-engine"]) == 0
    data = json.loads((tmp_path / "free" / "results.json").read_text())
    _assert_m1_graded_without_docker(data)
    # Without --no-engine the same checks try the engine: errors, pending review, never 0;
    # the TA's command exits 3 (needs review) after writing its reports.
    assert main([*args, str(tmp_path / "engine")]) == 3
    data = json.loads((tmp_path / "engine" / "results.json").read_text())
    tests = {t["extra_data"]["id"]: t for t in data["tests"]}
    for check_id in ("precommit-run", "tests-run"):
        assert tests[check_id]["extra_data"]["status"] == "error"
        assert "score" not in tests[check_id]
        assert tests[check_id]["output"].startswith("**Pending review by course staff.**")
    assert tests["tests-pass"]["extra_data"]["status"] == "blocked"


def test_rubric_show_and_explain_say_which_checks_need_docker(
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = "Needs a container engine: where there is none (Gradescope), course staff grade it."
    assert main(["rubric", "explain", "tests.run"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(line)
    assert main(["rubric", "explain", "repo.files"]) == 0
    assert line not in capsys.readouterr().out
    assert main(["rubric", "show", "m1"]) == 0
    rows = {r.split("│")[1].strip(): r for r in capsys.readouterr().out.splitlines() if "│" in r}
    assert "Docker" in rows["tests-run"]
    assert "Docker" not in rows["data-in-git"]
