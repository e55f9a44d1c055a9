# The README's two commands: `make run` (whole pipeline on the default data) and `make test`.
# Both set up first; set-up is idempotent (scripts/setup.sh).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1

.PHONY: setup run test clean

setup:
	@bash scripts/setup.sh

run: setup
	dvc repro

test: setup
	python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf .prefect .pytest_cache
