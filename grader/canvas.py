"""A small client of Canvas's REST API: a course's students, an assignment's submissions, and
grading one submission with a comment.

Endpoints (Canvas LMS REST API):
- `GET  /api/v1/courses/:course_id/users?enrollment_type[]=student&per_page=100`
- `GET  /api/v1/courses/:course_id/assignments/:assignment_id/submissions?per_page=100`
- `GET  /api/v1/courses/:course_id/assignments/:assignment_id/submissions/:user_id`
- `PUT  /api/v1/courses/:course_id/assignments/:assignment_id/submissions/:user_id`
  with the form fields `submission[posted_grade]` and `comment[text_comment]`
A user is its numeric id, or `sis_user_id:X` / `sis_login_id:X` (Canvas's SIS id prefixes).
Lists are paginated with a `Link: <...>; rel="next"` header.

The token goes in an `Authorization: Bearer` header only: it is never in a URL, a message or
a log. Canvas throttles with `403 Forbidden (Rate Limit Exceeded)` (or 429) and reports the
quota left in `X-Rate-Limit-Remaining`: the client waits (`Retry-After` when given, else
exponential backoff) and retries, and slows down when the quota runs low.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from grader import web
from grader.errors import GraderError, UsageError

PER_PAGE = 100
MAX_PAGES = 200
RETRIES = 5
MAX_WAIT = 60.0  # seconds: the longest a Retry-After is honoured
LOW_QUOTA = 50.0  # X-Rate-Limit-Remaining under this: pause before the next request
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class CanvasError(GraderError):
    """Canvas could not be reached, failed, or kept throttling (exit 3: try again later)."""


class CanvasAuthError(UsageError):
    """Canvas rejected the token (401): nothing more is tried (exit 2: fix the token)."""


class CanvasRequestError(CanvasError):
    """Canvas refused one request (a 4xx other than 401/404): that student's upload failed."""


@dataclass(frozen=True)
class Student:
    """A student enrolled in the course, as `GET /courses/:id/users` lists them."""

    id: int
    name: str
    sis_user_id: str
    login_id: str
    email: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Student:
        return cls(
            id=int(data["id"]),
            name=str(data.get("name") or ""),
            sis_user_id=str(data.get("sis_user_id") or ""),
            login_id=str(data.get("login_id") or ""),
            email=str(data.get("email") or ""),
        )


@dataclass(frozen=True)
class Submission:
    """The part of a Canvas Submission object an upload needs."""

    user_id: int
    score: float | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Submission:
        score = data.get("score")
        return cls(int(data["user_id"]), None if score is None else float(score))


def base_url(value: str) -> str:
    """The Canvas root URL, checked: https, or plain http only to this machine (a test server);
    a token is never sent in clear text over a network."""
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"Canvas base URL {value!r}: give https://canvas.example.edu")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise UsageError(f"Canvas base URL {value!r}: use https (the token would travel in clear)")
    return url.removesuffix("/api/v1")


def user_ref(user_id: int | None = None, *, sis_user_id: str = "", login: str = "") -> str:
    """A user in a Canvas URL: its id, else an SIS id prefix. Canvas asks SIS ids to be
    URL-escaped, periods included (a trailing `.x` would read as a format)."""
    if user_id is not None:
        return str(user_id)
    kind, value = ("sis_user_id", sis_user_id) if sis_user_id else ("sis_login_id", login)
    return f"{kind}:{quote(value, safe='').replace('.', '%2E')}"


