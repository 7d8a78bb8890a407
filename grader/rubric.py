"""Milestone rubrics: typed, frozen models, and a loader whose every error names file and line."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.checks.base import Params
from grader.checks.registry import REGISTRY
from grader.results import Visibility
from grader.rubricneeds import needs_issues, requirement_issues
from grader.yamlsrc import Issue, Loc, YamlSource, load_yaml, pydantic_issues

ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
KIT_RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatePolicy(Strict):
    """Late work loses `percent_per_day` of the points per started day after the grace period."""

    percent_per_day: float = Field(ge=0, le=100)
    grace_days: float = Field(0, ge=0)
    max_percent: float = Field(100, ge=0, le=100, description="Cap on the total deduction.")


class Level(Strict):
    label: str = Field(min_length=1)
    points: float = Field(ge=0)
    description: str = ""


class ManualItem(Strict):
    """A rubric item a TA or a judge scores, from a scores file."""

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    points: float = Field(gt=0)
    description: str = ""
    levels: tuple[Level, ...] = ()
    visibility: Visibility = "visible"


class RubricCheck(Strict):
    """One automated rubric item: a registry check with its points and params."""

    id: str = Field(pattern=ID_PATTERN, description="Unique within the rubric.")
    check: str = Field(description="Name of a check in the grader's registry.")
    title: str | None = Field(None, description="Defaults to the check's own title.")
    points: float = Field(gt=0)
    params: dict[str, Any] = Field(default_factory=dict)
    needs: tuple[str, ...] = Field((), description="Ids of checks that must pass first.")
    visibility: Visibility = "visible"
    tags: tuple[str, ...] = ()
    required: bool = Field(False, description="If it does not pass, the automated score is 0.")
    timeout: float | None = Field(None, gt=0, description="Seconds; defaults to the check's.")


class Extends(Strict):
    milestone: str = Field(description="Rubric file (without .yaml) in the same folder.")
    points: float | None = Field(
        None,
        gt=0,
        description=(
            "Scale the inherited checks to sum to this many points, each in proportion to "
            "the points it has in the rubric that declares it."
        ),
    )
    exclude: tuple[str, ...] = ()


class RubricFile(Strict):
    """Schema of one rubric YAML file."""

    milestone: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str = ""
    deadline: datetime | None = None
    late_policy: LatePolicy | None = None
    total: float | None = Field(None, gt=0, description="If set, points must add up to it.")
    extends: str | Extends | None = None
    checks: tuple[RubricCheck, ...] = ()
    manual: tuple[ManualItem, ...] = ()


@dataclass(frozen=True)
class ResolvedCheck:
    id: str
    check: str
    title: str
    points: float
    params: Params
    needs: tuple[str, ...]
    visibility: Visibility
    tags: tuple[str, ...]
    required: bool
    timeout: float
    regression: bool
    weight: float = 0.0  # points in the rubric that declared it: what regression scaling uses


@dataclass(frozen=True)
class Rubric:
    """A rubric with `extends` resolved and params typed: what the runner grades with."""

    path: Path
    milestone: str
    title: str
    deadline: datetime | None
    late_policy: LatePolicy | None
    checks: tuple[ResolvedCheck, ...]
    manual: tuple[ManualItem, ...]
    hash: str

    @property
    def max_points(self) -> float:
        return round(sum(c.points for c in self.checks) + sum(m.points for m in self.manual), 2)

    def check(self, check_id: str) -> ResolvedCheck:
        return next(c for c in self.checks if c.id == check_id)


def rubric_path(milestone: str, rubrics_dir: Path | None = None) -> Path:
    return (rubrics_dir or KIT_RUBRICS) / f"{milestone}.yaml"


def load_rubric(path: Path) -> Rubric:
    """Load, validate and resolve a rubric; all problems come back in one ConfigError."""
    return _resolve(path.resolve(), ())


def _resolve(path: Path, chain: tuple[Path, ...]) -> Rubric:
    source = load_yaml(path, "rubric")
    model, issues = _validate(source)
    parent = _parent(path, chain, source, issues)
    raw_checks = source.data.get("checks") if isinstance(source.data, dict) else None
    if isinstance(raw_checks, list):
        inherited = {c.id for c in parent.checks} if parent else set()
        issues.extend(needs_issues(raw_checks, inherited))
    if issues or model is None:
        raise source.fail(issues, "rubric")
    return _build(path, model, parent, source)


def _parent(
    path: Path, chain: tuple[Path, ...], source: YamlSource, issues: list[Issue]
) -> Rubric | None:
    """The resolved rubric this one extends, with its checks marked as regression checks."""
    raw = source.data.get("extends") if isinstance(source.data, dict) else None
    try:
        ext = Extends(milestone=raw) if isinstance(raw, str) else Extends.model_validate(raw)
    except ValidationError:
        return None  # already reported by the file's own validation
    parent_path = path.parent / f"{ext.milestone}.yaml"
    if parent_path in (*chain, path):
        names = [p.stem for p in (*chain, path, parent_path)]
        issues.append(Issue(("extends",), f"extends cycle: {' -> '.join(names)}"))
        return None
    if not parent_path.is_file():
        issues.append(Issue(("extends",), f"no rubric {ext.milestone!r} at {parent_path}"))
        return None
    return _inherit(_resolve(parent_path, (*chain, path)), ext, issues)


def _validate(source: YamlSource) -> tuple[RubricFile | None, list[Issue]]:
    data = source.data
    if not isinstance(data, dict):
        return None, [Issue((), "a rubric must be a mapping")]
    issues: list[Issue] = []
    model = None
    try:
        model = RubricFile.model_validate(data)
    except ValidationError as exc:
        issues.extend(pydantic_issues(exc))
    raw_checks = data.get("checks")
    if isinstance(raw_checks, list):
        issues.extend(_check_entries(raw_checks, source))
    return model, issues


def _check_entries(raw: list[Any], source: YamlSource) -> list[Issue]:
    """What pydantic cannot see alone: registry names, params, duplicate ids, `needs`."""
    issues: list[Issue] = []
    first_line: dict[str, int] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            continue
        issues.extend(_check_name_and_params(i, entry))
        cid = entry.get("id")
        if isinstance(cid, str):
            if cid in first_line:
                msg = f"duplicate id {cid!r} (first at line {first_line[cid]})"
                issues.append(Issue(("checks", i, "id"), msg))
            else:
                first_line[cid] = source.line_of(("checks", i, "id"))
    return issues


def _check_name_and_params(i: int, entry: dict[str, Any]) -> list[Issue]:
    name = entry.get("check")
    if not isinstance(name, str):
        return []
    definition = REGISTRY.get(name)
    if definition is None:
        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [Issue(("checks", i, "check"), f"unknown check {name!r}{hint}")]
    params = entry.get("params") or {}
    if not isinstance(params, dict):
        return []
    try:
        definition.params.model_validate(params)
    except ValidationError as exc:
        prefix: Loc = ("checks", i, "params")
        return [Issue((*prefix, *issue.loc), issue.message) for issue in pydantic_issues(exc)]
    return []


QUARTER = 0.25


def _inherit(parent: Rubric, ext: Extends, issues: list[Issue]) -> Rubric:
    """The parent's checks, minus exclusions, scaled to `ext.points`, marked as regression.

    Scaling is by the points each check had in the rubric that declared it, so in a chain
    (expo extends m4 extends ... m0) every earlier milestone keeps its share instead of
    shrinking geometrically to nothing.
    """
    for k, cid in enumerate(ext.exclude):
        if not any(c.id == cid for c in parent.checks):
            issues.append(Issue(("extends", "exclude", k), f"{parent.milestone} has no {cid!r}"))
    kept = [c for c in parent.checks if c.id not in ext.exclude]
    if ext.points:
        points = _rescale([c.weight for c in kept], ext.points)
    else:
        points = [c.points for c in kept]
    worthless = [c.id for c, p in zip(kept, points, strict=True) if p <= 0]
    if worthless:
        msg = f"scaled to {ext.points:g} points, {', '.join(worthless)} would be worth 0"
        issues.append(Issue(("extends", "points"), f"{msg}: raise points or exclude them"))
    checks = tuple(
        ResolvedCheck(**{**c.__dict__, "points": p, "regression": True})
        for c, p in zip(kept, points, strict=True)
    )
    return Rubric(parent.path, parent.milestone, parent.title, None, None, checks, (), "")


def _rescale(points: list[float], target: float | None) -> list[float]:
    """Points scaled to sum to `target` in quarter points (0.25, 0.5, 1.75: values a student
    can read) by the largest remainder, every check at least a quarter (taken from the
    largest); in hundredths when `target` is not whole quarters or too few of them."""
    total = sum(points)
    if not target or not total:
        return points
    step = QUARTER if _whole(target / QUARTER) and target / QUARTER >= len(points) else 0.01
    units = round(target / step)
    exact = [p * units / total for p in points]
    given = [int(e) for e in exact]
    by_remainder = sorted(range(len(points)), key=lambda i: given[i] - exact[i])
    for i in by_remainder[: units - sum(given)]:
        given[i] += 1
    while step == QUARTER and 0 in given:  # a regression check worth nothing is an error
        given[given.index(max(given))] -= 1
        given[given.index(0)] = 1
    return [round(g * step, 2) for g in given]


def _whole(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _build(path: Path, model: RubricFile, parent: Rubric | None, source: YamlSource) -> Rubric:
    own_ids = {c.id for c in model.checks}
    inherited = [c for c in (parent.checks if parent else ()) if c.id not in own_ids]
    own = [_resolve_check(c) for c in model.checks]
    checks = (*inherited, *own)
    ids = {c.id for c in checks}
    issues = [
        Issue(("extends",), f"{c.id!r} needs {need!r}, which is excluded")
        for c in inherited
        for need in c.needs
        if need not in ids
    ]
    issues += requirement_issues(model.checks, checks)
    if model.total is not None:
        total = sum(c.points for c in checks) + sum(m.points for m in model.manual)
        if abs(total - model.total) > 0.01:
            issues.append(Issue(("total",), f"points add up to {total:g}, not {model.total:g}"))
    if issues:
        raise source.fail(issues, "rubric")
    digest = hashlib.sha256(
        json.dumps(
            [model.model_dump(mode="json"), [c.params.model_dump(mode="json") for c in checks]]
            + [[c.id, c.points] for c in checks],
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    return Rubric(
        path,
        model.milestone,
        model.title,
        model.deadline,
        model.late_policy,
        checks,
        model.manual,
        digest,
    )


def _resolve_check(c: RubricCheck) -> ResolvedCheck:
    definition = REGISTRY[c.check]
    return ResolvedCheck(
        id=c.id,
        check=c.check,
        title=c.title or definition.title,
        points=c.points,
        params=definition.params.model_validate(c.params),
        needs=c.needs,
        visibility=c.visibility,
        tags=c.tags,
        required=c.required,
        timeout=c.timeout or definition.timeout,
        regression=False,
        weight=c.points,
    )


def json_schema() -> dict[str, Any]:
    """JSON Schema of rubric files: the models' schema plus, per check, its params' schema."""
    schema = RubricFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    rule_list = []
    for name, definition in sorted(REGISTRY.items()):
        params_schema = definition.params.model_json_schema()
        inner = params_schema.pop("$defs", {})
        defs.update(inner)
        key = "Params_" + name.replace(".", "_")
        defs[key] = params_schema
        rule_list.append(
            {
                "if": {"properties": {"check": {"const": name}}, "required": ["check"]},
                "then": {"properties": {"params": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    check = defs["RubricCheck"]
    check["properties"]["check"]["enum"] = sorted(REGISTRY)
    check["allOf"] = rule_list
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "MLOps capstone kit rubric"
    return schema
