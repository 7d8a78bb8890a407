"""Refuse answers that would generate a broken team repository.

Runs before any file is written; on failure cookiecutter removes the half-made folder,
so nothing is left behind. Every problem is reported, each on its own line.
"""

from __future__ import annotations

import keyword
import re
import sys

SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
PACKAGE = re.compile(r"^[a-z][a-z0-9_]*$")
MEMBER = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<\s*@?(?P<handle>[^<>\s]+)\s*>\s*$")
KIT_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
MILESTONE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
HANDLE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "package_name": {{ cookiecutter.package_name | tojson }},
    "team_name": {{ cookiecutter.team_name | tojson }},
    "members": {{ cookiecutter.members | tojson }},
    "kit_repository": {{ cookiecutter.kit_repository | tojson }},
    "kit_ref": {{ cookiecutter.kit_ref | tojson }},
    "milestone": {{ cookiecutter.milestone | tojson }},
}


def problems(answers: dict[str, str]) -> list[str]:
    found: list[str] = []
    slug = answers["project_slug"]
    if not SLUG.match(slug):
        found.append(
            f"project_slug {slug!r} is invalid: use lowercase letters, digits and single "
            "hyphens or underscores, starting with a letter (e.g. 'wine-quality')"
        )
    package = answers["package_name"]
    if package != package.lower():
        found.append(f"package_name {package!r} is invalid: it must be lowercase")
    elif not package.isidentifier() or not PACKAGE.match(package):
        found.append(
            f"package_name {package!r} is not a valid Python identifier: use lowercase "
            "letters, digits and underscores, starting with a letter (e.g. 'wine_quality')"
        )
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package_name {package!r} is a Python keyword: choose another name")
    elif package in sys.stdlib_module_names:
        found.append(f"package_name {package!r} shadows a standard-library module")
    for key in ("project_name", "team_name"):
        if not answers[key].strip():
            found.append(f"{key} must not be empty")
    members = [m for m in answers["members"].split(",") if m.strip()]
    if not members:
        found.append("members must list at least one 'Full Name <github-handle>'")
    for member in members:
        match = MEMBER.match(member)
        if match is None or not match["name"]:
            found.append(f"member {member.strip()!r} must be written 'Full Name <github-handle>'")
        elif not HANDLE.match(match["handle"]):
            found.append(f"member {member.strip()!r}: {match['handle']!r} is not a GitHub handle")
    found += workflow_problems(answers)
    return found


def workflow_problems(answers: dict[str, str]) -> list[str]:
    """The self-grading workflow's answers become YAML and a `uses:` reference."""
    found: list[str] = []
    kit = answers["kit_repository"].strip()
    if kit and not KIT_REPOSITORY.match(kit):
        found.append(f"kit_repository {kit!r} must be a GitHub repository as owner/name")
    if not REF.match(answers["kit_ref"]):
        found.append(f"kit_ref {answers['kit_ref']!r} is not a tag, branch or commit name")
    if not MILESTONE.match(answers["milestone"]):
        found.append(f"milestone {answers['milestone']!r} is not a milestone id such as m2")
    return found


def main() -> int:
    found = problems(ANSWERS)
    for problem in found:
        print(f"ERROR: {problem}", file=sys.stderr)
    if found:
        print("ERROR: nothing was generated; run cookiecutter again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
