"""Canvas: roster ids, canvas.csv in Canvas's import format, and `grader canvas upload`
against a local server that answers like Canvas's REST API."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from grader import reports
from grader.main import main
from grader.results import CheckResult, GradeResult
from grader.roster import load_roster
from grader.rubric import load_rubric
from tests.classroom import FAST_RUBRIC

TOKEN = "s3cret-canvas-token-7731"
COURSE = "101"
ASSIGNMENT = "5001"

# ---- roster ---------------------------------------------------------------------------------


def test_roster_carries_canvas_and_sis_ids_under_canvas_header_names(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Team,Name,Email,GitHub,Canvas ID,SIS User ID\n"
        "Alpha,Ann Lee,ann@example.edu,ann-lee,11,S-1\n"
        "Alpha,Bo Chen,bo@example.edu,bochen,,\n"
    )
    [team] = load_roster(roster, ("team", "name", "email", "github"))
    ann, bo = team.members
    assert (ann.canvas_user_id, ann.sis_user_id) == ("11", "S-1")
    assert (bo.canvas_user_id, bo.sis_user_id) == ("", "")


def test_roster_rejects_a_non_numeric_canvas_id_and_duplicate_ids_with_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "team,name,email,github,canvas_user_id,sis_user_id\n"
        "Alpha,Ann Lee,ann@example.edu,ann-lee,11a,S-1\n"
        "Alpha,Bo Chen,bo@example.edu,bochen,12,S-1\n"
        "Beta,Cy Dee,cy@example.edu,cydee,12,\n"
    )
    assert main(["teams", "create", str(roster), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{roster}:2: canvas_user_id '11a' must be digits only" in err
    assert f"{roster}:3: duplicate sis_user_id 's-1' (also on line 2)" in err
    assert f"{roster}:4: duplicate canvas_user_id '12' (also on line 3)" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


# ---- a class graded by `grader batch --from-results` -----------------------------------------

ROSTER = """\
team,name,email,github,canvas_user_id,sis_user_id,repo
Alpha,Ann Lee,ann@example.edu,ann-lee,11,,repos/alpha
Alpha,Bo Chen,bo@example.edu,bochen,,S-2,repos/alpha
Beta,Cy Dee,cy@example.edu,cydee,,,repos/beta
Beta,Di Eve,di@example.edu,di-eve,,S-4.2,repos/beta
Gamma,Ed Fox,ed@example.edu,edfox,15,,repos/gamma
Delta,Flo Gil,flo@example.edu,flo,99,,repos/delta
Delta,Gus Ho,gus@example.edu,gusho,,,repos/delta
"""
SCORES = {"alpha": (25.0, "Alpha"), "beta": (20.0, "Beta"), "delta": (30.0, "Delta")}


def _result(team: str, score: float, rubric_hash: str) -> GradeResult:
    check = CheckResult(
        id="files",
        check="repo.files",
        title="Required files",
        status="passed" if score == 30 else "failed",
        score=score,
        max_score=30,
        message="ok" if score == 30 else "missing: FIXED.md",
    )
    return GradeResult(
        grader_version="0.1.0",
        milestone="t1",
        rubric="rubric.yaml",
        rubric_hash=rubric_hash,
        team=team,
        target=f"repos/{team}",
        commit="c" * 40,
        commit_time=None,
        graded_at="2026-11-25T10:00:00+00:00",
        checks=(check,),
        automated_score=score,
        manual_score=0,
        score=score,
        max_score=30,
        execution_time=1.0,
    )


def grade_class(tmp_path: Path, roster: str, scores: dict[str, tuple[float, str]]) -> Path:
    """OUT of `grader batch --from-results --canvas-assignment-id`: teams without a score
    have no results.json, so their row is an error."""
    (tmp_path / "roster.csv").write_text(roster)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(FAST_RUBRIC)
    digest = load_rubric(rubric).hash
    for slug, (score, name) in scores.items():
        reports.write_all(_result(name, score, digest), tmp_path / "ci" / slug)
    out = tmp_path / "out"
    argv = ["batch", str(tmp_path / "roster.csv"), "--rubric", str(rubric)]
    argv += ["--from-results", str(tmp_path / "ci"), "--out", str(out), "--accept-self-reported"]
    main([*argv, "--canvas-assignment-id", ASSIGNMENT])
    return out


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    """Gamma has no results: its grading errored."""
    out = grade_class(tmp_path, ROSTER, SCORES)
    assert (out / "teams" / "gamma" / "batch.json").is_file()
    assert not (out / "teams" / "gamma" / "feedback.md").exists()
    return out


def _csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_canvas_csv_names_the_assignment_by_id_and_fills_canvas_student_columns(
    graded: Path,
) -> None:
    rows = _csv_rows(graded / "canvas.csv")
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        f"Milestone t1 ({ASSIGNMENT})",
    ]
    assert rows[1] == ["Points Possible", "", "", "", "", "30"]
    by_name = {r[0]: r for r in rows[2:]}
    assert by_name["Ann Lee"] == ["Ann Lee", "11", "", "ann@example.edu", "alpha", "25"]
    assert by_name["Bo Chen"] == ["Bo Chen", "", "S-2", "bo@example.edu", "alpha", "25"]
    assert by_name["Ed Fox"] == ["Ed Fox", "15", "", "ed@example.edu", "gamma", ""]  # errored
    assert len(rows) == 2 + 7


def test_canvas_csv_without_an_assignment_id_keeps_the_bare_title(
    graded: Path, tmp_path: Path
) -> None:
    argv = ["batch", str(tmp_path / "roster.csv"), "--rubric", str(tmp_path / "rubric.yaml")]
    argv += ["--from-results", str(tmp_path / "ci"), "--out", str(tmp_path / "bare")]
    argv += ["--accept-self-reported"]
    assert main(argv) == 3
    assert _csv_rows(tmp_path / "bare" / "canvas.csv")[0][-1] == "Milestone t1"


def test_a_non_numeric_canvas_assignment_id_is_a_usage_error(
    graded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["batch", str(tmp_path / "roster.csv"), "--rubric", str(tmp_path / "rubric.yaml")]
    argv += ["--from-results", str(tmp_path / "ci"), "--out", str(tmp_path / "x")]
    argv += ["--accept-self-reported"]
    assert main([*argv, "--canvas-assignment-id", "m3"]) == 2
    assert "--canvas-assignment-id 'm3': must be digits only" in capsys.readouterr().err


def test_gradebook_member_rows_carry_the_canvas_ids(graded: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((graded / "gradebook.csv").read_text())))
    ann = next(r for r in rows if r["name"] == "Ann Lee")
    bo = next(r for r in rows if r["name"] == "Bo Chen")
    assert (ann["canvas_user_id"], bo["sis_user_id"]) == ("11", "S-2")


# ---- a local server that answers like Canvas ------------------------------------------------


@dataclass
class Canvas:
    """Course 101, assignment 5001. The user list pages two at a time and, like a TA's view
    without SIS permission, hides Di Eve's SIS id and email (her login is not her email)."""

    students: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": 11, "name": "Ann Lee", "login_id": "ann@example.edu", "sis_user_id": None},
            {"id": 12, "name": "Bo Chen", "login_id": "bochen", "sis_user_id": "S-2"},
            {"id": 13, "name": "Cy Dee", "login_id": "cy@example.edu", "sis_user_id": None},
            {"id": 14, "name": "Di Eve", "login_id": "dieve", "sis_user_id": None},
            {"id": 15, "name": "Ed Fox", "login_id": "ed@example.edu", "sis_user_id": None},
        ]
    )
    hidden_sis: dict[str, int] = field(default_factory=lambda: {"S-4.2": 14})
    scores: dict[int, float | None] = field(
        default_factory=lambda: {11: None, 12: 25.0, 13: 10.0, 14: None, 15: 3.0}
    )
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, raw path, auth
    forms: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    throttle_next_put: bool = False
    too_many_requests: int = 0  # how many GETs of the user list answer 429 (Retry-After: 2)
    fail_user: int | None = None
    url: str = ""

    def user(self, segment: str) -> int | None:
        ref = unquote(segment)
        if ref.isdigit():
            return int(ref) if int(ref) in self.scores else None
        if ref.startswith("sis_user_id:"):
            sis = ref.removeprefix("sis_user_id:")
            by_list = {s["sis_user_id"]: s["id"] for s in self.students if s["sis_user_id"]}
            return {**by_list, **self.hidden_sis}.get(sis)
        if ref.startswith("sis_login_id:"):
            login = ref.removeprefix("sis_login_id:")
            return next((s["id"] for s in self.students if s["login_id"] == login), None)
        return None

    def submission(self, uid: int) -> dict[str, Any]:
        score = self.scores[uid]
        return {
            "id": 9000 + uid,
            "assignment_id": int(ASSIGNMENT),
            "user_id": uid,
            "score": score,
            "grade": None if score is None else f"{score:g}",
            "workflow_state": "unsubmitted" if score is None else "graded",
            "submission_comments": [],
        }


