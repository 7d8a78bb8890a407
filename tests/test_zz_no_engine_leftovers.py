"""After the whole suite (this module runs last), the grader left nothing in the engine.

Every test that builds or runs something labels it with a run id and removes it; so do
interrupted runs (tests/test_engine.py sends SIGINT and SIGTERM to `grader check`).
"""

from __future__ import annotations

import pytest

from tests.services import grader_leftovers


@pytest.mark.docker
def test_no_grader_container_or_image_remains() -> None:
    assert grader_leftovers() == []
