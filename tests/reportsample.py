"""One deterministic class for every report: a team's grade with each status, a batch of
outcomes and the expo facts. `mark` is added to every string a team controls (names,
messages, README text, URLs), so a test can put hostile markup everywhere at once."""

from __future__ import annotations

from grader.reports.expo import Facts
from grader.results import (
    CheckResult,
    GradeResult,
    LatePenalty,
    ManifestSource,
    ManualResult,
    Measure,
    TeamOutcome,
)
from grader.roster import Member

FIX = """Run `make test` locally; the suite must pass.

| step | command |
|---|---|
| install | `make setup` |
| test | `make test` |
"""


def _check(cid: str, status: str, score: float, message: str, **extra: object) -> CheckResult:
    return CheckResult.model_validate(
        {
            "id": cid,
            "check": f"repo.{cid}",
            "title": f"{cid.replace('-', ' ').capitalize()} works",
            "status": status,
            "score": score,
            "max_score": 10,
            "message": message,
            "duration": 1.25,
            **extra,
        }
    )


def sample_grade(mark: str = "", team: str = "Team Alpha") -> GradeResult:
    checks = (
        _check("files", "passed", 10, "all 7 required files are present"),
        _check(
            "quality",
            "passed",
            10,
            "f1_macro of the champion (version 3) = 0.9412 (need >= 0.85)",
            measures=(Measure(kind="metric", name="f1_macro", value=0.9412, order="desc"),),
        ),
        _check(
            "tests-pass",
            "failed",
            10 / 3,
            f"2 of 3 tests failed: test_predict{mark}",
            how_to_fix=FIX,
        ),
        _check("lint", "failed", 0, f"ruff found 4 problems | first: E501{mark}"),
        _check("served", "blocked", 0, "blocked: build failed", blocked_by="build"),
        _check("latency", "error", 0, "no Docker engine answers"),
        _check("precommit", "skipped", 0, "left out with --skip"),
        _check("hidden-data", "failed", 0, "hidden secret message", visibility="hidden"),
    )
    return GradeResult(
        grader_version="0.1.0",
        milestone="m3",
        rubric="rubrics/m3.yaml",
        rubric_hash="abc",
        team=f"{team}{mark}",
        target="../alpha",
        commit="a" * 40,
        commit_time="2026-10-02T10:00:00+00:00",
        graded_at="2026-10-03T00:00:00+00:00",
        checks=checks,
        manual=(
            ManualResult(id="demo", title="Demo", score=7, max_score=10, comment=f"clear{mark}"),
            ManualResult(id="poster", title="Poster", score=None, max_score=5),
        ),
        automated_score=23.33,
        manual_score=7,
        late=LatePenalty(days_late=1, percent=10, points=2.03, reason="1 day late: -10%"),
        score=27.3,
        max_score=85,
        execution_time=42.5,
        needs_review=("latency: grader error",),
        manifest=ManifestSource(
            kind="inferred", inferred=("tracking.experiment",), todo={"service.url": "no URL"}
        ),
    )


def sample_outcomes(mark: str = "") -> list[TeamOutcome]:
    alpha = sample_grade(mark)
    beta = sample_grade(mark, team="Team Beta").model_copy(
        update={
            "checks": sample_grade().checks[:3],
            "manual": (),
            "late": None,
            "needs_review": (),
            "automated_score": 23.33,
            "score": 23.33,
            "max_score": 30,
        }
    )
    return [
        TeamOutcome(
            "alpha",
            f"Alpha{mark}",
            "/repos/alpha",
            "needs review",
            "1 check in error",
            members=(Member(f"Ann Lee{mark}", "ann@example.edu", "ann-lee", "101", "S1"),),
            result=alpha,
        ),
        TeamOutcome(
            "beta",
            "beta",
            "/repos/beta",
            "graded",
            members=(Member("Bo Chen", "bo@example.edu", "bochen", "102", "S2"),),
            result=beta,
        ),
        TeamOutcome(
            "gamma",
            f"Gamma{mark}",
            "/repos/gamma",
            "error",
            f"git clone failed: repository not found{mark}",
        ),
    ]


README_PROBLEM = """Sommeliers disagree. We predict the cultivar from **13** measurements.

### Data

| feature | unit |
|---|---|
| alcohol | `% vol` |
"""

README_ARCHITECTURE = """- FastAPI service
- MLflow registry

```
data -> train -> registry -> api
```
"""


def sample_facts(mark: str = "") -> list[Facts]:
    common = {
        "members": ((f"Ann Lee{mark}", "ann-lee"), ("Bo Chen", f"bochen{mark}")),
        "problem": README_PROBLEM + mark,
        "architecture": README_ARCHITECTURE + mark,
        "milestone": "expo",
        "commit": "c" * 40,
        "checks_total": 12,
    }
    return [
        Facts(
            team=f"Team Alpha{mark}",
            project=f"Wine Quality{mark}",
            metric_name="f1_macro",
            metric_value=0.9412,
            p50_ms=21.0,
            p95_ms=48.0,
            checks_passed=11,
            score=88.5,
            max_score=100,
            service_url="https://alpha.example.org",
            health_url=f"https://alpha.example.org/health{mark}",
            **common,  # type: ignore[arg-type]
        ),
        Facts(
            team=f"Team Beta{mark}",
            project="Taxi Fares",
            metric_name="f1_macro",
            metric_value=0.9521,
            p50_ms=40.0,
            p95_ms=90.0,
            checks_passed=12,
            score=95,
            max_score=100,
            repo_url="https://github.com/org/beta",
            **common,  # type: ignore[arg-type]
        ),
        Facts(team=f"Team Gamma{mark}", metric_name="rmse", maximize=False, metric_value=52.0),
    ]
