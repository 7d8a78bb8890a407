"""The one registry of checks: check name -> definition.

Rubrics name checks by these keys; an unknown name is a rubric error at load time.
A new check is one function, one line here, and one test file (pass and fail). Each entry
states what the check provides to the checks that need it and what it requires of them
(`Provided` in base.py); a rubric whose `needs` cannot supply a check's requirements fails
to load, with the file and line.
`engine=True` marks the checks that build or run containers: without an engine
(Gradescope) they, and the checks that need them, are graded by course staff.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.checks import (
    ci,
    cianti,
    container,
    containerbuild,
    deploy,
    evaluate,
    precommit,
    provenance,
    repo,
    reproduce,
    secrets,
    sensitivity,
    service,
    serviceapi,
    servicecontract,
    serviceperf,
    testsuite,
    tracking,
)
from grader.checks.base import CheckDef, Key, NoParams

IMAGE: frozenset[Key] = frozenset({"image"})
URL: frozenset[Key] = frozenset({"service_url"})
SERVICE: frozenset[Key] = frozenset({"service_url", "service_container"})
REPORT: frozenset[Key] = frozenset({"test_report"})
# The checks as written; REGISTRY (below) is them with their family's settings.
CHECKS: dict[str, CheckDef[Any]] = {
    # repository
    "repo.files": CheckDef(repo.required_files, repo.FilesParams, timeout=30),
    "repo.readme_sections": CheckDef(repo.readme_sections, repo.ReadmeParams, timeout=30),
    "repo.manifest": CheckDef(repo.manifest_valid, NoParams, timeout=30),
    "repo.ignore_files": CheckDef(repo.ignore_files, repo.IgnoreParams, timeout=30),
    "repo.large_files": CheckDef(repo.large_files, repo.LargeFilesParams, timeout=120),
    "repo.secrets": CheckDef(
        secrets.no_secrets,
        secrets.SecretsParams,
        timeout=300,
        preload=("detect_secrets.core.scan",),
    ),
    "repo.commits": CheckDef(repo.commit_distribution, repo.CommitsParams, timeout=60),
    "repo.tag": CheckDef(repo.tag_exists, repo.TagParams, timeout=30),
    "repo.doc_filled": CheckDef(repo.doc_filled, repo.DocParams, timeout=30),
    "precommit.config": CheckDef(
        precommit.precommit_config, precommit.PrecommitConfigParams, timeout=30
    ),
    "precommit.run": CheckDef(
        precommit.precommit_run, precommit.PrecommitRunParams, timeout=900, engine=True
    ),
    # continuous integration
    "ci.workflows": CheckDef(
        ci.workflows_valid, ci.WorkflowsParams, timeout=60, preload=("jsonschema",)
    ),
    "ci.required_steps": CheckDef(ci.required_steps, ci.RequiredStepsParams, timeout=60),
    "ci.anti_patterns": CheckDef(cianti.anti_patterns, cianti.AntiPatternsParams, timeout=60),
    "ci.run_status": CheckDef(ci.run_status, ci.RunStatusParams, timeout=120),
    # container (image built from the graded commit)
    "container.build": CheckDef(
        containerbuild.build, containerbuild.BuildParams, timeout=900, engine=True, provides=IMAGE
    ),
    "container.size": CheckDef(
        container.image_size, container.SizeParams, timeout=60, engine=True, requires=IMAGE
    ),
    "container.lint": CheckDef(container.lint, container.LintParams, timeout=60),
    "container.non_root": CheckDef(
        container.non_root, NoParams, timeout=60, engine=True, requires=IMAGE
    ),
    "container.healthcheck": CheckDef(
        container.healthcheck,
        container.HealthcheckParams,
        timeout=240,
        listens=True,
        engine=True,
        requires=IMAGE,
    ),
    "container.layer_secrets": CheckDef(
        container.layer_secrets,
        container.LayerSecretsParams,
        timeout=300,
        engine=True,
        requires=IMAGE,
    ),
    # live service (started by service.starts, or at --url)
    "service.starts": CheckDef(
        service.starts,
        service.StartsParams,
        timeout=600,
        listens=True,
        engine=True,
        provides=SERVICE,
        requires=IMAGE,
    ),
    "service.health": CheckDef(service.health, NoParams, timeout=60, requires=URL),
    "service.examples": CheckDef(servicecontract.examples, NoParams, timeout=120, requires=URL),
    "service.bad_input": CheckDef(servicecontract.bad_input, NoParams, timeout=120, requires=URL),
    "service.openapi": CheckDef(serviceapi.openapi, NoParams, timeout=120, requires=URL),
    "service.fuzz": CheckDef(serviceapi.fuzz, serviceapi.FuzzParams, timeout=600, requires=URL),
    "service.latency": CheckDef(
        serviceperf.latency, serviceperf.LatencyParams, timeout=600, exclusive=True, requires=URL
    ),
    "service.metrics": CheckDef(
        serviceperf.metrics, serviceperf.MetricsParams, timeout=60, requires=URL
    ),
    "service.model_info": CheckDef(
        serviceperf.model_info, serviceperf.ModelInfoParams, timeout=60, requires=URL
    ),
    "service.deployed": CheckDef(deploy.deployed, NoParams, timeout=180),
    # experiment tracking
    "tracking.experiment": CheckDef(tracking.experiment_exists, NoParams, timeout=120),
    "tracking.runs": CheckDef(tracking.finished_runs, tracking.RunsParams, timeout=120),
    "tracking.logged": CheckDef(tracking.logged, tracking.LoggedParams, timeout=120),
    "tracking.metric": CheckDef(tracking.metric_threshold, tracking.MetricParams, timeout=120),
    "tracking.registered_model": CheckDef(tracking.registered_model, NoParams, timeout=120),
    "tracking.signature": CheckDef(tracking.signature, NoParams, timeout=180),
    "tracking.lineage": CheckDef(provenance.lineage, provenance.LineageParams, timeout=120),
    "tracking.reproduce": CheckDef(
        reproduce.reproduce, reproduce.ReproduceParams, timeout=2400, engine=True
    ),
    "tracking.evaluate": CheckDef(
        evaluate.evaluate,
        evaluate.EvaluateParams,
        timeout=1500,
        engine=True,
        provides=frozenset({"measured_metric", "champion_examples"}),
        preload=("sklearn.metrics",),  # the metric itself: a second to import
    ),
    "tracking.consistency": CheckDef(
        provenance.consistency,
        provenance.ConsistencyParams,
        timeout=1500,
        engine=True,
        requires=URL,
    ),
    # test suite
    "tests.run": CheckDef(
        testsuite.run_suite, testsuite.RunParams, timeout=1800, engine=True, provides=REPORT
    ),
    "tests.sensitivity": CheckDef(
        sensitivity.sensitivity, sensitivity.SensitivityParams, timeout=1800, engine=True
    ),
    "tests.pass": CheckDef(testsuite.all_pass, testsuite.PassParams, timeout=30, requires=REPORT),
    "tests.count": CheckDef(
        testsuite.count_tests, testsuite.CountParams, timeout=30, requires=REPORT
    ),
    "tests.coverage": CheckDef(
        testsuite.coverage, testsuite.CoverageParams, timeout=30, requires=REPORT
    ),
    "tests.kinds": CheckDef(
        testsuite.kinds_present, testsuite.KindsParams, timeout=30, requires=REPORT
    ),
}


# What every check of a family shares: the heavy modules it imports (the tracking family's
# include MLflow's one-time set-up), and HTTP(S) calls.
FAMILIES: dict[str, dict[str, Any]] = {
    "tracking": {"preload": ("mlflow", "mlflow.tracking", "grader.mlflowwarm"), "http": True},
    "container": {"http": True},
    "service": {"http": True},
    "ci": {"preload": ("bashlex",), "http": True},
}


def _with_families(checks: dict[str, CheckDef[Any]]) -> dict[str, CheckDef[Any]]:
    """Each check with its family's settings (a check's own preloads come too; one that
    makes HTTP calls preloads httpx's transport, which httpx imports on a client's first use)."""
    found = {}
    for name, check in checks.items():
        family = dict(FAMILIES.get(name.split(".")[0], {}))
        family["preload"] = (*check.preload, *family.get("preload", ()))
        if family.get("http", check.http):
            family["preload"] = (*family["preload"], "httpcore")
        found[name] = dataclasses.replace(check, **family)
    return found


REGISTRY = _with_families(CHECKS)


# The manifest sections each family of checks reads: a grade with an inferred manifest marks
# every check that read an inferred value, so a TA knows which verdicts to review.
MANIFEST_SECTIONS: dict[str, tuple[str, ...]] = {
    "repo": ("team", "docs", "data", "service"),
    "precommit": (),
    "ci": ("tests",),
    "container": ("service",),
    "service": ("service",),
    "deploy": ("service",),
    "tests": ("tests", "service", "training"),
    "tracking": ("tracking", "training", "evaluation"),
}


def manifest_sections(check: str) -> tuple[str, ...]:
    return MANIFEST_SECTIONS.get(check.split(".")[0], ())
