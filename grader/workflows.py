"""GitHub Actions workflow files: parsed as GitHub reads them, with the line of every step.

GitHub's parser follows YAML 1.2, where only `true` and `false` are booleans; PyYAML's
safe loader would turn the `on:` key into `True`. `WorkflowLoader` keeps it a string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # imported where a workflow is validated (ci.workflows preloads it)
    import jsonschema  # type: ignore[import-untyped]
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from grader import fs
from grader.ghexpr import constant

WORKFLOW_DIR = ".github/workflows"


class WorkflowLoader(yaml.SafeLoader):
    """Safe loader where yes/no/on/off stay strings (YAML 1.2 booleans only)."""


WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Step:
    """One step of one job, with where it sits in its file (1-based lines)."""

    file: str
    job: str
    name: str
    run: str
    uses: str
    first_line: int
    last_line: int
    continue_on_error: bool
    coe_line: int
    condition: str
    if_line: int
    run_line: int = 0
    shell: str = ""
    working_directory: str = ""
    via: str = ""  # for a step of a local composite action: where a workflow uses it

    @property
    def label(self) -> str:
        return f"{self.job}: {self.name}"


@dataclass(frozen=True)
class Workflow:
    file: str
    text: str
    data: Any
    node: yaml.Node | None
    problem: str | None = None

    def line(self, loc: tuple[str | int, ...]) -> int:
        """Line of the deepest part of `loc` present in the file."""
        node, line = self.node, 1
        for part in loc:
            child = _child(node, part) if node is not None else None
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line

    def key_line(self, loc: tuple[str | int, ...]) -> int:
        """Line of the key that ends `loc` (`on:` itself, not its first event)."""
        parent = self.node
        for part in loc[:-1]:
            parent = _child(parent, part)
        if isinstance(parent, yaml.MappingNode):
            for key, _ in parent.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(loc[-1]):
                    return int(key.start_mark.line) + 1
        return self.line(loc)


def workflow_files(repo: Path) -> list[str]:
    """Workflow files of the repo (links that leave it are ignored)."""
    folder = fs.inside(repo, WORKFLOW_DIR)
    if folder is None or not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".yml", ".yaml"))
    return [f"{WORKFLOW_DIR}/{n}" for n in names if fs.read_text(repo, f"{WORKFLOW_DIR}/{n}")]


def load(repo: Path, rel: str) -> Workflow:
    text = fs.read_text(repo, rel) or ""
    try:
        node = yaml.compose(text, Loader=WorkflowLoader)
        data = yaml.load(text, Loader=WorkflowLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return Workflow(rel, text, None, None, f"{rel}:{line}: invalid YAML: {exc.problem}")
    except yaml.YAMLError as exc:
        return Workflow(rel, text, None, None, f"{rel}:1: invalid YAML: {exc}")
    return Workflow(rel, text, data, node)


@cache
def _validator() -> jsonschema.Draft7Validator:
    import jsonschema

    source = resources.files("check_jsonschema") / "builtin_schemas/vendor/github-workflows.json"
    return jsonschema.Draft7Validator(json.loads(source.read_text(encoding="utf-8")))


def schema_problems(workflow: Workflow, limit: int = 5) -> list[str]:
    """`file:line: path: message` for each way the workflow breaks GitHub's schema."""
    if workflow.problem:
        return [workflow.problem]
    errors = sorted(_validator().iter_errors(workflow.data), key=lambda e: list(e.path))
    return [_describe(workflow, error) for error in errors[:limit]]


def _describe(workflow: Workflow, error: ValidationError) -> str:
    from jsonschema.exceptions import best_match

    # oneOf/anyOf errors say "not valid under any of the given schemas": the best
    # matching sub-error names the field that is actually wrong.
    while error.context:
        error = best_match(error.context)
    loc = tuple(error.absolute_path)
    where = ".".join(str(p) for p in loc) or "(top level)"
    return f"{workflow.file}:{workflow.line(loc)}: {where}: {error.message[:200]}"


def steps(workflow: Workflow) -> list[Step]:
    """Every step of every job, with the job's `if` and `continue-on-error` inherited."""
    jobs = workflow.data.get("jobs") if isinstance(workflow.data, dict) else None
    if not isinstance(jobs, dict):
        return []
    found: list[Step] = []
    for job_id, job in jobs.items():
        if isinstance(job, dict) and isinstance(job.get("steps"), list):
            found.extend(_job_steps(workflow, str(job_id), job))
    return found


def _job_steps(workflow: Workflow, job_id: str, job: dict[str, Any]) -> list[Step]:
    job_node = _child(_child(workflow.node, "jobs"), job_id)
    out = []
    for index, step in enumerate(job["steps"]):
        if not isinstance(step, dict):
            continue
        node = _child(_child(job_node, "steps"), index)
        out.append(_step(workflow, job_id, job, step, node, index))
    return out


