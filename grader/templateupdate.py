"""Bring a template change into a team repository, on a branch, without touching its checkout.

cruft renders the template twice (the team's recorded commit and the new one) and applies
the difference to the project. Here that happens in a temporary git worktree of the team's
repository, based on its remote branch when it has one, so the folder the instructor keeps
(and any work in it) is never changed. cruft merges three ways; a file where the team's edit
and the template's change meet is left as the team wrote it, and the template's change to it
is written next to it as `FILE.rej` (a unified diff to apply by hand). The result is one
commit on a branch `template-<ref>`, ready to push as a pull request.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grader import gitrepo
from grader.errors import GraderError, TargetError
from grader.target import git

UpdateStatus = Literal["applied", "conflicted", "current", "proposed", "error"]
CRUFT_FILE = ".cruft.json"
FALLBACK_IDENTITY = ("-c", "user.name=Course Staff", "-c", "user.email=staff@example.invalid")


@dataclass(frozen=True)
class UpdateOutcome:
    """What happened to one team repository."""

    team: str
    repo: Path
    status: UpdateStatus
    branch: str | None = None
    base: str | None = None
    changed: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    reason: str = ""


def branch_name(ref: str) -> str:
    """`template-<ref>`, made a valid branch name (`v2026.1` stays, `feature/x` -> `feature-x`)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", ref).strip(".-") or "update"
    return f"template-{clean}"


def read_state(repo: Path, revision: str) -> dict[str, Any]:
    """The `.cruft.json` committed at `revision`."""
    try:
        text = git("show", f"{revision}:{CRUFT_FILE}", cwd=repo)
        state = json.loads(text)
    except TargetError:
        raise GraderError(
            f"{repo}: no {CRUFT_FILE} at {revision}: not made from the template"
        ) from None
    except json.JSONDecodeError as exc:
        raise GraderError(
            f"{repo}/{CRUFT_FILE}: not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(state, dict) or not {"template", "commit"} <= state.keys():
        raise GraderError(f"{repo}/{CRUFT_FILE}: no 'template' and 'commit' fields")
    return state


def base_revision(repo: Path) -> tuple[str, str]:
    """The commit to update from, and its branch's name: the remote's branch when there is
    one (teams push their work there), else the local branch."""
    branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo)
    remotes = git("remote", cwd=repo).split()
    if "origin" in remotes:
        git("fetch", "--quiet", "origin", cwd=repo)
        with contextlib.suppress(TargetError):
            upstream = git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", cwd=repo)
            return upstream, upstream.split("/", 1)[-1]
        with contextlib.suppress(TargetError):
            git("rev-parse", "--verify", "--quiet", f"origin/{branch}", cwd=repo)
            return f"origin/{branch}", branch
    return "HEAD", branch


def update_team(team: str, repo: Path, ref: str | None, milestone: str | None) -> UpdateOutcome:
    """Update one team repository; failures become an `error` outcome, never an exception."""
    try:
        return _update(team, repo, ref, milestone)
    except GraderError as exc:
        return UpdateOutcome(team, repo, "error", reason=str(exc))


def _update(team: str, repo: Path, ref: str | None, milestone: str | None) -> UpdateOutcome:
    if not (repo / ".git").exists():
        raise GraderError(f"{repo} is not a git repository")
    base, base_branch = base_revision(repo)
    before = read_state(repo, base)
    wanted = branch_name(ref) if ref else None
    if wanted and _has_branch(repo, wanted):
        return UpdateOutcome(
            team, repo, "proposed", wanted, base_branch, reason="branch exists: delete it to redo"
        )
    with _worktree(repo, base) as work:
        log = _run_cruft(work, ref, milestone, before)
        after = json.loads((work / CRUFT_FILE).read_text(encoding="utf-8"))
        if after.get("commit") == before.get("commit") and not _dirty(work):
            return UpdateOutcome(team, repo, "current", base=base_branch)
        conflicts = _conflicts_to_rejects(work)
        changed = _commit(work, after["commit"], ref, conflicts)
        branch = wanted or branch_name(str(after["commit"])[:10])
        if _has_branch(repo, branch):
            return UpdateOutcome(
                team, repo, "proposed", branch, base_branch, reason="branch exists: delete it"
            )
        git("branch", branch, git("rev-parse", "HEAD", cwd=work), cwd=repo)
    status: UpdateStatus = "conflicted" if conflicts else "applied"
    reason = "" if not conflicts else _cruft_warnings(log)
    return UpdateOutcome(team, repo, status, branch, base_branch, changed, conflicts, reason)


