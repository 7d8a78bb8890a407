"""The dependency set of a pyproject.toml: what the environment cache is keyed by."""

from __future__ import annotations

from pathlib import Path

from grader.depset import canonical_name, dependency_view, project_name
from grader.sandbox import cache_key

TEAM_A = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "wine-quality-service"
version = "0.1.0"
description = "Team A's service."
authors = [{ name = "Ada Lovelace" }]
requires-python = ">=3.11"
dependencies = ["fastapi==0.163.2", "scikit-learn==1.9.1"]

[project.optional-dependencies]
train = ["mlflow==3.17.2"]
dev = ["wine-quality-service[train]", "pytest==9.2.0"]

[project.scripts]
serve = "wine_quality_service.serve:main"

[tool.setuptools.packages.find]
where = ["src"]

[tool.ruff]
line-length = 100

[tool.coverage.run]
source = ["wine_quality_service"]
"""

# Another team: its own name, description, authors, scripts, tool settings; same installs.
TEAM_B = (
    TEAM_A.replace('name = "wine-quality-service"', 'name = "Cultivar_Predictor"')
    .replace("Team A's service.", "Team B predicts cultivars.")
    .replace("Ada Lovelace", "Alan Turing")
    .replace('"wine-quality-service[train]"', '"cultivar-predictor[train]"')
    .replace("wine_quality_service", "cultivar_predictor")
    .replace("line-length = 100", "line-length = 88")
)


def test_teams_that_install_the_same_things_have_one_dependency_set() -> None:
    assert dependency_view(TEAM_A) == dependency_view(TEAM_B)
    assert project_name(TEAM_B) == "Cultivar_Predictor"
    assert canonical_name("Cultivar_Predictor") == "cultivar-predictor"


def test_what_installs_differently_is_another_dependency_set() -> None:
    base = dependency_view(TEAM_A)
    changes = [
        ("scikit-learn==1.9.1", "scikit-learn==1.9.0"),  # a pin
        ('"pytest==9.2.0"]', '"pytest==9.2.0", "hypothesis"]'),  # a dev dependency
        ('"wine-quality-service[train]"', '"wine-quality-service"'),  # its own extra
        (">=3.11", ">=3.12"),
        ('requires = ["setuptools>=69"]', 'requires = ["hatchling"]'),
        ("[tool.ruff]", '[tool.uv]\nindex-url = "https://mirror.example.test"\n[tool.ruff]'),
    ]
    for old, new in changes:
        assert old in TEAM_A
        assert dependency_view(TEAM_A.replace(old, new)) != base, new


def test_a_file_that_is_not_toml_has_no_view() -> None:
    assert dependency_view("[project\nname = ") is None
    assert project_name("[project\nname = ") is None


def test_the_cache_key_reads_a_pyproject_by_its_dependency_set(tmp_path: Path) -> None:
    keys = {}
    for team, text in {"a": TEAM_A, "b": TEAM_B, "c": TEAM_A.replace("1.9.1", "1.9.0")}.items():
        (tmp_path / team).mkdir()
        (tmp_path / team / "pyproject.toml").write_text(text)
        (tmp_path / team / "requirements.txt").write_text("numpy\n")
        keys[team] = cache_key(tmp_path / team, "sha256:x", "setup", ["pyproject.toml"])
    assert keys["a"] == keys["b"] != keys["c"]
    # Other key files still count by their bytes.
    (tmp_path / "b" / "requirements.txt").write_text("numpy==2.4.6\n")
    with_reqs = ["pyproject.toml", "requirements.txt"]
    assert cache_key(tmp_path / "a", "sha256:x", "setup", with_reqs) != cache_key(
        tmp_path / "b", "sha256:x", "setup", with_reqs
    )
