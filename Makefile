# Every target installs what it needs first: a fresh machine needs only Python 3.11, Node 20 and
# the package registries (PyPI, npm). Nothing is downloaded at run time.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SOLC_VERSION := 0.8.37
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install build hardhat test test-contracts test-python lint demo bench gas clean

install: $(VENV)/.installed .venv-fuzz/.installed node_modules/.installed $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION)

# Exact pins in requirements.lock agree with eth-brownie's; --no-deps skips the resolver, which
# would refuse pydantic-settings beside brownie's python-dotenv pin.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# schemathesis (the gateway's OpenAPI fuzz) needs a newer hypothesis than brownie pins: own venv.
.venv-fuzz/.installed: requirements-fuzz.lock
	$(PYTHON) -m venv .venv-fuzz
	.venv-fuzz/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-fuzz.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --no-save
	touch $@

# brownie and py-solc-x find the compiler as solc-v<version> in $SOLCX_BINARY_PATH
$(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION): solc/solc-shim.js node_modules/.installed
	mkdir -p $(SOLCX_BINARY_PATH)
	ln -sf $(CURDIR)/solc/solc-shim.js $@

build: install
	$(PY) -m scf_core.build

lint: install
	$(VENV)/bin/ruff check scf_core scf chain_gateway indexer tests
	$(VENV)/bin/mypy scf_core scf chain_gateway indexer
	$(VENV)/bin/lint-imports

# Contract tests: brownie attaches to the anvil started here on 8545.
test-contracts: build
	$(PY) -m scf.devchain --port 8545 -- $(VENV)/bin/brownie test tests/contracts

# Python tests of the gateway, the indexer and the tools (each starts its own dev chains).
test-python: build
	$(PY) -m pytest -p no:pytest-brownie -q tests --ignore=tests/contracts

# Hardhat 2 compiles the same sources with the local soljson (a check that both toolchains agree).
hardhat: install
	npx hardhat compile --quiet

test: lint hardhat test-contracts test-python

demo: build
	$(PY) -m scf.cli demo

bench: build
	$(PY) -m scf.cli bench

gas: build
	$(PY) -m scf.bench.gas_table

clean:
	rm -rf build reports .solcx $(VENV) .venv-fuzz node_modules
