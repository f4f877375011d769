"""Events the indexer does not use, or cannot decode, never stop it (unit level)."""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from indexer import handlers
from indexer.decode import Decoder, Event
from scf_core.manifest import DeployedContract, Manifest

TOKEN = "0x" + "11" * 20


def _ev(name: str, *inputs: tuple[str, str, bool]) -> dict[str, Any]:
    return {
        "type": "event",
        "name": name,
        "anonymous": False,
        "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in inputs],
    }


def _manifest() -> Manifest:
    abi = [
        _ev("SlotChanged", ("_tokenId", "uint256", True), ("_oldSlot", "uint256", True), ("_newSlot", "uint256", True)),
        _ev("Weird", ("who", "address", True), ("pair", "tuple", False)),  # tuple parameter: not decoded
        _ev("Flag", ("on", "bool", False)),
    ]
    abi[1]["inputs"][1]["components"] = [{"name": "a", "type": "uint256"}, {"name": "b", "type": "uint256"}]
    return Manifest(
        chain_id=1,
        deployment_block=1,
        operator=TOKEN,
        solc_version="0",
        evm_version="paris",
        contracts={"CertificateToken": DeployedContract(address=TOKEN, abi=abi)},
    )


def _log(topics: list[bytes], data: bytes = b"") -> dict[str, Any]:
    return {
        "address": TOKEN,
        "topics": ["0x" + t.hex() for t in topics],
        "data": "0x" + data.hex(),
        "blockNumber": "0x5",
        "blockHash": "0x" + "ab" * 32,
        "logIndex": "0x0",
        "transactionHash": "0x" + "cd" * 32,
    }


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_unknown_undecodable_and_malformed_events_are_skipped() -> None:
    dec = Decoder(_manifest())  # a tuple-parameter event in the ABI does not stop start-up
    unknown = keccak(text="SomethingNew(uint256)")
    assert dec.decode(_log([unknown, _word(1)])) is None
    weird = keccak(text="Weird((uint256,uint256),address)")
    assert dec.decode(_log([weird, _word(1)], _word(1) + _word(2))) is None
    flag = keccak(text="Flag(bool)")
    assert dec.decode(_log([flag], b"\x01")) is None  # data shorter than the ABI says
    ok = dec.decode(_log([flag], _word(1)))
    assert ok is not None and ok.args == {"on": True}


def test_burn_slot_changed_to_zero_keeps_the_certificate() -> None:
    ws = handlers.WorkSet(None)
    ws.load("holding", 7, {"token_id": 7, "certificate_id": 3, "status": "live", "value": 0, "updated_block": 1})
    ev = Event("CertificateToken", "SlotChanged", {"_tokenId": 7, "_oldSlot": 3, "_newSlot": 0}, 9, "0x", 0, "0x", 1)
    assert handlers.apply(ws, [ev]) == 1
    assert ws.rows["holding"][7]["certificate_id"] == 3
