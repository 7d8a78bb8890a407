"""The team manifest `capstone.yaml`: the contract between a team repo and the grader.

Teams rename and restructure freely; the grader reads where things are from here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.yamlsrc import Issue, YamlSource, load_yaml, pydantic_issues

MANIFEST_NAME = "capstone.yaml"
MANIFEST_VERSION = 1
GITHUB_HANDLE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(Strict):
    name: str = Field(min_length=1, description="Full name as the course roster has it.")
    github: str = Field(description="GitHub handle (without @).")
    email: str | None = Field(None, description="Email used in git commits, if not GitHub's.")
    emails: tuple[str, ...] = Field((), description="More commit emails of this member.")
    names: tuple[str, ...] = Field(
        (), description="Other names this member commits with (a laptop's 'ann', 'Ann L.')."
    )

    @field_validator("github")
    @classmethod
    def _handle(cls, value: str) -> str:
        value = value.removeprefix("@")
        if not GITHUB_HANDLE.match(value):
            raise ValueError(f"{value!r} is not a valid GitHub handle")
        return value


class Team(Strict):
    name: str = Field(min_length=1)
    members: tuple[Member, ...] = Field(min_length=1)


class Project(Strict):
    name: str = Field(min_length=1)
    description: str = ""


class Example(Strict):
    """A request the service must answer, and what the answer must look like."""

    name: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str | None = Field(None, description="Defaults to service.predict_path.")
    body: Any = None
    expect_status: int = Field(200, ge=100, le=599)
    response_shape: Any = Field(
        None,
        description=(
            "Shape of the JSON answer: type names (string, number, integer, boolean, "
            "object, array, null, any) in place of values; a dict lists required keys, a "
            "one-element list gives the shape of every item."
        ),
    )
    response_values: dict[str, Any] | None = Field(
        None, description="Top-level keys whose values must be equal (numbers within 1e-6)."
    )


class InvalidExample(Strict):
    """A request the service must refuse with a 4xx answer (never 5xx)."""

    name: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str | None = None
    body: Any = None


class ComposeService(Strict):
    """A service of a compose file the grader takes the image's build, command, environment
    and port from (for what the manifest does not say itself)."""

    file: str = Field("compose.yaml", description="The compose file, relative to the repository.")
    service: str = Field(min_length=1, description="The service's name in it.")


def _route(value: str | None) -> str | None:
    if value is not None and not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    return value


class Service(Strict):
    compose: ComposeService | None = Field(
        None, description="Take build, command, environment and port from a compose service."
    )
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_steps: tuple[str, ...] = Field(
        (),
        description=(
            "Shell commands run in the sandbox, in a copy of the checkout, before the image "
            "is built (training that makes a gitignored model): what `build_outputs` names "
            "then joins the build context."
        ),
    )
    build_outputs: tuple[str, ...] = Field(
        (), description="Files or folders the build steps make (relative to the repository)."
    )
    build_args: dict[str, str] = Field(default_factory=dict, description="--build-arg values.")
    port: int = Field(8000, ge=1, le=65535)
    health_path: str = "/health"
    health_method: Literal["GET", "HEAD", "POST"] = Field(
        "GET", description="How the health path is probed (a service whose probe is not GET)."
    )
    health_body: dict[str, Any] | None = Field(
        None,
        description=(
            "Top-level keys the health answer's JSON must have, with these values "
            "({status: ok}): for a service that answers 200 when it is unhealthy."
        ),
    )
    ready_path: str | None = Field(
        None, description="Answers 2xx once the model is loaded; none unless the service has one."
    )
    predict_path: str = "/predict"
    model_info_path: str | None = "/model"
    metrics_path: str | None = "/metrics"
    openapi_path: str | None = "/openapi.json"
    startup_seconds: float = Field(60, gt=0)
    env: dict[str, str] = Field(default_factory=dict, description="Environment for the run.")
    command: tuple[str, ...] | None = Field(
        None,
        description=(
            "Command the container runs instead of the image's CMD (what a compose file's "
            "`command:` says, for an image without one)."
        ),
    )
    examples: tuple[Example, ...] = Field(min_length=1)
    invalid_examples: tuple[InvalidExample, ...] = ()
    url: str | None = Field(None, description="Where the service is deployed, if it is.")

    _paths = field_validator(
        "health_path",
        "ready_path",
        "predict_path",
        "model_info_path",
        "metrics_path",
        "openapi_path",
    )(_route)


class PrimaryMetric(Strict):
    name: str = Field(min_length=1)
    direction: Literal["maximize", "minimize"] = "maximize"
    target: float | None = Field(
        None,
        description=(
            "The value this project commits to, as agreed in its proposal: graded against "
            "when the rubric sets no bar for this metric."
        ),
    )


class Tracking(Strict):
    uri: str = Field(
        "sqlite:///mlflow.db",
        description="sqlite:///REL or a folder (file store), relative to the repo; or http(s)://",
    )
    experiment: str = Field(min_length=1)
    registered_model: str | None = Field(
        None,
        min_length=1,
        description="The model registry's name of the champion; none: the project registers none.",
    )
    alias: str = Field("champion", min_length=1, description="The alias of the served version.")
    primary_metric: PrimaryMetric


class Tests(Strict):
    command: str = "pytest"
    paths: tuple[str, ...] = ("tests",)
    python: str | None = Field(
        None,
        pattern=r"^3\.\d+$",
        description=(
            "Python version the suite runs on (3.12); default: the Dockerfile's base image, "
            "else .python-version, else requires-python, else 3.11."
        ),
    )
    requirements: tuple[str, ...] = Field(
        (),
        description=(
            "Requirement files the suite's environment installs; default: the project (when "
            "pyproject.toml declares one) and requirements*.txt at the root."
        ),
    )
    install: str | None = Field(
        None,
        description=(
            "Shell command that installs the suite's dependencies (network on), instead of "
            "the project and requirement files; pytest is added when it brings none."
        ),
    )
    kinds: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Kind of test (data, model, api) -> paths or pytest markers that hold it.",
    )


class Docs(Strict):
    proposal: str | None = "docs/proposal.md"
    data_card: str | None = "docs/data_card.md"
    model_card: str | None = "docs/model_card.md"
    monitoring: str | None = None


class Data(Strict):
    paths: tuple[str, ...] = ()
    validation: str | None = Field(None, description="Module or file that validates the data.")


class Training(Strict):
    """How the grader reproduces the champion: in a sandbox, with a fresh tracking store."""

    command: str = Field(
        min_length=1, description="Trains, logs to MLflow and registers the champion (make train)."
    )
    seed: int | None = Field(
        None, description="The seed the training honours; the grader passes it as SEED."
    )
    timeout: float = Field(900, gt=0, description="Seconds the training may take.")
    artifact: str | None = Field(
        None,
        description=(
            "The model file the service and the tests load (joblib or pickle file, or an "
            "MLflow model folder): tests.sensitivity swaps it for a constant model."
        ),
    )


class Evaluation(Strict):
    """Held-out data the grader measures the champion on itself."""

    data: tuple[str, ...] = Field(
        min_length=1, description="Held-out CSV file(s) in the repo, never trained on."
    )
    target: str = Field(min_length=1, description="The column the model predicts.")
    command: str | None = Field(
        None,
        description=(
            "For a metric the grader cannot compute: prints {metric: value} as JSON, run in "
            "the sandbox with MODEL_URI and DATA set."
        ),
    )


class Monitoring(Strict):
    command: str | None = None
    report: str | None = None


class Manifest(Strict):
    """Schema of `capstone.yaml`, version 1."""

    version: Literal[1] = Field(description="Manifest format version.")
    team: Team
    project: Project | None = None
    service: Service | None = None
    tracking: Tracking | None = None
    training: Training | None = None
    evaluation: Evaluation | None = None
    tests: Tests = Tests()
    docs: Docs = Docs()
    data: Data = Data()
    monitoring: Monitoring = Monitoring()


def load_manifest(path: Path) -> Manifest:
    """Parse and validate a manifest; every problem is reported with its line."""
    source = load_yaml(path, "manifest")
    return parse_manifest(source)


def parse_manifest(source: YamlSource) -> Manifest:
    data = source.data
    if not isinstance(data, dict):
        raise source.fail([Issue((), "the manifest must be a mapping")], "manifest")
    if data.get("version") not in (None, MANIFEST_VERSION):
        issue = Issue(("version",), f"unsupported version {data['version']!r}; expected 1")
        raise source.fail([issue], "manifest")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise source.fail(pydantic_issues(exc), "manifest") from None


def find_manifest(repo: Path) -> Path:
    return repo / MANIFEST_NAME
