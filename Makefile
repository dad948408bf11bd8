# The two commands of the README: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install dev clean lambda-zip

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/video-dagster demo

lint: $(STAMP)
	$(BIN)/ruff check video_dagster lambdas tests bench
	$(BIN)/mypy --strict video_dagster/domain video_dagster/resources video_dagster/assets/executors lambdas

test: $(STAMP) lint
	$(BIN)/pytest

dev: $(STAMP)
	$(BIN)/video-dagster dev

clean:
	rm -rf $(VENV) .home .pytest_cache

# Deployment zips for template.yaml: `make lambda-zip` builds every function under lambdas/,
# `make lambda-zip FUNCTION=audio_mixer` one. Each holds our code plus the function's wheels for
# the Lambda runtime (python3.12, x86_64); FFmpeg comes from the layer parameter.
FUNCTION ?= all
LAMBDAS := $(patsubst lambdas/%/handler.py,%,$(wildcard lambdas/*/handler.py))
lambda-zip: $(STAMP)
	@set -e; for fn in $(if $(filter all,$(FUNCTION)),$(LAMBDAS),$(FUNCTION)); do \
		test -f lambdas/$$fn/handler.py || { echo "no Lambda named $$fn" >&2; exit 2; }; \
		rm -rf build/$${fn}_deps; \
		$(BIN)/pip install --quiet --target build/$${fn}_deps --only-binary=:all: \
			--platform manylinux2014_x86_64 --python-version 3.12 \
			-r lambdas/$$fn/requirements.txt; \
		$(BIN)/python -m lambdas.package $$fn --deps-dir build/$${fn}_deps --out dist/; \
	done
