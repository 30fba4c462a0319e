# Two commands matter: `make demo` and `make test`. Everything installs into .venv from this repo's files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (the infra security scan) lives in a venv of its own: its pinned dependencies clash with the app's.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: install tools demo test test-fast lint format bench schema clean

NODE_STAMP := node_modules/.installed

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Azurite (a real Blob Storage server) for the claim-check tests; only `make test` needs Node.js.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $(TOOLS_STAMP)

install: $(STAMP)

tools: $(TOOLS_STAMP)

demo: install
	$(BIN)/python -m devhost demo

# Lint runs beside the tests (its cold mypy run is ~15 s of one core; warm, about a second) and either failing
# fails the target; the lint output is held back until the tests end so the two do not interleave.
test: install tools $(NODE_STAMP)
	@$(MAKE) --no-print-directory lint >$(VENV)/lint.log 2>&1 & lint=$$!; \
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup; tests=$$?; \
	wait $$lint; linted=$$?; cat $(VENV)/lint.log; \
	if [ $$linted -ne 0 ]; then echo "make lint failed (see above)"; fi; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

# Settings in pyproject.toml. mypy keeps an incremental cache in .mypy_cache, so a rerun checks only what changed.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Rewrites files: import order and other safe fixes, then the formatter.
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-fast: install
	$(BIN)/python -m pytest -q -n 2 tests/unit

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/streams.py
	$(BIN)/python bench/peak_rss.py
	$(BIN)/python bench/usage_api.py

# infra/sql/schema.sql is generated from shared/store/schema.py; a test fails when they differ.
schema: install
	$(BIN)/python -m shared.store.ddl > infra/sql/schema.sql

clean:
	rm -rf $(VENV) $(TOOLS) .ledger .pytest_cache .hypothesis .mypy_cache .ruff_cache
