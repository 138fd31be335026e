# Two commands matter: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-only lint audit lock bench bench-proxy bench-runtime bench-audit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Locked, hash-checked installs. The stamps make reruns cheap and re-install when a lock changes.
$(VENV)/.run-stamp: requirements/run.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/run.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev-stamp: requirements/dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(VENV)/.run-stamp $@

run: $(VENV)/.run-stamp
	$(BIN)/gatehouse serve

test: $(VENV)/.dev-stamp lint test-only

test-only: $(VENV)/.dev-stamp
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The self-audit CI gates on: secrets and bandit over this repository, failing on any
# unsuppressed high or critical finding. Exclusions and suppressions: .gatehouse-audit.yaml.
audit: $(VENV)/.dev-stamp
	$(BIN)/gatehouse audit run . --fail-on high

# detect-secrets against `gatehouse audit secrets` on a 20,000-file corpus, then the cached
# rescan; about five minutes. BENCH_ARGS e.g. --files 5000 --repeat 3 --json.
bench-audit: $(VENV)/.dev-stamp
	$(BIN)/python -m bench.audit_secrets $(BENCH_ARGS)

# Regenerates both locks from pyproject.toml with hashes; review the diff before committing.
lock: $(VENV)/.dev-stamp
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		pyproject.toml requirements/build.in -o requirements/run.lock
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --extra dev \
		pyproject.toml requirements/build.in -o requirements/dev.lock

bench: $(VENV)/.dev-stamp
	$(BIN)/python -m bench.token_verify

# Needs wrk (Debian: apt-get install -y wrk); takes about eight minutes. BENCH_ARGS e.g. --soak 600.
bench-proxy: $(VENV)/.dev-stamp
	$(BIN)/python -m bench.proxy $(BENCH_ARGS)

# 100 concurrent runs of the local provider in-process, then through the proxy and runtime;
# about fifteen seconds. BENCH_ARGS e.g. --runs 50 --words 500 --rounds 6 --json.
bench-runtime: $(VENV)/.dev-stamp
	$(BIN)/python -m bench.runtime $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
