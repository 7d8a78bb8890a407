"""Constant `if:` expressions are evaluated as GitHub does; anything else depends on the run."""

from __future__ import annotations

from typing import Any

import pytest

from grader.ghexpr import constant


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, False),
        (True, True),
        ("false", False),
        ("${{ false }}", False),
        ("${{ true }}", True),
        ("0 == 1", False),
        ("${{ 1 == 1 }}", True),
        ("'main' == 'MAIN'", True),  # string comparison ignores case
        ("'a' != 'a'", False),
        ("!true", False),
        ("(false || 0)", False),
        ("false && true", False),
        ("null", False),
        ("''", False),
        ("'false'", True),  # a non-empty string is truthy
        ("'1' == 1", True),  # mixed types compare as numbers
        ("1 < 2", True),
        (0, False),
    ],
)
def test_constant_expression(value: Any, expected: bool) -> None:
    assert constant(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        "always()",
        "success()",
        "github.ref == 'refs/heads/main'",
        "${{ matrix.experimental }}",
        "false && github.event_name == 'push'",
        "",
        "(true",
        "1 ==",
    ],
)
def test_expression_that_depends_on_the_run(value: str) -> None:
    assert constant(value) is None
