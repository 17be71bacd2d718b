# Everything runs from the project root; the embedded defaults live under ./var.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Exact versions and hashes of every dependency (the set CI passes with); `make lock`
# regenerates it. Installs refuse any file whose hash is not in it (--require-hashes).
LOCK := requirements.lock
UV := $(shell command -v uv 2>/dev/null)
# The installers the Makefile itself installs, pinned like everything else.
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
# While `make stack` runs, every command reads its variables from var/stack.env.
STACK_ENV := var/stack.env
ifneq ($(wildcard $(STACK_ENV)),)
include $(STACK_ENV)
export $(shell sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' $(STACK_ENV))
endif
export MLOPS_HOME ?= $(CURDIR)/var
export DAGSTER_HOME ?= $(CURDIR)/var/dagster
export TF_CPP_MIN_LOG_LEVEL ?= 2
# MLflow's telemetry (on by default) reports to an outside server: off for everything make starts.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install lock demo dev test test-fast mutate bench mlflow-ui lint clean stack stack-down health \
	serve rollback image docs

$(BIN)/.installed: pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' \
		2>/dev/null || { echo "mlops_assets needs Python 3.11 or 3.12 but '$(PYTHON)' is \
	$$($(PYTHON) --version 2>&1 || echo missing): install one and run \
	make PYTHON=python3.11 (or python3.12)" >&2; exit 1; }
	@echo "Installing mlops_assets with TensorFlow, Dagster and MLflow (about 2.6 GB) into \
	$(VENV) from $(LOCK) with $(if $(UV),uv,pip)$(if $(UV),, (install uv to make this faster))..."
	@start=$$(date +%s); set -e; \
	$(PYTHON) -m venv $(VENV); \
	$(if $(UV),,$(BIN)/pip install --quiet pip==$(PIP_VERSION);) \
	$(if $(UV),$(UV) pip install --quiet --python $(BIN)/python,$(BIN)/pip install --quiet) \
		--require-hashes -r $(LOCK); \
	$(if $(UV),$(UV) pip install --quiet --python $(BIN)/python,$(BIN)/pip install --quiet) \
		--no-deps -e .; \
	echo "Installed in $$(( $$(date +%s) - start )) s."
	@touch $@

install: $(BIN)/.installed

## Regenerates requirements.lock (versions and hashes) from pyproject.toml, and the MLflow image's
## deploy/mlflow/requirements.txt, keeping the versions already pinned (uv pip compile;
## `--upgrade` moves every pin). Fetches uv into .venv if missing.
lock:
	@uv="$(or $(UV),$(BIN)/uv)"; \
	if [ ! -x "$$uv" ]; then $(PYTHON) -m venv $(VENV) && \
		$(BIN)/pip install --quiet uv==$(UV_VERSION); fi; \
	"$$uv" pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o $(LOCK); \
	"$$uv" pip compile deploy/mlflow/requirements.in --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --generate-hashes --quiet \
		-o deploy/mlflow/requirements.txt

# The registry pool's limit is stored in the instance: one promoting run at a time from the start.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	cp deploy/dagster-local.yaml $@
	$(BIN)/dagster instance concurrency set mlops_registry 1

## Replay two years of confirmed tasks month by month; prints the table, writes var/replay.
demo: install | $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/mlops-assets demo

## Dagster UI on http://127.0.0.1:3000 with the same instance as `make demo`.
dev: install | $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

## MLflow UI on http://127.0.0.1:5000 over the embedded tracking store.
mlflow-ui: install
	$(BIN)/mlflow ui --host 127.0.0.1 --port 5000 \
		--backend-store-uri sqlite:///$(MLOPS_HOME)/mlflow.db \
		--default-artifact-root file://$(MLOPS_HOME)/mlartifacts

## Inference server on http://127.0.0.1:8000 (OpenAPI at /docs), serving the registry's @champion.
serve: install
	$(BIN)/python -m mlops_assets.serving

## Move @champion back to the version it replaced; the server follows (MLOPS_SERVING_URL) or polls.
rollback: install
	$(BIN)/mlops-assets rollback

## Every test tier (unit, model, integration, ui). pytest's exit 5 (nothing collected) is a failure.
## The browser tier runs in a pytest process of its own: its session fixture replays months
## in-process, and what earlier tests leave in a process must not reach that replay.
test: install
	@rc=0; for tier in "not ui" "ui"; do \
		echo "== pytest -m '$$tier'"; \
		$(BIN)/pytest -m "$$tier" -p no:cacheprovider; r=$$?; \
		if [ $$r -eq 5 ]; then echo "pytest collected no tests for -m '$$tier'" >&2; fi; \
		if [ $$r -ne 0 ]; then rc=$$r; fi; \
	done; exit $$rc

## The fast tier only, for the edit-test loop.
test-fast: install
	$(BIN)/pytest -m "not integration and not model and not ui"

## Mutation testing of the champion's moves (promotion, gates, rollback, monitor policy) and the server's
## reloader against their tests (mutmut; [tool.mutmut] in pyproject.toml); lists the survivors.
## Long: narrow it with a mutant name, e.g. `make mutate MUTANTS='mlops_assets.retraining.monitor_policy*'`.
mutate: install
	$(BIN)/mutmut run $(MUTANTS); $(BIN)/mutmut results

## Every benchmark; each writes bench/results/<name>.json.
bench: install
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

## The production stack as processes on 127.0.0.1: SeaweedFS S3 (:8333), the MLflow server on
## PostgreSQL or MySQL (:5000), dagster dev (:3000) on PostgreSQL; writes var/stack.env.
## The inference server is started by mlops_assets/tools/stack.py.
stack: install
	$(BIN)/python -m mlops_assets.tools.stack up

## The one image (Dockerfile) of the code location, webserver, daemon, Celery workers and
## inference server; deploy/docker-compose.yml and deploy/k8s/ run it. Needs docker.
IMAGE ?= mlops-assets:dev
image:
	@docker info >/dev/null 2>&1 || { echo "make image needs docker with a running engine" >&2; exit 1; }
	docker build -t $(IMAGE) .

## Stops what `make stack` started and removes var/stack.env.
stack-down:
	$(BIN)/python -m mlops_assets.tools.stack down

## Which backend each concern uses and whether it answers (exit 1 if one does not).
health: install
	$(BIN)/mlops-assets health

## The documentation site (docs/, mkdocs.yml) into site/: --strict fails on a broken link or
## anchor; the configuration, fleet-file and HTTP API pages are generated from the code.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

## ruff, and the one-way import layers of pyproject.toml (docs/layout.md).
lint: install
	$(BIN)/ruff check mlops_assets mlops_assets_tests bench examples
	$(BIN)/ruff format --check mlops_assets mlops_assets_tests bench examples
	$(BIN)/lint-imports

clean:
	rm -rf var site
