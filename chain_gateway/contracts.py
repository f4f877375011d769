"""The deployed contracts: calldata encoding, view decoding, custom-error and event decoding.

Errors are decoded by 4-byte selector against the ABI errors of all the platform's contracts, so
a revert surfacing through any contract (the certificate token calling the registry, say) is named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from scf_core.manifest import Manifest

PANIC_SELECTOR = bytes.fromhex("4e487b71")
ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")


def _types(params: list[dict[str, Any]]) -> list[str]:
    return [collapse_if_tuple(p) for p in params]


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(_types(entry.get('inputs', [])))})"


def _jsonable(value: Any, param: dict[str, Any]) -> Any:
    """ABI-decoded value -> JSON-friendly (named structs as dicts, bytes as 0x hex)."""
    typ: str = param["type"]
    if typ.endswith("]"):
        inner = dict(param, type=typ[: typ.rindex("[")])
        return [_jsonable(v, inner) for v in value]
    if typ == "tuple":
        return {c["name"]: _jsonable(v, c) for v, c in zip(value, param["components"], strict=True)}
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if typ == "address":
        return to_checksum_address(value)
    return value


@dataclass
class DecodedError:
    name: str
    args: dict[str, Any]
    contract: str | None = None
    selector: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.name, "args": self.args, "contract": self.contract, "selector": self.selector}


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
    events: dict[bytes, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    by_address: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> ContractSet:
        cs = cls(manifest)
        for name, deployed in manifest.contracts.items():
            address = to_checksum_address(deployed.address)
            cs.addresses[name] = address
            cs.by_address[address.lower()] = name
            for entry in deployed.abi:
                kind = entry.get("type")
                if kind == "function":
                    cs.functions.setdefault((name, entry["name"]), entry)
                elif kind == "error":
                    cs.errors.setdefault(keccak(text=_signature(entry))[:4], (name, entry))
                elif kind == "event" and not entry.get("anonymous"):
                    cs.events.setdefault(keccak(text=_signature(entry)), (name, entry))
        return cs

    def address(self, contract: str) -> str:
        return self.addresses[contract]

    def encode(self, contract: str, fn: str, args: list[Any]) -> str:
        entry = self.functions[(contract, fn)]
        selector = keccak(text=_signature(entry))[:4]
        return "0x" + (selector + abi_encode(_types(entry["inputs"]), args)).hex()

    def decode_output(self, contract: str, fn: str, data: str | bytes) -> Any:
        entry = self.functions[(contract, fn)]
        raw = bytes.fromhex(data[2:]) if isinstance(data, str) else data
        outputs = entry.get("outputs", [])
        values = abi_decode(_types(outputs), raw)
        decoded = [_jsonable(v, p) for v, p in zip(values, outputs, strict=True)]
        return decoded[0] if len(decoded) == 1 else decoded

    def decode_error(self, data: str | bytes | None) -> DecodedError | None:
        if not data:
            return None
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        if len(raw) < 4:
            return None
        selector, body = raw[:4], raw[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                (msg,) = abi_decode(["string"], body)
                return DecodedError("Error", {"message": msg}, None, "0x" + selector.hex())
            if selector == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                return DecodedError("Panic", {"code": code}, None, "0x" + selector.hex())
            if selector in self.errors:
                contract, entry = self.errors[selector]
                inputs = entry.get("inputs", [])
                values = abi_decode(_types(inputs), body)
                args = {
                    (p["name"] or f"arg{i}"): _jsonable(v, p)
                    for i, (v, p) in enumerate(zip(values, inputs, strict=True))
                }
                return DecodedError(entry["name"], args, contract, "0x" + selector.hex())
        except Exception:  # malformed data: report the selector only
            pass
        return DecodedError("Unknown", {"data": "0x" + raw.hex()}, None, "0x" + selector.hex())

    def decode_log(self, log: dict[str, Any]) -> DecodedEvent | None:
        topics = log.get("topics") or []
        if not topics:
            return None
        topic0 = bytes.fromhex(topics[0][2:])
        found = self.events.get(topic0)
        contract = self.by_address.get(str(log.get("address", "")).lower())
        if found is None or contract is None:
            return None
        _, entry = found
        inputs = entry["inputs"]
        indexed = [p for p in inputs if p.get("indexed")]
        plain = [p for p in inputs if not p.get("indexed")]
        if len(topics) - 1 != len(indexed):
            return None  # same signature, other indexing (e.g. ERC-20 vs ERC-721 Transfer)
        args: dict[str, Any] = {}
        for p, t in zip(indexed, topics[1:], strict=True):
            (v,) = abi_decode([collapse_if_tuple(p)], bytes.fromhex(t[2:]))
            args[p["name"]] = _jsonable(v, p)
        values = abi_decode(_types(plain), bytes.fromhex(log["data"][2:]))
        for p, v in zip(plain, values, strict=True):
            args[p["name"]] = _jsonable(v, p)
        return DecodedEvent(contract, entry["name"], args)


def event_topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()
