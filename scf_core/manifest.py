"""The deployment manifest: what `scf/deploy.py` writes and the gateway and indexer read.

```json
{"chain_id": 31337, "deployment_block": 1, "operator": "0x...", "solc_version": "0.8.37",
 "evm_version": "paris",
 "contracts": {"Membership": {"address": "0x...", "abi": [...]}, "CertificateToken": {...},
               "SettlementToken": {...}, "Financing": {...}, "Settlement": {...}}}
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

CONTRACT_NAMES = ("Membership", "SettlementToken", "CertificateToken", "Financing", "Settlement")


class DeployedContract(BaseModel):
    address: str
    abi: list[dict[str, Any]]


class Manifest(BaseModel):
    chain_id: int
    deployment_block: int
    operator: str
    solc_version: str
    evm_version: str
    contracts: dict[str, DeployedContract]

    def contract(self, w3: Any, name: str) -> Any:
        """A web3 contract object bound to `w3`."""
        deployed = self.contracts[name]
        return w3.eth.contract(address=deployed.address, abi=deployed.abi)

    def address_to_name(self) -> dict[str, str]:
        return {c.address.lower(): name for name, c in self.contracts.items()}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        return cls.model_validate(json.loads(Path(path).read_text()))
