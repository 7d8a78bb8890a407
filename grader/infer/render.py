"""A draft as YAML a TA can review: each value with where it came from, each gap a TODO;
and as manifest data the grader can grade with."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from grader.infer.draft import Draft, Finding
from grader.manifest import Manifest

SURE_WORDS = {"high": "", "medium": ", likely", "low": ", a guess: check it"}
SECTIONS = [name for name in Manifest.model_fields if name != "version"]


def render(draft: Draft, repo_name: str) -> str:
    lines = [
        f"# Draft manifest for {repo_name}, inferred by `grader manifest init` from the",
        "# repository's files (none of its code was run). Each value says where it came from;",
        "# a `# TODO` is what could not be found. Review it, then grade with",
        "#   grader check REPO --manifest THIS_FILE",
        "version: 1",
    ]
    for section in SECTIONS:
        body = _section(draft, section)
        if body:
            notes = [f"# {text}" for text in draft.notes.get(section, [])]
            lines += ["", *notes, f"{section}:", *body]
    return "\n".join(lines) + "\n"


def _section(draft: Draft, section: str) -> list[str]:
    model = Manifest.model_fields[section].annotation
    fields = _fields_of(model)
    out: list[str] = []
    for name in fields:
        path = f"{section}.{name}"
        if path in draft.found:
            out += _value_lines(name, draft.found[path], draft.todo.get(path))
        elif path in draft.todo:
            out.append(f"  # {name}:  # TODO: {draft.todo[path]}")
    return out


def _fields_of(annotation: Any) -> list[str]:
    for candidate in getattr(annotation, "__args__", (annotation,)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return list(candidate.model_fields)
    return []


def _value_lines(name: str, finding: Finding, todo: str | None) -> list[str]:
    value = finding.value
    note = f"  # from {finding.source}{SURE_WORDS[finding.sure]}"
    if value is None:
        note = f"  # none: {finding.source}"
    if todo:
        note += f"; TODO: {todo}"
    if name == "members":
        return [f"  members:{note}", *_members(value)]
    if isinstance(value, dict | list) and value and not _flat(value):
        dumped = yaml.safe_dump({name: value}, sort_keys=False, default_flow_style=None, width=100)
        first, *rest = dumped.rstrip("\n").splitlines()
        return [f"  {first}{note}", *(f"  {line}" for line in rest)]
    scalar = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    scalar = scalar.removesuffix("\n...").removesuffix("...").strip()
    return [f"  {name}: {scalar}{note}"]


def _flat(value: dict[str, Any] | list[Any]) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(v, dict | list) for v in items) and len(str(value)) < 80


def _members(members: list[dict[str, Any]]) -> list[str]:
    out = []
    for member in members:
        out.append(f"    - name: {_quote(member['name'])}")
        if member.get("github"):
            out.append(f"      github: {_quote(member['github'])}")
        else:
            out.append("      # github:  # TODO: this author's GitHub handle")
        if member.get("email"):
            out.append(f"      email: {_quote(member['email'])}")
        if member.get("emails"):
            listed = ", ".join(_quote(e) for e in member["emails"])
            out.append(f"      emails: [{listed}]")
    return out


def _quote(value: str) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


# grading with a draft ------------------------------------------------------------------------


def grading_manifest(draft: Draft) -> tuple[Manifest | None, list[str]]:
    """The draft as a manifest the grader can use, and the sections it had to leave out
    (their required fields were not found). Authors without a handle get their address's
    name as one; the TA reviews the inferred values in the results."""
    data = draft.data()
    for member in data.get("team", {}).get("members", []):
        if not member.get("github"):
            local = str(member.get("email", "author")).split("@")[0]
            member["github"] = re.sub(r"[^A-Za-z0-9-]+", "-", local).strip("-")[:39] or "author"
    dropped: list[str] = []
    for _ in SECTIONS:
        try:
            return Manifest.model_validate(data), dropped
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
            if not bad or "team" in bad or "version" in bad:
                return None, dropped
            for section in sorted(bad):
                data.pop(section, None)
                dropped.append(section)
    return None, dropped
