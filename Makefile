# The two set-up commands of the README: `make demo` and `make test`. Both do all set-up
# (virtualenv, install, Kafka broker download) on a fresh machine with Python 3.11, Java 17, Maven.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
# The bench's quix-streams peer lives in its own virtualenv: quixstreams pins confluent-kafka<2.13,
# which would downgrade the connector's librdkafka in $(VENV).
QUIX   := .venv-quix

.PHONY: demo test test-image soak lint unit integration bench bench-rebalance emulator fetch-kafka fetch-helm chromium podman clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aep-connector demo

fetch-kafka: $(STAMP)
	$(BIN)/python -m tests.harness.kafka_broker fetch
	$(BIN)/python -m tests.harness.schema_registry fetch

# helm v3.22.0 for the chart tests, built with the Go toolchain into the test cache.
fetch-helm: $(STAMP)
	$(BIN)/python -m tests.deploy.tools helm

chromium:
	bash scripts/ensure-chromium.sh

podman:
	bash scripts/ensure-podman.sh

lint: $(STAMP)
	$(BIN)/ruff check connector tests bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests -m "not integration and not deploy and not image" $(PYTEST_ARGS)

# The whole suite: lint, types, unit, the real-broker integration tier and the Helm chart (never
# skipped). The container image has its own target (make test-image), which CI also runs.
test: $(STAMP) fetch-kafka fetch-helm chromium lint
	$(BIN)/python -m pytest tests -m "not image" $(PYTEST_ARGS)

# The long soak variants of the reliability tests (fault mixes, kill -9, rebalances under load).
soak: $(STAMP) fetch-kafka
	AEP_SOAK=1 $(BIN)/python -m pytest tests/integration/reliability -m slow $(PYTEST_ARGS)

# The Dockerfile built with podman + runc (a Debian stand-in for the base image, cached) and run
# as its non-root user: check, demo, run against the real broker and the emulator, HEALTHCHECK.
test-image: $(STAMP) fetch-kafka podman
	$(BIN)/python -m tests.deploy.podman base
	$(BIN)/python -m pytest tests/deploy -m image $(PYTEST_ARGS)

$(QUIX)/.installed: bench/peers/requirements-quix.txt | $(STAMP)
	$(PYTHON) -m venv $(QUIX)
	$(QUIX)/bin/python -m pip install --quiet --upgrade pip
	$(QUIX)/bin/python -m pip install --quiet -r bench/peers/requirements-quix.txt
	# the connector's confluent-kafka over quix's pin, so every contender reads Kafka with one librdkafka
	$(QUIX)/bin/python -m pip install --quiet "confluent-kafka==$$($(BIN)/python -c 'import confluent_kafka as c; print(c.__version__)')"
	$(QUIX)/bin/python -c "import quixstreams, confluent_kafka; print('quix-streams', quixstreams.__version__, 'confluent-kafka', confluent_kafka.__version__)"
	touch $@

# Figures next to targets (docs/benchmarks.md); never assertions. BENCH_ARGS="--quick" for a short run.
bench: $(STAMP) fetch-kafka $(QUIX)/.installed
	$(BIN)/python -m bench --quix-python $(QUIX)/bin/python $(BENCH_ARGS)

# Eager vs incremental rebalancing while a group scales 2 -> 4 -> 2 workers (docs/rebalancing.md).
bench-rebalance: $(STAMP) fetch-kafka
	$(BIN)/python -m bench.rebalance $(BENCH_ARGS)

emulator: $(STAMP)
	$(BIN)/aep-connector emulator

clean:
	rm -rf $(VENV) $(QUIX) .cache .mypy_cache .ruff_cache .pytest_cache artifacts
