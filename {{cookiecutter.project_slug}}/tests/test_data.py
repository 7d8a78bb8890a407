"""Data tests: the shipped dataset honours the schema, and broken data is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data import DataValidationError, load_dataset, validate
from {{ cookiecutter.package_name }}.schema import {% if cookiecutter.task == "classification" %}CLASSES, {% endif %}FEATURE_NAMES, TARGET

FIXTURES = Path(__file__).parent / "fixtures"


def test_dataset_matches_schema(dataset: pd.DataFrame) -> None:
    assert list(dataset.columns) == [*FEATURE_NAMES, TARGET]
    assert len(dataset) > 100
    assert not dataset.isna().any().any()
{%- if cookiecutter.task == "classification" %}
    assert set(dataset[TARGET]) == set(CLASSES)
{%- endif %}


def test_corrupted_fixture_is_refused_with_every_problem() -> None:
    with pytest.raises(DataValidationError) as caught:
        load_dataset(FIXTURES / "corrupted.csv")
    message = str(caught.value)
{%- if cookiecutter.task == "classification" %}
    assert "alcohol: not a number in row(s) 2" in message
    assert "magnesium: missing value in row(s) 3" in message
    assert "proline: below 0 in row(s) 4" in message
    assert "target: not one of class_0, class_1, class_2 in row(s) 5" in message
{%- else %}
    assert "age: not a number in row(s) 2" in message
    assert "bmi: missing value in row(s) 3" in message
    assert "bp: above 1 in row(s) 4" in message
    assert "target: missing or not a number in row(s) 5" in message
{%- endif %}
    assert len(caught.value.problems) == 4


def test_missing_and_unexpected_columns(dataset: pd.DataFrame) -> None:
    broken = dataset.drop(columns=[FEATURE_NAMES[0]]).assign(extra=1)
    with pytest.raises(DataValidationError, match="missing column") as caught:
        validate(broken)
    assert any("unexpected column(s): extra" in p for p in caught.value.problems)


def test_empty_frame_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="no rows"):
        validate(pd.DataFrame(columns=[*FEATURE_NAMES, TARGET]))
    with pytest.raises(DataValidationError, match="file not found"):
        load_dataset(tmp_path / "nope.csv")


def test_long_lists_of_rows_are_shortened(dataset: pd.DataFrame) -> None:
    broken = dataset.copy()
    broken[FEATURE_NAMES[0]] = None
    with pytest.raises(DataValidationError, match=r"and \d+ more"):
        validate(broken)
