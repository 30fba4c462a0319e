# Two commands matter: `make demo` and `make test`. Everything installs into .venv from this repo's files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench schema clean

$(STAMP): requirements.txt requirements-dev.txt package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	[ -d node_modules ] || npm install --no-audit --no-fund  # Azurite, for the claim-check tests
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m devhost demo

test: install
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
	rm -rf $(VENV) .ledger .pytest_cache .hypothesis
