# Two commands matter: `make demo` and `make test`. Everything installs into .venv from this repo's files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov (the infra security scan) lives in a venv of its own: its pinned dependencies clash with the app's.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: install tools demo test test-fast bench schema clean

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

test: install tools $(NODE_STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

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
	rm -rf $(VENV) $(TOOLS) .ledger .pytest_cache .hypothesis
