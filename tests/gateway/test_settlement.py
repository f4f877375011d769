"""Settlement at maturity through the API: repay, redeem, batch settle, overdue (moves the clock)."""

from __future__ import annotations

import secrets

from gateway.conftest import Api, rpc
from gateway.test_api import chain_nonce, confirmed, h32


def test_repay_redeem_batch_and_overdue(own_api: Api) -> None:
    api = own_api
    core, core_key = api.onboard("core_enterprise", credit=10**9)
    core2, core2_key = api.onboard("core_enterprise", credit=10**9)
    sup, sup_key = api.onboard("supplier")
    sup2, sup2_key = api.onboard("supplier")
    factor, factor_key = api.onboard("factor")
    confirmed(api.post("/v1/currency/mint", api.clearing_key, {"to": core, "amount": 1_000_000}))

    c1 = api.issue(core_key, sup, face=100_000, days=30)
    c2 = api.issue(core_key, sup, face=50_000, days=30)
    c3 = api.issue(core2_key, sup, face=10_000, days=30)
    for c in (c1, c2, c3):
        confirmed(api.post(f"/v1/certificates/{c['certificate_id']}/accept", sup_key))
    split = confirmed(api.post(f"/v1/holdings/{c1['token_id']}/split-transfer", sup_key,
                               {"to": sup2, "value": 40_000, "document_hash": h32()}))["result"]["new_token_id"]

    # before maturity: the contract refuses redemption, decoded
    r = api.post("/v1/settlement/redeem", sup_key, {"token_id": c1["token_id"]})
    assert r.status_code == 422
    assert r.json()["details"]["error"] in ("SettlementNotMatured", "SettlementNothingToRedeem")
    # repaying someone else's certificate: 403 before signing
    r = api.post("/v1/settlement/repay", core2_key, {"certificate_id": c1["certificate_id"], "amount": 1})
    assert r.status_code == 403
    r = api.post("/v1/settlement/repay", core_key, {"certificate_id": c1["certificate_id"], "amount": 100_001})
    assert r.status_code == 422 and r.json()["details"]["error"] == "SettlementOverpayment"
    confirmed(api.post("/v1/settlement/repay", core_key, {"certificate_id": c1["certificate_id"], "amount": 100_000}))
    confirmed(api.post("/v1/settlement/repay", core_key, {"certificate_id": c2["certificate_id"], "amount": 50_000}))
    acct = api.get(f"/v1/settlement/certificates/{c1['certificate_id']}", sup_key).json()
    assert acct["repaid"] == 100_000

    rpc(api.chain.url, "evm_increaseTime", 31 * 86400)
    rpc(api.chain.url, "evm_mine")

    r = api.post("/v1/settlement/redeem", sup_key, {"token_id": split})
    assert r.status_code == 403  # not the caller's holding
    redeem_key = "redeem-" + secrets.token_hex(8)
    redeemed = confirmed(api.post("/v1/settlement/redeem", sup2_key, {"token_id": split}, idem=redeem_key))
    assert redeemed["result"]["redeemed"] == 40_000
    assert api.get("/v1/me", sup2_key).json()["balance"] == 40_000
    # replay of a burned holding's redeem with the same key: the same operation (no ownership check or
    # simulation against the burned holding), no second transaction
    n = chain_nonce(api, sup2)
    again = confirmed(api.post("/v1/settlement/redeem", sup2_key, {"token_id": split}, idem=redeem_key))
    assert again["id"] == redeemed["id"] and again["result"]["redeemed"] == 40_000
    # without the key it is a new request: the holding is gone, refused before signing
    r = api.post("/v1/settlement/redeem", sup2_key, {"token_id": split})
    assert r.status_code == 404, r.text
    assert chain_nonce(api, sup2) == n and api.get("/v1/me", sup2_key).json()["balance"] == 40_000
    # batch: the debtor pays out the rest
    batch = confirmed(api.post("/v1/settlement/batch", core_key, {"token_ids": [c1["token_id"], c2["token_id"]]}))
    assert batch["result"]["redeemed"] == 60_000 + 50_000
    assert api.get("/v1/me", sup_key).json()["balance"] == 110_000
    assert api.get(f"/v1/certificates/{c1['certificate_id']}", sup_key).json()["status"] == "settled"

    # overdue: c3 unpaid; not yet past grace
    r = api.post("/v1/settlement/mark-overdue", sup_key, {"certificate_id": c3["certificate_id"]})
    assert r.status_code == 422 and r.json()["details"]["error"] == "SettlementNotOverdueYet"
    rpc(api.chain.url, "evm_increaseTime", 31 * 86400)
    rpc(api.chain.url, "evm_mine")
    confirmed(api.post("/v1/settlement/mark-overdue", sup_key, {"certificate_id": c3["certificate_id"]}))
    assert api.get(f"/v1/certificates/{c3['certificate_id']}", factor_key).json()["status"] == "overdue"
