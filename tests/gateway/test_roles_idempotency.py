"""The role matrix (403 before anything is signed) and Idempotency-Key semantics."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlmodel import Session, func, select

from chain_gateway.models import Operation
from gateway.conftest import OPERATOR_API_KEY, Api, Scenario
from gateway.test_api import chain_nonce, confirmed, h32

A = "0x" + "11" * 20
ROLES = ["operator", "core_enterprise", "supplier", "factor", "auditor", "clearing_agent"]
OP, CORE, SUP, FAC, AUD, CLR = ROLES

# (method, path, body, roles allowed)
MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("post", "/v1/members", {"role": "supplier", "kyc_hash": "0x" + "00" * 32}, {OP}),
    ("post", f"/v1/members/{A}/active", {"active": False}, {OP}),
    ("put", f"/v1/members/{A}/credit-limit", {"limit": 1}, {OP}),
    ("put", f"/v1/members/{A}/kyc", {"kyc_hash": "0x" + "00" * 32}, {OP}),
    ("post", f"/v1/members/{A}/api-keys", None, {OP}),
    ("post", f"/v1/members/{A}/api-keys/revoke", None, {OP}),
    ("post", "/v1/certificates", {"payee": A, "face_value": 1, "maturity": 2**40, "document_hash": "0x" + "00" * 32},
     {CORE}),
    ("post", "/v1/certificates/1/accept", None, {SUP}),
    ("post", "/v1/certificates/1/reject", None, {SUP}),
    ("post", "/v1/holdings/1/split-transfer", {"to": A, "value": 1, "document_hash": "0x" + "00" * 32}, {SUP, FAC}),
    ("post", "/v1/holdings/1/freeze", {"reason_hash": "0x" + "00" * 32}, {OP}),
    ("post", "/v1/holdings/1/unfreeze", {"reason_hash": "0x" + "00" * 32}, {OP}),
    ("post", "/v1/financing/offers", {"token_id": 1, "value": 1, "factor": A, "rate_bps": 1, "expires_at": 2**40,
                                      "recourse": False, "document_hash": "0x" + "00" * 32}, {SUP, FAC}),
    ("post", "/v1/financing/offers/1/cancel", None, {SUP, FAC}),
    ("post", "/v1/financing/offers/1/accept", None, {FAC}),
    ("post", "/v1/settlement/repay", {"certificate_id": 1, "amount": 1}, {CORE}),
    ("post", "/v1/settlement/redeem", {"token_id": 1}, {SUP, FAC}),
    ("post", "/v1/settlement/batch", {"token_ids": [1]}, {CORE, OP}),
    ("post", "/v1/settlement/mark-overdue", {"certificate_id": 1}, {OP, CORE, SUP, FAC}),
    ("post", "/v1/currency/mint", {"to": A, "amount": 1}, {CLR}),  # the clearing agent, never the operator
    ("post", "/v1/currency/burn", {"account": A, "amount": 1}, {CLR}),
    ("post", "/v1/system/pause", None, {OP}),
    ("post", "/v1/system/unpause", None, {OP}),
    ("put", "/v1/system/max-term", {"max_term_seconds": 1}, {OP}),
    ("put", "/v1/system/grace-period", {"grace_period_seconds": 1}, {OP}),
    ("put", "/v1/system/invoices-required", {"required": False}, {OP}),
]
CASES = [(m, p, b, role) for (m, p, b, allowed) in MATRIX for role in ROLES if role not in allowed]


def key_of(members: Scenario, role: str) -> str:
    return {OP: OPERATOR_API_KEY, CORE: members.core[1], SUP: members.supplier[1], FAC: members.factor[1],
            AUD: members.auditor[1], CLR: members.clearing[1]}[role]


def op_count(api: Api) -> int:
    engine = api.client.app.state.gateway.engine  # type: ignore[attr-defined]
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Operation)).one())


@pytest.mark.parametrize(("method", "path", "body", "role"), CASES, ids=[f"{c[1]}-{c[0]}-{c[3]}" for c in CASES])
def test_role_matrix_refused(api: Api, members: Scenario, method: str, path: str, body: Any, role: str) -> None:
    before = op_count(api)
    r = api.client.request(method, path, json=body, headers={"X-API-Key": key_of(members, role)})
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "FORBIDDEN" and role in r.json()["details"]["role"]
    assert op_count(api) == before  # nothing stored, nothing signed


def test_idempotent_retries(api: Api, members: Scenario) -> None:
    core, core_key = members.core
    sup = members.supplier[0]
    body = {"payee": sup, "face_value": 777, "maturity": api.now() + 86400, "document_hash": h32()}
    key = "idem-" + secrets.token_hex(8)
    n0 = chain_nonce(api, core)
    first = api.post("/v1/certificates", core_key, body, idem=key, wait=False)
    assert first.status_code == 202, first.text
    again = api.post("/v1/certificates", core_key, body, idem=key, wait=False)
    assert again.json()["id"] == first.json()["id"]
    done = confirmed(api.post("/v1/certificates", core_key, body, idem=key, wait=True))
    assert done["id"] == first.json()["id"]
    assert chain_nonce(api, core) == n0 + 1  # one transaction
    # a different body under the same key: 409, nothing sent
    r = api.post("/v1/certificates", core_key, {**body, "face_value": 778}, idem=key)
    assert r.status_code == 409 and r.json()["code"] == "IDEMPOTENCY_CONFLICT"
    # the same key by another caller is that caller's own key space
    sup_key = members.supplier[1]
    r = api.post(f"/v1/certificates/{done['result']['certificate_id']}/accept", sup_key, idem=key)
    confirmed(r)
    # replay after the state changed: still the same operation (no re-simulation, no 409 from the contract)
    r2 = api.post(f"/v1/certificates/{done['result']['certificate_id']}/accept", sup_key, idem=key)
    assert r2.json()["id"] == r.json()["id"]
    assert chain_nonce(api, core) == n0 + 1


def test_idempotent_onboarding_shows_key_once(api: Api) -> None:
    key = "onb-" + secrets.token_hex(8)
    body = {"role": "factor", "kyc_hash": h32()}
    first = api.post("/v1/members", OPERATOR_API_KEY, body, idem=key).json()
    assert first["api_key"] and first["operation"]["state"] == "confirmed"
    second = api.post("/v1/members", OPERATOR_API_KEY, body, idem=key).json()
    assert second["api_key"] is None and second["account"] == first["account"]
    assert second["operation"]["id"] == first["operation"]["id"]


def concurrently(api: Api, *requests: tuple[str, str, dict[str, Any], str]) -> list[Any]:
    """The requests (path, API key, body, Idempotency-Key) sent at once into the running app; each
    one's simulation is held until all of them have reached it, so every one has passed the
    Idempotency-Key lookup before any stores its operation (the unique constraint decides)."""
    import asyncio

    import httpx

    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    original = gw.rpc.call

    async def run() -> list[Any]:
        arrived = 0
        all_there = asyncio.Event()

        async def held(method: str, *params: Any) -> Any:
            nonlocal arrived
            if method == "eth_estimateGas" or (method == "eth_call" and "gas" in params[0]):  # the simulation
                arrived += 1
                if arrived == len(requests):
                    all_there.set()
                await asyncio.wait_for(all_there.wait(), 10)
            return await original(method, *params)

        gw.rpc.call = held
        try:
            transport = httpx.ASGITransport(app=api.client.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return list(await asyncio.gather(*(
                    client.post(path, json=body, headers={"X-API-Key": key, "Idempotency-Key": idem})
                    for path, key, body, idem in requests
                )))
        finally:
            gw.rpc.call = original

    return api.client.portal.call(run)  # type: ignore[union-attr,no-any-return]


def test_concurrent_requests_with_one_idempotency_key(api: Api, members: Scenario) -> None:
    core, core_key = members.core
    body = {"payee": members.supplier[0], "face_value": 555, "maturity": api.now() + 86400, "document_hash": h32()}
    idem = "race-" + secrets.token_hex(8)
    n0, ops0 = chain_nonce(api, core), op_count(api)
    first, second = concurrently(api, *[("/v1/certificates", core_key, body, idem)] * 2)
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    assert op_count(api) == ops0 + 1  # one operation
    done = api.get(f"/v1/operations/{first.json()['id']}", core_key, wait="true").json()
    assert done["state"] == "confirmed"
    assert chain_nonce(api, core) == n0 + 1  # one transaction


def test_concurrent_onboarding_with_one_idempotency_key(api: Api) -> None:
    """Two onboardings racing with one key: one operation, one member, one API key shown."""
    body = {"role": "supplier", "kyc_hash": h32()}
    idem = "race-onb-" + secrets.token_hex(8)
    ops0 = op_count(api)
    first, second = concurrently(api, *[("/v1/members", OPERATOR_API_KEY, body, idem)] * 2)
    a, b = first.json(), second.json()
    assert a["operation"]["id"] == b["operation"]["id"] and a["account"] == b["account"]
    assert op_count(api) == ops0 + 1
    keys = [k for k in (a["api_key"], b["api_key"]) if k]
    assert len(keys) == 1
    done = api.get(f"/v1/operations/{a['operation']['id']}", OPERATOR_API_KEY, wait="true").json()
    assert done["state"] == "confirmed"
    me = api.get("/v1/me", keys[0]).json()
    assert me["account"] == a["account"] and me["role"] == "supplier"
