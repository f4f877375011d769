"""Every endpoint against a real anvil: success, refusals, decoded contract errors."""

from __future__ import annotations

import secrets

import httpx

from gateway.conftest import OPERATOR_API_KEY, Api, Scenario


def h32() -> str:
    return "0x" + secrets.token_hex(32)


def chain_nonce(api: Api, account: str) -> int:
    r = httpx.post(api.chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount",
                                        "params": [account, "latest"]})
    return int(r.json()["result"], 16)


def confirmed(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "confirmed", body
    return body


def test_health_openapi_and_auth(api: Api) -> None:
    assert api.client.get("/v1/health").json()["node"]["ok"] is True
    spec = api.client.get("/openapi.json").json()
    assert "/v1/holdings/{token_id}/split-transfer" in spec["paths"]
    r = api.client.get("/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHENTICATED"
    r = api.get("/v1/me", "scf_wrong")
    assert r.status_code == 401
    r = api.client.get("/v1/me", headers={"Authorization": f"Bearer {OPERATOR_API_KEY}"})
    assert r.status_code == 200 and r.json()["role"] == "operator"
    info = api.get("/v1/system/info", OPERATOR_API_KEY).json()
    assert info["paused"] is False and set(info["contracts"]) >= {"Membership", "CertificateToken"}


def test_members_read_and_keys(api: Api, members: Scenario) -> None:
    acct, key = members.supplier
    m = api.get(f"/v1/members/{acct}", key).json()
    assert m["role"] == "supplier" and m["active"] is True
    other = members.core[0]
    r = api.get(f"/v1/members/{other}", key)
    assert r.status_code == 403
    assert api.get(f"/v1/members/{other}", members.auditor[1]).status_code == 200
    # a second key for the member; revoke all
    r = api.client.post(f"/v1/members/{acct}/api-keys", headers=api.op)
    assert r.status_code == 201
    extra = r.json()["api_key"]
    assert api.get("/v1/me", extra).json()["account"] == acct
    me = api.get("/v1/me", key).json()
    assert me["role"] == "supplier" and me["signer"] is True and me["balance"] == 0


def test_onboard_existing_account_kyc_and_suspend(api: Api) -> None:
    from chain_gateway.signer import dev_accounts

    account = dev_accounts()[19].address  # dev mode: the gateway holds the mnemonic's keys
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32(), "account": account})
    body = r.json()
    assert body["operation"]["state"] == "confirmed" and body["account"] == account and body["api_key"]
    # onboarding twice: the contract's error, decoded, and nothing sent
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "supplier", "kyc_hash": h32(), "account": account})
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "CONTRACT_REVERT"
    assert r.json()["details"]["error"] == "MembershipAlreadyMember"
    assert r.json()["details"]["args"] == {"account": account}
    confirmed(api.put(f"/v1/members/{account}/kyc", OPERATOR_API_KEY, {"kyc_hash": h32()}))
    confirmed(api.post(f"/v1/members/{account}/active", OPERATOR_API_KEY, {"active": False}))
    assert api.get(f"/v1/members/{account}", OPERATOR_API_KEY).json()["active"] is False
    r = api.post(f"/v1/members/{account}/active", OPERATOR_API_KEY, {"active": False})
    assert r.status_code == 409 and r.json()["details"]["error"] == "MembershipStatusUnchanged"
    confirmed(api.post(f"/v1/members/{account}/active", OPERATOR_API_KEY, {"active": True}))
    # the operator role is not handed out
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "operator", "kyc_hash": h32()})
    assert r.status_code == 403


