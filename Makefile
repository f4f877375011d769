# Every target installs what it needs first: a fresh machine needs only Python 3.11, Node 20 and
# the package registries (PyPI, npm). Nothing is downloaded at run time.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BROWNIE_VENV := .venv-brownie
PY := $(VENV)/bin/python
SOLC_VERSION := 0.8.37
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install chromium build hardhat test test-contracts test-python lint demo bench gas clean

install: $(VENV)/.installed node_modules/.installed $(SOLCX_BINARY_PATH)/solc-v$(SOLC_VERSION)

# The runtime package and its test extra, through pip's resolver with requirements.lock as
# constraints; `pip check` proves the set consistent.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(VENV)/bin/pip check
	touch $@

# brownie (the contract tests' runner) pins its own dependencies: its own venv, its own lock.
$(BROWNIE_VENV)/.installed: requirements-brownie.lock
	$(PYTHON) -m venv $(BROWNIE_VENV)
	$(BROWNIE_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-brownie.lock
	$(BROWNIE_VENV)/bin/pip check
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
	$(VENV)/bin/ruff check scf_core scf chain_gateway indexer portal tests
	$(VENV)/bin/mypy scf_core scf chain_gateway indexer portal
	$(VENV)/bin/lint-imports

# Contract tests: brownie attaches to the anvil started here on 8545.
test-contracts: build $(BROWNIE_VENV)/.installed
	$(PY) -m scf.devchain --port 8545 -- $(BROWNIE_VENV)/bin/brownie test tests/contracts

# The portal's browser tests drive Debian's chromium through Playwright's executable_path
# (Playwright never downloads a browser here); Noto CJK renders the Chinese screens (screenshots).
chromium:
	@{ test -x /usr/bin/chromium && test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc; } || \
	  { apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk; }

# Python tests of the gateway, the indexer, the portal and the tools (each starts its own dev chains).
test-python: build chromium
	$(PY) -m pytest -q tests --ignore=tests/contracts

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
	rm -rf build reports .solcx $(VENV) $(BROWNIE_VENV) node_modules
