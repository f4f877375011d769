"""Where things live in a checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
NODE_MODULES = ROOT / "node_modules"
SOLC_SHIM = ROOT / "solc" / "solc-shim.js"
BUILD = ROOT / "build"
ARTIFACTS = BUILD / "contracts.json"
ANVIL = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
