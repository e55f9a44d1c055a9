# The README's two commands: `make run` (whole pipeline on the default data) and `make test`.
# Both set up first; set-up is idempotent (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1

PREFECT_PORT ?= 4200

.PHONY: setup run reproduce test test-fast lint app server serve clean

setup:
	@bash scripts/setup.sh

# `s2f repro` is `dvc repro` with one Prefect server for all the stages instead of one per stage (each `s2f run`
# would start its own: docs/benchmarks.md, "Prefect's cost per stage").
# Then the models on annotated real clips where ../shared/realdata holds them (reports/real_voices.json; the clips
# are not part of the project, so this is a script and not a stage).
run: setup
	s2f repro evaluate
	python scripts/real_voices.py --if-present

# Both models trained again from reproduce.runs - 1 other seeds and evaluated: reports/seeds.json holds the
# headline metrics with intervals over seeds and test speakers (after `make run`; its training time x runs - 1);
# real_voices.json then covers every run.
reproduce: run
	s2f repro reproduce
	python scripts/real_voices.py --if-present

# Tests run on every core (pytest-xdist), slow ones first; a worker that runs out of tests takes queued ones from
# another (worksteal). PYTEST_ARGS="-n 0" runs them in one process.
PYTEST_ARGS ?= -n auto --dist worksteal

test: setup
	python -m pytest $(PYTEST_ARGS)

# The fast tier: every test that runs no pipeline end to end (not marked slow); `make test` stays the whole suite.
test-fast: setup
	python -m pytest $(PYTEST_ARGS) -m "not slow"

# ruff's rules are in pyproject.toml ([tool.ruff]); CI runs this before the tests.
lint: setup
	ruff check .

# The local web page to speak into (http://127.0.0.1:$(APP_PORT)); needs the models `make run` trains.
APP_PORT ?= 8000

app: setup
	s2f app --port $(APP_PORT)

# A local Prefect server with its UI (http://127.0.0.1:$(PREFECT_PORT)). In another shell,
# `export PREFECT_API_URL=http://127.0.0.1:$(PREFECT_PORT)/api` makes stages and `s2f serve` report to it.
server: setup
	prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

# The pipeline flow as a scheduled deployment (nightly by default; CRON="*/30 * * * *" to change it).
serve: setup
	PREFECT_API_URL=$${PREFECT_API_URL:-http://127.0.0.1:$(PREFECT_PORT)/api} s2f serve $(if $(CRON),--cron "$(CRON)")

clean:
	rm -rf .prefect .pytest_cache