def _handler(canvas: Canvas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("X-Rate-Limit-Remaining", "700.0")
            self.send_header("X-Request-Cost", "0.02")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self) -> None:
            self._send(404, {"errors": [{"message": "The specified resource does not exist."}]})

        def _route(self, method: str) -> None:
            auth = self.headers.get("Authorization", "")
            canvas.requests.append((method, self.path, auth))
            if auth != f"Bearer {TOKEN}":
                body = {
                    "errors": [{"message": "Invalid access token."}],
                    "status": "unauthenticated",
                }
                self._send(401, body, {"WWW-Authenticate": 'Bearer realm="canvas-lms"'})
                return
            parts = urlsplit(self.path)
            seg = parts.path.split("/")
            # /api/v1/courses/101/users | .../assignments/5001/submissions[/<user>]
            if seg[:4] != ["", "api", "v1", "courses"] or seg[4] != COURSE:
                self._not_found()
            elif seg[5:] == ["users"] and method == "GET":
                self._users(parse_qs(parts.query))
            elif seg[5:8] == ["assignments", ASSIGNMENT, "submissions"]:
                self._submissions(method, seg[8] if len(seg) > 8 else None)
            else:
                self._not_found()

        def _users(self, query: dict[str, list[str]]) -> None:
            assert query["enrollment_type[]"] == ["student"]
            if canvas.too_many_requests:
                canvas.too_many_requests -= 1
                self._send(
                    429, {"errors": [{"message": "Too Many Requests"}]}, {"Retry-After": "2"}
                )
                return
            page = int(query.get("page", ["1"])[0])
            chunk = canvas.students[2 * (page - 1) : 2 * page]
            base = f"{canvas.url}/api/v1/courses/{COURSE}/users?enrollment_type%5B%5D=student"
            links = [f'<{base}&page={page}&per_page=2>; rel="current"']
            if 2 * page < len(canvas.students):
                links.append(f'<{base}&page={page + 1}&per_page=2>; rel="next"')
            links.append(f'<{base}&page=1&per_page=2>; rel="first"')
            body = [{**s, "sortable_name": s["name"], "short_name": s["name"]} for s in chunk]
            self._send(200, body, {"Link": ", ".join(links)})

        def _submissions(self, method: str, segment: str | None) -> None:
            if segment is None and method == "GET":
                self._send(200, [canvas.submission(uid) for uid in canvas.scores])
                return
            uid = canvas.user(segment or "")
            if uid is None:
                self._not_found()
            elif method == "GET":
                self._send(200, canvas.submission(uid))
            elif method == "PUT":
                if canvas.throttle_next_put:
                    canvas.throttle_next_put = False
                    self._send(403, "403 Forbidden (Rate Limit Exceeded)")
                    return
                if uid == canvas.fail_user:
                    self._send(500, {"errors": [{"message": "An error occurred."}]})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                canvas.forms[uid] = form
                canvas.scores[uid] = float(form["submission[posted_grade]"][0])
                self._send(200, canvas.submission(uid))
            else:
                self._not_found()

        def do_GET(self) -> None:
            self._route("GET")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


