"""The images a Dockerfile's stages start FROM, ARGs and stage names resolved."""

from __future__ import annotations

import pytest

from grader import dockerstages


@pytest.mark.parametrize(
    ("dockerfile", "base"),
    [
        ("FROM python:3.11-slim\nCOPY . /app\n", "python:3.11-slim"),
        ("ARG BASE=python:3.12-slim\nFROM ${BASE}\n", "python:3.12-slim"),
        ("FROM python:3.11 AS build\nRUN x\nFROM build\nCOPY . .\n", "python:3.11"),
        ("FROM --platform=linux/amd64 \\\n  python:3.11-slim AS app\n", "python:3.11-slim"),
        (
            "FROM python:3.11 AS build\nFROM gcr.io/distroless/python3\n",
            "gcr.io/distroless/python3",
        ),
        ("FROM python:3.11 AS a\nFROM a AS b\nFROM B\n", "python:3.11"),
        ("# no stage\n", None),
        ("FROM --platform=linux/amd64\n", None),
    ],
)
def test_final_base(dockerfile: str, base: str | None) -> None:
    assert dockerstages.final_base(dockerfile) == base


TEMPLATE_LIKE = """\
ARG PYTHON=3.11
FROM python:${PYTHON}-slim AS requirements
ARG PYTHON=3.13
RUN echo stage args are not FROM's
FROM python:${PYTHON}-slim AS deps
FROM deps AS app
FROM requirements AS model
FROM python:${PYTHON}-slim AS runtime
"""


def test_from_images_are_the_images_not_the_stages_each_once() -> None:
    assert dockerstages.from_images(TEMPLATE_LIKE) == ["python:3.11-slim"]


def test_a_build_arg_overrides_a_global_arg_default() -> None:
    assert dockerstages.from_images(TEMPLATE_LIKE, {"PYTHON": "3.12"}) == ["python:3.12-slim"]
    assert dockerstages.final_base("ARG BASE\nFROM ${BASE}\n") is None


def test_stages_say_where_each_starts() -> None:
    found = dockerstages.stages(TEMPLATE_LIKE)
    assert [(s.name, s.base, s.from_stage) for s in found] == [
        ("requirements", "python:3.11-slim", False),
        ("deps", "python:3.11-slim", False),
        ("app", "python:3.11-slim", True),
        ("model", "python:3.11-slim", True),
        ("runtime", "python:3.11-slim", False),
    ]
