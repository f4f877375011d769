"""The deployed contracts: calldata encoding, view decoding, custom-error and event decoding
(``scf_core.abi``; addresses checksummed).

Errors are decoded by 4-byte selector against the ABI errors of all the platform's contracts, so
a revert surfacing through any contract (the certificate token calling the registry, say) is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from scf_core import abi
from scf_core.abi import DecodedError, EventDecoder
from scf_core.manifest import Manifest


@dataclass
class DecodedEvent:
    contract: str
    name: str
    args: dict[str, Any]


@dataclass
class ContractSet:
    manifest: Manifest
    addresses: dict[str, str] = field(default_factory=dict)
    functions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    errors: dict[bytes, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    events: dict[tuple[str, bytes], EventDecoder] = field(default_factory=dict)  # (contract, topic0)
    by_address: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ContractSet:
        cs = cls(manifest)
        cs.errors = abi.error_table((name, deployed.abi) for name, deployed in manifest.contracts.items())
        for name, deployed in manifest.contracts.items():
            address = to_checksum_address(deployed.address)
            cs.addresses[name] = address
            cs.by_address[address.lower()] = name
            for entry in deployed.abi:
                kind = entry.get("type")
                if kind == "function":
                    cs.functions.setdefault((name, entry["name"]), entry)
                elif kind == "event" and not entry.get("anonymous"):
                    try:
                        dec = abi.event_decoder(name, entry)
                    except ValueError:  # indexed dynamic parameters: not an event of the platform
                        continue
                    cs.events.setdefault((name, dec.topic0), dec)
        return cs

    def address(self, contract: str) -> str:
        return self.addresses[contract]

    def encode(self, contract: str, fn: str, args: list[Any]) -> str:
        return abi.encode_call(self.functions[(contract, fn)], args)

    def decode_output(self, contract: str, fn: str, data: str | bytes) -> Any:
        return abi.decode_output(self.functions[(contract, fn)], data)

    def decode_error(self, data: str | bytes | None) -> DecodedError | None:
        return abi.decode_error(data, self.errors)

    def decode_log(self, log: dict[str, Any]) -> DecodedEvent | None:
        topics = [bytes.fromhex(t[2:]) for t in log.get("topics") or []]
        if not topics:
            return None
        contract = self.by_address.get(str(log.get("address", "")).lower())
        if contract is None:
            return None
        # by the emitting contract's own ABI: ERC-20 and ERC-721 `Transfer` share topic0
        dec = self.events.get((contract, topics[0]))
        if dec is None or len(topics) != 1 + len(dec.indexed):
            return None
        return DecodedEvent(contract, dec.name, dec.decode(topics, bytes.fromhex(log["data"][2:])))