def test_lifecycle_issue_accept_split_finance(api: Api, members: Scenario) -> None:
    core, core_key = members.core
    sup, sup_key = members.supplier
    sup2, sup2_key = members.supplier2
    factor, factor_key = members.factor
    confirmed(api.post("/v1/currency/mint", api.clearing_key, {"to": factor, "amount": 10_000_000}))
    assert api.get(f"/v1/currency/balances/{factor}", factor_key).json()["balance"] >= 10_000_000

    res = api.issue(core_key, sup, face=100_000)
    cert, token = res["certificate_id"], res["token_id"]
    c = api.get(f"/v1/certificates/{cert}", sup_key).json()
    assert c["status"] == "pending" and c["face_value"] == 100_000 and c["debtor"] == core
    # only the payee accepts
    r = api.post(f"/v1/certificates/{cert}/accept", sup2_key)
    assert r.status_code == 403 and r.json()["details"]["error"] == "CertificateNotPayee"
    confirmed(api.post(f"/v1/certificates/{cert}/accept", sup_key))
    assert api.get(f"/v1/certificates/{cert}", sup_key).json()["status"] == "active"

    # split 30_000 to tier 2
    before = chain_nonce(api, sup)
    r = api.post(f"/v1/holdings/{token}/split-transfer", sup_key, {"to": sup2, "value": 30_000, "document_hash": h32()})
    op = confirmed(r)
    new_token = op["result"]["new_token_id"]
    assert op["gas_used"] > 0 and op["block_number"] > 0 and op["nonce"] == before
    assert chain_nonce(api, sup) == before + 1
    h = api.get(f"/v1/holdings/{new_token}", sup2_key).json()
    assert h["value"] == 30_000 and h["tier"] == 2 and h["parent_token_id"] == token and h["owner"] == sup2
    mine = {x["token_id"]: x["value"] for x in api.get("/v1/holdings", sup2_key).json()}
    assert mine[new_token] == 30_000
    assert {x["token_id"]: x["value"] for x in api.get("/v1/holdings", sup_key).json()}[token] == 70_000

    # someone else's holding: 403 before signing, nothing sent
    n2 = chain_nonce(api, sup2)
    r = api.post(f"/v1/holdings/{token}/split-transfer", sup2_key, {"to": sup2, "value": 1, "document_hash": h32()})
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    assert api.get(f"/v1/holdings/{token}", sup2_key).status_code == 403
    # too much: the contract's error with decoded args, nothing sent
    r = api.post(f"/v1/holdings/{new_token}/split-transfer", sup2_key,
                 {"to": sup, "value": 30_001, "document_hash": h32()})
    assert r.status_code == 422, r.text
    d = r.json()["details"]
    assert d["error"] == "CertificateInsufficientValue"
    assert d["args"] == {"tokenId": new_token, "available": 30_000, "requested": 30_001}
    assert chain_nonce(api, sup2) == n2
    assert api.get("/v1/holdings/999999", sup2_key).status_code == 404

    # financing: tier-2 sells 20_000 to the factor
    expires = api.now() + 86400
    body = {"token_id": new_token, "value": 20_000, "factor": factor, "rate_bps": 500, "expires_at": expires,
            "recourse": False, "document_hash": h32()}
    r = api.post("/v1/financing/offers", sup_key, body)
    assert r.status_code == 403  # not the seller's holding
    offer = confirmed(api.post("/v1/financing/offers", sup2_key, body))["result"]
    offer_id, price = offer["offer_id"], offer["price"]
    assert 0 < price < 20_000
    o = api.get(f"/v1/financing/offers/{offer_id}", factor_key).json()
    assert o["status"] == "open" and o["seller"] == sup2 and o["price"] == price
    assert api.get(f"/v1/financing/offers/{offer_id}", sup_key).status_code == 403
    q = api.get("/v1/financing/quote", sup2_key, value=20_000, rate_bps=500,
                maturity=api.get(f"/v1/certificates/{cert}", sup2_key).json()["maturity"]).json()
    assert q["price"] > 0
    r = api.post(f"/v1/financing/offers/{offer_id}/cancel", sup_key)
    assert r.status_code == 403
    acc = confirmed(api.post(f"/v1/financing/offers/{offer_id}/accept", factor_key))
    factor_token = acc["result"]["new_token_id"]
    assert api.get(f"/v1/holdings/{factor_token}", factor_key).json()["value"] == 20_000
    assert api.get(f"/v1/currency/balances/{sup2}", sup2_key).json()["balance"] == price
    r = api.post(f"/v1/financing/offers/{offer_id}/accept", factor_key)
    assert r.status_code == 409 and r.json()["details"]["error"] == "FinancingOfferNotOpen"

    # an offer cancelled by its seller
    body["value"] = 5_000
    body["document_hash"] = h32()
    offer_id2 = confirmed(api.post("/v1/financing/offers", sup2_key, body))["result"]["offer_id"]
    confirmed(api.post(f"/v1/financing/offers/{offer_id2}/cancel", sup2_key))
    assert api.get(f"/v1/financing/offers/{offer_id2}", sup2_key).json()["status"] == "cancelled"

    # judicial freeze
    confirmed(api.post(f"/v1/holdings/{token}/freeze", OPERATOR_API_KEY, {"reason_hash": h32()}))
    r = api.post(f"/v1/holdings/{token}/split-transfer", sup_key, {"to": sup2, "value": 1, "document_hash": h32()})
    assert r.status_code == 409 and r.json()["details"]["error"] == "CertificateFrozen"
    confirmed(api.post(f"/v1/holdings/{token}/unfreeze", OPERATOR_API_KEY, {"reason_hash": h32()}))
    assert api.get(f"/v1/holdings/{token}", sup_key).json()["frozen"] is False

    # operations: own list, one by id, refusals
    ops = api.get("/v1/operations", sup2_key).json()
    assert ops and all(o["account"] == sup2 for o in ops)
    one = api.get(f"/v1/operations/{ops[0]['id']}", sup2_key).json()
    assert one["id"] == ops[0]["id"]
    assert api.get(f"/v1/operations/{ops[0]['id']}", sup_key).status_code == 403
    assert api.get("/v1/operations/nope", sup_key).status_code == 404


