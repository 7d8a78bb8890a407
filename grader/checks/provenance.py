"""Where the graded model comes from: the champion's run names a commit of the repository's
history (tracking.lineage), and the running service serves that champion: both give the
same predictions for the manifest's examples (tracking.consistency).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import Field

from grader import gitrepo, modelsandbox, servicecalls, web
from grader.checks.base import ChampionExamples, Context, Outcome, Params, failed, passed
from grader.checks.projectenv import model_project
from grader.checks.service import tally as service_tally
from grader.checks.tracking import champion_subject, champion_version, with_store
from grader.errors import CheckError
from grader.manifest import Tracking
from grader.mlflowstore import Store, StoreProblem
from grader.text import plural

SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


class LineageParams(Params):
    tags: list[str] = Field(
        default_factory=lambda: ["mlflow.source.git.commit", "git_commit"],
        description="Run tags that may hold the commit, in order of preference.",
    )


def _in_history(ctx: Context, sha: str) -> tuple[bool, str]:
    """Whether `sha` is the graded commit or one of its ancestors, and why not."""
    if not SHA.match(sha):
        return False, f"{sha[:40]!r} is not a commit SHA"
    try:
        full = gitrepo.git(ctx.repo, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}")
    except CheckError:
        return False, f"commit {sha[:10]} is not in the repository"
    try:
        gitrepo.git(ctx.repo, "merge-base", "--is-ancestor", full.strip(), ctx.commit or "HEAD")
    except CheckError:
        return False, f"commit {sha[:10]} is not in the history of the graded commit"
    return True, ""


@with_store
def lineage(ctx: Context, params: LineageParams, store: Store, tracking: Tracking) -> Outcome:
    """The champion run names the git commit of the code that trained it.

    The run must carry a commit tag (`mlflow.source.git.commit`, set by MLflow when you
    run a script from a git checkout, or `git_commit`) naming a commit in the history of
    the graded commit: a model trained from code that was never committed or pushed
    cannot be reproduced. Fix: commit and push first, then train.
    """
    subject = champion_subject(store, tracking)
    tags = subject.run.data.tags
    tag = next((t for t in params.tags if tags.get(t)), None)
    evidence = {"run": subject.label, "run_id": subject.run.info.run_id}
    if tag is None:
        return failed(f"{subject.label} has no commit tag ({', '.join(params.tags)})", evidence)
    sha = str(tags[tag]).strip()
    ok, reason = _in_history(ctx, sha)
    evidence.update(tag=tag, commit=sha)
    if not ok:
        return failed(f"{subject.label}: {reason}", evidence)
    return passed(f"{subject.label} was trained from commit {sha[:10]}", evidence)


class ConsistencyParams(Params):
    tolerance: float = Field(1e-6, ge=0, description="Allowed difference (absolute or relative).")
    partial: bool = Field(False, description="Credit in proportion of agreeing predictions.")
    image: str = Field(
        "auto",
        description=(
            "Base image the champion is loaded in. `auto`: python:X.Y-slim with the "
            "Python version that saved the model (its python_env.yaml)."
        ),
    )
    setup: str | None = Field(
        "auto",
        description=(
            "Install command (auto: the team's project environment when it fits the model, "
            "else mlflow-skinny and the model's requirements.txt)."
        ),
    )
    timeout: float = Field(300, gt=0, description="Seconds to load the model and predict.")
    setup_timeout: float = Field(900, gt=0)
    memory: str = "2g"


@dataclass(frozen=True)
class ExampleRecords:
    name: str
    path: str
    body: Any
    records: list[dict[str, Any]]


def example_records(ctx: Context) -> list[ExampleRecords]:
    """The manifest's successful POST examples, with the feature records each one sends."""
    service = ctx.need_manifest().service
    if service is None:
        return []
    found = []
    for example in service.examples:
        records = _records(example.body)
        if example.method == "POST" and 200 <= example.expect_status < 300 and records:
            path = example.path or service.predict_path
            found.append(ExampleRecords(example.name, path, example.body, records))
    return found


