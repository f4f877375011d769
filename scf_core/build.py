"""Compile the platform's contracts with the project's solc shim (npm solc, no download).

Writes ``build/contracts.json``: ``{name: {"abi": [...], "bytecode": "0x..."}}`` for every
deployable contract under ``contracts/`` (tests' helper contracts included).
"""

from __future__ import annotations

import json
from typing import Any

import solcx

from scf_core.paths import ARTIFACTS, CONTRACTS, NODE_MODULES, ROOT, SOLC_SHIM

SOLC_VERSION = "0.8.37"
EVM_VERSION = "paris"  # permissioned networks whose genesis stops at London/Paris: no PUSH0, no MCOPY
OPTIMIZER_RUNS = 200


def standard_input() -> dict[str, Any]:
    # Paths relative to the checkout (the shim resolves them there): the metadata hash in the
    # bytecode then depends on the sources alone, not on where the checkout lies, so anyone can
    # rebuild a deployed contract's bytecode byte for byte.
    sources = {
        str(path.relative_to(ROOT)): {"urls": [str(path.relative_to(ROOT))]}
        for path in sorted(CONTRACTS.rglob("*.sol"))
    }
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "remappings": [f"@openzeppelin/={NODE_MODULES.relative_to(ROOT)}/@openzeppelin/"],
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def compile_contracts() -> dict[str, dict[str, Any]]:
    output = solcx.compile_standard(
        standard_input(), solc_binary=str(SOLC_SHIM), allow_paths=[str(ROOT), str(NODE_MODULES)]
    )
    artifacts: dict[str, dict[str, Any]] = {}
    for source, contracts in output["contracts"].items():
        if not source.startswith("contracts/"):
            continue
        for name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if bytecode:  # skip interfaces and abstract contracts
                artifacts[name] = {"abi": data["abi"], "bytecode": "0x" + bytecode, "source": source}
    return artifacts


def main() -> None:
    artifacts = compile_contracts()
    ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.write_text(json.dumps(artifacts, indent=1))
    print(f"compiled {len(artifacts)} contracts with solc {SOLC_VERSION} (evm {EVM_VERSION}) -> {ARTIFACTS}")


def load_artifacts() -> dict[str, dict[str, Any]]:
    if not ARTIFACTS.exists():
        main()
    data: dict[str, dict[str, Any]] = json.loads(ARTIFACTS.read_text())
    return data


if __name__ == "__main__":
    main()
