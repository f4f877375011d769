"""Log decoding: topic0 -> precomputed decoder, built once from the manifest's ABIs.

Every event of the platform has only static parameters (uint, address, bool, bytes32, enums), so
the decoder slices 32-byte words directly; events with dynamic parameters fall back to eth_abi.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from scf_core.manifest import Manifest

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Event:
    contract: str  # manifest name: Membership, CertificateToken, ...
    name: str  # event name
    args: dict[str, Any]
    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    timestamp: int | None


def _word_decoder(typ: str) -> Callable[[bytes], Any]:
    if typ == "address":
        return lambda w: "0x" + w[12:].hex()
    if typ == "bool":
        return lambda w: w[31] != 0
    if typ.startswith("bytes") and typ != "bytes":
        n = int(typ[5:])
        return lambda w: "0x" + w[:n].hex()
    if typ.startswith("uint"):
        return lambda w: int.from_bytes(w, "big")
    if typ.startswith("int"):
        return lambda w: int.from_bytes(w, "big", signed=True)
    raise ValueError(typ)


def _is_static(typ: str) -> bool:
    return (
        typ == "address"
        or typ == "bool"
        or typ.startswith(("uint", "int"))
        or (typ.startswith("bytes") and typ != "bytes")
    )


@dataclass(slots=True)
class EventDecoder:
    contract: str
    name: str
    indexed: list[tuple[str, Callable[[bytes], Any]]]
    data_names: list[str]
    data_types: list[str]
    data_static: list[Callable[[bytes], Any]] | None

    def decode(self, topics: list[bytes], data: bytes) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, dec), topic in zip(self.indexed, topics[1:], strict=True):
            args[name] = dec(topic)
        if self.data_static is not None:
            if len(data) != 32 * len(self.data_names):
                raise ValueError(f"{len(data)} data bytes, expected {32 * len(self.data_names)}")
            for i, (name, dec) in enumerate(zip(self.data_names, self.data_static, strict=True)):
                args[name] = dec(data[32 * i : 32 * i + 32])
        elif self.data_names:
            for name, value in zip(self.data_names, abi_decode(self.data_types, data), strict=True):
                args[name] = value
        return args


def _abi_type(inp: dict[str, Any]) -> str:
    typ: str = inp["type"]
    if typ.startswith("tuple"):
        raise ValueError("tuple event parameters are not supported")
    return typ


class Decoder:
    """Decodes raw JSON-RPC logs of the manifest's contracts into `Event`s."""

    def __init__(self, manifest: Manifest) -> None:
        # (address, topic0, number of topics) -> decoder: ERC-20 and ERC-721 Transfer share topic0
        self.by_key: dict[tuple[str, bytes, int], EventDecoder] = {}
        self.addresses: list[str] = []
        for cname, deployed in manifest.contracts.items():
            address = deployed.address.lower()
            self.addresses.append(address)
            for item in deployed.abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item["inputs"]
                try:
                    types = [_abi_type(i) for i in inputs]
                except ValueError:  # an event the indexer cannot decode is one it does not use
                    logger.info("not decoding %s.%s (tuple parameters)", cname, item["name"])
                    continue
                topic0 = keccak(text=f"{item['name']}({','.join(types)})")
                indexed = [(i["name"], _word_decoder(t)) for i, t in zip(inputs, types, strict=True) if i["indexed"]]
                data = [(i["name"], t) for i, t in zip(inputs, types, strict=True) if not i["indexed"]]
                static = all(_is_static(t) for _, t in data)
                dec = EventDecoder(
                    contract=cname,
                    name=item["name"],
                    indexed=indexed,
                    data_names=[n for n, _ in data],
                    data_types=[t for _, t in data],
                    data_static=[_word_decoder(t) for _, t in data] if static else None,
                )
                self.by_key[(address, topic0, 1 + len(indexed))] = dec

    def decode(self, log: dict[str, Any]) -> Event | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics:
            return None
        dec = self.by_key.get((log["address"].lower(), topics[0], len(topics)))
        if dec is None:
            return None
        try:
            args = dec.decode(topics, bytes.fromhex(log["data"][2:]))
        except Exception as exc:  # data not of the ABI's shape: never stops the indexer
            logger.warning(
                "undecodable %s.%s log (%s) in tx %s: skipped", dec.contract, dec.name, exc, log.get("transactionHash")
            )
            return None
        ts = log.get("blockTimestamp")
        return Event(
            contract=dec.contract,
            name=dec.name,
            args=args,
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
            timestamp=int(ts, 16) if ts else None,
        )
