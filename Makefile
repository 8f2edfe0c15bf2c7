# The two set-up commands of the README: `make demo` and `make test`. Both do all set-up
# (virtualenv, install, Kafka broker download) on a fresh machine with Python 3.11, Java 17, Maven.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint unit integration bench emulator fetch-kafka chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aep-connector demo

fetch-kafka: $(STAMP)
	$(BIN)/python -m connector.testing.kafka_broker fetch
	$(BIN)/python -m connector.testing.schema_registry fetch

chromium:
	bash scripts/ensure-chromium.sh

lint: $(STAMP)
	$(BIN)/ruff check connector tests bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not integration" $(PYTEST_ARGS)

# The whole suite: lint, types, unit and the real-broker integration tier (never skipped).
test: $(STAMP) fetch-kafka chromium lint
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

bench: $(STAMP) fetch-kafka
	$(BIN)/python -m bench

emulator: $(STAMP)
	$(BIN)/aep-connector emulator

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache artifacts
