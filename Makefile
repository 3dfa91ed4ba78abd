# Every target bootstraps what is missing first: a virtual environment in .venv with the pinned
# dependencies (pyproject.toml + constraints.txt). Nothing else needs installing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROLE ?= admin
PROGRAMME ?=
PYTEST_ARGS ?=
# make test runs the suite in this many processes (pytest-xdist); TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2

.PHONY: bootstrap run test test-slow test-all test-unit test-integration test-e2e test-fuzz lint format token bench clean rebuild redrive dead-letters erase-streams verify-audit rotate-keys

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

bootstrap: $(STAMP)

# make run: the system with a demo (a simulated jobcenter, 150 citizens, two years); DEMO=0: empty.
DEMO ?= 1
run: bootstrap
	DEMO=$(DEMO) $(PY) -m deploy.run_local

# --durations: the slowest tests, so the suite's 15-minute budget stays visible (docs/testing.md).
test: bootstrap
	$(PY) -m pytest -n $(TEST_WORKERS) --durations=25 $(PYTEST_ARGS)

# The slow tests (marker slow, left out of make test, which keeps a run of every fault kind): the API
# fuzzer's default run and the PostgreSQL runs of the longest fault and property tests.
test-slow: bootstrap
	$(PY) -m pytest -n $(TEST_WORKERS) -m slow $(PYTEST_ARGS)

# make test and make test-slow in one run (not the fuzzer's long run: make test-fuzz).
test-all: bootstrap
	$(PY) -m pytest -n $(TEST_WORKERS) -m 'not fuzz_long' $(PYTEST_ARGS)

test-unit: bootstrap
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: bootstrap
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: bootstrap
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# The API fuzzer's long run (marker fuzz_long, left out of make test): many more cases per operation.
test-fuzz: bootstrap
	$(PY) -m pytest -m fuzz_long tests/integration/test_api_fuzz.py $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs services deploy tests bench
	$(VENV)/bin/lint-imports

format: bootstrap
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# make bench: every benchmark and one table (bench/results/latest.json); BENCH_ARGS=--quick for a smoke run.
bench: bootstrap
	$(PY) -m bench.run_all $(BENCH_ARGS)

# Operations on a service's database and the stream (see deploy/ops/); settings from the environment.
SERVICE ?= settlement
rebuild: bootstrap
	$(PY) -m deploy.ops rebuild $(SERVICE) $(if $(REPLACE),--replace,)

redrive: bootstrap
	$(PY) -m deploy.ops redrive $(SERVICE) $(foreach id,$(IDS),--id $(id))

dead-letters: bootstrap
	$(PY) -m deploy.ops dead-letters $(SERVICE)

# Delete erased citizens' messages from the stream and the dead letters (deploy/ops/erase_streams.py), as
# the NATS user eraser: once; EVERY=SECONDS keeps it running (make run starts it so).
erase-streams: bootstrap
	$(PY) -m deploy.ops erase-streams $(if $(EVERY),--every $(EVERY),--once)

# Check a service's read audit chain: "intact", or the first broken row's seq (exit status 1).
verify-audit: bootstrap
	$(PY) -m deploy.ops verify-audit --service $(SERVICE)

# Re-encrypt every stored CPR and recompute every pseudonym under intake's current keys (docs/security.md).
rotate-keys: bootstrap
	$(PY) -m services.intake.rotate_keys

# A development token from the issuer `make run` serves (key under var/issuer/); refused in production.
token: bootstrap
	@$(PY) -m libs.common.devtoken token --role $(ROLE) $(if $(PROGRAMME),--programme $(PROGRAMME),)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
