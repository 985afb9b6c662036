# crochet-messaging: `make dev` runs the whole stack locally, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev dev-large dev-reset test lint typecheck imports unit integration e2e fuzz bench bench-load token openapi clean
.PHONY: deploy urls package destroy check-infra webhooks-replay
.PHONY: asyncapi lint-openapi typecheck-openapi
.PHONY: scan policies client-js client-js-build client-js-generate

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

dev: install client-js-build ## Run the whole stack locally on moto (REST API, WebSocket gateway, demo data, tokens); data kept in DEV_DATA_DIR
	$(BIN)/python -m dev.stack

dev-large: install client-js-build ## make dev with a realistic data set: alice with 10,000 conversations, 100,000 messages with bob
	DEV_SEED=large $(BIN)/python -m dev.stack

dev-reset: install ## Empty the dev stack's data folder (DEV_DATA_DIR, default .dev/data): the next make dev starts afresh
	$(BIN)/python -m dev.data_dir reset

test: install $(CHROMIUM) lint typecheck imports lint-openapi typecheck-openapi scan client-js ## Lint, type-check, check the layers, scan, build and test the JS client, then every test
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict over chalicelib and app.py (pyproject.toml [tool.mypy])
	$(BIN)/mypy

imports: install ## The layers' import contracts (pyproject.toml [tool.importlinter])
	$(BIN)/lint-imports

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

e2e: install $(CHROMIUM) client-js
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
	$(BIN)/python -m chalicelib.entrypoints.http.openapi > docs/openapi.json

asyncapi: install ## Regenerate docs/asyncapi.yaml and the generated parts of docs/websocket.md from the socket's models
	$(BIN)/python -m chalicelib.entrypoints.ws.asyncapi > docs/asyncapi.yaml
	$(BIN)/python -m chalicelib.entrypoints.ws.asyncapi --websocket-md docs/websocket.md

# The documents as client teams use them (tools/openapi): Redocly's linter, and openapi-typescript's types under tsc.
# Node packages from the committed package-lock.json, installed again when it changes.
NODE_TOOLS := tools/openapi/node_modules/.installed
NODE_BIN := tools/openapi/node_modules/.bin
$(NODE_TOOLS): tools/openapi/package.json tools/openapi/package-lock.json
	npm ci --prefix tools/openapi --no-audit --no-fund
	touch $(NODE_TOOLS)

lint-openapi: $(NODE_TOOLS) ## Redocly's recommended rules over docs/openapi.json and docs/asyncapi.yaml: no error
	$(NODE_BIN)/redocly lint --config tools/openapi/redocly.yaml docs/openapi.json docs/asyncapi.yaml

typecheck-openapi: $(NODE_TOOLS) ## Types generated from docs/openapi.json, then tsc over the client in tools/openapi
	$(NODE_BIN)/openapi-typescript docs/openapi.json -o tools/openapi/generated.d.ts --redocly tools/openapi/redocly.yaml
	$(NODE_BIN)/tsc --noEmit -p tools/openapi

# The JavaScript client @crochet-messaging/client (clients/js; README.md, "Frontend"), installed with npm ci from its
# lockfile (again when it changes). client-js: its generated types match docs/openapi.json and docs/asyncapi.yaml,
# tsc builds it, its unit tests pass, the React example builds; tests/e2e/test_js_client.py (pytest) then runs its
# integration tests and the example against a dev stack.
CLIENT_JS := clients/js
CLIENT_JS_STAMP := $(CLIENT_JS)/node_modules/.installed
$(CLIENT_JS_STAMP): $(CLIENT_JS)/package.json $(CLIENT_JS)/package-lock.json
	npm ci --prefix $(CLIENT_JS) --no-audit --no-fund
	touch $(CLIENT_JS_STAMP)

client-js: $(CLIENT_JS_STAMP) ## The JS client: generated types current, build, unit tests, the React example's build
	npm run --prefix $(CLIENT_JS) --silent check

client-js-build: $(CLIENT_JS_STAMP) ## Build clients/js/dist (the browser reference client of make dev imports it)
	npm run --prefix $(CLIENT_JS) --silent build

client-js-generate: $(CLIENT_JS_STAMP) ## Regenerate clients/js/src/generated/ (after make openapi / make asyncapi)
	npm run --prefix $(CLIENT_JS) --silent generate

# --- AWS deployment (infrastructure/README.md). STAGE only from the command line: a stray exported STAGE
# never picks the stage to deploy or destroy.
DEPLOY_STAGE := $(if $(filter command line,$(origin STAGE)),$(STAGE),dev)

deploy: install ## Deploy a stage: tables and bucket (CloudFormation), then chalice deploy, then its URLs: make deploy STAGE=dev
	$(BIN)/python -m infrastructure.deploy deploy --stage $(DEPLOY_STAGE)

webhooks-replay: install ## Send the webhook events of a stage's dead-letter queue again: make webhooks-replay STAGE=dev (STAGE=local: the dev stack)
	$(BIN)/python -m infrastructure.webhooks_replay --stage $(DEPLOY_STAGE)

urls: install ## Print a deployed stage's REST and WebSocket URLs: make urls STAGE=dev
	$(BIN)/python -m infrastructure.deploy urls --stage $(DEPLOY_STAGE)

package: install ## chalice package: SAM template and zips in build/package/<stage>: make package STAGE=dev
	$(BIN)/python -m infrastructure.package --stage $(DEPLOY_STAGE) --out build/package/$(DEPLOY_STAGE)

destroy: install ## Delete a stage with its data (never prod): make destroy STAGE=dev
	$(BIN)/python -m infrastructure.deploy destroy --stage $(DEPLOY_STAGE)

check-infra: install ## cfn-lint the template, then the infrastructure tests (moto stack, policies, package); also in make test
	$(BIN)/cfn-lint infrastructure/template.yaml
	$(BIN)/python -m pytest tests/infrastructure

# Security scanners (infrastructure/README.md#scanners): bandit from requirements-dev.txt; checkov in its own
# virtualenv (it pins boto3 exactly, which cannot share .venv), created once and again when requirements-scan.txt
# changes. tests/infrastructure/test_package.py runs the same checkov over the SAM template `make package` writes.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
$(SCAN_STAMP): requirements-scan.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $(SCAN_STAMP)

scan: install $(SCAN_STAMP) ## bandit over chalicelib/ and app.py, checkov over infrastructure/template.yaml (skips: .checkov.yaml, # nosec)
	$(BIN)/bandit -q -r chalicelib app.py
	$(SCAN_VENV)/bin/checkov --config-file .checkov.yaml --quiet -f infrastructure/template.yaml

policies: install ## Render .chalice/policy-<stage>.json from infrastructure/policy.py (test_policies.py checks they match)
	$(BIN)/python -m infrastructure.policy

clean:
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache build .dev
