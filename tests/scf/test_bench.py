"""The benchmarks' counting (not their timing): spreads, windows and percentiles of the soak, the
workload generator's picture of the book from decoded events, the lean client's calldata."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from eth_utils import keccak

from scf.bench import gateway, soak
from scf.bench.workload import Book


def test_spread_is_median_with_min_and_max() -> None:
    assert gateway.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": [3.0, 1.0, 2.0]}


def test_soak_window_counts_only_its_answers() -> None:
    done = [(0.5, 0.1, True), (1.2, 0.2, True), (1.5, 0.3, False), (2.5, 0.4, True)]
    w = soak.window_stats(done, 1.0, 2.0)
    assert w["answered"] == 2 and w["failed"] == 1 and w["ops_per_s"] == 1.0
    assert w["p50_ms"] == 300.0 and w["p99_ms"] == 300.0
    assert soak.window_stats([], 0, 1)["p95_ms"] is None
    assert soak.percentile([float(i) for i in range(100)], 0.95) == 95.0


def test_split_calldata_is_the_abi_encoding() -> None:
    data = gateway.split_calldata(7, "0x" + "ab" * 20, 5)
    raw = bytes.fromhex(data[2:])
    assert raw[:4] == keccak(text="splitTransfer(uint256,address,uint256,bytes32)")[:4]
    assert len(raw) == 4 + 4 * 32
    assert int.from_bytes(raw[4:36], "big") == 7 and raw[48:68] == bytes.fromhex("ab" * 20)
    assert int.from_bytes(raw[68:100], "big") == 5


def _ev(contract: str, name: str, **args: Any) -> Any:
    return SimpleNamespace(contract=contract, name=name, args=args)


def test_workload_book_follows_the_events() -> None:
    b = Book()
    a, c, f = "0x" + "a" * 40, "0x" + "c" * 40, "0x" + "f" * 40
    for ev in (
        _ev("CertificateToken", "CertificateIssued", certificateId=1, debtor=c, payee=a, faceValue=100, tokenId=1),
        _ev("CertificateToken", "HoldingCreated", tokenId=1, certificateId=1, owner=a),
        _ev("CertificateToken", "TransferValue", _fromTokenId=0, _toTokenId=1, _value=100),
        _ev("CertificateToken", "CertificateStatusChanged", certificateId=1, status=2),
        _ev("CertificateToken", "HoldingCreated", tokenId=2, certificateId=1, owner=f),
        _ev("CertificateToken", "TransferValue", _fromTokenId=1, _toTokenId=2, _value=30),
        _ev("CertificateToken", "HoldingFrozen", tokenId=2, frozen=True),
        _ev("Financing", "OfferCreated", offerId=4, tokenId=1, factor=f, seller=a),
        _ev("Financing", "OfferCancelled", offerId=4),
        _ev("CertificateToken", "Transfer", tokenId=1, **{"from": a, "to": "0x" + "0" * 40}),
    ):
        b.apply(ev)
    assert b.certs[1]["status"] == 2
    assert set(b.holdings) == {2} and b.holdings[2] == {"cert": 1, "owner": f, "value": 30, "frozen": True}
    assert b.offers == {}
    assert b.events["CertificateToken.TransferValue"] == 2 and sum(b.events.values()) == 10


def test_soak_failure_summary_counts_by_status_and_code() -> None:
    failures = [
        {"status": 503, "code": "NODE_UNAVAILABLE", "message": "the chain node is unavailable"},
        {"status": 202, "code": None, "state": "submitted"},
        {"status": 503, "code": "NODE_UNAVAILABLE", "message": "the chain node is unavailable"},
        {"status": None, "code": "ServerDisconnectedError", "message": "Server disconnected"},
    ]
    s = soak.failure_summary(failures)
    assert s["count"] == 4
    assert s["by_status_and_code"] == {"503 NODE_UNAVAILABLE": 2, "202 submitted": 1,
                                       "None ServerDisconnectedError": 1}
    assert s["first"] == failures
    assert soak.failure_summary([{"status": 500, "code": "X"}] * 12)["first"] == [{"status": 500, "code": "X"}] * 10


def test_node_growth_adds_what_it_measures() -> None:
    from scf import devchain
    from scf.bench import node_growth
    from scf_core.rpc import Rpc

    for kind in ("accounts", "storage_slots"):
        rows = node_growth.measure(kind, [20, 0])
        assert [r[kind] for r in rows] == [0, 20]
    with devchain.running() as chain:
        rpc = Rpc(chain.url)
        node_growth.grow(rpc, "accounts", 0, 2_500)  # three batches, the last one partial
        node_growth.grow(rpc, "storage_slots", 0, 2_500)
        for i in (0, 1_999, 2_000, 2_499):
            assert rpc.call("eth_getBalance", node_growth.account(i), "latest") == "0x1"
            assert int(rpc.call("eth_getStorageAt", node_growth.CONTRACT, node_growth.slot(i), "latest"), 16) == 1
        assert rpc.call("eth_getBalance", node_growth.account(2_500), "latest") == "0x0"
        rpc.close()