def test_reject_and_credit_line(api: Api, members: Scenario) -> None:
    core, core_key = members.core
    sup, sup_key = members.supplier
    cert = api.issue(core_key, sup, face=1_000)["certificate_id"]
    confirmed(api.post(f"/v1/certificates/{cert}/reject", sup_key))
    assert api.get(f"/v1/certificates/{cert}", sup_key).json()["status"] == "rejected"
    # credit line exceeded: decoded error args
    small_core, small_key = api.onboard("core_enterprise", credit=500)
    r = api.post("/v1/certificates", small_key, {"payee": sup, "face_value": 600, "maturity": api.now() + 86400,
                                                 "document_hash": h32()})
    assert r.status_code == 422
    d = r.json()["details"]
    assert d["error"] == "MembershipCreditExceeded"
    assert d["args"] == {"debtor": small_core, "available": 500, "requested": 600}
    assert d["contract"] == "Membership"
    assert chain_nonce(api, small_core) == 0
    # maturity beyond the max term
    r = api.post("/v1/certificates", core_key, {"payee": sup, "face_value": 1, "maturity": api.now() + 400 * 86400,
                                                "document_hash": h32()})
    assert r.status_code == 422 and r.json()["details"]["error"] == "CertificateInvalidMaturity"


def test_pause_terms_and_burn(api: Api, members: Scenario) -> None:
    core, core_key = members.core
    sup = members.supplier[0]
    confirmed(api.post("/v1/system/pause", OPERATOR_API_KEY))
    try:
        assert api.get("/v1/system/info", core_key).json()["paused"] is True
        r = api.post("/v1/certificates", core_key, {"payee": sup, "face_value": 1, "maturity": api.now() + 86400,
                                                    "document_hash": h32()})
        assert r.status_code == 409 and r.json()["details"]["error"] == "MembershipPaused"
    finally:
        confirmed(api.post("/v1/system/unpause", OPERATOR_API_KEY))
    r = api.post("/v1/system/unpause", OPERATOR_API_KEY)
    assert r.status_code == 409 and r.json()["details"]["error"] == "MembershipNotPaused"
    confirmed(api.put("/v1/system/max-term", OPERATOR_API_KEY, {"max_term_seconds": 180 * 86400}))
    confirmed(api.put("/v1/system/max-term", OPERATOR_API_KEY, {"max_term_seconds": 365 * 86400}))
    r = api.put("/v1/system/max-term", OPERATOR_API_KEY, {"max_term_seconds": 0})
    assert r.status_code == 422 and r.json()["details"]["error"] == "CertificateInvalidTerm"
    confirmed(api.put("/v1/system/grace-period", OPERATOR_API_KEY, {"grace_period_seconds": 30 * 86400}))
    confirmed(api.post("/v1/currency/mint", api.clearing_key, {"to": core, "amount": 500}))
    confirmed(api.post("/v1/currency/burn", api.clearing_key, {"account": core, "amount": 200}))
    assert api.get("/v1/me", core_key).json()["balance"] >= 300


def test_the_clearing_agent_mints_and_burns_with_its_own_key(api: Api, members: Scenario) -> None:
    """PBOC 2025: client money moves through a licensed bank, never the platform operator. The
    clearing agent's API key mints and burns, its own key signs; the operator's key is refused (403,
    and the chain would refuse it too: MembershipWrongRole)."""
    bank, bank_key = members.clearing
    core = members.core[0]
    before = api.get(f"/v1/currency/balances/{core}", bank_key).json()["balance"]
    n0 = chain_nonce(api, bank)
    minted = confirmed(api.post("/v1/currency/mint", bank_key, {"to": core, "amount": 900}))
    assert minted["account"] == bank and minted["kind"] == "currency.mint"
    confirmed(api.post("/v1/currency/burn", bank_key, {"account": core, "amount": 400}))
    assert chain_nonce(api, bank) == n0 + 2  # signed by the bank's key
    assert api.get(f"/v1/currency/balances/{core}", bank_key).json()["balance"] == before + 500
    me = api.get("/v1/me", bank_key).json()
    assert (me["role"], me["balance"], me["active"], me["signer"]) == ("clearing_agent", 0, True, True)
    assert api.get(f"/v1/members/{bank}", OPERATOR_API_KEY).json()["role"] == "clearing_agent"
    refused = [("/v1/currency/mint", {"to": core, "amount": 1}), ("/v1/currency/burn", {"account": core, "amount": 1})]
    for path, body in refused:
        r = api.post(path, OPERATOR_API_KEY, body)
        assert r.status_code == 403 and r.json()["details"]["allowed"] == ["clearing_agent"], r.text


