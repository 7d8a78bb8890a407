"""The whole chain: the template's reference team scores full automated points at every
milestone, and each mutant of it loses exactly the checks it should break.

Stand-ins for what this machine cannot reach: GitHub's API is a local server that answers
like it (the graded commit's CI run succeeded), and the "deployed" service is the team's
own service started on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from grader.engine import decide_network
from grader.grade import Options, grade
from grader.mutants import MUTANTS
from grader.results import GradeResult
from grader.rubric import KIT_RUBRICS, load_rubric
from grader.selftest import run_selftest
from scripts import reference_team
from tests.fixtures import fake_github
from tests.fixtures.fake_github import FakeGitHub
from tests.services import free_port

# The module fixtures build, train and grade a whole team: far past the default limit.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]

GITHUB_REPO = "course/team-reference"
# Mutants graded in CI: every cheap one, and the container and service ones the issue names.
CI_MUTANTS = {m.name for m in MUTANTS} - {"deleted-tests", "failing-test", "no-dockerignore"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reference_team.build(tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def deployed_url(reference: Path) -> Iterator[str]:
    """The team's service from its own virtual environment, as a deployment stand-in."""
    manifest = yaml.safe_load((reference / "capstone.yaml").read_text())
    package = Path(manifest["data"]["validation"]).parent.name
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "MODEL_DIR": "model"}
    proc = subprocess.Popen(
        [str(reference / ".venv" / "bin" / "python"), "-m", f"{package}.serve"],
        cwd=reference,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/ready", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    yield from fake_github.serve()


@pytest.fixture(scope="module")
def team(reference: Path, deployed_url: str, github: FakeGitHub) -> Iterator[Path]:
    """The reference team as graded: deployed, pushed to GitHub, its CI green."""
    manifest_path = reference / "capstone.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["service"]["url"] = deployed_url
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    reference_team.commit_as(reference, 0, "Deploy the service", "capstone.yaml")
    reference_team.run(["git", "tag", "-f", "v1.0"], reference)
    subprocess.run(
        [
            "git",
            "-C",
            str(reference),
            "remote",
            "add",
            "origin",
            f"https://github.com/{GITHUB_REPO}.git",
        ],
        check=True,
    )
    head = reference_team.run(["git", "rev-parse", "HEAD"], reference).strip()
    github.runs(GITHUB_REPO, fake_github.run("ci", "success", head_sha=head))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_API_URL", github.url)
        patch.delenv("GITHUB_TOKEN", raising=False)
        yield reference


@pytest.fixture(scope="module")
def options() -> Options:
    return Options(network_mode=decide_network("auto"))


@pytest.fixture(scope="module")
def expo_result(team: Path, options: Options) -> GradeResult:
    """The expo rubric holds every check of m0 to m4 (as regression checks) and its own."""
    return grade(str(team), load_rubric(KIT_RUBRICS / "expo.yaml"), options)


@pytest.mark.parametrize("milestone", ["m0", "m1", "m2", "m3", "m4", "expo"])
def test_reference_team_scores_full_automated_points(
    milestone: str, expo_result: GradeResult
) -> None:
    rubric = load_rubric(KIT_RUBRICS / f"{milestone}.yaml")
    graded = {r.id: r for r in expo_result.checks}
    short = [
        f"{c.id}: {graded[c.id].status}: {graded[c.id].message}"
        for c in rubric.checks
        if graded[c.id].status != "passed" or graded[c.id].check != c.check
    ]
    assert short == []
    assert expo_result.needs_review == tuple(
        f"{m.id}: manual item not scored" for m in expo_result.manual
    )


def test_the_champion_loads_once_in_the_teams_project_environment(
    expo_result: GradeResult,
) -> None:
    """The template's model pins what its lock pins: it loads where the suite ran, and the
    service is compared with that same load's predictions."""
    graded = {r.id: r for r in expo_result.checks}
    where = r"the team's project environment, (installed, now )?cached \(key \w+\)"
    assert re.search(rf"\({where}\)$", graded["measured"].evidence["how"])
    served = graded["served-is-champion"].evidence["environment"]
    assert re.fullmatch(rf"{where}, predicted by measured", served), served


def test_each_mutant_loses_exactly_the_checks_it_breaks(
    team: Path, expo_result: GradeResult, options: Options
) -> None:
    rubric = load_rubric(KIT_RUBRICS / "expo.yaml")
    report = run_selftest(rubric, team, options, CI_MUTANTS, reference_result=expo_result)
    problems = [
        f"{o.mutant.name}: {o.problem or ''} missed={o.missed} collateral={o.collateral}"
        for o in report.mutants
        if o.problem or o.missed or o.collateral
    ]
    assert problems == []
    assert {o.mutant.name for o in report.mutants} == CI_MUTANTS
    for o in report.mutants:
        assert o.result is not None
        lost = {r.id for r in o.result.checks if r.score < r.max_score}
        assert lost, o.mutant.name
        assert set(o.caught) <= lost


def _reword_proposal(repo: Path, manifest: object) -> None:
    proposal = repo / "docs" / "proposal.md"
    proposal.write_text(proposal.read_text() + "\nReworded after feedback.\n")


def test_a_class_graded_at_once_gets_each_teams_verdicts_graded_alone(
    team: Path, options: Options, tmp_path: Path
) -> None:
    """Three teams (the reference, a later commit of it, and one whose /predict answers 500)
    graded as a class (2 jobs, checks at once) get exactly the verdicts each gets graded
    alone one check at a time."""
    from grader.main import main
    from grader.mutants import Mutant
    from grader.selftest import _mutate

    reworded = Mutant("reworded", "the proposal is reworded", frozenset(), _reword_proposal)
    [broken] = [m for m in MUTANTS if m.name == "predict-500"]
    repos = {
        "Reference": team,
        "Reworded": _mutate(team, reworded, tmp_path),
        "Broken": _mutate(team, broken, tmp_path),
    }
    lines = ["team,name,email,github,repo"]
    lines += [
        f"{name},Student {name},{name.lower()}@example.edu,{name.lower()}-student,{path}"
        for name, path in repos.items()
    ]
    (tmp_path / "roster.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "class"
    code = main(
        ["batch", str(tmp_path / "roster.csv"), "-m", "m3", "--jobs", "2", "--out", str(out)]
    )
    assert code in (0, 3)
    rubric = load_rubric(KIT_RUBRICS / "m3.yaml")
    one_at_a_time = Options(network_mode=options.network_mode, check_jobs=1)
    for name, path in repos.items():
        [folder] = [d for d in (out / "teams").iterdir() if d.name == name.lower()]
        in_class = {
            t["extra_data"]["id"]: (t["extra_data"]["status"], t["score"])
            for t in json.loads((folder / "results.json").read_text())["tests"]
        }
        alone = {r.id: (r.status, r.score) for r in grade(str(path), rubric, one_at_a_time).checks}
        assert in_class == alone, name
        failing = {cid for cid, (status, _) in alone.items() if status != "passed"}
        assert bool(failing) == (name == "Broken"), (name, failing)
