"""The financing market through the API: quotes (RFQ) with per-factor privacy, open offers, early
payment by the debtor (offers and programmes), deals and recourse. A chain of the module's own:
the clock moves (deadlines, maturity)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.conftest import OPERATOR_API_KEY, Api, Scenario, rpc
from gateway.test_api import chain_nonce, confirmed, h32
from gateway.test_roles_idempotency import CORE, FAC, ROLES, SUP, key_of, op_count

DAY = 86400
H0 = "0x" + "00" * 32

# every market write and the roles allowed to call it (all others: 403 before anything is stored)
MATRIX: list[tuple[str, dict[str, Any] | None, set[str]]] = [
    ("/v1/financing/open-offers", {"token_id": 1, "value": 1, "rate_bps": 1, "expires_at": 2**40,
                                   "document_hash": H0}, {SUP, FAC}),
    ("/v1/financing/quote-requests", {"token_id": 1, "value": 1, "deadline": 2**40, "document_hash": H0}, {SUP, FAC}),
    ("/v1/financing/quote-requests/1/quotes", {"rate_bps": 1}, {FAC}),
    ("/v1/financing/quote-requests/1/cancel", None, {SUP, FAC}),
    ("/v1/financing/quotes/1/withdraw", None, {FAC}),
    ("/v1/financing/quotes/1/accept", None, {SUP, FAC}),
    ("/v1/financing/deals/1/recourse", None, {FAC}),
    ("/v1/financing/deals/1/settle-recourse", None, {SUP, FAC}),
    ("/v1/financing/recourse-allowance", {"amount": 1}, {SUP, FAC}),
    ("/v1/settlement/early-payments", {"token_id": 1, "value": 1, "rate_bps": 1, "expires_at": 2**40}, {CORE}),
    ("/v1/settlement/early-payments/1/accept", None, {SUP, FAC}),
    ("/v1/settlement/early-payments/1/cancel", None, {CORE}),
    ("/v1/settlement/programmes", {"rate_bps": 1, "budget": 1}, {CORE}),
    ("/v1/settlement/programmes/1/take", {"token_id": 1, "value": 1}, {SUP, FAC}),
    ("/v1/settlement/programmes/1/close", None, {CORE}),
]
CASES = [(p, b, role) for (p, b, allowed) in MATRIX for role in ROLES if role not in allowed]


@pytest.mark.parametrize(("path", "body", "role"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_market_role_matrix_refused(api: Api, members: Scenario, path: str, body: Any, role: str) -> None:
    before = op_count(api)
    r = api.client.post(path, json=body, headers={"X-API-Key": key_of(members, role)})
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "FORBIDDEN" and role in r.json()["details"]["role"]
    assert op_count(api) == before  # nothing stored, nothing signed


def advance(api: Api, seconds: int) -> None:
    rpc(api.chain.url, "evm_increaseTime", seconds)
    rpc(api.chain.url, "evm_mine")


def err(r: Any) -> str:
    return str(r.json()["details"].get("error"))


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.core, self.core_key = api.onboard("core_enterprise", credit=10**10)
        self.core2, self.core2_key = api.onboard("core_enterprise", credit=10**10)
        self.t1, self.t1_key = api.onboard("supplier")
        self.t2, self.t2_key = api.onboard("supplier")
        self.t3, self.t3_key = api.onboard("supplier")
        self.f1, self.f1_key = api.onboard("factor")
        self.f2, self.f2_key = api.onboard("factor")
        self.auditor, self.auditor_key = api.onboard("auditor")
        for who in (self.f1, self.f2, self.core):
            confirmed(api.post("/v1/currency/mint", api.clearing_key, {"to": who, "amount": 10**9}))

    def tier3_holding(self, face: int = 100_000, value: int = 50_000, days: int = 90) -> int:
        """A holding of `value` of the tier-3 supplier (core -> t1 -> t2 -> t3)."""
        api = self.api
        c = api.issue(self.core_key, self.t1, face=face, days=days)
        confirmed(api.post(f"/v1/certificates/{c['certificate_id']}/accept", self.t1_key))
        h2 = confirmed(api.post(f"/v1/holdings/{c['token_id']}/split-transfer", self.t1_key,
                                {"to": self.t2, "value": value, "document_hash": h32()}))["result"]["new_token_id"]
        h3 = confirmed(api.post(f"/v1/holdings/{h2}/split-transfer", self.t2_key,
                                {"to": self.t3, "value": value, "document_hash": h32()}))["result"]["new_token_id"]
        assert api.get(f"/v1/holdings/{h3}", self.t3_key).json()["tier"] == 3
        return int(h3)

    def balance(self, account: str, key: str) -> int:
        return int(self.api.get(f"/v1/currency/balances/{account}", key).json()["balance"])


@pytest.fixture(scope="module")
def w(own_api: Api) -> World:
    return World(own_api)


def test_rfq_two_factors_privacy_before_deadline_and_dvp(own_api: Api, w: World) -> None:
    api = own_api
    token = w.tier3_holding(value=50_000)
    body = {"token_id": token, "value": 40_000, "deadline": api.now() + 2 * DAY, "recourse": False,
            "document_hash": h32()}
    assert api.post("/v1/financing/quote-requests", w.t1_key, body).status_code == 403  # not t1's holding
    assert api.post("/v1/financing/quote-requests", w.core_key, body).status_code == 403  # not a holder's role
    request_id = confirmed(api.post("/v1/financing/quote-requests", w.t3_key, body))["result"]["request_id"]

    # factors see it among the open requests they can quote
    listed = api.get("/v1/financing/quote-requests", w.f1_key, status="open").json()["items"]
    assert request_id in [r["request_id"] for r in listed]
    assert request_id not in [r["request_id"] for r in
                              api.get("/v1/financing/quote-requests", w.t1_key).json()["items"]]  # not t1's

    q1 = confirmed(api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.f1_key, {"rate_bps": 600}))
    q2 = confirmed(api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.f2_key, {"rate_bps": 450}))
    q1_id, q2_id = q1["result"]["quote_id"], q2["result"]["quote_id"]
    price1, price2 = q1["result"]["price"], q2["result"]["price"]
    assert q2["result"]["rate_bps"] == 450 and q2["result"]["days_to_maturity"] > 0
    assert 0 < price1 < price2 < 40_000  # the lower rate is the better price
    # a supplier cannot quote; a rate above 100% a year is refused by the contract (422)
    assert api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.t2_key, {"rate_bps": 1}).status_code == 403
    r = api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.f1_key, {"rate_bps": 10_001})
    assert r.status_code == 422 and err(r) == "FinancingInvalidRate"
    assert api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.f1_key,
                    {"rate_bps": "500"}).status_code == 422  # strict integers

    # privacy before the deadline: each factor sees only its own quote
    for key, own in ((w.f1_key, q1_id), (w.f2_key, q2_id)):
        seen = api.get(f"/v1/financing/quote-requests/{request_id}", key).json()
        assert [q["quote_id"] for q in seen["quotes"]] == [own] and seen["quotes_visible"] == "own"
    assert api.get(f"/v1/financing/quotes/{q2_id}", w.f1_key).status_code == 403
    assert api.get(f"/v1/financing/quotes/{q1_id}", w.f1_key).json()["price"] == price1
    for key in (w.t3_key, w.auditor_key, OPERATOR_API_KEY):
        seen = api.get(f"/v1/financing/quote-requests/{request_id}", key).json()
        assert sorted(q["quote_id"] for q in seen["quotes"]) == [q1_id, q2_id]
    assert api.get(f"/v1/financing/quote-requests/{request_id}", w.t1_key).status_code == 403

    # only the quoting factor withdraws, only the requester accepts
    assert api.post(f"/v1/financing/quotes/{q2_id}/withdraw", w.f1_key).status_code == 403
    assert api.post(f"/v1/financing/quotes/{q2_id}/accept", w.t2_key).status_code == 403
    assert api.post(f"/v1/financing/quote-requests/{request_id}/cancel", w.t2_key).status_code == 403

    before_f2 = w.balance(w.f2, w.f2_key)
    acc = confirmed(api.post(f"/v1/financing/quotes/{q2_id}/accept", w.t3_key))["result"]
    assert acc["quote_id"] == q2_id and acc["price"] == price2 and acc["offer_id"] > 0
    new_token = acc["new_token_id"]
    # DvP: the factor owns 40_000 in a new holding, the seller was paid the price, the seller keeps 10_000
    assert api.get(f"/v1/holdings/{new_token}", w.f2_key).json()["owner"] == w.f2
    assert api.get(f"/v1/holdings/{new_token}", w.f2_key).json()["value"] == 40_000
    assert api.get(f"/v1/holdings/{token}", w.t3_key).json()["value"] == 10_000
    assert w.balance(w.t3, w.t3_key) == price2
    assert w.balance(w.f2, w.f2_key) == before_f2 - price2
    seen = api.get(f"/v1/financing/quote-requests/{request_id}", w.t3_key).json()
    assert seen["status"] == "accepted"
    assert {q["quote_id"]: q["status"] for q in seen["quotes"]} == {q1_id: "open", q2_id: "accepted"}
    deal = api.get(f"/v1/financing/deals/{acc['offer_id']}", w.f2_key).json()
    assert deal["seller"] == w.t3 and deal["factor"] == w.f2 and deal["price"] == price2
    # the request is closed: a late quote and a second acceptance are state conflicts
    r = api.post(f"/v1/financing/quote-requests/{request_id}/quotes", w.f1_key, {"rate_bps": 300})
    assert r.status_code == 409 and err(r) == "FinancingRequestNotOpen"
    r = api.post(f"/v1/financing/quotes/{q1_id}/accept", w.t3_key)
    assert r.status_code == 409
    assert api.get("/v1/financing/quote-requests/987654", w.f1_key).status_code == 404


def test_rfq_withdraw_cancel_and_all_quotes_after_deadline(own_api: Api, w: World) -> None:
    api = own_api
    token = w.tier3_holding(value=20_000)
    body = {"token_id": token, "value": 20_000, "deadline": api.now() + DAY, "recourse": False,
            "document_hash": h32()}
    rid = confirmed(api.post("/v1/financing/quote-requests", w.t3_key, body))["result"]["request_id"]
    q1 = confirmed(api.post(f"/v1/financing/quote-requests/{rid}/quotes", w.f1_key, {"rate_bps": 500}))
    q2 = confirmed(api.post(f"/v1/financing/quote-requests/{rid}/quotes", w.f2_key, {"rate_bps": 550}))
    q1_id, q2_id = q1["result"]["quote_id"], q2["result"]["quote_id"]
    confirmed(api.post(f"/v1/financing/quotes/{q1_id}/withdraw", w.f1_key))
    r = api.post(f"/v1/financing/quotes/{q1_id}/withdraw", w.f1_key)
    assert r.status_code == 409 and err(r) == "FinancingQuoteNotOpen"
    advance(api, DAY + 1)
    # after the deadline every party sees every quote; nothing can be accepted any more
    for key in (w.f1_key, w.f2_key):
        seen = api.get(f"/v1/financing/quote-requests/{rid}", key).json()
        assert seen["quotes_visible"] == "all"
        assert {q["quote_id"]: q["status"] for q in seen["quotes"]} == {q1_id: "withdrawn", q2_id: "open"}
    assert api.get(f"/v1/financing/quotes/{q2_id}", w.f1_key).status_code == 200
    assert rid not in [x["request_id"] for x in
                       api.get("/v1/financing/quote-requests", w.f1_key, status="open").json()["items"]]
    r = api.post(f"/v1/financing/quotes/{q2_id}/accept", w.t3_key)
    assert r.status_code == 409 and err(r) == "FinancingDeadlinePassed"
    confirmed(api.post(f"/v1/financing/quote-requests/{rid}/cancel", w.t3_key))
    assert api.get(f"/v1/financing/quote-requests/{rid}", w.t3_key).json()["status"] == "cancelled"


def test_open_offer_first_factor_wins(own_api: Api, w: World) -> None:
    api = own_api
    token = w.tier3_holding(value=30_000)
    body = {"token_id": token, "value": 10_000, "rate_bps": 500, "expires_at": api.now() + DAY, "recourse": False,
            "document_hash": h32()}
    assert api.post("/v1/financing/open-offers", w.t1_key, body).status_code == 403  # not t1's holding
    assert api.post("/v1/financing/open-offers", w.t3_key, {**body, "factors": ["0x12"]}).status_code == 422
    r = api.post("/v1/financing/open-offers", w.t3_key, {**body, "factors": [w.t1]})
    assert r.status_code in (403, 422), r.text  # a supplier is no buyer (the contract's membership check)
    offer = confirmed(api.post("/v1/financing/open-offers", w.t3_key, body))["result"]
    offer_id = offer["offer_id"]
    for key in (w.f1_key, w.f2_key, w.t3_key):  # both factors may take it; the seller sees its own
        items = api.get("/v1/financing/offers", key, status="open", **{"for": "me"}).json()["items"]
        assert offer_id in [o["offer_id"] for o in items], key
    assert offer_id not in [o["offer_id"] for o in api.get("/v1/financing/offers", w.t1_key).json()["items"]]
    # pages: newest first, `next_before` continues
    second = confirmed(api.post("/v1/financing/open-offers", w.t3_key,
                                {**body, "value": 1_000, "document_hash": h32()}))["result"]["offer_id"]
    page = api.get("/v1/financing/offers", w.f2_key, status="open", limit=1).json()
    assert [o["offer_id"] for o in page["items"]] == [second] and page["next_before"] == second
    page = api.get("/v1/financing/offers", w.f2_key, status="open", limit=1, before=second).json()
    assert [o["offer_id"] for o in page["items"]] == [offer_id]
    assert page["items"][0]["factor"] == "0x" + "0" * 40  # open: no factor until accepted
    confirmed(api.post(f"/v1/financing/offers/{second}/cancel", w.t3_key))
    assert api.get("/v1/financing/offers", w.f1_key, limit=0).status_code == 422
    for bad in ("-1", "+5", "1_0", "\u0665"):  # ASCII digits only
        assert api.get("/v1/financing/offers", w.f1_key, before=bad).status_code == 422, bad
        assert api.get("/v1/financing/quote-requests", w.f1_key, limit=bad).status_code == 422, bad
    assert api.get("/v1/financing/offers", w.f1_key, status="bogus").status_code == 422
    assert api.get("/v1/financing/offers", w.f1_key, **{"for": "all"}).status_code == 422

    acc = confirmed(api.post(f"/v1/financing/offers/{offer_id}/accept", w.f1_key))["result"]
    assert acc["price"] == offer["price"]
    assert api.get(f"/v1/holdings/{acc['new_token_id']}", w.f1_key).json()["owner"] == w.f1
    r = api.post(f"/v1/financing/offers/{offer_id}/accept", w.f2_key)
    assert r.status_code == 409 and err(r) == "FinancingOfferNotOpen"
    o = api.get(f"/v1/financing/offers/{offer_id}", w.f1_key).json()
    assert o["status"] == "accepted" and o["factor"] == w.f1

    # an offer listing one factor: the other is refused before signing
    listed = confirmed(api.post("/v1/financing/open-offers", w.t3_key,
                                {**body, "factors": [w.f2], "document_hash": h32()}))["result"]["offer_id"]
    assert listed not in [o["offer_id"] for o in
                          api.get("/v1/financing/offers", w.f1_key, status="open").json()["items"]]
    assert api.post(f"/v1/financing/offers/{listed}/accept", w.f1_key).status_code == 403
    confirmed(api.post(f"/v1/financing/offers/{listed}/accept", w.f2_key))


def test_early_payment_offer_and_programme(own_api: Api, w: World) -> None:
    api = own_api
    token = w.tier3_holding(value=60_000)
    body = {"token_id": token, "value": 20_000, "rate_bps": 300, "expires_at": api.now() + DAY}
    assert api.post("/v1/settlement/early-payments", w.core2_key, body).status_code == 403  # not its debtor
    assert api.post("/v1/settlement/early-payments", w.t3_key, body).status_code == 403  # not a core's role
    r = api.post("/v1/settlement/early-payments", w.core_key, {**body, "value": 60_001})
    assert r.status_code == 422 and err(r) == "SettlementInsufficientValue"
    eid = confirmed(api.post("/v1/settlement/early-payments", w.core_key, body))["result"]["early_payment_id"]
    assert api.get(f"/v1/settlement/early-payments/{eid}", w.t3_key).json()["status"] == "open"
    assert api.get(f"/v1/settlement/early-payments/{eid}", w.f1_key).status_code == 403
    assert api.post(f"/v1/settlement/early-payments/{eid}/accept", w.t2_key).status_code == 403  # not the holder
    assert api.post(f"/v1/settlement/early-payments/{eid}/cancel", w.core2_key).status_code == 403
    before = w.balance(w.t3, w.t3_key)
    paid = confirmed(api.post(f"/v1/settlement/early-payments/{eid}/accept", w.t3_key))["result"]
    assert paid["value"] == 20_000 and 0 < paid["price"] < 20_000 and paid["days_early"] > 0
    assert w.balance(w.t3, w.t3_key) == before + paid["price"]
    assert api.get(f"/v1/holdings/{token}", w.t3_key).json()["value"] == 40_000
    r = api.post(f"/v1/settlement/early-payments/{eid}/accept", w.t3_key)
    assert r.status_code == 409 and err(r) == "SettlementEarlyPaymentNotOpen"
    eid2 = confirmed(api.post("/v1/settlement/early-payments", w.core_key, body))["result"]["early_payment_id"]
    confirmed(api.post(f"/v1/settlement/early-payments/{eid2}/cancel", w.core_key))
    assert api.get(f"/v1/settlement/early-payments/{eid2}", w.core_key).json()["status"] == "cancelled"
    assert api.get("/v1/settlement/early-payments/987654", w.core_key).status_code == 404

    # a programme taken until its budget is spent
    assert api.post("/v1/settlement/programmes", w.t3_key, {"rate_bps": 300, "budget": 30_000}).status_code == 403
    assert api.post("/v1/settlement/programmes", w.core_key, {"rate_bps": 300, "budget": -1}).status_code == 422
    pid = confirmed(api.post("/v1/settlement/programmes", w.core_key,
                             {"rate_bps": 300, "budget": 30_000}))["result"]["programme_id"]
    take = f"/v1/settlement/programmes/{pid}/take"
    assert api.post(take, w.t2_key, {"token_id": token, "value": 1}).status_code == 403  # not t2's holding
    n = chain_nonce(api, w.t3)
    first_op = confirmed(api.post(take, w.t3_key, {"token_id": token, "value": 20_000}, idem="take-1"))
    again = confirmed(api.post(take, w.t3_key, {"token_id": token, "value": 20_000}, idem="take-1"))
    assert again["id"] == first_op["id"] and chain_nonce(api, w.t3) == n + 1  # one transaction
    r = api.post(take, w.t3_key, {"token_id": token, "value": 20_001}, idem="take-1")
    assert r.status_code == 409 and r.json()["code"] == "IDEMPOTENCY_CONFLICT"
    first = first_op["result"]
    assert first["value"] == 20_000 and 0 < first["price"] < 20_000
    r = api.post(take, w.t3_key, {"token_id": token, "value": 10_001})
    assert r.status_code == 409 and err(r) == "SettlementBudgetExceeded"
    confirmed(api.post(take, w.t3_key, {"token_id": token, "value": 10_000}))
    p = api.get(f"/v1/settlement/programmes/{pid}", w.t3_key).json()
    assert p["remaining"] == 0 and p["budget"] == 30_000 and p["open"] is True
    assert api.post(f"/v1/settlement/programmes/{pid}/close", w.core2_key).status_code == 403
    assert confirmed(api.post(f"/v1/settlement/programmes/{pid}/close", w.core_key))["result"]["remaining"] == 0
    r = api.post(take, w.t3_key, {"token_id": token, "value": 1})
    assert r.status_code == 409 and err(r) == "SettlementProgrammeClosed"
    assert api.get(f"/v1/holdings/{token}", w.t3_key).json()["value"] == 10_000


def _deal(api: Api, w: World, token: int, value: int) -> dict[str, Any]:
    body = {"token_id": token, "value": value, "factor": w.f1, "rate_bps": 500, "expires_at": api.now() + DAY,
            "recourse": True, "document_hash": h32()}
    offer_id = confirmed(api.post("/v1/financing/offers", w.t3_key, body))["result"]["offer_id"]
    acc = confirmed(api.post(f"/v1/financing/offers/{offer_id}/accept", w.f1_key))["result"]
    return {"offer_id": offer_id, **acc}


def test_registration_reference_set_once_by_the_factor(own_api: Api, w: World) -> None:
    """The deal's factor records the 中登网 registration reference once; others and zero are refused."""
    api = own_api
    deal = _deal(api, w, w.tier3_holding(value=10_000), 10_000)
    path, ref = f"/v1/financing/deals/{deal['offer_id']}/registration", h32()
    assert api.get(f"/v1/financing/deals/{deal['offer_id']}", w.f1_key).json()["registration_ref"] is None
    assert api.post(path, w.t3_key, {"ref": ref}).status_code == 403  # the seller
    assert api.post(path, w.f2_key, {"ref": ref}).status_code == 403  # another factor
    r = api.post(path, w.f1_key, {"ref": "0x" + "00" * 32})
    assert r.status_code == 422 and err(r) == "FinancingZeroRegistration"
    assert confirmed(api.post(path, w.f1_key, {"ref": ref}))["kind"] == "financing.set_registration"
    assert api.get(f"/v1/financing/deals/{deal['offer_id']}", w.t3_key).json()["registration_ref"] == ref.lower()
    r = api.post(path, w.f1_key, {"ref": h32()})
    assert r.status_code == 409 and err(r) == "FinancingRegistrationAlreadySet"


