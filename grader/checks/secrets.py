"""repo.secrets: no credential in the tree or anywhere in git history (detect-secrets, plus
literal credentials assigned in configuration files); vendored virtual environments and
lock files are not scanned.
"""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field

from grader import fs, gitrepo, secretscan
from grader.checks.base import (
    Context,
    Outcome,
    Params,
    failed,
    passed,
)
from grader.text import plural

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
