"""The dependency set of a pyproject.toml: what the environment cache is keyed by."""

from __future__ import annotations

from pathlib import Path

from grader.depset import canonical_name, dependency_view, lock_view, project_name
from grader.envcache import cache_key

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


# The template's own lock: every team generated from it differs only in the project's name.
TEMPLATE_LOCK = (
    Path(__file__).resolve().parents[1] / "{{cookiecutter.project_slug}}" / "uv.lock"
).read_text(encoding="utf-8")
PLACEHOLDER = "{{ cookiecutter.project_slug | replace('_', '-') }}"


def locked(name: str) -> str:
    return TEMPLATE_LOCK.replace(PLACEHOLDER, name)


def test_locks_that_differ_in_the_project_name_alone_have_one_pinned_set() -> None:
    # "aaa-..." sorts first among the lock's packages, "zzz-..." last: order does not count.
    assert locked("aaa-wine") != locked("zzz-cultivar")
    assert lock_view(locked("aaa-wine")) == lock_view(locked("zzz-cultivar"))
    # Nor does the project's own version.
    own = 'name = "aaa-wine"\nversion = "0.1.0"'
    assert own in locked("aaa-wine")
    bumped = locked("aaa-wine").replace(own, own.replace("0.1.0", "2.0.0"))
    assert lock_view(bumped) == lock_view(locked("aaa-wine"))


def test_what_a_lock_pins_differently_is_another_set() -> None:
    base = lock_view(locked("wine"))
    pin = 'name = "fastapi"\nversion = "0.163.2"'
    assert pin in TEMPLATE_LOCK
    changes = [
        (pin, pin.replace("0.163.2", "0.163.1")),  # a pin
        ('requires-python = ">=3.11"', 'requires-python = ">=3.12"'),
        ('{ name = "uvicorn" },\n', ""),  # a dependency of the project dropped
    ]
    for old, new in changes:
        assert old in TEMPLATE_LOCK, old
        assert lock_view(locked("wine").replace(old, new, 1)) != base, new
    assert lock_view("[[package]\nname = ") is None


def test_the_cache_key_reads_a_lock_by_its_pinned_set(tmp_path: Path) -> None:
    keys = {}
    for team, lock in {"a": locked("aaa-wine"), "b": locked("zzz-cultivar")}.items():
        (tmp_path / team).mkdir()
        (tmp_path / team / "uv.lock").write_text(lock)
        keys[team] = cache_key(tmp_path / team, "sha256:x", "setup", ["uv.lock"])
    assert keys["a"] == keys["b"]
    (tmp_path / "b" / "uv.lock").write_text(locked("zzz-cultivar").replace("0.163.2", "0.163.1"))
    assert cache_key(tmp_path / "b", "sha256:x", "setup", ["uv.lock"]) != keys["a"]
