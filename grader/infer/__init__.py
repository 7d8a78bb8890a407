"""Infer a draft `capstone.yaml` from a repository that never saw the template.

Everything is read from files (Dockerfiles, compose, Python source parsed with `ast`,
pytest and CI configuration, a committed MLflow store opened read-only, git authors);
nothing the team wrote is ever run.
"""

from __future__ import annotations

from pathlib import Path

from grader.infer.app import app_files, infer_app, read_app
from grader.infer.docker import infer_docker
from grader.infer.draft import Draft, Finding
from grader.infer.examples import infer_examples
from grader.infer.files import RepoFiles
from grader.infer.project import infer_project
from grader.infer.tracking import infer_tracking
from grader.infer.work import (
    infer_build_steps,
    infer_data,
    infer_docs,
    infer_team,
    infer_training,
)

__all__ = ["Draft", "Finding", "infer"]


def infer(repo: Path, name: str | None = None) -> Draft:
    """The draft for `repo`; `name`: the team's repository name when `repo` is a checkout
    in a scratch folder."""
    files = RepoFiles(repo)
    draft = Draft()
    infer_team(repo, draft, name)
    app = read_app(files)
    infer_docker(files, draft, app_files(app))
    infer_app(app, draft)
    infer_examples(files, app, draft)
    infer_project(files, draft)
    infer_tracking(files, draft)
    infer_training(files, draft)
    infer_build_steps(files, draft)
    infer_docs(files, draft)
    infer_data(files, draft)
    if draft.has("service.dockerfile") and not app.framework:
        draft.missing("service.predict_path", "no FastAPI or Flask app in the Python code")
    return draft