def _has_branch(repo: Path, name: str) -> bool:
    try:
        git("rev-parse", "--verify", "--quiet", f"refs/heads/{name}", cwd=repo)
    except TargetError:
        return False
    return True


@contextlib.contextmanager
def _worktree(repo: Path, base: str) -> Iterator[Path]:
    """A detached, clean checkout of `base` outside any other git repository."""
    holder = Path(tempfile.mkdtemp(prefix="template-update-"))
    work = holder / repo.resolve().name
    git("worktree", "add", "--quiet", "--detach", str(work), base, cwd=repo)
    try:
        yield work
    finally:
        with contextlib.suppress(TargetError):
            git("worktree", "remove", "--force", str(work), cwd=repo)
        shutil.rmtree(holder, ignore_errors=True)
        with contextlib.suppress(TargetError):
            git("worktree", "prune", cwd=repo)


def _run_cruft(work: Path, ref: str | None, milestone: str | None, state: dict[str, Any]) -> str:
    """cruft update in the worktree; what it printed, for the report."""
    import cruft  # slow to import; only this command needs it

    extra: dict[str, Any] = {}
    known = state.get("context", {}).get("cookiecutter", {})
    if milestone and known.get("milestone") != milestone:
        extra["milestone"] = milestone
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            cruft.update(
                work,
                checkout=ref,
                skip_apply_ask=True,
                extra_context=extra or None,
            )
    except Exception as exc:  # cruft raises its own and GitPython's errors
        detail = f"{type(exc).__name__}: {exc}".strip()
        raise GraderError(f"cruft update failed: {detail[:600]}") from None
    return buffer.getvalue()


def _dirty(work: Path) -> bool:
    return bool(git("status", "--porcelain", cwd=work))


def _conflicts_to_rejects(work: Path) -> tuple[str, ...]:
    """Files cruft could not merge: keep the team's version, write the template's change to
    it as FILE.rej. Also lists the .rej files cruft's fallback strategy wrote itself."""
    stages: dict[str, dict[int, str]] = {}
    for line in git("ls-files", "--unmerged", cwd=work).splitlines():
        meta, path = line.split("\t", 1)
        _, blob, stage = meta.split()
        stages.setdefault(path, {})[int(stage)] = blob
    content = dict(gitrepo.read_blobs(work, [b for bs in stages.values() for b in bs.values()]))
    for path, blobs in stages.items():
        old = _lines(content.get(blobs.get(1, ""), b""))
        new = _lines(content.get(blobs.get(3, ""), b""))
        diff = difflib.unified_diff(old, new, f"a/{path}", f"b/{path}")
        (work / f"{path}.rej").write_text("".join(diff), encoding="utf-8")
        target = work / path
        if 2 in blobs:
            target.write_bytes(content[blobs[2]])
        else:
            target.unlink(missing_ok=True)
        git("add", "--all", "--", path, cwd=work)
    untracked = git("ls-files", "--others", "--exclude-standard", cwd=work).splitlines()
    return tuple(sorted(p for p in untracked if p.endswith(".rej")))


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "replace").splitlines(keepends=True)


def _commit(
    work: Path, commit: str, ref: str | None, conflicts: tuple[str, ...]
) -> tuple[str, ...]:
    git("add", "--all", cwd=work)
    changed = tuple(git("diff", "--cached", "--name-only", cwd=work).splitlines())
    title = f"Update from the course template ({ref or commit[:10]})"
    body = [
        "Brought in with cruft by the course staff.",
        *(
            [
                "",
                "The template also changed these files where you changed them; apply each",
                "FILE.rej by hand, then delete it:",
                *(f"- {c}" for c in conflicts),
            ]
            if conflicts
            else []
        ),
    ]
    identity = () if _has_identity(work) else FALLBACK_IDENTITY
    message = "\n".join([title, "", *body])
    git(*identity, "commit", "--quiet", "--no-verify", "-m", message, cwd=work)
    return changed


def _has_identity(work: Path) -> bool:
    try:
        return bool(git("config", "user.email", cwd=work))
    except TargetError:
        return False


def _cruft_warnings(log: str) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    keep = [ln for ln in lines if "conflict" in ln.lower() or ln.startswith("error")]
    return "; ".join(keep[:3])
