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
	$(BIN)/mypy --strict video_dagster/domain lambdas

test: $(STAMP) lint
	$(BIN)/pytest

dev: $(STAMP)
	$(BIN)/video-dagster dev

clean:
	rm -rf $(VENV) .home .pytest_cache

# The video_merger deployment zip for template.yaml: our code plus its wheels for the Lambda
# runtime (python3.12, x86_64); FFmpeg comes from the layer parameter.
lambda-zip: $(STAMP)
	rm -rf build/video_merger_deps
	$(BIN)/pip install --quiet --target build/video_merger_deps --only-binary=:all: \
		--platform manylinux2014_x86_64 --python-version 3.12 \
		-r lambdas/video_merger/requirements.txt
	$(BIN)/python -m lambdas.package video_merger --deps-dir build/video_merger_deps --out dist/
