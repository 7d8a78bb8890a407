"""Signed results: an HMAC-SHA256 over the canonical form of a grade.

The canonical form holds what makes a grade: the team, the commit, the rubric's hash, the
grader's version, the totals and every check's id, status and score. A signature made with
the course staff's key (kept in the staff repository's secrets, read from an environment
variable, never printed or written) lets `grader batch --from-results` tell a result the
staff's runner produced from one a team edited, graded elsewhere or made up.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from grader.errors import UsageError
from grader.results import GradeResult

ALGORITHM = "hmac-sha256"


def signing_key(env_name: str, option: str) -> bytes:
    """The key in environment variable `env_name`; its value is never shown."""
    value = os.environ.get(env_name, "")
    if not value.strip():
        raise UsageError(f"{option} {env_name}: the environment variable is not set or empty")
    return value.encode()


def canonical(result: GradeResult) -> bytes:
    """The signed bytes: sorted-key JSON of the fields that make the grade."""
    body: dict[str, Any] = {
        "team": result.team,
        "commit": result.commit,
        "milestone": result.milestone,
        "rubric_hash": result.rubric_hash,
        "grader_version": result.grader_version,
        "score": result.score,
        "max_score": result.max_score,
        "automated_score": result.automated_score,
        "manual_score": result.manual_score,
        "late": result.late.points if result.late else None,
        "checks": [[c.id, c.status, c.score, c.max_score] for c in result.checks],
        "manual": [[m.id, m.score] for m in result.manual],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signature(result: GradeResult, key: bytes) -> str:
    return hmac.new(key, canonical(result), hashlib.sha256).hexdigest()


def sign_file(path: Path, result: GradeResult, key: bytes) -> None:
    """Add `extra_data.signature` to the results.json at `path` that holds `result`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("extra_data", {})["signature"] = {
        "algorithm": ALGORITHM,
        "value": signature(result, key),
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def stored_signature(path: Path) -> str | None:
    """The signature a results.json carries, or None (unsigned)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sig = data["extra_data"]["signature"]
        return str(sig["value"]) if sig.get("algorithm") == ALGORITHM else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def verify(path: Path, result: GradeResult, key: bytes) -> str | None:
    """None when the file's signature matches `result`; else why it does not."""
    found = stored_signature(path)
    if found is None:
        return f"{path}: unsigned results (not graded by the staff's runner)"
    if not hmac.compare_digest(found, signature(result, key)):
        return f"{path}: the signature does not match: the results were altered after grading"
    return None