def _records(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and isinstance(body.get("instances"), list):
        body = body["instances"]
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and all(isinstance(r, dict) for r in body):
        return list(body)
    return []


def _served(ctx: Context, url: str, examples: list[ExampleRecords]) -> list[Any]:
    """The live service's predictions, in the order of the examples' records."""
    values: list[Any] = []
    http = web.client(local=not ctx.settings.url, base_url=url)
    with servicecalls.Caller(http, service_tally(ctx), ctx.check_id) as caller:
        for example in examples:
            try:
                answer = caller.send("POST", example.path, example.body)
            except httpx.HTTPError as exc:
                raise StoreProblem(f"the service did not answer {example.name!r}: {exc}") from None
            got = _predictions(answer, len(example.records))
            if got is None:
                raise StoreProblem(
                    f"no predictions in the service's answer to {example.name!r} "
                    f"(HTTP {answer.status_code}: {answer.text[:200]})"
                )
            values.extend(got)
    return values


def _predictions(answer: httpx.Response, count: int) -> list[Any] | None:
    try:
        data = answer.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        data = data.get("predictions", [data["prediction"]] if "prediction" in data else None)
    if not isinstance(data, list) or len(data) != count:
        return None
    return [item.get("prediction") if isinstance(item, dict) else item for item in data]


def _same(served: Any, champion: Any, tolerance: float) -> bool:
    numbers = (int, float)
    if isinstance(served, numbers) and isinstance(champion, numbers):
        return math.isclose(served, champion, rel_tol=tolerance, abs_tol=tolerance)
    return str(served) == str(champion)


@with_store
def consistency(
    ctx: Context, params: ConsistencyParams, store: Store, tracking: Tracking
) -> Outcome:
    """The live service serves the registered champion.

    The grader sends the examples of capstone.yaml to the running service, loads the
    model behind the alias (`champion`) from the registry in a sandbox container (when
    tracking.evaluate already loaded that version the same way, it reuses the predictions
    that load made for these examples), and compares the two sets of predictions
    (numbers within the tolerance). A difference
    means the image serves another model than the one you registered. Fix: build the
    image from the champion (export it in the build, or load `models:/<name>@champion`).
    """
    url = ctx.need("service_url").rstrip("/")
    examples = example_records(ctx)
    if not examples:
        return failed("capstone.yaml has no successful POST example with records to predict")
    version = champion_version(store, tracking)
    _, folder = store.mlmodel(version)
    if folder is None:
        return failed(
            f"the model files of {tracking.registered_model}@{tracking.alias} are missing"
        )
    served = _served(ctx, url, examples)
    records = [r for e in examples for r in e.records]
    box = model_box(ctx, params)
    shared = reusable(ctx.provided.champion_examples, model_key(version), box, records)
    if shared is not None:
        values, environment = shared
    else:
        try:
            champion = modelsandbox.predict(folder, records, box)
        except modelsandbox.PredictionFailed as exc:
            return failed(f"the champion could not predict in the sandbox: {exc}"[:600])
        values, environment = champion.values, champion.environment
    outcome = _compare(examples, served, values, params, version.version)
    outcome.evidence["environment"] = environment  # cached or installed, for TAs
    return outcome


def reusable(
    shared: ChampionExamples | None,
    model: str,
    box: modelsandbox.Sandboxed,
    records: list[dict[str, Any]],
) -> tuple[list[Any], str] | None:
    """The predictions another check's load of the champion made (and where it ran), if it
    was this model, loaded the same way, predicting exactly these records; else None."""
    if shared is None or not isinstance(shared.answer, list):
        return None
    if (shared.model, shared.sandbox) != (model, (box.image, box.setup)):
        return None
    if list(shared.records) != records:
        return None
    return shared.answer, f"{shared.environment}, predicted by {shared.by}"


def model_key(version: Any) -> str:
    """A registered model version, as both checks that load it name it."""
    return f"{version.name} v{version.version} {version.source}"


class ModelBoxParams(Protocol):
    """What a check's params say about the sandbox that loads the champion."""

    @property
    def image(self) -> str: ...
    @property
    def setup(self) -> str | None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def setup_timeout(self) -> float: ...
    @property
    def memory(self) -> str: ...


def model_box(ctx: Context, params: ModelBoxParams) -> modelsandbox.Sandboxed:
    """The sandbox that loads the champion (tracking.consistency, tracking.evaluate)."""
    return modelsandbox.Sandboxed(
        image=params.image,
        setup=params.setup,
        timeout=params.timeout,
        setup_timeout=params.setup_timeout,
        memory=params.memory,
        run_id=ctx.settings.run_id,
        check_id=ctx.check_id,
        network_mode=ctx.settings.network_mode,
        project=model_project(ctx),
    )


def _compare(
    examples: list[ExampleRecords],
    served: list[Any],
    champion: list[Any],
    params: ConsistencyParams,
    version: Any,
) -> Outcome:
    names = [
        f"{e.name}[{i}]" if len(e.records) > 1 else e.name
        for e in examples
        for i in range(len(e.records))
    ]
    if len(champion) != len(served):
        return failed(
            f"the champion returned {len(champion)} predictions for {len(served)} records"
        )
    rows = list(zip(names, served, champion, strict=True))
    differ = [(n, s, c) for n, s, c in rows if not _same(s, c, params.tolerance)]
    evidence = {
        "version": version,
        "compared": [{"example": n, "service": s, "champion": c} for n, s, c in rows],
    }
    if not differ:
        agreed = plural(len(rows), "prediction")
        return passed(f"the service agrees with the champion (v{version}) on {agreed}", evidence)
    shown = "; ".join(f"{n}: service {s!r}, champion {c!r}" for n, s, c in differ[:3])
    fraction = 1 - len(differ) / len(rows) if params.partial else 0.0
    return failed(
        f"the service and the champion disagree on {len(differ)} of {len(rows)}: {shown}",
        evidence,
        fraction,
    )
