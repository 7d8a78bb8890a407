"""Checks of the repository itself: files, README, manifest, history, secrets, pre-commit."""

from __future__ import annotations

import fnmatch
import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import Field

from grader import fs, gitrepo, sandbox, secretscan
from grader.checks.base import (
    Context,
    NoParams,
    Outcome,
    Params,
    failed,
    passed,
    skipped,
)
from grader.errors import CheckError, EngineError
from grader.manifest import MANIFEST_NAME, Member
from grader.text import plural, tail

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


DEFAULT_SECRET_PLUGINS = [
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "JwtTokenDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
]


# Where a credential assigned a literal value is a finding (detect-secrets scans every file).
ASSIGNMENT_FILES = (
    *("*.tfvars", "*.tfvars.json", "*.tf", "*.hcl", "*.yaml", "*.yml", "*.toml", "*.ini"),
    *("*.cfg", "*.conf", "*.cnf", "*.json", "*.properties", ".env", "*.env", ".env.*"),
    *("*.ipynb", ".netrc", "_netrc", ".pypirc", ".npmrc", "credentials", "config.local"),
    "config",
)
HISTORY_BLOB_LIMIT = 1_000_000  # bytes: larger file versions are data, not configuration
LISTED = 5


class SecretsParams(Params):
    plugins: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SECRET_PLUGINS),
        description="detect-secrets plugins to run (the high-entropy ones are off by default).",
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["*.lock", "mlruns/*", "*.db"],
        description="Globs (of the path in the repository) not scanned.",
    )
    assignments: list[str] = Field(
        default_factory=lambda: list(ASSIGNMENT_FILES),
        description=(
            "File names (globs) where a credential assigned a literal value "
            '(`password = "..."`) is a finding: Terraform, YAML, TOML, INI, JSON, '
            "`.properties`, env files and notebooks; add `*.py` for Python sources."
        ),
    )
    history: bool = Field(True, description="Also scan every earlier version of every file.")


Found = tuple[str, dict[str, Any]]  # (a digest of the secret, the finding without it)


def no_secrets(ctx: Context, params: SecretsParams) -> Outcome:
    """No secrets (keys, tokens, private keys) are committed.

    Scanned with detect-secrets (keys by their shape), plus credentials assigned in
    configuration files: `database_password = "..."` in a `.tfvars`, `token:` in YAML,
    `password =` in INI/TOML/`.properties`, `"api_key": "..."` in JSON, `.env` files, and
    notebooks' code cells and outputs. Placeholders (`changeme`, `<...>`, `${VAR}`,
    `{{ }}`, `var.db_password`, `os.environ[...]`) are fine, and so are files installed
    packages ship (`.venv`, `site-packages`, `node_modules`). Every earlier version in
    git history counts too. Findings name file, line and kind, never the value. A
    committed key must be treated as leaked: revoke it at its provider first, then read
    it from an environment variable or a secret store, and remove it from history
    (`git filter-repo --replace-text`). Fix false alarms by excluding the file in the rubric.
    """
    from detect_secrets.settings import transient_settings

    files = [rel.as_posix() for rel in fs.iter_files(ctx.repo)]
    venvs = _venvs(files)
    found: list[Found] = []
    history: list[dict[str, Any]] = []
    seen: set[str] = set()  # lines already scanned: a later version is scanned for new ones
    with transient_settings({"plugins_used": [{"name": name} for name in params.plugins]}):
        for rel in files:
            if _not_scanned(rel, params, venvs):
                continue
            with (ctx.repo / rel).open("rb") as handle:
                data = handle.read(2_000_000)
            text = data.decode("utf-8", errors="replace")
            seen.update(_lines(data, text))
            found += _per_line(
                [*_detected(ctx.repo / rel, rel), *_assigned(text, rel, params, None)]
            )
        if params.history and ctx.commit:
            history = _secrets_in_history(ctx, ctx.commit, params, found, seen)
    findings = [finding for _, finding in found]
    evidence = {"findings": findings[:100], "only_in_history": history[:100]}
    listed = [_where(f) for f in [*findings, *history]]
    if not listed:
        return passed("no secrets found", {"plugins": params.plugins, "files": len(files)})
    shown = ", ".join(listed[:LISTED])
    more = f"; and {len(listed) - LISTED} more" if len(listed) > LISTED else ""
    return failed(f"{plural(len(listed), 'possible secret')}: {shown}{more}", evidence)


