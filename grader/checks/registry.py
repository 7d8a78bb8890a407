"""The one registry of checks: check name -> definition.

Rubrics name checks by these keys; an unknown name is a rubric error at load time.
A new check is one function, one line here, and one test file (pass and fail).
"""

from __future__ import annotations

from typing import Any

from grader.checks import ci, repo
from grader.checks.base import CheckDef

REGISTRY: dict[str, CheckDef[Any]] = {
    # repository
    "repo.files": CheckDef(repo.required_files, repo.FilesParams, timeout=30),
    "repo.readme_sections": CheckDef(repo.readme_sections, repo.ReadmeParams, timeout=30),
    "repo.manifest": CheckDef(repo.manifest_valid, repo.NoParams, timeout=30),
    "repo.ignore_files": CheckDef(repo.ignore_files, repo.IgnoreParams, timeout=30),
    "repo.large_files": CheckDef(repo.large_files, repo.LargeFilesParams, timeout=120),
    "repo.secrets": CheckDef(repo.no_secrets, repo.SecretsParams, timeout=300),
    "repo.commits": CheckDef(repo.commit_distribution, repo.CommitsParams, timeout=60),
    "repo.tag": CheckDef(repo.tag_exists, repo.TagParams, timeout=30),
    "repo.doc_filled": CheckDef(repo.doc_filled, repo.DocParams, timeout=30),
    "precommit.config": CheckDef(repo.precommit_config, repo.PrecommitConfigParams, timeout=30),
    "precommit.run": CheckDef(repo.precommit_run, repo.PrecommitRunParams, timeout=900),
    # continuous integration
    "ci.workflows": CheckDef(ci.workflows_valid, ci.WorkflowsParams, timeout=60),
    "ci.required_steps": CheckDef(ci.required_steps, ci.RequiredStepsParams, timeout=60),
    "ci.anti_patterns": CheckDef(ci.anti_patterns, ci.AntiPatternsParams, timeout=60),
    "ci.run_status": CheckDef(ci.run_status, ci.RunStatusParams, timeout=120),
}
