# One task runner; CI calls these same targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# The grader's bytecode, written before each use: where PYTHONDONTWRITEBYTECODE is set (some
# machines and images set it) Python would compile its modules again at every start (0.15 s).
BYTECODE := $(BIN)/python -m compileall -q grader

.PHONY: venv demo test lint golden docker clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

docker:
	bash scripts/ensure-docker.sh

demo: $(STAMP) docker
	@$(BYTECODE)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	@$(BYTECODE)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Regenerate tests/golden/ after an intended report change; review `git diff tests/golden`.
golden: $(STAMP)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py

lint: $(STAMP)
	$(BIN)/ruff check grader tests scripts bench
	$(BIN)/ruff format --check grader tests scripts bench
	$(BIN)/mypy
	$(BIN)/check-jsonschema --schemafile rubrics/rubric.schema.json rubrics/*.yaml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

clean-venv:
	rm -rf $(VENV)
