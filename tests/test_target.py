"""Targets: local repos and git URLs, at a ref or at a deadline, always a clean checkout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from grader.errors import TargetError
from grader.target import prepare
from tests.helpers import commit_all, git, team_files

MakeRepo = Callable[..., Path]


def _dated_commit(repo: Path, name: str, when: str) -> str:
    (repo / name).write_text(name)
    git(repo, "add", "-A")
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    git(repo, "commit", "-q", "-m", name, env=env)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(make_repo: MakeRepo) -> tuple[Path, list[str]]:
    repo = make_repo(team_files())
    shas = [
        _dated_commit(repo, "a.txt", "2026-10-01T10:00:00+00:00"),
        _dated_commit(repo, "b.txt", "2026-10-02T10:00:00+00:00"),
        _dated_commit(repo, "c.txt", "2026-10-04T10:00:00+00:00"),
    ]
    git(repo, "tag", "m1", shas[0])
    return repo, shas


def test_head_of_a_local_repo(history: tuple[Path, list[str]]) -> None:
    repo, shas = history
    co = prepare(str(repo))
    try:
        assert co.commit == shas[2]
        assert co.commit_time == datetime(2026, 10, 4, 10, tzinfo=UTC)
        assert (co.path / "c.txt").exists()
        assert co.path != repo
    finally:
        co.close()
    assert not co.path.exists()


def test_ref_tag_branch_and_sha(history: tuple[Path, list[str]]) -> None:
    repo, shas = history
    for ref, expected in (("m1", shas[0]), ("main", shas[2]), (shas[1][:10], shas[1])):
        co = prepare(str(repo), ref=ref)
        assert co.commit == expected
        co.close()


def test_deadline_takes_last_commit_before_it(history: tuple[Path, list[str]]) -> None:
    repo, shas = history
    co = prepare(str(repo), deadline=datetime(2026, 10, 3, tzinfo=UTC))
    assert co.commit == shas[1]
    assert not (co.path / "c.txt").exists()
    co.close()
    with pytest.raises(TargetError, match="no commit on the default branch before"):
        prepare(str(repo), deadline=datetime(2020, 1, 1, tzinfo=UTC))


def test_git_url_is_mirrored_in_the_cache_and_refetched(history: tuple[Path, list[str]]) -> None:
    repo, shas = history
    url = f"file://{repo}"
    first = prepare(url)
    assert first.commit == shas[2]
    first.close()
    newer = _dated_commit(repo, "d.txt", "2026-10-05T10:00:00+00:00")
    second = prepare(url)
    assert second.commit == newer
    second.close()


def test_uncommitted_changes_are_not_graded_but_noted(history: tuple[Path, list[str]]) -> None:
    repo, _ = history
    (repo / "a.txt").write_text("edited, not committed")
    co = prepare(str(repo))
    assert co.dirty
    assert (co.path / "a.txt").read_text() == "a.txt"
    co.close()


def test_plain_folder_is_graded_in_place(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# x\n")
    co = prepare(str(tmp_path))
    assert (co.path, co.commit) == (tmp_path.resolve(), None)
    with pytest.raises(TargetError, match="not a git repository"):
        prepare(str(tmp_path), ref="main")


def test_commit_helper_returns_head(make_repo: MakeRepo) -> None:
    repo = make_repo(team_files())
    assert commit_all(repo, "again") == git(repo, "rev-parse", "HEAD")