def test_operator_tier_cap_and_minimum_split(own_api: Api, w: World) -> None:
    """The operator's platform rules (2025 notice): a holding beyond the tier cap or a split below the
    minimum is refused with the contract's named error; only the operator sets them; 0 turns them off."""
    api = own_api
    token = w.tier3_holding(value=10_000)  # tier 3
    assert api.put("/v1/system/max-tier", w.core_key, {"max_tier": 3}).status_code == 403
    try:
        confirmed(api.put("/v1/system/max-tier", OPERATOR_API_KEY, {"max_tier": 3}))
        confirmed(api.put("/v1/system/min-split-value", OPERATOR_API_KEY, {"min_split_value": 1_000}))
        info = api.get("/v1/system/info", w.t3_key).json()
        assert (info["max_tier"], info["min_split_value"]) == (3, 1_000)
        split = f"/v1/holdings/{token}/split-transfer"
        r = api.post(split, w.t3_key, {"to": w.t1, "value": 5_000, "document_hash": h32()})
        assert r.status_code == 422 and err(r) == "CertificateTierTooDeep", r.text
        assert r.json()["details"]["args"] == {"tier": 4, "maxTier": 3}
        confirmed(api.put("/v1/system/max-tier", OPERATOR_API_KEY, {"max_tier": 0}))
        r = api.post(split, w.t3_key, {"to": w.t1, "value": 999, "document_hash": h32()})
        assert r.status_code == 422 and err(r) == "CertificateSplitTooSmall", r.text
        r = api.post(split, w.t3_key, {"to": w.t1, "value": 9_500, "document_hash": h32()})
        assert r.status_code == 422 and err(r) == "CertificateSplitRemainderTooSmall", r.text
        assert api.get(f"/v1/holdings/{token}", w.t3_key).json()["value"] == 10_000  # nothing moved
    finally:
        confirmed(api.put("/v1/system/max-tier", OPERATOR_API_KEY, {"max_tier": 0}))
        confirmed(api.put("/v1/system/min-split-value", OPERATOR_API_KEY, {"min_split_value": 0}))
    assert confirmed(api.post(f"/v1/holdings/{token}/split-transfer", w.t3_key,
                              {"to": w.t1, "value": 1, "document_hash": h32()}))["state"] == "confirmed"


