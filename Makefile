# crochet-messaging: `make dev` runs the whole stack locally, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev dev-large dev-reset test lint unit integration e2e fuzz bench bench-load token openapi clean
.PHONY: deploy urls package destroy check-infra

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install everything (once; again when requirements change)

# The browser e2e test drives Debian's Chromium through Playwright (Playwright's own browser download
# cannot work here). Installed once, when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

dev: install ## Run the whole stack locally on moto (REST API, WebSocket gateway, demo data, tokens); data kept in DEV_DATA_DIR
	$(BIN)/python -m dev.stack

dev-large: install ## make dev with a realistic data set: alice with 10,000 conversations, 100,000 messages with bob
	DEV_SEED=large $(BIN)/python -m dev.stack

dev-reset: install ## Empty the dev stack's data folder (DEV_DATA_DIR, default .dev/data): the next make dev starts afresh
	$(BIN)/python -m dev.data_dir reset

test: install $(CHROMIUM) lint ## Lint, then every test (unit, integration on moto, e2e on the local stack)
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

e2e: install $(CHROMIUM)
	$(BIN)/python -m pytest tests/e2e

# USER is also the login name in every shell: only a USER given on the command line names the token's user.
TOKEN_USER := $(if $(filter command line,$(origin USER)),$(USER),alice)
token: install ## Print a dev token: make token USER=alice [ROLE=service] [TTL=60 | TTL=5m | TTL=2h]
	@$(BIN)/python -m dev.token $(TOKEN_USER) $(if $(ROLE),--role $(ROLE)) $(if $(TTL),--ttl $(TTL))

FUZZ_EXAMPLES ?= 500
fuzz: install ## Fuzz the local stack with schemathesis, longer than CI does: make fuzz [FUZZ_EXAMPLES=500]
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/e2e/test_fuzz.py

bench: install ## Cost and latency per operation at three data sizes, cold start, zip size -> bench/RESULTS.md
	$(BIN)/python -m bench.run

bench-load: install ## Many WebSocket clients through the local stack: exactly-once delivery, latency, throughput
	$(BIN)/python -m bench.load

openapi: install ## Regenerate docs/openapi.json from the routes and models
	$(BIN)/python -m chalicelib.api.openapi > docs/openapi.json

# --- AWS deployment (infrastructure/README.md). STAGE only from the command line: a stray exported STAGE
# never picks the stage to deploy or destroy.
DEPLOY_STAGE := $(if $(filter command line,$(origin STAGE)),$(STAGE),dev)

deploy: install ## Deploy a stage: tables and bucket (CloudFormation), then chalice deploy, then its URLs: make deploy STAGE=dev
	$(BIN)/python -m infrastructure.deploy deploy --stage $(DEPLOY_STAGE)

urls: install ## Print a deployed stage's REST and WebSocket URLs: make urls STAGE=dev
	$(BIN)/python -m infrastructure.deploy urls --stage $(DEPLOY_STAGE)

package: install ## chalice package: SAM template and zips in build/package/<stage>: make package STAGE=dev
	$(BIN)/python -m infrastructure.package --stage $(DEPLOY_STAGE) --out build/package/$(DEPLOY_STAGE)

destroy: install ## Delete a stage with its data (never prod): make destroy STAGE=dev
	$(BIN)/python -m infrastructure.deploy destroy --stage $(DEPLOY_STAGE)

check-infra: install ## cfn-lint the template, then the infrastructure tests (moto stack, policies, package); also in make test
	$(BIN)/cfn-lint infrastructure/template.yaml
	$(BIN)/python -m pytest tests/infrastructure

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build .dev