def test_validation_errors(api: Api, members: Scenario) -> None:
    sup_key = members.supplier[1]
    r = api.post("/v1/holdings/1/split-transfer", sup_key, {"to": "0x12", "value": -1, "document_hash": "x"})
    assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
    r = api.post("/v1/holdings/1/split-transfer", sup_key, {"to": "0x" + "1" * 40, "value": 2**256,
                                                            "document_hash": h32()})
    assert r.status_code == 422


def test_read_refusals_and_not_found(api: Api, members: Scenario) -> None:
    sup, sup_key = members.supplier
    core = members.core[0]
    assert api.get(f"/v1/currency/balances/{core}", sup_key).status_code == 403
    assert api.get(f"/v1/currency/balances/{core}", members.auditor[1]).status_code == 200
    r = api.get("/v1/certificates/987654", sup_key)
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert api.get("/v1/financing/offers/987654", sup_key).status_code == 404
    assert api.get("/v1/operations", sup_key, state="confirmed").status_code == 200
    # the operator's own keys are not revoked through the API
    operator = api.get("/v1/me", OPERATOR_API_KEY).json()["account"]
    r = api.client.post(f"/v1/members/{operator}/api-keys/revoke", headers=api.op)
    assert r.status_code == 403
    # a member without a key held by the gateway cannot write (NO_SIGNER), but can read
    outsider = "0x" + "77" * 20
    r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "auditor", "kyc_hash": h32(), "account": outsider})
    assert r.json()["operation"]["state"] == "confirmed", r.text
    r = api.client.post(f"/v1/members/{outsider}/api-keys", headers=api.op)
    assert r.status_code == 201
    aud_key = r.json()["api_key"]
    assert api.get("/v1/me", aud_key).json()["signer"] is False
    r = api.post("/v1/settlement/mark-overdue", aud_key, {"certificate_id": 1})
    assert r.status_code == 403  # auditors are read-only by role
    # revoke: the key stops working at once
    assert api.client.post(f"/v1/members/{outsider}/api-keys/revoke", headers=api.op).json()["revoked"] >= 1
    assert api.get("/v1/me", aud_key).status_code == 401


def test_my_holdings_on_a_node_that_limits_log_ranges(api: Api, members: Scenario, monkeypatch) -> None:
    """A node refusing `eth_getLogs` up to `latest` over the whole range (Besu's
    --rpc-max-logs-range) is asked in windows; a window it cannot serve is a 503."""
    from chain_gateway.api.v1 import holdings
    from scf_core.rpc import RpcError

    sup, sup_key = members.supplier
    issued = api.issue(members.core[1], sup)
    confirmed(api.post(f"/v1/certificates/{issued['certificate_id']}/accept", sup_key))
    token = issued["token_id"]
    expected = {x["token_id"]: x["value"] for x in api.get("/v1/holdings", sup_key).json()}
    assert token in expected

    rpc = api.client.app.state.gateway.rpc
    real_batch = rpc.batch
    asked: list[tuple[str, str]] = []

    async def limited(calls):  # type: ignore[no-untyped-def]
        results = await real_batch(calls)
        out = []
        for (method, params), res in zip(calls, results, strict=True):
            if method == "eth_getLogs":
                asked.append((params[0]["fromBlock"], params[0]["toBlock"]))
                if params[0]["toBlock"] == "latest" or refuse_windows:
                    res = RpcError(-32005, "exceeds max logs range")
            out.append(res)
        return out

    monkeypatch.setattr(rpc, "batch", limited)
    monkeypatch.setattr(holdings, "LOGS_WINDOW", 3)
    refuse_windows = False
    windowed = {x["token_id"]: x["value"] for x in api.get("/v1/holdings", sup_key).json()}
    assert windowed == expected
    assert len(asked) > 2 and all(int(hi, 16) - int(lo, 16) < 3 for lo, hi in asked[1:])
    refuse_windows = True
    r = api.get("/v1/holdings", sup_key)
    assert r.status_code == 503 and r.json()["code"] == "NODE_UNAVAILABLE"
