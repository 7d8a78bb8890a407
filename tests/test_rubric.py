"""The rubric loader: typed models, extends, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.checks.container import SizeParams
from grader.checks.registry import REGISTRY
from grader.checks.repo import LOCK_FILES, DocParams
from grader.errors import ConfigError
from grader.main import main
from grader.rubric import KIT_RUBRICS, json_schema, load_rubric
from grader.rubricneeds import order
from tests.helpers import write_rubric

FIVE_MISTAKES = """\
milestone: m9
title: Five mistakes
checks:
  - id: files
    check: repo.filez
    points: 5
  - id: readme
    check: repo.readme_sections
    points: 0
    params:
      sections: [Intro]
      colour: red
  - id: files
    check: repo.manifest
    points: 2
  - id: tag
    check: repo.tag
    points: 1
    params: {pattern: m1}
    needs: [nothere]
"""


def test_five_mistakes_give_five_messages_with_lines(tmp_path: Path) -> None:
    path = write_rubric(tmp_path / "m9.yaml", FIVE_MISTAKES)
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert info.value.problems == [
        f"{path}:5: checks[0].check: unknown check 'repo.filez' (did you mean 'repo.files'?)",
        f"{path}:9: checks[1].points: Input should be greater than 0",
        f"{path}:12: checks[1].params.colour: unknown field",
        f"{path}:13: checks[2].id: duplicate id 'files' (first at line 4)",
        f"{path}:20: checks[3].needs[0]: unknown check id 'nothere'",
    ]


def test_cli_reports_every_mistake_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_rubric(tmp_path / "m9.yaml", FIVE_MISTAKES)
    assert main(["rubric", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "has 5 errors" in err
    assert "Traceback" not in err
    assert f"{path}:20: checks[3].needs[0]" in err


def test_needs_cycle_is_reported(tmp_path: Path) -> None:
    path = write_rubric(
        tmp_path / "c.yaml",
        "milestone: c\ntitle: C\nchecks:\n"
        "  - {id: a, check: repo.manifest, points: 1, needs: [b]}\n"
        "  - {id: b, check: repo.manifest, points: 1, needs: [a]}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert info.value.problems == [f"{path}:4: checks[0].needs: needs cycle: a -> b -> a"]


def test_needs_that_cannot_supply_what_a_check_reads_fail_to_load(tmp_path: Path) -> None:
    path = write_rubric(
        tmp_path / "r.yaml",
        "milestone: r\ntitle: R\nchecks:\n"
        "  - {id: build, check: container.build, points: 1}\n"
        "  - {id: size, check: container.size, points: 1}\n"
        "  - id: coverage\n"
        "    check: tests.coverage\n"
        "    points: 1\n"
        "    needs: [build]\n"
        # Through another check's needs is enough: starts needs build.
        "  - {id: starts, check: service.starts, points: 1, needs: [build]}\n"
        "  - {id: health, check: service.health, points: 1, needs: [starts]}\n"
        "  - {id: run, check: tests.run, points: 1}\n"
        "  - {id: kinds, check: tests.kinds, points: 1, needs: [health, run]}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert info.value.problems == [
        f"{path}:5: checks[1].needs: container.size reads the team's built image ('image'),"
        " which none of the checks it needs provides: add the id of a container.build check"
        " to its needs",
        f"{path}:9: checks[2].needs: tests.coverage reads the test suite's report"
        " ('test_report'), which none of the checks it needs provides: add the id of a"
        " tests.run check to its needs",
    ]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write_rubric(tmp_path / "y.yaml", "milestone: y\ntitle: [unclosed\nchecks: []\n")
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert info.value.problems[0].startswith(f"{path}:3: invalid YAML")


def test_params_are_typed_and_defaults_filled(tmp_path: Path) -> None:
    path = write_rubric(
        tmp_path / "p.yaml",
        "milestone: p\ntitle: P\nchecks:\n"
        "  - {id: big, check: repo.large_files, points: 2, params: {max_kb: 50}}\n",
    )
    rubric = load_rubric(path)
    params = rubric.check("big").params
    assert params.model_dump() == {"max_kb": 50, "history": True, "exclude": list(LOCK_FILES)}
    assert rubric.check("big").timeout == 120


def _extends_pair(tmp_path: Path, child: str) -> Path:
    write_rubric(
        tmp_path / "m0.yaml",
        "milestone: m0\ntitle: Base\nchecks:\n"
        "  - {id: manifest, check: repo.manifest, points: 6}\n"
        "  - {id: secrets, check: repo.secrets, points: 4, needs: [manifest]}\n",
    )
    return write_rubric(tmp_path / "m1.yaml", child)


def test_extends_brings_regression_checks_scaled(tmp_path: Path) -> None:
    path = _extends_pair(
        tmp_path,
        "milestone: m1\ntitle: Next\ntotal: 15\nextends: {milestone: m0, points: 5}\nchecks:\n"
        "  - {id: tag, check: repo.tag, points: 10, params: {pattern: m1}, needs: [manifest]}\n",
    )
    rubric = load_rubric(path)
    assert [(c.id, c.points, c.regression) for c in rubric.checks] == [
        ("manifest", 3.0, True),
        ("secrets", 2.0, True),
        ("tag", 10, False),
    ]
    assert rubric.max_points == 15
    assert [c.id for c in order(rubric.checks)] == ["manifest", "secrets", "tag"]


def test_extends_override_replaces_inherited_check(tmp_path: Path) -> None:
    path = _extends_pair(
        tmp_path,
        "milestone: m1\ntitle: Next\nextends: m0\nchecks:\n"
        "  - {id: secrets, check: repo.secrets, points: 9}\n",
    )
    rubric = load_rubric(path)
    assert [(c.id, c.points, c.regression) for c in rubric.checks] == [
        ("manifest", 6, True),
        ("secrets", 9, False),
    ]


def test_extends_chain_scales_by_declared_points(tmp_path: Path) -> None:
    """Every earlier milestone keeps its share: m0's checks do not shrink once per link."""
    _extends_pair(
        tmp_path,
        "milestone: m1\ntitle: Next\nextends: {milestone: m0, points: 5}\nchecks:\n"
        "  - {id: tag, check: repo.tag, points: 10, params: {pattern: m1}}\n",
    )
    m2 = write_rubric(
        tmp_path / "m2.yaml",
        "milestone: m2\ntitle: Last\nextends: {milestone: m1, points: 4}\nchecks:\n"
        "  - {id: commits, check: repo.commits, points: 10}\n",
    )
    rubric = load_rubric(m2)
    # In quarter points (1.2, 0.8, 2.0 exactly), summing to the 4 points m1 is worth in m2.
    assert [(c.id, c.points) for c in rubric.checks] == [
        ("manifest", 1.25),
        ("secrets", 0.75),
        ("tag", 2.0),
        ("commits", 10),
    ]


