"""Checks of the repository itself: files, README, manifest, history, secrets, pre-commit."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from grader import fs, gitrepo
from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    Params,
    failed,
    passed,
)
from grader.errors import CheckError
from grader.manifest import MANIFEST_NAME, Member
from grader.text import plural

__all__ = ["NoParams"]


def _resolve(ctx: Context, path: str) -> str | None:
    """A rubric path, or `manifest:docs.proposal` for a path the manifest names."""
    found = _resolve_all(ctx, path)
    return found[0] if found else None


def _names_none(path: str) -> str:
    """'the manifest names no docs.proposal' for a manifest path with no value."""
    return f"the manifest names no {path.removeprefix('manifest:')}"


def _resolve_all(ctx: Context, path: str) -> list[str]:
    """The paths a rubric entry names: itself, or what the manifest field holds (one path,
    or each of a list such as `manifest:tests.paths`)."""
    if not path.startswith("manifest:"):
        return [path]
    value: Any = ctx.need_manifest()
    for part in path.removeprefix("manifest:").split("."):
        value = getattr(value, part, None)
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [str(v) for v in value if isinstance(v, str)]
    return []


class FilesParams(Params):
    paths: list[str] = Field(
        min_length=1,
        description=(
            "Paths or globs that must exist; `manifest:service.dockerfile` reads the "
            "manifest (a list field such as `manifest:tests.paths`: each of its paths)."
        ),
    )


def required_files(ctx: Context, params: FilesParams) -> Outcome:
    """Required files are present.

    Every path the rubric lists must exist in the graded commit (globs such as
    `tests/test_*.py` need at least one match). Partial credit per file. Fix: add the
    missing files, commit and push them; names are case-sensitive.
    """
    found: list[str] = []
    missing: list[str] = []
    for raw in params.paths:
        paths = _resolve_all(ctx, raw)
        absent = [p for p in paths if not fs.glob_exists(ctx.repo, p)]
        if paths and not absent:
            found.append(", ".join(paths))
        else:
            missing.append(", ".join(absent) or _names_none(raw))
    evidence = {"found": found, "missing": missing}
    if not missing:
        return passed(f"all {plural(len(found), 'required file')} present", evidence)
    fraction = len(found) / len(params.paths)
    return failed(f"missing: {', '.join(missing)}", evidence, fraction)


class ReadmeParams(Params):
    file: str = "README.md"
    sections: list[str] = Field(min_length=1, description="Heading texts (case-insensitive).")


HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


def readme_sections(ctx: Context, params: ReadmeParams) -> Outcome:
    """README has the required sections.

    Each required section must appear as a Markdown heading (`## Quick start`); the
    match ignores case and accepts extra words in the heading. Partial credit per section.
    Fix: add the missing headings with real content under them.
    """
    text = fs.read_text(ctx.repo, params.file)
    if text is None:
        return failed(f"{params.file} not found", {"file": params.file})
    headings = [m.group(1).strip().lower() for m in map(HEADING.match, text.splitlines()) if m]
    missing = [s for s in params.sections if not any(s.lower() in h for h in headings)]
    evidence = {"headings": headings, "missing": missing}
    fraction = 1 - len(missing) / len(params.sections)
    if missing:
        return failed(f"{params.file} lacks sections: {', '.join(missing)}", evidence, fraction)
    return passed(f"{params.file} has {plural(len(params.sections), 'required section')}", evidence)


def manifest_valid(ctx: Context, params: NoParams) -> Outcome:
    """The manifest capstone.yaml is present and valid.

    The grader finds your service, tracking store and tests through `capstone.yaml` at
    the repository root. Fix: run `grader manifest validate .` and correct each line it names.
    """
    source = ctx.manifest_source
    if source is not None and source.kind == "inferred":
        if ctx.manifest is None:
            return failed(f"{MANIFEST_NAME} not found at the repository root")
        evidence = {"manifest": "inferred", "todo": source.todo, "left_out": source.dropped}
        return failed(
            f"{MANIFEST_NAME} not found at the repository root: the other checks used a"
            f" manifest inferred from its files ({len(source.inferred)} values,"
            f" {len(source.todo)} not found)",
            evidence,
        )
    if ctx.manifest is not None and source is not None and source.kind == "file":
        message = f"graded with the course staff's manifest {Path(source.path or '').name}"
        return passed(message, {"team": ctx.manifest.team.name, "sha256": source.sha256})
    if ctx.manifest is not None:
        return passed(f"{MANIFEST_NAME} is valid", {"team": ctx.manifest.team.name})
    problem = ctx.manifest_problem or f"{MANIFEST_NAME} not found"
    return failed(problem.splitlines()[0], {"problems": problem.splitlines()})


class IgnoreParams(Params):
    files: list[str] = [".gitignore", ".dockerignore"]
    gitignore_patterns: list[str] = Field(
        default_factory=list, description="Entries .gitignore must contain, e.g. `.venv`."
    )


def ignore_files(ctx: Context, params: IgnoreParams) -> Outcome:
    """Ignore files keep junk out of git and out of the image.

    `.gitignore` keeps virtual environments, caches and data out of git; `.dockerignore`
    keeps them out of the Docker build context. Fix: add the missing file or entries.
    """
    missing = [f for f in params.files if fs.read_text(ctx.repo, f) is None]
    gitignore = fs.read_text(ctx.repo, ".gitignore") or ""
    entries = {line.strip().strip("/") for line in gitignore.splitlines()}
    absent = [p for p in params.gitignore_patterns if p.strip("/") not in entries]
    problems = [*(f"{f} missing" for f in missing), *(f".gitignore lacks {p}" for p in absent)]
    total = len(params.files) + len(params.gitignore_patterns)
    evidence = {"missing_files": missing, "missing_entries": absent}
    if problems:
        return failed("; ".join(problems), evidence, 1 - len(problems) / total)
    return passed("ignore files present", evidence)


# Dependency locks are text a tool writes, and grow with the dependencies, not with data.
LOCK_FILES = ("*.lock", "*package-lock.json", "*npm-shrinkwrap.json", "*pnpm-lock.yaml")


class LargeFilesParams(Params):
    max_kb: int = Field(1024, gt=0, description="Largest allowed file, in KiB.")
    history: bool = Field(True, description="Also look at every blob in git history.")
    exclude: list[str] = Field(
        default_factory=lambda: list(LOCK_FILES),
        description="Globs that may be large (default: dependency lock files).",
    )


def large_files(ctx: Context, params: LargeFilesParams) -> Outcome:
    """No large files in the tree or anywhere in git history.

    Data sets, models and binaries belong in a data store or MLflow, not in git: once
    committed, a file stays in history even after it is deleted. Dependency lock files
    (`uv.lock`, `poetry.lock`, `package-lock.json`...) may be large. Fix: remove it from
    history (`git filter-repo --strip-blobs-bigger-than 1M`), then force-push, and track
    large data with DVC or an artifact store.
    """
    limit = params.max_kb * 1024

    def allowed(path: str) -> bool:
        return any(fnmatch.fnmatch(path, g) for g in params.exclude)

    offenders: dict[str, int] = {}
    for rel in fs.iter_files(ctx.repo):
        size = (ctx.repo / rel).stat().st_size
        if size > limit and not allowed(str(rel)):
            offenders[str(rel)] = size
    in_history: dict[str, int] = {}
    if params.history and ctx.commit:
        for path, size in gitrepo.blobs_in_history(ctx.repo):
            if size > limit and not allowed(path) and path not in offenders:
                in_history[path] = max(size, in_history.get(path, 0))
    listed = [f"{p} ({s / 1048576:.1f} MiB)" for p, s in {**offenders, **in_history}.items()]
    evidence = {"limit_kb": params.max_kb, "in_tree": offenders, "only_in_history": in_history}
    if listed:
        where = "in history" if not offenders else "in the tree"
        return failed(f"files over {params.max_kb} KiB {where}: {', '.join(listed[:5])}", evidence)
    return passed(f"no file over {params.max_kb} KiB", evidence)


class CommitsParams(Params):
    min_commits: int = Field(1, ge=0, description="Commits every member must have authored.")
    max_share: float = Field(1.0, gt=0, le=1, description="Largest share of one member.")
    include_merges: bool = False


def _member_of(members: tuple[Member, ...], name: str, email: str) -> str | None:
    email = email.lower()
    for m in members:
        handle = m.github.lower()
        emails = {e.lower() for e in (m.email, *m.emails) if e}
        noreply = re.fullmatch(rf"(\d+\+)?{re.escape(handle)}@users\.noreply\.github\.com", email)
        names = {n.lower() for n in (m.name, *m.names)} | {handle}
        if email in emails or noreply or name.lower() in names:
            return m.github
    return None


def commit_distribution(ctx: Context, params: CommitsParams) -> Outcome:
    """Every team member commits, and no one does nearly all of the work.

    Commits are matched to members by the emails, name or GitHub handle in `capstone.yaml`
    (GitHub's `ID+handle@users.noreply.github.com` counts). Partial credit per member.
    Fix: commit with your own identity (`git config user.email`), or list the emails and
    names you commit with under your member entry's `emails` and `names`.
    """
    members = ctx.need_manifest().team.members
    if not ctx.commit:
        raise CheckError("the target is not a git repository")
    counts = {m.github: 0 for m in members}
    unmatched: dict[str, int] = {}
    for c in gitrepo.commits(ctx.repo, ctx.commit):
        if c.parents > 1 and not params.include_merges:
            continue
        who = _member_of(members, c.author_name, c.author_email)
        if who:
            counts[who] += 1
        else:
            key = f"{c.author_name} <{c.author_email}>"
            unmatched[key] = unmatched.get(key, 0) + 1
    total = sum(counts.values()) + sum(unmatched.values())
    short = [h for h, n in counts.items() if n < params.min_commits]
    top, top_n = max(counts.items(), key=lambda kv: kv[1])
    share = top_n / total if total else 0.0
    evidence = {"commits": counts, "unattributed": unmatched, "top_share": round(share, 3)}
    fraction = 1 - len(short) / len(counts)
    need = f"need at least {params.min_commits}"
    problems = [f"{h} has {plural(counts[h], 'commit')} ({need})" for h in short]
    if len(counts) > 1 and share > params.max_share:
        problems.append(f"{top} authored {share:.0%} of commits (limit {params.max_share:.0%})")
        fraction = min(fraction, 0.5)
    if problems:
        return failed("; ".join(problems), evidence, fraction)
    least = plural(params.min_commits, "commit")
    return passed(f"each of {plural(len(counts), 'member')} has at least {least}", evidence)


class TagParams(Params):
    pattern: str = Field(description="Tag name or glob, e.g. `m1` or `v*`.")
    at_or_before_graded: bool = Field(
        True, description="The tag must point at the graded commit or one of its ancestors."
    )


def tag_exists(ctx: Context, params: TagParams) -> Outcome:
    """A milestone tag exists.

    Tag the commit you submit (`git tag m1 && git push origin m1`). The tag must point at
    the graded commit or an earlier one of its history.
    """
    if not ctx.commit:
        raise CheckError("the target is not a git repository")
    tags = gitrepo.git(ctx.repo, "tag", "--list", params.pattern).split()
    if not tags:
        return failed(f"no tag matches {params.pattern!r}", {"pattern": params.pattern})
    if not params.at_or_before_graded:
        return passed(f"tag {tags[0]} exists", {"tags": tags})
    reachable = gitrepo.git(ctx.repo, "tag", "--merged", ctx.commit, "--list", params.pattern)
    good = reachable.split()
    if good:
        return passed(f"tag {good[0]} is in the graded history", {"tags": tags})
    return failed(f"tag {tags[0]} is not in the graded commit's history", {"tags": tags})


class DocParams(Params):
    path: str = Field(description="The document; `manifest:docs.proposal` reads the manifest.")
    min_words: int = Field(150, ge=1, description="Words of prose required (headings excluded).")
    placeholders: list[str] = Field(
        default_factory=lambda: ["TODO", "TBD", "FILL IN", "Replace every _italic_", "<!-- fill"],
        description="Markers of unfilled template text; any left counts against it.",
    )


COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _italic_prompts(text: str) -> list[str]:
    """Paragraphs written wholly in italics: the template's prompts, still unanswered."""
    paragraphs = (p.strip() for p in re.split(r"\n\s*\n", text))
    return [p for p in paragraphs if len(p) > 2 and p[0] == p[-1] and p[0] in "_*"]


def doc_filled(ctx: Context, params: DocParams) -> Outcome:
    """A document is filled in, not left as the template's skeleton.

    The document must exist, hold at least `min_words` words of prose (headings, HTML
    comments and the template's italic prompts do not count) and contain none of the
    placeholder markers (such as TODO) or unanswered italic prompts. Partial credit by
    words written. Fix: answer every prompt in your own words and delete the prompt.
    """
    rel = _resolve(ctx, params.path)
    if rel is None:
        return failed(_names_none(params.path))
    text = fs.read_text(ctx.repo, rel)
    if text is None:
        return failed(f"{rel} not found")
    # Headings end a paragraph, so a prompt right under a heading is seen as one.
    body = "\n".join("" if HEADING.match(ln) else ln for ln in COMMENT.sub("", text).splitlines())
    prompts = _italic_prompts(body)
    for prompt in prompts:
        body = body.replace(prompt, "")
    left = [p for p in params.placeholders if p.lower() in text.lower()]
    if prompts:
        left.append(plural(len(prompts), "italic prompt"))
    words = len(re.findall(r"[A-Za-z0-9][\w'-]*", body))
    evidence = {"file": rel, "words": words, "placeholders_left": left}
    fraction = min(1.0, words / params.min_words) * (0.5 if left else 1.0)
    problems = []
    if words < params.min_words:
        problems.append(f"{words} of {params.min_words} words")
    if left:
        problems.append(f"placeholders left: {', '.join(left)}")
    if problems:
        return failed(f"{rel} is not filled in: {'; '.join(problems)}", evidence, fraction)
    return passed(f"{rel} is filled in ({words} words)", evidence)