def test_recourse_paid_and_unpaid(own_api: Api, w: World) -> None:
    api = own_api
    token = w.tier3_holding(value=40_000, days=30)
    paid_deal = _deal(api, w, token, 20_000)
    unpaid_deal = _deal(api, w, token, 20_000)
    d = api.get(f"/v1/financing/deals/{paid_deal['offer_id']}", w.t3_key).json()
    assert d["recourse"] is True and d["recourse_status"] == "none" and d["new_token_id"] == paid_deal["new_token_id"]
    assert api.get(f"/v1/financing/deals/{paid_deal['offer_id']}", w.f2_key).status_code == 403
    # not overdue yet: the contract refuses (409)
    r = api.post(f"/v1/financing/deals/{paid_deal['offer_id']}/recourse", w.f1_key)
    assert r.status_code == 409 and err(r) == "FinancingNotOverdue"
    advance(api, 61 * DAY)
    certificate_id = api.get(f"/v1/holdings/{paid_deal['new_token_id']}", w.f1_key).json()["certificate_id"]
    confirmed(api.post("/v1/settlement/mark-overdue", w.f1_key, {"certificate_id": certificate_id}))

    # paid: the seller allowed Financing the amount; the holding comes back, the factor is paid
    assert api.post(f"/v1/financing/deals/{paid_deal['offer_id']}/recourse", w.f2_key).status_code == 403
    assert api.post(f"/v1/financing/deals/{paid_deal['offer_id']}/recourse", w.t3_key).status_code == 403
    amount = api.get(f"/v1/financing/deals/{paid_deal['offer_id']}", w.f1_key).json()["recourse_amount"]
    assert amount == paid_deal["price"]
    confirmed(api.post("/v1/financing/recourse-allowance", w.t3_key, {"amount": amount}))
    seller_before, factor_before = w.balance(w.t3, w.t3_key), w.balance(w.f1, w.f1_key)
    res = confirmed(api.post(f"/v1/financing/deals/{paid_deal['offer_id']}/recourse", w.f1_key))["result"]
    assert res["recourse"] == "settled" and res["recourse_amount"] == amount
    assert api.get(f"/v1/holdings/{paid_deal['new_token_id']}", w.t3_key).json()["owner"] == w.t3
    assert w.balance(w.t3, w.t3_key) == seller_before - amount
    assert w.balance(w.f1, w.f1_key) == factor_before + amount
    r = api.post(f"/v1/financing/deals/{paid_deal['offer_id']}/recourse", w.f1_key)
    assert r.status_code == 409 and err(r) == "FinancingRecourseStatus"  # already settled

    # unpaid: no allowance left; recorded, then settled by the seller once it allows the amount
    uid = unpaid_deal["offer_id"]
    res = confirmed(api.post(f"/v1/financing/deals/{uid}/recourse", w.f1_key))["result"]
    assert res["recourse"] == "unpaid" and res["recourse_amount"] == unpaid_deal["price"]
    assert api.get(f"/v1/financing/deals/{uid}", w.t3_key).json()["recourse_status"] == "unpaid"
    assert api.get(f"/v1/holdings/{unpaid_deal['new_token_id']}", w.f1_key).json()["owner"] == w.f1
    r = api.post(f"/v1/financing/deals/{uid}/recourse", w.f1_key)
    assert r.status_code == 409 and err(r) == "FinancingRecourseStatus"
    assert api.post(f"/v1/financing/deals/{uid}/settle-recourse", w.t2_key).status_code == 403
    r = api.post(f"/v1/financing/deals/{uid}/settle-recourse", w.t3_key)
    assert r.status_code == 422  # no allowance: the currency's ERC-20 error
    confirmed(api.post("/v1/financing/recourse-allowance", w.t3_key, {"amount": unpaid_deal["price"]}))
    res = confirmed(api.post(f"/v1/financing/deals/{uid}/settle-recourse", w.t3_key))["result"]
    assert res["recourse"] == "settled"
    assert api.get(f"/v1/financing/deals/{uid}", w.f1_key).json()["recourse_status"] == "settled"
    assert api.get(f"/v1/holdings/{unpaid_deal['new_token_id']}", w.t3_key).json()["owner"] == w.t3
    assert api.get("/v1/financing/deals/987654", w.f1_key).status_code == 404
