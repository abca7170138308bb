# The operator contract (../shared/ARCHITECTURE.md): up, down, test, demo, bench.
# Everything runs from the project's own virtual environment, created on first use from
# requirements.lock (pinned with hashes) plus the workspace packages installed editable.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.installed
MEMBERS := shared/schemas shared/platform shared/devstack shared/dashboard services/referral services/eligibility services/billing services/quality
PYPROJECTS := pyproject.toml $(addsuffix /pyproject.toml,$(MEMBERS))

.PHONY: install up down status test browser deploy-tools demo bench lock schemas lint faults

install: $(STAMP)

$(STAMP): requirements.lock $(PYPROJECTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps $(addprefix -e ,$(MEMBERS))
	touch $(STAMP)

up: install
	$(BIN)/hearth up

down:
	@if [ -x $(BIN)/hearth ]; then $(BIN)/hearth down; else echo "nothing to stop (no .venv)"; fi

status: install
	$(BIN)/hearth status

test: install browser deploy-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The fault suite at full size (tests/integration/faults): more load, the broker away for 30 s.
# `make test` runs the same tests bounded (HEARTH_FAULTS=bounded: small load, 5 s outages).
faults: install
	HEARTH_FAULTS=full $(BIN)/python -m pytest tests/integration/faults -s -q --durations=0 $(PYTEST_ARGS)

# Headless Chromium and its driver (Debian packages) for the dashboard's browser test.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
	    $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }; }

# kubectl (its built-in kustomize) and docker-compose (Debian packages) for tests/deploy, which
# render and validate the Kubernetes manifests and docker-compose.yml (no cluster or engine needed).
deploy-tools:
	@missing=; command -v kubectl >/dev/null || missing=kubernetes-client; \
	  command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	  [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; \
	    $$SUDO apt-get install -y -q $$missing >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q $$missing >/dev/null 2>&1; }; }

demo: install
	$(BIN)/hearth demo $(DEMO_ARGS)

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && SUDO= || SUDO=sudo; $$SUDO apt-get install -y -q wrk >/dev/null 2>&1; }
	$(BIN)/python -m bench $(BENCH_ARGS)

# Regenerate the event JSON Schemas and the AsyncAPI document from the pydantic models.
schemas: install
	$(BIN)/python -m hearth_schemas.generate

lint: install
	$(BIN)/ruff check .

# Re-pin third-party dependencies (needs the registry); the output records no download addresses.
lock: install
	$(BIN)/uv pip compile requirements.in --generate-hashes --python-version 3.11 -o requirements.lock