def test_extends_that_makes_a_check_worth_nothing_is_an_error(tmp_path: Path) -> None:
    path = _extends_pair(
        tmp_path,
        "milestone: m1\ntitle: Next\nextends: {milestone: m0, points: 0.01}\nchecks:\n"
        "  - {id: tag, check: repo.tag, points: 10, params: {pattern: m1}}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    [problem] = info.value.problems
    assert problem.startswith(f"{path}:3: extends.points: ")
    assert "secrets would be worth 0" in problem


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write_rubric(tmp_path / "a.yaml", "milestone: a\ntitle: A\nextends: b\n")
    b = write_rubric(tmp_path / "b.yaml", "milestone: b\ntitle: B\nextends: a\n")
    with pytest.raises(ConfigError) as info:
        load_rubric(b)
    assert info.value.problems == [f"{tmp_path / 'a.yaml'}:3: extends: extends cycle: b -> a -> b"]


def test_total_must_add_up(tmp_path: Path) -> None:
    path = write_rubric(
        tmp_path / "t.yaml",
        "milestone: t\ntitle: T\ntotal: 100\nchecks:\n"
        "  - {id: manifest, check: repo.manifest, points: 60}\n"
        "manual:\n  - {id: demo, title: Demo, points: 30}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_rubric(path)
    assert info.value.problems == [f"{path}:3: total: points add up to 90, not 100"]


def test_committed_schema_is_current() -> None:
    committed = json.loads((KIT_RUBRICS / "rubric.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: grader rubric schema --out rubrics/rubric.schema.json"


def test_kit_rubrics_are_valid() -> None:
    paths = sorted(KIT_RUBRICS.glob("*.yaml"))
    assert paths
    for path in paths:
        assert load_rubric(path).checks


def test_checks_doc_is_current_and_every_rubric_check_is_explained() -> None:
    from grader.checks.registry import REGISTRY
    from grader.commands.rubric import checks_markdown

    doc = (KIT_RUBRICS.parent / "docs" / "checks.md").read_text(encoding="utf-8")
    assert doc == checks_markdown(), "run: grader rubric explain --all > docs/checks.md"
    for path in KIT_RUBRICS.glob("*.yaml"):
        for check in load_rubric(path).checks:
            assert REGISTRY[check.check].explanation, f"{path.name}: {check.check} unexplained"
            assert f"## `{check.check}`" in doc


def test_fix_texts_name_the_rubrics_values_not_its_param_names() -> None:
    doc = REGISTRY["repo.doc_filled"].explanation_for(DocParams(path="docs/x.md", min_words=200))
    assert "at least 200 words of prose" in doc
    assert "min_words" not in doc
    size = REGISTRY["container.size"]
    assert "from full at 500 MB to none at 900 MB" in size.explanation_for(
        SizeParams(max_mb=500, zero_mb=900)
    )
    # Unset (its default is computed): the name stays, and the text says what it means.
    unset = size.explanation_for(SizeParams(max_mb=500))
    assert "from full at 500 MB to none at `zero_mb` MB (twice the" in unset
    # A rubric's check carries its own values into results and feedback (how_to_fix).
    rubric = load_rubric(KIT_RUBRICS / "m1.yaml")
    [check] = [c for c in rubric.checks if c.check == "repo.doc_filled"][:1]
    assert "`min_words`" not in REGISTRY[check.check].explanation_for(check.params)


def test_kit_rubric_items_that_share_a_check_each_have_their_own_title() -> None:
    """A check used by several items (repo.doc_filled for the proposal, the data card...)
    would show one generic title for all of them in feedback: each item names itself."""
    items = [c for path in KIT_RUBRICS.glob("*.yaml") for c in load_rubric(path).checks]
    used: dict[str, set[str]] = {}
    for c in items:
        used.setdefault(c.check, set()).add(c.id)
    shared = [c for c in items if len(used[c.check]) > 1 and not c.regression]
    untitled = sorted({c.id for c in shared if c.title == REGISTRY[c.check].title})
    assert untitled == []
    titles = [c.title for c in shared]
    assert len(titles) == len(set(titles))
