# Attro: `make demo` to see it work, `make test` to check it. Needs Python 3.11+ and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test serve dev run bench lint format clean lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/attro demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

serve: $(STAMP)
	$(BIN)/attro serve

# Recorded in the same Dagster instance `make dev` shows (pipelines/dagster_events.py).
run: $(STAMP)
	mkdir -p dagster_home
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/attro run

dev: $(STAMP)
	mkdir -p dagster_home
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/dagster dev

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

# Re-pin requirements.lock after editing pyproject.toml (needs `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) data/landing data/build data/exports data/warehouse.duckdb
