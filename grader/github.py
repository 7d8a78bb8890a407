"""A small client of GitHub's REST API: the workflow runs of one commit.

The base URL is configurable (GitHub Enterprise, or a local stand-in in tests): a
parameter, else GITHUB_API_URL, else https://api.github.com. The token comes from the
environment only (GITHUB_TOKEN or GH_TOKEN), never from a rubric or a team's repo.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from grader import web
from grader.errors import CheckError

DEFAULT_API = "https://api.github.com"
MAX_PAGES = 5
# https://github.com/OWNER/REPO(.git), git@host:OWNER/REPO.git, ssh://git@host/OWNER/REPO
REMOTE = re.compile(r"[:/](?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class WorkflowRun:
    id: int
    name: str
    path: str
    event: str
    status: str
    conclusion: str | None
    url: str
    created_at: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WorkflowRun:
        return cls(
            id=int(data.get("id", 0)),
            name=str(data.get("name") or data.get("path") or "?"),
            path=str(data.get("path") or ""),
            event=str(data.get("event") or ""),
            status=str(data.get("status") or ""),
            conclusion=data.get("conclusion"),
            url=str(data.get("html_url") or ""),
            created_at=str(data.get("created_at") or ""),
        )


class NotFound(CheckError):
    """GitHub answered 404: the repository does not exist or the token cannot see it."""


def api_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


def token() -> str | None:
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None


def parse_remote(url: str) -> tuple[str, str] | None:
    """(owner, repo) of a remote URL in any of git's forms, or None."""
    url = url.strip()
    if url.startswith("file:") or ("://" not in url and "@" not in url):
        return None  # a local path or file URL: a clone, not the GitHub repository
    match = REMOTE.search(url)
    if match is None:
        return None
    return match.group("owner"), match.group("name")


def repository(url: str | None) -> str | None:
    """`owner/name` of a repository on github.com (any of git's URL forms), else None."""
    parsed = parse_remote(url or "")
    if parsed is None or "github.com" not in (url or ""):
        return None
    return "/".join(parsed)


def _headers() -> dict[str, str]:
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": "mlops-capstone-grader",
    }
    secret = token()
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return headers


def _rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    remaining = response.headers.get("x-ratelimit-remaining")
    return response.status_code == 403 and (
        remaining == "0" or "rate limit" in response.text.lower()
    )


def _reset_time(response: httpx.Response) -> str:
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M:%S UTC")
    retry = response.headers.get("retry-after")
    return f"in {retry}s" if retry else "later"


def _raise_for(response: httpx.Response, what: str) -> None:
    """Turn an unusable answer into a CheckError that says what a TA should do."""
    if response.is_success:
        return
    auth = "with a token" if token() else "without a token (set GITHUB_TOKEN)"
    if _rate_limited(response):
        raise CheckError(
            f"GitHub API rate limit reached ({auth}); retry after {_reset_time(response)}"
        )
    if response.status_code == 404:
        raise NotFound(
            f"GitHub answered 404 for {what}: the repository does not exist, or it is "
            f"private and cannot be read {auth}"
        )
    if response.status_code == 401:
        raise CheckError("GitHub rejected the token (401): check GITHUB_TOKEN")
    raise CheckError(f"GitHub answered HTTP {response.status_code} for {what}")


def runs_for_commit(
    owner: str, repo: str, sha: str, *, base: str | None = None, timeout: float = 20
) -> list[WorkflowRun]:
    """Every workflow run of commit `sha` (follows pagination up to MAX_PAGES pages)."""
    url: str | None = f"{api_url(base)}/repos/{owner}/{repo}/actions/runs"
    params: dict[str, Any] | None = {"head_sha": sha, "per_page": 100}
    runs: list[WorkflowRun] = []
    with web.client(
        local=False, headers=_headers(), timeout=timeout, follow_redirects=True
    ) as client:
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = _get(client, url, params, f"{owner}/{repo}")
            runs.extend(WorkflowRun.from_api(r) for r in response.json().get("workflow_runs", []))
            url, params = response.links.get("next", {}).get("url"), None
    return runs


def _get(
    client: httpx.Client, url: str, params: dict[str, Any] | None, what: str
) -> httpx.Response:
    try:
        response = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise CheckError(f"cannot reach the GitHub API at {url}: {exc}") from None
    _raise_for(response, what)
    return response
