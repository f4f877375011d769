"""Log decoding: (address, topic0, topics) -> precomputed decoder (``scf_core.abi``'s fast
static-word decoder, addresses in lower case), built once from the manifest's ABIs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scf_core import abi
from scf_core.abi import EventDecoder
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


def _word(typ: str, word: str) -> str:
    """A Python expression decoding `word` (an expression giving 32 bytes) of ABI type `typ`: the
    operations of `scf_core.abi`'s word decoders (checksum=False), inlined."""
    if typ == "address":
        return f"'0x' + {word}[12:].hex()"
    if typ == "bool":
        return f"{word}[31] != 0"
    if typ.startswith("bytes"):
        return f"'0x' + {word}[:{int(typ[5:])}].hex()"
    if typ.startswith("uint"):
        return f"int.from_bytes({word}, 'big')"
    if typ.startswith("int"):
        return f"int.from_bytes({word}, 'big', signed=True)"
    raise ValueError(f"{typ} is not a static ABI type")


def inline_decoder(dec: EventDecoder, entry: dict[str, Any]) -> Callable[[list[bytes], bytes], dict[str, Any]]:
    """`dec.decode` as one generated function (a dict display of one expression per parameter):
    the same values without its per-parameter loop and calls (tests/indexer/test_indexer_decode.py
    proves it equal). `dec.decode` itself for data with dynamic types (eth_abi)."""
    if dec.data_static is None:
        return dec.decode
    indexed = [p["type"] for p in entry["inputs"] if p.get("indexed")]
    items = [f"{name!r}: {_word(typ, f't[{i + 1}]')}" for i, ((name, _), typ) in enumerate(
        zip(dec.indexed, indexed, strict=True))]
    items += [f"{p['name']!r}: {_word(p['type'], f'd[{32 * i}:{32 * i + 32}]')}" for i, p in enumerate(dec.data_params)]
    n = 32 * len(dec.data_params)
    src = (
        "def decode(t, d):\n"
        f"    if len(t) != {1 + len(indexed)}:\n"
        f"        raise ValueError(f'{{len(t)}} topics, expected {1 + len(indexed)}')\n"
        f"    if len(d) != {n}:\n"
        f"        raise ValueError(f'{{len(d)}} data bytes, expected {n}')\n"
        f"    return {{{', '.join(items)}}}\n"
    )
    scope: dict[str, Any] = {}
    exec(src, scope)  # noqa: S102 - generated from the ABI's static types; names quoted with repr
    fn: Callable[[list[bytes], bytes], dict[str, Any]] = scope["decode"]
    return fn


class Decoder:
    """Decodes raw JSON-RPC logs of the manifest's contracts into `Event`s."""

    def __init__(self, manifest: Manifest) -> None:
        # (address, topic0, number of topics) -> decoder: ERC-20 and ERC-721 Transfer share topic0
        self.by_key: dict[tuple[str, bytes, int], EventDecoder] = {}
        self.inline: dict[tuple[str, bytes, int], Callable[[list[bytes], bytes], dict[str, Any]]] = {}
        self.addresses: list[str] = []
        for cname, deployed in manifest.contracts.items():
            address = deployed.address.lower()
            self.addresses.append(address)
            for item in deployed.abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                try:
                    dec = abi.event_decoder(cname, item, checksum=False)
                except ValueError:  # an event the indexer cannot decode is one it does not use
                    logger.info("not decoding %s.%s (indexed dynamic parameters)", cname, item["name"])
                    continue
                key = (address, dec.topic0, 1 + len(dec.indexed))
                self.by_key[key] = dec
                self.inline[key] = inline_decoder(dec, item)

    def decode(self, log: dict[str, Any]) -> Event | None:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        if not topics:
            return None
        key = (log["address"].lower(), topics[0], len(topics))
        dec = self.by_key.get(key)
        if dec is None:
            return None
        try:
            args = self.inline[key](topics, bytes.fromhex(log["data"][2:]))
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