def _venvs(paths: list[str]) -> frozenset[str]:
    """Folders that hold a virtual environment (a `pyvenv.cfg`), whatever their name."""
    return frozenset(str(PurePosixPath(p).parent) for p in paths if p.endswith("pyvenv.cfg"))


def _not_scanned(rel: str, params: SecretsParams, venvs: frozenset[str]) -> bool:
    if secretscan.is_third_party(rel, venvs):
        return True
    return any(fnmatch.fnmatch(rel, pattern) for pattern in params.exclude)


def _lines(data: bytes, text: str) -> set[str]:
    return (
        set() if b"\0" in data[:8192] else {s for line in text.splitlines() if (s := line.strip())}
    )


def _detected(path: Path, rel: str, numbers: list[int] | None = None) -> list[Found]:
    """detect-secrets' findings in a file; `numbers`: the line each of its lines was."""
    from detect_secrets.core.scan import scan_file

    found: list[Found] = []
    for secret in scan_file(str(path)):
        line = numbers[secret.line_number - 1] if numbers else secret.line_number
        found.append((secret.secret_hash, {"file": rel, "line": line, "type": secret.type}))
    return found


def _assigned(text: str, rel: str, params: SecretsParams, only: set[int] | None) -> list[Found]:
    """Credentials assigned literal values (on the lines in `only`, if given)."""
    if not any(fnmatch.fnmatch(PurePosixPath(rel).name, g) for g in params.assignments):
        return []
    return [
        (
            hit.fingerprint,
            {"file": rel, "line": hit.line, "type": f"{hit.kind} assignment", "key": hit.key},
        )
        for hit in secretscan.scan(rel, text)
        if only is None or hit.line in only
    ]


def _per_line(found: list[Found]) -> list[Found]:
    """One finding per line (detect-secrets' first: it names the kind of key)."""
    by_line: dict[int, Found] = {}
    for item in found:
        by_line.setdefault(item[1]["line"], item)
    return [by_line[line] for line in sorted(by_line)]


def _secrets_in_history(
    ctx: Context, commit: str, params: SecretsParams, in_tree: list[Found], seen: set[str]
) -> list[dict[str, Any]]:
    """Secrets on the lines of earlier file versions that no scanned version had, oldest first.

    Versions share most lines, so each is scanned only for the lines it brought: a
    class's history is scanned in about the time of its tree.
    """
    current = gitrepo.tree_blobs(ctx.repo, commit)
    blobs = gitrepo.history_blobs(ctx.repo)
    venvs = _venvs([b.path for b in blobs])
    paths: dict[str, list[str]] = {}
    for blob in blobs:
        small = blob.size <= HISTORY_BLOB_LIMIT and blob.sha not in current
        if small and not _not_scanned(blob.path, params, venvs):
            paths.setdefault(blob.sha, []).append(blob.path)
    named = {(finding["file"], digest) for digest, finding in in_tree}
    found: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="grader-history-") as tmp:
        for index, (sha, data) in enumerate(gitrepo.read_blobs(ctx.repo, list(paths))):
            text = data.decode("utf-8", errors="replace")
            lines = text.splitlines()
            fresh = _lines(data, text) - seen
            new = [n for n, line in enumerate(lines, 1) if line.strip() in fresh]
            if not new:
                continue
            seen.update(lines[n - 1].strip() for n in new)
            for rel in paths[sha]:
                # Named by its suffix only: a crafted tree's `../` never leaves `tmp`.
                copy = Path(tmp, f"version{index}{PurePosixPath(rel).suffix[:20]}")
                copy.write_text("".join(f"{lines[n - 1]}\n" for n in new), encoding="utf-8")
                hits = [*_detected(copy, rel, new), *_assigned(text, rel, params, set(new))]
                for digest, finding in _per_line(hits):
                    if (rel, digest) not in named:
                        named.add((rel, digest))
                        found.append({**finding, "blob": sha})
                copy.unlink()
    for number, finding in enumerate(found):
        sha = finding.pop("blob")
        finding["commit"] = gitrepo.commit_adding(ctx.repo, sha) if number < 20 else None
    return found


def _where(finding: dict[str, Any]) -> str:
    key = f": {finding['key']}" if finding.get("key") else ""
    where = f"{finding['file']}:{finding['line']} ({finding['type']}{key})"
    if "commit" in finding:
        where += f" in history ({finding['commit']})" if finding["commit"] else " in history"
    return where


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