class CanvasClient:
    """One course's Canvas API, with retries on throttling; use as a context manager."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.url = base_url(url)
        self._origin = urlsplit(self.url).netloc
        self._retries = RETRIES if retries is None else retries
        self._sleep = sleep
        self.remaining: float | None = None  # the last X-Rate-Limit-Remaining seen
        self.throttled = 0  # how many requests were throttled and retried
        local = urlsplit(self.url).hostname in LOOPBACK
        self._http = web.client(
            local=local,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    def __enter__(self) -> CanvasClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never the headers: they hold the token
        return f"CanvasClient({self.url!r})"

    # ---- requests ------------------------------------------------------------------------

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, retried while Canvas throttles or is briefly unavailable."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.url}/api/v1{url}"
        for attempt in range(self._retries + 1):
            if self.remaining is not None and self.remaining < LOW_QUOTA:
                self._sleep(1.0)  # let the quota refill rather than be throttled
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == self._retries:
                    raise CanvasError(f"Canvas {self.url} unreachable: {exc}") from None
                self._sleep(_backoff(attempt))
                continue
            self._note_quota(response)
            if response.status_code == 401:
                raise CanvasAuthError(
                    f"Canvas {self.url} rejected the token (401): check CANVAS_API_TOKEN "
                    "(an expired or mistyped token, or one for another Canvas)"
                )
            if not _retryable(response) or attempt == self._retries:
                return response
            self.throttled += 1
            self._sleep(_wait(response, attempt))
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _note_quota(self, response: httpx.Response) -> None:
        value = response.headers.get("X-Rate-Limit-Remaining")
        with contextlib.suppress(ValueError):
            self.remaining = float(value) if value is not None else self.remaining

    def _json(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 404:
            raise UsageError(f"Canvas has no {what} (404): check the course and assignment ids")
        if response.status_code >= 400:
            raise CanvasError(f"Canvas answered {_status(response)} for {what}")
        try:
            return response.json()
        except ValueError:
            raise CanvasError(f"Canvas answered {what} with something that is not JSON") from None

    def _pages(self, path: str, params: dict[str, Any], what: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following `Link: rel="next"` on Canvas's own host."""
        url: str | None = f"{self.url}/api/v1{path}"
        query: dict[str, Any] | None = {**params, "per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._request("GET", url, params=query)
            items = self._json(response, what)
            if not isinstance(items, list):
                raise CanvasError(f"Canvas answered {what} with {type(items).__name__}, not a list")
            yield from (i for i in items if isinstance(i, dict))
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query
            if url is not None and urlsplit(url).netloc != self._origin:
                raise CanvasError(f"Canvas's next page for {what} is on another host: {url}")
        raise CanvasError(f"{what}: more than {MAX_PAGES} pages")

    # ---- the API -------------------------------------------------------------------------

    def students(self, course_id: str) -> list[Student]:
        params = {"enrollment_type[]": "student", "include[]": "email"}
        what = f"course {course_id}'s students"
        return [
            Student.from_api(u) for u in self._pages(f"/courses/{course_id}/users", params, what)
        ]

    def submissions(self, course_id: str, assignment_id: str) -> dict[int, Submission]:
        path = f"/courses/{course_id}/assignments/{assignment_id}/submissions"
        what = f"assignment {assignment_id} of course {course_id}"
        subs = (Submission.from_api(s) for s in self._pages(path, {}, what))
        return {s.user_id: s for s in subs}

    def submission(self, course_id: str, assignment_id: str, user: str) -> Submission | None:
        """One student's submission; None when the user is not a student of the course."""
        path = f"/courses/{course_id}/assignments/{assignment_id}/submissions/{user}"
        return self._one(self._request("GET", path), user)

    def grade(
        self, course_id: str, assignment_id: str, user: str, grade: str, comment: str
    ) -> Submission | None:
        """Post a grade (points) and a comment; None when the user is not in the course."""
        path = f"/courses/{course_id}/assignments/{assignment_id}/submissions/{user}"
        form = {"submission[posted_grade]": grade, "comment[text_comment]": comment}
        return self._one(self._request("PUT", path, data=form), user)

    def _one(self, response: httpx.Response, user: str) -> Submission | None:
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise CanvasRequestError(f"Canvas answered {_status(response)} for user {user}")
        try:
            return Submission.from_api(response.json())
        except (ValueError, KeyError, TypeError):
            raise CanvasError(f"Canvas answered user {user} with no submission object") from None


def _retryable(response: httpx.Response) -> bool:
    if response.status_code in (429, 502, 503, 504):
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text.lower()


def _backoff(attempt: int) -> float:
    return float(min(2**attempt, MAX_WAIT))


def _wait(response: httpx.Response, attempt: int) -> float:
    """Retry-After in seconds when Canvas sends it (capped), else exponential backoff."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), MAX_WAIT)
    except (KeyError, ValueError):
        return _backoff(attempt)


def _status(response: httpx.Response) -> str:
    """`404 Not Found: The specified resource does not exist.` from Canvas's error JSON."""
    detail = ""
    try:
        errors = response.json().get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            detail = str(errors[0].get("message") or "")
        elif isinstance(errors, dict):
            detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
    except (ValueError, AttributeError):
        detail = response.text.strip()[:200]
    head = f"{response.status_code} {response.reason_phrase}".strip()
    return f"{head}: {detail}" if detail else head
