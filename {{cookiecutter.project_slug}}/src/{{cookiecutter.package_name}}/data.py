"""Load the dataset and check it against the contract in `schema.py`.

`load_dataset` refuses a file that breaks the contract with one `DataValidationError` that
lists every problem (column, row numbers as in the file, what is wrong), so a bad export
is caught before it trains a model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from {{ cookiecutter.package_name }}.schema import {% if cookiecutter.task == 'classification' %}CLASSES, {% endif %}FEATURE_NAMES, FEATURES, TARGET

MAX_ROWS_SHOWN = 5


class DataValidationError(ValueError):
    """The data breaks the schema; `problems` lists each broken rule."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) with the data:\n{lines}")


def _rows(mask: pd.Series) -> str:
    # Row numbers as a person sees them in the CSV file: header is line 1.
    lines = [str(int(index) + 2) for index in mask[mask].index[:MAX_ROWS_SHOWN]]
    more = int(mask.sum()) - len(lines)
    return ", ".join(lines) + (f" and {more} more" if more > 0 else "")


def validate(frame: pd.DataFrame, source: str = "data") -> pd.DataFrame:
    """Return the frame with typed columns, or raise `DataValidationError`."""
    problems: list[str] = []
    missing = [name for name in (*FEATURE_NAMES, TARGET) if name not in frame.columns]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    unexpected = [name for name in frame.columns if name not in (*FEATURE_NAMES, TARGET)]
    if unexpected:
        problems.append(f"unexpected column(s): {', '.join(map(str, unexpected))}")
    if frame.empty:
        problems.append("no rows")
    if problems:
        raise DataValidationError(source, problems)

    clean = frame.loc[:, [*FEATURE_NAMES, TARGET]].copy()
    for feature in FEATURES:
        raw = clean[feature.name]
        values = pd.to_numeric(raw, errors="coerce")
        if (bad := raw.notna() & values.isna()).any():
            problems.append(f"{feature.name}: not a number in row(s) {_rows(bad)}")
        if (empty := raw.isna()).any():
            problems.append(f"{feature.name}: missing value in row(s) {_rows(empty)}")
        if feature.minimum is not None and (low := values < feature.minimum).any():
            problems.append(f"{feature.name}: below {feature.minimum} in row(s) {_rows(low)}")
        if feature.maximum is not None and (high := values > feature.maximum).any():
            problems.append(f"{feature.name}: above {feature.maximum} in row(s) {_rows(high)}")
        clean[feature.name] = values.astype("float64")
{%- if cookiecutter.task == "classification" %}
    target = clean[TARGET].astype("string")
    if (unknown := ~target.isin(CLASSES) | target.isna()).any():
        problems.append(
            f"{TARGET}: not one of {', '.join(CLASSES)} in row(s) {_rows(unknown.fillna(True))}"
        )
    clean[TARGET] = target
{%- else %}
    target = pd.to_numeric(clean[TARGET], errors="coerce")
    if (unknown := target.isna()).any():
        problems.append(f"{TARGET}: missing or not a number in row(s) {_rows(unknown)}")
    clean[TARGET] = target.astype("float64")
{%- endif %}
    if problems:
        raise DataValidationError(source, problems)
    return clean


def load_dataset(path: Path | str) -> pd.DataFrame:
    """Read a CSV file and validate it."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(str(path), ["file not found"])
    return validate(pd.read_csv(path), source=str(path))


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame.loc[:, list(FEATURE_NAMES)], frame[TARGET]