class PrecommitConfigParams(Params):
    hooks: list[str] = Field(default_factory=list, description="Hook ids that must be present.")
    equivalents: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Hook ids that do the same job as a required one, for repos with their own "
            "configuration: {ruff: [flake8, pylint], ruff-format: [black]}."
        ),
    )


def precommit_config(ctx: Context, params: PrecommitConfigParams) -> Outcome:
    """The pre-commit configuration exists and has the required hooks.

    `.pre-commit-config.yaml` at the root must be valid YAML and list each required hook id
    (in any repo, local or remote), or a hook the rubric accepts in its place. Partial
    credit per hook. Fix: add the hooks and run `pre-commit run --all-files`.
    """
    text = fs.read_text(ctx.repo, ".pre-commit-config.yaml")
    if text is None:
        return failed(".pre-commit-config.yaml not found")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return failed(f".pre-commit-config.yaml is not valid YAML: {exc}".splitlines()[0])
    repos = config.get("repos", []) if isinstance(config, dict) else []
    ids = {h.get("id") for r in repos if isinstance(r, dict) for h in r.get("hooks", []) or []}
    missing = [
        h for h in params.hooks if h not in ids and not ids & set(params.equivalents.get(h, ()))
    ]
    evidence = {"hooks": sorted(str(i) for i in ids), "missing": missing}
    if missing:
        fraction = 1 - len(missing) / len(params.hooks)
        named = [_or(h, params.equivalents.get(h, [])) for h in missing]
        return failed(f"missing hooks: {', '.join(named)}", evidence, fraction)
    return passed(f"{plural(len(ids), 'hook')} configured", evidence)


def _or(hook: str, others: list[str]) -> str:
    return f"{hook} (or {', '.join(others)})" if others else hook


class PrecommitRunParams(Params):
    timeout: float = Field(600, gt=0, description="Seconds before the run is stopped.")
    setup_timeout: float = Field(600, gt=0, description="Seconds to install the hooks.")
    setup: str | None = Field(
        None, description="Extra shell commands before the hooks install (tools system hooks use)."
    )
    image: str = Field("python:3.11-slim", description="Base image (git and pre-commit are added).")


PRECOMMIT_RUN = ["pre-commit", "run", "--all-files", "--color", "never"]


def precommit_run(ctx: Context, params: PrecommitRunParams) -> Outcome:
    """pre-commit passes on every file.

    Runs `pre-commit run --all-files` on a copy of the graded commit, in a container
    (hooks are commands you control): the hooks are installed first, with network access,
    then run without it. A hook that changes files fails the run. Fix: run the same
    command locally, commit what the hooks fixed.
    """
    if fs.read_text(ctx.repo, ".pre-commit-config.yaml") is None:
        return skipped("no .pre-commit-config.yaml")
    setup = "git config --global --add safe.directory '*' && pre-commit install-hooks"
    if params.setup:
        setup = f"{params.setup} && {setup}"
    # The hook environments (under $HOME, kept in the cache image) depend only on the
    # config; an extra setup may read anything in the repo, so it installs every time.
    cache = None if params.setup else sandbox.EnvCache((".pre-commit-config.yaml",))
    try:
        result = sandbox.run_in_sandbox(
            ctx.repo,
            PRECOMMIT_RUN,
            image=sandbox.hooks_image(params.image, ctx.settings.network_mode),
            setup=setup,
            cache=cache,
            timeout=params.timeout,
            setup_timeout=params.setup_timeout,
            run_id=ctx.settings.run_id,
            check_id=ctx.check_id,
            network_mode=ctx.settings.network_mode,
        )
    except EngineError as exc:
        raise CheckError(str(exc)) from None
    return _judge_precommit(result, params)


def _judge_precommit(result: sandbox.SandboxResult, params: PrecommitRunParams) -> Outcome:
    output = result.output
    evidence = {
        "command": " ".join(PRECOMMIT_RUN),
        "exit_code": result.exit_code,
        "environment": result.environment,
        "log": tail(output),
    }
    if result.setup_failed:
        return failed(f"pre-commit could not install the hooks: {tail(output, 300)}", evidence)
    if result.timed_out:
        return failed(f"pre-commit did not finish within {params.timeout:.0f}s", evidence)
    failing = [ln.split("...")[0].strip() for ln in output.splitlines() if ln.endswith("Failed")]
    if result.exit_code == 0:
        return passed("pre-commit passed on all files", evidence)
    what = ", ".join(failing) if failing else f"exit code {result.exit_code}"
    return failed(f"pre-commit failed: {what}", evidence)


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
