# Everything a developer or CI runs goes through these targets. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest

.PHONY: help setup run demo-once test lint format test-unit test-integration test-e2e bench reliability \
        stack-up stack-down stack-status contracts profile-import audit

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: ## install uv (if missing) and the locked dependencies, compiled to bytecode
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@# Where PYTHONDONTWRITEBYTECODE is set (as on CI machines) Python never caches what it
	@# compiles, so every service process would compile its imports again: about 2 s of
	@# processor time per start, and the tests start services hundreds of times.
	$(RUN) python -m compileall -q contracts services deploy tests

run: setup ## start the stack and the services, feed a demo organisation, watch (Ctrl-C stops)
	$(RUN) python -m deploy.local.demo

demo-once: setup ## the demo, once, ending with a summary
	$(RUN) python -m deploy.local.demo --once

test: setup lint ## lint, type checks, and every test layer on the real servers (started if needed)
	$(PYTEST) -m "unit or integration or e2e"

audit: setup ## pip-audit of every locked package; fails if any has a known vulnerability or could not be audited
	$(RUN) python -m deploy.dependency_audit

lint: setup ## ruff, formatting, import boundaries between services, mypy (strict)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) mypy

format: setup ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

test-unit: setup ## fast tests, no servers
	$(PYTEST) -m unit

test-integration: setup ## one service or the runtime kit on the real servers
	$(PYTEST) -m integration

test-e2e: setup ## several services together on the real servers
	$(PYTEST) -m e2e

bench: setup ## benchmarks on the real stack, each beside a baseline measured in the same run
	$(RUN) python -m tests.benchmarks.profile_intake
	$(RUN) python -m tests.benchmarks.matching_latency
	$(RUN) python -m tests.benchmarks.scheduling_matches $(SCHEDULING_BENCH_ARGS)
	$(RUN) python -m tests.benchmarks.notification_burst $(NOTIFICATION_BENCH_ARGS)
	$(RUN) python -m tests.benchmarks.email_composition
	$(RUN) python -m tests.benchmarks.notification_sweep
	$(RUN) python -m tests.benchmarks.cohort_round
	$(RUN) python -m tests.benchmarks.recognition_ledger $(RECOGNITION_BENCH_ARGS)
	$(RUN) python -m tests.benchmarks.platform_flow $(PLATFORM_BENCH_ARGS)

reliability: setup ## the platform under load on its own stack: crashes, broker and database restarts, scaling
	$(RUN) python -m tests.reliability $(RELIABILITY_ARGS)

profile-import: setup ## import an HR CSV export: make profile-import CSV=people.csv [DRY_RUN=1]
	@test -n "$(CSV)" || { echo "usage: make profile-import CSV=people.csv [DRY_RUN=1]"; exit 2; }
	$(RUN) python -m services.profile.importer "$(CSV)" $(if $(DRY_RUN),--dry-run,)

contracts: setup ## regenerate JSON Schemas and the AsyncAPI document under contracts/
	$(RUN) python -m contracts.export

stack-up: setup ## provision (cached) and start Kafka, FerretDB and Mailpit on 127.0.0.1
	$(RUN) python -m deploy.local.stack up

stack-down: setup ## stop the servers stack-up started
	$(RUN) python -m deploy.local.stack down

stack-status: setup ## what runs where
	$(RUN) python -m deploy.local.stack status
