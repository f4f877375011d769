"""Lineage stays exact whatever call moves value: replaying the events alone (HoldingCreated,
TransferValue, Transfer, HoldingTransferred) rebuilds every holding's owner, value, parent and
tier, as the indexer does."""

from conftest import h32


def replay(txs):
    holdings = {}
    for tx in txs:
        for e in tx.events:
            if e.name == "HoldingCreated":
                holdings[e["tokenId"]] = {
                    "cert": e["certificateId"], "owner": e["owner"], "value": 0,
                    "parent": e["parentTokenId"], "tier": e["tier"],
                }
            elif e.name == "TransferValue":
                src, dst, v = e["_fromTokenId"], e["_toTokenId"], e["_value"]
                if src:
                    holdings[src]["value"] -= v
                if dst:
                    holdings[dst]["value"] += v
            elif e.name == "HoldingTransferred":
                holdings[e["tokenId"]]["owner"] = e["to"]
                holdings[e["tokenId"]]["tier"] = e["tier"]
            elif e.name == "Transfer" and "tokenId" in e and e["to"] == "0x" + "00" * 20:
                holdings[e["tokenId"]]["burned"] = True
    return holdings


def test_events_rebuild_every_holding(world):
    t, f, s = world.token, world.financing, world.settlement
    txs = []

    def do(tx):
        txs.append(tx)
        return tx

    maturity = world.now() + 30 * 86_400
    cert, root = do(t.issue(world.s1, 1_000_003, maturity, h32(1), {"from": world.core})).return_value
    do(t.accept(cert, {"from": world.s1}))
    a = do(t.splitTransfer(root, world.s2, 300_001, h32(2), {"from": world.s1})).return_value
    b = do(t.transferFrom["uint256,address,uint256"](a, world.s3, 100_000, {"from": world.s2})).return_value
    do(t.transferFrom["uint256,uint256,uint256"](root, b, 55_555, {"from": world.s1}))
    do(t.transferFrom["address,address,uint256"](world.s3, world.f2, b, {"from": world.s3}))
    do(t.approve["uint256,address,uint256"](root, world.f2, 10_000, {"from": world.s1}))
    c = do(t.splitTransfer(root, world.f2, 9_999, h32(3), {"from": world.f2})).return_value
    oid = do(f.createOffer(a, 77_777, world.f1, 500, world.now() + 86_400, False, h32(4), {"from": world.s2}))
    d = do(f.acceptOffer(oid.return_value, {"from": world.f1})).return_value
    rejected, rroot = do(t.issue(world.s2, 5, maturity, h32(5), {"from": world.core})).return_value
    do(t.reject(rejected, {"from": world.s2}))
    do(s.repay(cert, 500_000, {"from": world.core}))
    world.mature(cert)
    do(s.redeem(d, {"from": world.f1}))
    do(s.repay(cert, 500_003, {"from": world.core}))
    do(s.settleBatch([root, a], {"from": world.op}))

    rebuilt = replay(txs)
    assert set(rebuilt) == {root, a, b, c, d, rroot}
    assert rebuilt[a]["parent"] == root and rebuilt[b]["parent"] == a and rebuilt[d]["parent"] == a
    assert rebuilt[c]["parent"] == root and rebuilt[c]["tier"] == 2
    for token, h in rebuilt.items():
        if h.get("burned"):
            assert h["value"] == 0
            continue
        chain = t.holding(token)
        assert (chain[0], chain[1], chain[2], chain[3], chain[4]) == (
            h["cert"], h["owner"], h["value"], h["parent"], h["tier"]
        )
    live = sum(h["value"] for h in rebuilt.values() if h["cert"] == cert)
    assert live + t.certificate(cert)[5] == 1_000_003