@pytest.fixture
def canvas(monkeypatch: pytest.MonkeyPatch) -> Iterator[Canvas]:
    state = Canvas()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CANVAS_API_TOKEN", TOKEN)
    monkeypatch.delenv("CANVAS_BASE_URL", raising=False)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _upload(canvas: Canvas, gradebook: Path, *extra: str) -> int:
    argv = ["canvas", "upload", str(gradebook), "--course-id", COURSE]
    return main([*argv, "--assignment-id", ASSIGNMENT, "--base-url", canvas.url, *extra])


def _report(path: Path) -> dict[str, dict[str, str]]:
    return {r["name"]: r for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def test_upload_posts_grades_and_feedback_and_reports_every_student(
    canvas: Canvas, graded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    canvas.throttle_next_put = True
    assert _upload(canvas, graded / "gradebook.csv") == 0
    output = capsys.readouterr()
    report = _report(graded / "canvas-upload.csv")
    outcomes = {name: r["outcome"] for name, r in report.items()}
    assert outcomes == {
        "Ann Lee": "updated",  # by Canvas id
        "Bo Chen": "unchanged",  # by SIS id: Canvas already has 25
        "Cy Dee": "updated",  # by login (email)
        "Di Eve": "updated",  # SIS id the list hides: asked for as sis_user_id:S-4%2E2
        "Ed Fox": "skipped",  # Gamma's grading errored
        "Flo Gil": "not found",  # Canvas id 99 is not in the course
        "Gus Ho": "not found",  # Canvas answered 404 for sis_login_id:gus@...
    }
    assert report["Ed Fox"]["detail"].startswith("grading errored: no results.json for this team")
    assert report["Flo Gil"]["detail"] == "Canvas user 99 is not a student of course 101"
    assert report["Gus Ho"]["detail"] == "login 'gus@example.edu' is not a student of course 101"
    assert (report["Cy Dee"]["previous"], report["Cy Dee"]["grade"]) == ("10", "20")
    assert report["Di Eve"]["canvas_user"] == "14"

    # What Canvas received: the grade and the team's feedback.md, for exactly three students.
    assert set(canvas.forms) == {11, 13, 14}
    assert canvas.forms[11]["submission[posted_grade]"] == ["25"]
    feedback = (graded / "teams" / "alpha" / "feedback.md").read_text(encoding="utf-8").strip()
    assert canvas.forms[11]["comment[text_comment]"] == [feedback]
    assert canvas.forms[13]["submission[posted_grade]"] == ["20"]
    assert (canvas.scores[11], canvas.scores[13], canvas.scores[14]) == (25.0, 20.0, 20.0)
    assert canvas.scores[15] == 3.0  # the errored team's student keeps the grade they had

    paths = [p for _, p, _ in canvas.requests]
    assert any("page=3" in p for p in paths)  # the user list was followed to its last page
    assert "/submissions/sis_user_id:S-4%2E2" in " ".join(paths)
    assert "Canvas throttled 1 request(s)" in output.out  # one 403 Rate Limit, then success
    assert "3 updated, 1 unchanged, 2 not found, 1 skipped, 0 errors" in output.out
    assert TOKEN not in output.out + output.err
    assert TOKEN not in (graded / "canvas-upload.csv").read_text(encoding="utf-8")
    assert {auth for _, _, auth in canvas.requests} == {f"Bearer {TOKEN}"}


def test_dry_run_posts_nothing_and_says_what_it_would_do(
    canvas: Canvas, graded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _upload(canvas, graded / "gradebook.csv", "--dry-run") == 0
    assert not [m for m, _, _ in canvas.requests if m == "PUT"]
    report = _report(graded / "canvas-upload-dry-run.csv")
    assert report["Ann Lee"]["outcome"] == "would update"
    assert report["Bo Chen"]["outcome"] == "unchanged"
    assert not (graded / "canvas-upload.csv").exists()
    assert "dry run" in capsys.readouterr().out


def test_a_second_upload_finds_everything_unchanged(canvas: Canvas, graded: Path) -> None:
    assert _upload(canvas, graded / "gradebook.csv") == 0
    assert _upload(canvas, graded / "gradebook.csv") == 0
    outcomes = {r["outcome"] for r in _report(graded / "canvas-upload.csv").values()}
    assert outcomes == {"unchanged", "skipped", "not found"}


def test_a_bad_token_stops_at_once_with_exit_2_and_never_shows_the_token(
    canvas: Canvas,
    graded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = "wrong-token-0000-do-not-print"
    monkeypatch.setenv("CANVAS_API_TOKEN", bad)
    assert _upload(canvas, graded / "gradebook.csv") == 2
    output = capsys.readouterr()
    assert "rejected the token (401)" in output.err
    assert "CANVAS_API_TOKEN" in output.err
    assert bad not in output.out + output.err
    assert len(canvas.requests) == 1  # nothing after the 401
    assert not (graded / "canvas-upload.csv").exists()


def test_no_token_or_no_url_is_a_usage_error_before_any_request(
    canvas: Canvas,
    graded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CANVAS_API_TOKEN")
    assert _upload(canvas, graded / "gradebook.csv") == 2
    assert "no Canvas token: set CANVAS_API_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("CANVAS_API_TOKEN", TOKEN)
    argv = ["canvas", "upload", str(graded / "gradebook.csv"), "--course-id", COURSE]
    assert main([*argv, "--assignment-id", ASSIGNMENT]) == 2
    assert "no Canvas URL" in capsys.readouterr().err
    assert (
        main([*argv, "--assignment-id", ASSIGNMENT, "--base-url", "http://canvas.example.edu"]) == 2
    )
    assert "use https" in capsys.readouterr().err
    assert canvas.requests == []


def test_the_base_url_may_come_from_the_environment(
    canvas: Canvas, graded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANVAS_BASE_URL", canvas.url + "/")
    argv = ["canvas", "upload", str(graded / "gradebook.csv"), "--course-id", COURSE]
    assert main([*argv, "--assignment-id", ASSIGNMENT, "--dry-run"]) == 0


def test_an_unknown_course_is_a_usage_error(
    canvas: Canvas, graded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["canvas", "upload", str(graded / "gradebook.csv"), "--course-id", "999"]
    assert main([*argv, "--assignment-id", ASSIGNMENT, "--base-url", canvas.url]) == 2
    err = capsys.readouterr().err
    assert "Canvas has no course 999's students (404)" in err


def test_one_student_failing_is_reported_and_the_others_are_uploaded(
    canvas: Canvas, graded: Path
) -> None:
    canvas.fail_user = 13
    assert _upload(canvas, graded / "gradebook.csv") == 3
    report = _report(graded / "canvas-upload.csv")
    assert report["Cy Dee"]["outcome"] == "error"
    assert "500" in report["Cy Dee"]["detail"]
    assert report["Ann Lee"]["outcome"] == "updated"
    assert report["Di Eve"]["outcome"] == "updated"


def test_the_comment_is_a_one_line_summary_without_feedback_md(
    canvas: Canvas, graded: Path
) -> None:
    (graded / "teams" / "alpha" / "feedback.md").unlink()
    assert _upload(canvas, graded / "gradebook.csv") == 0
    assert canvas.forms[11]["comment[text_comment]"] == [
        "Team alpha: 25 / 30 points (graded by the grader)."
    ]


def test_a_gradebook_with_a_bad_score_or_missing_columns_names_file_and_line(
    canvas: Canvas, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "gradebook.csv"
    book.write_text("kind,team,name\nmember,alpha,Ann\n")
    assert _upload(canvas, book) == 2
    assert (
        f"{book}:1: missing column 'email', 'status', 'score', 'max_score'"
        in capsys.readouterr().err
    )
    book.write_text(
        "kind,team,name,email,status,score,max_score\n"
        "team,alpha,Alpha,,graded,25,30\n"
        "member,alpha,Ann,ann@example.edu,graded,lots,30\n"
    )
    assert _upload(canvas, book) == 2
    err = capsys.readouterr().err
    assert f"{book}:3: score: 'lots' is not a number" in err
    assert "Traceback" not in err
    assert canvas.requests == []


def test_course_file_gives_the_url_course_and_milestone_assignment(
    canvas: Canvas, graded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    course = tmp_path / "course.yaml"
    course.write_text(
        'course: "Test course"\n'
        f"canvas: {{base_url: {canvas.url}, course_id: {COURSE}}}\n"
        "milestones:\n"
        f"  t1: {{rubric: rubric.yaml, weight: 1, canvas_assignment_id: {ASSIGNMENT}}}\n"
        "  t2: {rubric: rubric.yaml, weight: 1}\n"
    )
    argv = ["canvas", "upload", str(graded / "gradebook.csv"), "--course", str(course)]
    assert main([*argv, "-m", "t1", "--dry-run"]) == 0
    assert "assignment 5001" in capsys.readouterr().out
    assert main([*argv, "-m", "t2", "--dry-run"]) == 2
    assert "no Canvas assignment: give --assignment-id" in capsys.readouterr().err


def test_a_429_waits_as_long_as_retry_after_says_then_succeeds(
    canvas: Canvas, graded: Path
) -> None:
    canvas.too_many_requests = 1
    started = time.monotonic()
    assert _upload(canvas, graded / "gradebook.csv", "--dry-run") == 0
    assert time.monotonic() - started >= 2.0  # Retry-After, not the 1 s first backoff
    assert sum(p.startswith(f"/api/v1/courses/{COURSE}/users?") for _, p, _ in canvas.requests) == 4


def test_canvas_that_keeps_throttling_is_an_infrastructure_error(
    canvas: Canvas,
    graded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("grader.canvas.RETRIES", 1)
    canvas.too_many_requests = 5
    assert _upload(canvas, graded / "gradebook.csv", "--dry-run") == 3
    assert "Canvas answered 429 Too Many Requests" in capsys.readouterr().err


def test_batch_takes_the_assignment_id_from_the_course_file(graded: Path, tmp_path: Path) -> None:
    course = tmp_path / "course.yaml"
    course.write_text(
        'course: "Test course"\n'
        "milestones:\n"
        "  t1: {rubric: rubric.yaml, weight: 1, canvas_assignment_id: 777}\n"
    )
    argv = ["batch", str(tmp_path / "roster.csv"), "--course", str(course), "-m", "t1"]
    argv += ["--from-results", str(tmp_path / "ci"), "--out", str(tmp_path / "by-course")]
    argv += ["--accept-self-reported"]
    assert main(argv) == 3  # Gamma errored
    assert _csv_rows(tmp_path / "by-course" / "canvas.csv")[0][-1] == "Milestone t1 (777)"
    assert main([*argv, "--canvas-assignment-id", "888"]) == 3  # the option wins
    assert _csv_rows(tmp_path / "by-course" / "canvas.csv")[0][-1] == "Milestone t1 (888)"


def _class_with_an_error(tmp_path: Path, *extra: str) -> tuple[Path, int]:
    """Alpha graded; Beta's `files` check is in error (the grader failed, not the team)."""
    (tmp_path / "roster.csv").write_text(ROSTER)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(FAST_RUBRIC)
    digest = load_rubric(rubric).hash
    reports.write_all(_result("Alpha", 25.0, digest), tmp_path / "ci" / "alpha")
    beta = _result("Beta", 0.0, digest)
    broken = beta.checks[0].model_copy(update={"status": "error", "message": "engine down"})
    beta = beta.model_copy(
        update={"checks": (broken,), "needs_review": ("files: grader error: engine down",)}
    )
    reports.write_all(beta, tmp_path / "ci" / "beta")
    out = tmp_path / "out"
    argv = ["batch", str(tmp_path / "roster.csv"), "--rubric", str(rubric), "--out", str(out)]
    code = main([*argv, "--from-results", str(tmp_path / "ci"), "--accept-self-reported", *extra])
    return out, code


def test_a_team_that_needs_review_has_empty_canvas_cells_and_is_never_uploaded(
    canvas: Canvas, tmp_path: Path
) -> None:
    out, code = _class_with_an_error(tmp_path)
    assert code == 3
    cells = {row[0]: row[5] for row in _csv_rows(out / "canvas.csv")}
    assert (cells["Ann Lee"], cells["Cy Dee"], cells["Di Eve"]) == ("25", "", "")

    assert _upload(canvas, out / "gradebook.csv") == 0
    report = _report(out / "canvas-upload.csv")
    assert report["Cy Dee"]["outcome"] == "skipped"
    assert report["Cy Dee"]["detail"] == (
        "needs review: 1 check in error (30 points not graded; 0/30 if they count as 0):"
        " files: engine down"
    )
    assert report["Ann Lee"]["outcome"] == "updated"
    assert 13 not in canvas.forms
    assert 14 not in canvas.forms


def test_accepting_errors_as_zero_fills_and_uploads_the_score(
    canvas: Canvas, tmp_path: Path
) -> None:
    out, code = _class_with_an_error(tmp_path, "--accept-errors-as-zero")
    assert code == 3  # Gamma and Delta have no results: still errors
    cells = {row[0]: row[5] for row in _csv_rows(out / "canvas.csv")}
    assert (cells["Cy Dee"], cells["Di Eve"]) == ("0", "0")
    assert _upload(canvas, out / "gradebook.csv") == 0
    assert canvas.forms[13]["submission[posted_grade]"] == ["0"]


def test_an_older_gradebook_with_a_grader_error_on_a_graded_row_is_not_uploaded(
    canvas: Canvas, tmp_path: Path
) -> None:
    """Gradebooks written before `needs review` existed said `graded` for such a team."""
    out, _ = _class_with_an_error(tmp_path)
    text = (out / "gradebook.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        if row["status"] == "needs review":
            row.update(status="graded", score="0", reason="")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (out / "gradebook.csv").write_text(buffer.getvalue(), encoding="utf-8")

    assert _upload(canvas, out / "gradebook.csv") == 0
    report = _report(out / "canvas-upload.csv")
    assert report["Cy Dee"]["outcome"] == "skipped"
    assert report["Cy Dee"]["detail"] == "needs review: files: grader error: engine down"
    assert 13 not in canvas.forms
