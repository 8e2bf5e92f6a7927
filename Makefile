# Two commands matter: `make demo` and `make test`. Everything else is a helper.
# Only Python 3.11 and make are assumed; the rest is installed here, pinned by requirements.lock.

PYTHON      ?= python3.11
VENV        := .venv
BIN         := $(VENV)/bin
UV_VERSION  := 0.13.8
STAMP       := $(VENV)/.installed
SCALE       ?= medium
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install lock demo test lint typecheck unit up down db-start db-stop bench bench-loader clean

help:
	@echo "make demo    - install, start the embedded PostgreSQL, generate a small landing zone, run the pipeline"
	@echo "make test    - install, lint (ruff, sqlfluff), type-check (mypy) and run the tests"
	@echo "make up      - start the Airflow UI, scheduler, dag-processor and triggerer (http://localhost:8080)"
	@echo "make down    - stop what 'make up' started"
	@echo "make bench SCALE=medium|full - the end-to-end benchmark"
	@echo "make bench-loader SCALE=...   - the loader alone, 1 and 2 worker processes, vs raw COPY"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --python $(BIN)/python --quiet requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Re-resolve the pins (needs the registry); commit the result.
lock:
	@test -x $(BIN)/uv || ($(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)")
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

demo: install
	$(BIN)/credit-risk demo

lint: install
	$(BIN)/ruff check plugins dags tests expectations
	$(BIN)/ruff format --check plugins dags tests expectations
	$(BIN)/credit-risk db start --quiet
	@# the marts read the seeds while they compile: seed first, or sqlfluff skips them
	cd dbt_project && ../$(BIN)/credit-risk env -- ../$(BIN)/dbt seed --quiet --project-dir . --profiles-dir . --target-path ../var/dbt_lint_target
	cd dbt_project && ../$(BIN)/credit-risk env -- ../$(BIN)/sqlfluff lint models tests --processes 2

typecheck: install
	$(BIN)/mypy plugins/credit_risk

unit: install
	$(BIN)/pytest -m "not e2e" -q

test: lint typecheck
	$(BIN)/pytest -q --timeout 1200

up: install
	$(BIN)/credit-risk airflow up

down:
	@test -x $(BIN)/credit-risk && $(BIN)/credit-risk airflow down || true

db-start: install
	$(BIN)/credit-risk db start

db-stop:
	$(BIN)/credit-risk db stop

bench: install
	$(BIN)/credit-risk bench --scale $(SCALE)

bench-loader: install
	$(BIN)/credit-risk bench --loader --scale $(SCALE)

clean:
	-$(BIN)/credit-risk airflow down
	-$(BIN)/credit-risk db stop
	rm -rf var dbt_project/target dbt_project/logs