def _step(
    workflow: Workflow,
    job_id: str,
    job: dict[str, Any],
    step: dict[str, Any],
    node: yaml.Node | None,
    index: int,
) -> Step:
    first = node.start_mark.line + 1 if node else 1
    last = max(first, node.end_mark.line) if node else first
    coe_key, coe_owner = _own_or_job(step, job, "continue-on-error")
    if_key, if_owner = _own_or_job(step, job, "if")
    return Step(
        file=workflow.file,
        job=job_id,
        name=str(step.get("name") or step.get("uses") or f"step {index + 1}"),
        run=str(step.get("run") or ""),
        uses=str(step.get("uses") or ""),
        first_line=first,
        last_line=last,
        continue_on_error=constant(coe_owner.get(coe_key, False)) is True,
        coe_line=workflow.line(_loc(job_id, index, coe_owner is step, coe_key)),
        condition=_shown(if_owner.get(if_key, "")),
        if_line=workflow.line(_loc(job_id, index, if_owner is step, if_key)),
        run_line=_run_line(_child(node, "run"), first),
        shell=_shell(workflow.data, job, step),
        working_directory=_working_directory(workflow.data, job, step),
    )


def _run_line(node: yaml.Node | None, default: int) -> int:
    """Line of the script's first line: a `|` block starts on the line after its key."""
    if not isinstance(node, yaml.ScalarNode):
        return default
    return node.start_mark.line + (2 if node.style in ("|", ">") else 1)


def _working_directory(data: Any, job: dict[str, Any], step: dict[str, Any]) -> str:
    for owner in (step, _defaults(job), _defaults(data)):
        if owner.get("working-directory"):
            return str(owner["working-directory"])
    return ""


def _defaults(owner: Any) -> dict[str, Any]:
    found = owner.get("defaults") if isinstance(owner, dict) else None
    run = found.get("run") if isinstance(found, dict) else None
    return run if isinstance(run, dict) else {}


def _shell(data: Any, job: dict[str, Any], step: dict[str, Any]) -> str:
    """The step's `shell`, else its job's or workflow's default; pwsh on Windows runners."""
    for owner in (step, _defaults(job), _defaults(data)):
        if owner.get("shell"):
            return str(owner["shell"])
    return "pwsh" if "windows" in str(job.get("runs-on", "")).lower() else ""


def _own_or_job(step: dict[str, Any], job: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    """The step's own setting if it has one, else its job's."""
    return key, step if key in step else job


def _loc(job_id: str, index: int, on_step: bool, key: str) -> tuple[str | int, ...]:
    return ("jobs", job_id, "steps", index, key) if on_step else ("jobs", job_id, key)


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        items: list[yaml.Node] = node.value
        return items[key] if 0 <= key < len(items) else None
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
        for k, v in pairs:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    return None


# --- which jobs can run on a push or pull request to the graded branch ---------------------


# --- local composite actions ----------------------------------------------------------------


def expand_actions(repo: Path, found: tuple[Step, ...]) -> tuple[Step, ...]:
    """A step that uses a local composite action (`uses: ./path`) stands for its steps."""
    out: list[Step] = []
    for step in found:
        inner = _composite(repo, step) if step.uses.startswith("./") else []
        out.extend(inner or [step])
    return tuple(out)


def _composite(repo: Path, step: Step) -> list[Step]:
    base = step.uses[2:].strip("/")
    for name in ("action.yml", "action.yaml"):
        action = load(repo, f"{base}/{name}" if base else name)
        runs = action.data.get("runs") if isinstance(action.data, dict) else None
        if isinstance(runs, dict) and runs.get("using") == "composite":
            listed = runs.get("steps")
            listed = listed if isinstance(listed, list) else []
            return [
                _action_step(action, step, index, inner)
                for index, inner in enumerate(listed)
                if isinstance(inner, dict)
            ]
    return []


def _action_step(action: Workflow, caller: Step, index: int, step: dict[str, Any]) -> Step:
    node = _child(_child(_child(action.node, "runs"), "steps"), index)
    first = node.start_mark.line + 1 if node else 1
    line = action.line(("runs", "steps", index, "if"))
    return Step(
        file=action.file,
        job=caller.job,
        name=str(step.get("name") or step.get("uses") or f"step {index + 1}"),
        run=str(step.get("run") or ""),
        uses=str(step.get("uses") or ""),
        first_line=first,
        last_line=max(first, node.end_mark.line) if node else first,
        continue_on_error=constant(step.get("continue-on-error", False)) is True,
        coe_line=action.line(("runs", "steps", index, "continue-on-error")),
        condition=_shown(step.get("if", "")),
        if_line=line,
        run_line=_run_line(_child(node, "run"), first),
        shell=str(step.get("shell") or ""),
        working_directory=str(step.get("working-directory") or ""),
        via=f"{caller.file}:{caller.first_line}",
    )


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value).strip()
