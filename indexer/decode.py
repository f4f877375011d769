"""Log decoding: (address, topic0, topics) -> precomputed decoder (``scf_core.abi``'s fast
static-word decoder, addresses in lower case), built once from the manifest's ABIs."""

from __future__ import annotations

import logging
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
                try:
                    dec = abi.event_decoder(cname, item, checksum=False)
                except ValueError:  # an event the indexer cannot decode is one it does not use
                    logger.info("not decoding %s.%s (indexed dynamic parameters)", cname, item["name"])
                    continue
                self.by_key[(address, dec.topic0, 1 + len(dec.indexed))] = dec

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
