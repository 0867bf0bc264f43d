# Ronde — `make help` lists the targets. A newcomer needs two: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_VERSION ?= 3.11
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
# uv, pinned, in its own small venv: works where pip may not touch the system Python (PEP 668).
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help run test test-sqlite test-postgres lint format bench backup restore messages clean uv deps deps-dev system-deps

help: ## List the targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}'

$(UV):
	@python$(PYTHON_VERSION) -m venv .tools || python3 -m venv .tools
	@.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

uv: $(UV)

deps: $(UV) ## Create the virtual environment and install the locked dependencies.
	@$(UV) sync --locked --python $(PYTHON_VERSION) --no-dev --quiet
	@$(PY) manage.py compiletranslations

deps-dev: $(UV) node_modules/.installed
	@$(UV) sync --locked --python $(PYTHON_VERSION) --all-groups --quiet
	@$(PY) manage.py compiletranslations

# The test tools from npm (the Twilio double): reinstalled when package-lock.json changes.
node_modules/.installed: package-lock.json
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

run: deps ## Set up everything, then serve http://127.0.0.1:8000 with the job worker (Ctrl-C stops).
	@DEMO_MODE=$${DEMO_MODE:-true} $(PY) manage.py serve

system-deps: ## Install the system packages the tests need (Chromium, Redis, PostgreSQL, gettext, Node).
	@scripts/system-deps.sh

test: system-deps deps-dev ## Install what the tests need, run the linters and the whole suite (SQLite, then PostgreSQL).
	@$(MAKE) --no-print-directory lint
	@scripts/with-services.sh $(MAKE) --no-print-directory test-sqlite test-postgres

test-sqlite: ## (inside with-services) The suite on SQLite, browser tests included.
	@echo "== tests on SQLite"; start=$$(date +%s); \
	$(PY) -m pytest $(PYTEST_ARGS); code=$$?; \
	echo "== tests on SQLite took $$(( $$(date +%s) - start )) s"; exit $$code

test-postgres: ## (inside with-services) The suite on PostgreSQL, browser tests included.
	@echo "== tests on PostgreSQL"; start=$$(date +%s); \
	DATABASE_URL="$$TEST_POSTGRES_URL" $(PY) -m pytest $(PYTEST_ARGS); code=$$?; \
	echo "== tests on PostgreSQL took $$(( $$(date +%s) - start )) s"; exit $$code

lint: ## ruff (lint and format check) and a check that no migration is missing.
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(PY) manage.py makemigrations --check --dry-run >/dev/null || (echo "Missing migrations: run manage.py makemigrations" && exit 1)

format: ## Format the code with ruff.
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: system-deps deps-dev ## Run the benchmarks and print their ratios (bench/README.md).
	@scripts/with-services.sh $(PY) bench/run.py

backup: deps ## Back up the database and the uploaded files into var/backups/.
	@$(PY) manage.py backup

restore: deps ## Restore a backup: make restore FILE=var/backups/ronde-....tar.gz
	@$(PY) manage.py restore "$(FILE)"

messages: deps-dev ## Extract the translatable strings into the .po catalogues (needs gettext).
	@$(PY) manage.py makemessages --locale fr --ignore ".venv/*" --ignore "var/*" --ignore "bench/*" --ignore "tests/*" --ignore "node_modules/*" --no-obsolete

clean: ## Remove the virtual environments and the local data (var/).
	rm -rf $(VENV) .tools var
