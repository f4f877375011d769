"""Dual control (maker-checker): users and roles inside a member, the approval policy (thresholds by
kind and amount), the quorum of distinct checkers, self-approval and double approval refused,
rejection with a reason, expiry, nothing signed (no nonce, no transaction) before the quorum,
idempotent replays, concurrent approvals reaching the quorum once, a restart while awaiting,
webhooks and the auditors' read of the approval records."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from chain_gateway import approvals
from chain_gateway.main import create_app
from gateway.conftest import OPERATOR_API_KEY, Api, Chain, Scenario, gateway_settings, wait_until
from gateway.test_api import chain_nonce, h32
from gateway.test_events import SECRET, Receiver

BIG = 2_000_000


@dataclass
class Member:
    account: str
    admin: str  # the member's own key (onboarding): its admin
    maker: str
    checkers: list[str]
    ids: dict[str, int]  # user label -> user id


def member_with_users(api: Api, checkers: int = 2, policy: list[dict[str, Any]] | None = None) -> Member:
    """A new core enterprise with a maker and `checkers` checkers, under `policy`."""
    account, admin = api.onboard("core_enterprise", credit=10**12)
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    for label, role in [("maker", "maker")] + [(f"checker{i}", "checker") for i in range(checkers)]:
        r = api.client.post("/v1/users", json={"label": label, "role": role}, headers=api.h(admin))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["role"] == role and body["label"] == label and body["api_key"].startswith("scf_")
        keys[label], ids[label] = body["api_key"], body["id"]
    if policy is not None:
        r = api.client.put("/v1/approval-policy", json={"rules": policy}, headers=api.h(admin))
        assert r.status_code == 200, r.text
    return Member(account, admin, keys["maker"], [keys[f"checker{i}"] for i in range(checkers)], ids)


def issue_body(api: Api, payee: str, face: int) -> dict[str, Any]:
    return {"payee": payee, "face_value": face, "maturity": api.now() + 90 * 86400, "document_hash": h32()}


def decide(api: Api, key: str, op_id: str, verdict: str = "approve", reason: str = "ok") -> httpx.Response:
    return api.client.post(f"/v1/operations/{op_id}/{verdict}", json={"reason": reason}, headers=api.h(key))


def awaiting(api: Api, m: Member, payee: str, face: int = BIG, idem: str | None = None) -> dict[str, Any]:
    r = api.post("/v1/certificates", m.maker, issue_body(api, payee, face), idem=idem)
    assert r.status_code == 202, r.text  # ?wait=true does not wait for a human decision
    op: dict[str, Any] = r.json()
    assert op["state"] == "awaiting_approval" and op["nonce"] is None and op["tx_hash"] is None
    return op


THRESHOLD = [{"kind": "certificates.issue", "min_amount": 1_000_000, "approvals": 2}]


def test_threshold_quorum_of_distinct_checkers(api: Api, members: Scenario) -> None:
    m = member_with_users(api, checkers=3, policy=THRESHOLD)
    payee = members.supplier[0]
    small = api.post("/v1/certificates", m.maker, issue_body(api, payee, 999_999))  # below the threshold
    assert small.status_code == 200 and small.json()["state"] == "confirmed", small.text
    assert small.json()["approvals_required"] == 0
    nonce = chain_nonce(api, m.account)

    op = awaiting(api, m, payee)
    assert op["approvals"] == 0 and op["approvals_required"] == 2
    inbox = api.get("/v1/approvals", m.checkers[0]).json()
    item = next(i for i in inbox if i["id"] == op["id"])
    assert item["kind"] == "certificates.issue" and item["args"]["face_value"] == BIG
    assert item["maker"] == {"id": m.ids["maker"], "label": "maker"}
    assert item["approvals"] == 0 and item["approvals_required"] == 2 and item["expires_at"]
    listed = api.get("/v1/operations", m.admin, state="awaiting_approval").json()
    assert [o["id"] for o in listed] == [op["id"]]

    assert decide(api, m.maker, op["id"]).json()["code"] == "FORBIDDEN"  # a maker is no checker
    assert decide(api, m.admin, op["id"]).status_code == 403  # nor is the admin
    first = decide(api, m.checkers[0], op["id"], reason="documents checked")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "awaiting_approval" and first.json()["approvals"] == 1
    again = decide(api, m.checkers[0], op["id"])
    assert again.status_code == 409 and again.json()["code"] == "ALREADY_DECIDED"
    other = api.onboard("supplier")[1]  # another member's key: not even visible
    assert decide(api, other, op["id"]).status_code in (403, 404)
    assert chain_nonce(api, m.account) == nonce  # nothing signed before the quorum

    second = decide(api, m.checkers[1], op["id"], reason="")
    assert second.status_code == 200 and second.json()["approvals"] == 2
    assert second.json()["state"] in ("queued", "submitted", "mined", "confirmed")
    done = api.get(f"/v1/operations/{op['id']}", m.admin, wait="true").json()
    assert done["state"] == "confirmed" and done["result"]["certificate_id"] > 0
    assert chain_nonce(api, m.account) == nonce + 1
    late = decide(api, m.checkers[2], op["id"])
    assert late.status_code == 409 and late.json()["code"] == "NOT_AWAITING_APPROVAL"
    assert api.get("/v1/approvals", m.checkers[0]).json() == []

    log = api.get("/v1/approvals/log", m.maker, operation_id=op["id"]).json()
    assert [(a["user_id"], a["user_label"], a["decision"], a["reason"]) for a in log] == [
        (m.ids["checker1"], "checker1", "approve", ""), (m.ids["checker0"], "checker0", "approve", "documents checked")]
    assert all(a["account"] == m.account and a["created_at"] for a in log)


def test_larger_amounts_need_more_approvals(api: Api, members: Scenario) -> None:
    rules = [{"kind": "certificates.issue", "min_amount": None, "approvals": 1},
             {"kind": "certificates.issue", "min_amount": 5_000_000, "approvals": 2}]
    m = member_with_users(api, policy=rules)
    assert awaiting(api, m, members.supplier[0], face=10)["approvals_required"] == 1
    assert awaiting(api, m, members.supplier[0], face=5_000_000)["approvals_required"] == 2
    assert api.get("/v1/approval-policy", m.checkers[0]).json() == {"rules": rules}
    assert len(api.get("/v1/approvals", m.checkers[0]).json()) == 2


def test_issuing_with_invoices_is_under_the_same_policy(api: Api, members: Scenario) -> None:
    """An issue with invoices is the same operation kind: the policy on issuing covers it (no way round it)."""
    from gateway.test_invoices import invoice

    m = member_with_users(api, policy=THRESHOLD)
    nonce = chain_nonce(api, m.account)
    body = {**issue_body(api, members.supplier[0], BIG), "invoices": [invoice("00099001", BIG)]}
    r = api.post("/v1/certificates", m.maker, body)
    assert r.status_code == 202, r.text
    op = r.json()
    assert (op["kind"], op["state"], op["nonce"]) == ("certificates.issue", "awaiting_approval", None)
    assert op["approvals_required"] == 2 and chain_nonce(api, m.account) == nonce


def test_reject_with_reason_is_final_and_never_signed(api: Api, members: Scenario) -> None:
    m = member_with_users(api, policy=THRESHOLD)
    nonce = chain_nonce(api, m.account)
    op = awaiting(api, m, members.supplier[0])
    assert decide(api, m.checkers[0], op["id"]).status_code == 200
    no_reason = decide(api, m.checkers[1], op["id"], "reject", "")
    assert no_reason.status_code == 422
    r = decide(api, m.checkers[1], op["id"], "reject", "invoice does not match the contract")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rejected" and r.json()["nonce"] is None
    assert r.json()["error"] == {"code": "REJECTED", "message": "invoice does not match the contract"}
    assert api.get(f"/v1/operations/{op['id']}", m.maker).json()["state"] == "rejected"
    assert decide(api, m.checkers[0], op["id"]).status_code == 409
    assert chain_nonce(api, m.account) == nonce
    decisions = api.get("/v1/approvals", m.checkers[0], state="rejected").json()[0]["decisions"]
    assert [(d["user_label"], d["decision"]) for d in decisions] == [("checker0", "approve"), ("checker1", "reject")]


def test_roles_inside_a_member(api: Api, members: Scenario) -> None:
    m = member_with_users(api, checkers=1, policy=THRESHOLD)
    payee = members.supplier[0]
    r = api.post("/v1/certificates", m.checkers[0], issue_body(api, payee, 10))
    assert r.status_code == 403  # a checker submits nothing
    for key in (m.maker, m.checkers[0]):  # only the admin manages users and the policy
        assert api.get("/v1/users", key).status_code == 403
        assert api.client.put("/v1/approval-policy", json={"rules": []}, headers=api.h(key)).status_code == 403
    users = api.get("/v1/users", m.admin).json()
    assert [(u["label"], u["role"]) for u in users][-2:] == [("maker", "maker"), ("checker0", "checker")]
    assert users[0]["role"] == "admin"  # the onboarding key
    me = users[0]["id"]
    assert api.client.delete(f"/v1/users/{me}", headers=api.h(m.admin)).status_code == 409
    other = member_with_users(api, checkers=0)
    assert api.client.delete(f"/v1/users/{m.ids['maker']}", headers=api.h(other.admin)).status_code == 404
    r = api.client.delete(f"/v1/users/{m.ids['maker']}", headers=api.h(m.admin))
    assert r.status_code == 200 and r.json()["label"] == "maker"
    assert api.get("/v1/operations", m.maker).status_code == 401  # revoked at once
    assert api.client.delete(f"/v1/users/{m.ids['maker']}", headers=api.h(m.admin)).status_code == 404
    assert api.client.delete("/v1/users/abc", headers=api.h(m.admin)).status_code == 422


@pytest.mark.parametrize("rule, code", [
    ({"kind": "no.such_kind", "min_amount": None, "approvals": 1}, "UNKNOWN_KIND"),
    ({"kind": "certificates.accept", "min_amount": 5, "approvals": 1}, "NO_AMOUNT"),
    ({"kind": "certificates.issue", "min_amount": None, "approvals": 0}, "VALIDATION_ERROR"),
    ({"kind": "certificates.issue", "min_amount": "5", "approvals": 1}, "VALIDATION_ERROR"),
    ({"kind": "certificates.issue", "min_amount": 2**128, "approvals": 1}, "VALIDATION_ERROR"),
])
def test_bad_policies_are_refused(api: Api, members: Scenario, rule: dict[str, Any], code: str) -> None:
    r = api.client.put("/v1/approval-policy", json={"rules": [rule]}, headers=api.h(members.factor[1]))
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert api.get("/v1/approval-policy", members.factor[1]).json() == {"rules": []}


def test_idempotent_replays_while_awaiting_and_after(api: Api, members: Scenario) -> None:
    m = member_with_users(api, checkers=1, policy=[{"kind": "certificates.issue", "min_amount": None, "approvals": 1}])
    body = issue_body(api, members.supplier[0], 77)
    first = api.post("/v1/certificates", m.maker, body, idem="dual-1")
    replay = api.post("/v1/certificates", m.maker, body, idem="dual-1")
    assert first.status_code == replay.status_code == 202
    assert first.json()["id"] == replay.json()["id"] and first.json()["state"] == "awaiting_approval"
    assert api.post("/v1/certificates", m.maker, {**body, "face_value": 78}, idem="dual-1").status_code == 409
    nonce = chain_nonce(api, m.account)
    assert decide(api, m.checkers[0], first.json()["id"]).status_code == 200
    done = api.get(f"/v1/operations/{first.json()['id']}", m.maker, wait="true").json()
    assert done["state"] == "confirmed"
    after = api.post("/v1/certificates", m.maker, body, idem="dual-1")
    assert after.status_code == 200 and after.json()["id"] == first.json()["id"]
    assert chain_nonce(api, m.account) == nonce + 1  # one transaction
    assert len(api.get("/v1/approvals", m.checkers[0]).json()) == 0


def approve_concurrently(api: Api, keys: list[str], op_id: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every checker's approval sent at once; each one waits until all of them are in the store
    step before any takes the operation's row."""
    barrier = threading.Barrier(len(keys), timeout=10)
    real = approvals._take

    def take(s: Any, op: str) -> Any:
        barrier.wait()
        return real(s, op)

    monkeypatch.setattr(approvals, "_take", take)

    async def run() -> list[Any]:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return list(await asyncio.gather(*(
                client.post(f"/v1/operations/{op_id}/approve", json={}, headers={"X-API-Key": k}) for k in keys
            )))

    try:
        return api.client.portal.call(run)  # type: ignore[union-attr,no-any-return]
    finally:
        monkeypatch.setattr(approvals, "_take", real)


def check_quorum_once(api: Api, m: Member, payee: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nonce = chain_nonce(api, m.account)
    op = awaiting(api, m, payee)
    answers = approve_concurrently(api, m.checkers, op["id"], monkeypatch)
    assert sorted(r.status_code for r in answers) == [200, 200, 409, 409], [r.text for r in answers]
    assert sum(r.json().get("state") == "queued" for r in answers) <= 1
    done = api.get(f"/v1/operations/{op['id']}", m.admin, wait="true").json()
    assert done["state"] == "confirmed" and done["approvals"] == 2
    assert chain_nonce(api, m.account) == nonce + 1
    log = api.get("/v1/approvals/log", m.admin, operation_id=op["id"]).json()
    assert len(log) == 2 and len({a["user_id"] for a in log}) == 2


def test_concurrent_approvals_reach_the_quorum_once(
    api: Api, members: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = member_with_users(api, checkers=4, policy=THRESHOLD)
    check_quorum_once(api, m, members.supplier[0], monkeypatch)


def test_auditors_read_every_members_records(api: Api, members: Scenario) -> None:
    a = member_with_users(api, checkers=1, policy=[{"kind": "certificates.issue", "min_amount": None, "approvals": 1}])
    b = member_with_users(api, checkers=1, policy=[{"kind": "certificates.issue", "min_amount": None, "approvals": 1}])
    for m, verdict in ((a, "approve"), (b, "reject")):
        op = awaiting(api, m, members.supplier[0], face=5)
        assert decide(api, m.checkers[0], op["id"], verdict, f"{verdict} by policy").status_code == 200
    auditor = members.auditor[1]
    every = api.get("/v1/approvals/log", auditor, limit=1000).json()
    assert {a.account, b.account} <= {r["account"] for r in every}
    only_b = api.get("/v1/approvals/log", auditor, account=b.account).json()
    assert [(r["decision"], r["reason"]) for r in only_b] == [("reject", "reject by policy")]
    assert {r["account"] for r in api.get("/v1/approvals/log", a.maker).json()} == {a.account}  # own only
    assert api.get("/v1/approvals/log", a.maker, account=b.account).status_code == 403


def test_expiry_restart_and_webhooks(chain: Chain, members: Scenario, tmp_path: Path) -> None:
    """A gateway of its own (store, webhooks): an operation awaiting approval survives a restart and
    is approved after it (signed once); another expires unsigned (`expired`, durable webhook);
    awaiting_approval is published too."""
    hook = Receiver()
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET, approval_ttl_s=3600)
    payee = members.supplier[0]
    try:
        with TestClient(create_app(settings)) as client:
            api = Api(client, chain)
            m = member_with_users(api, checkers=1, policy=[
                {"kind": "certificates.issue", "min_amount": 100, "approvals": 1}])
            kept = awaiting(api, m, payee, face=100)
            nonce = chain_nonce(api, m.account)
        with TestClient(create_app(settings.model_copy(update={"approval_ttl_s": 1.0}))) as client:
            api = Api(client, chain)
            assert api.get(f"/v1/operations/{kept['id']}", m.maker).json()["state"] == "awaiting_approval"
            short = awaiting(api, m, payee, face=101)
            ok = decide(api, m.checkers[0], kept["id"])
            assert ok.status_code == 200 and ok.json()["state"] == "queued"
            assert api.get(f"/v1/operations/{kept['id']}", m.maker, wait="true").json()["state"] == "confirmed"
            gone = wait_until(lambda: (lambda o: o if o["state"] == "expired" else None)(
                api.get(f"/v1/operations/{short['id']}", m.maker).json()), timeout=15)
            assert gone["nonce"] is None and gone["error"]["code"] == "APPROVAL_EXPIRED"
            assert decide(api, m.checkers[0], short["id"]).status_code == 409
            assert chain_nonce(api, m.account) == nonce + 1

            def states(op_id: str) -> list[str]:
                with hook.lock:
                    return [p["operation"]["state"] for p, ok, _ in hook.received
                            if ok and p["operation"]["id"] == op_id]

            wait_until(lambda: "expired" in states(short["id"]) and "confirmed" in states(kept["id"]))
            assert "awaiting_approval" in states(short["id"])
    finally:
        hook.close()


def test_no_policy_nothing_waits(api: Api, members: Scenario) -> None:
    """Backward compatible: a member without a policy (and its new users) signs at once."""
    m = member_with_users(api, checkers=1)
    r = api.post("/v1/certificates", m.maker, issue_body(api, members.supplier[0], BIG))
    assert r.status_code == 200 and r.json()["state"] == "confirmed" and r.json()["approvals_required"] == 0
    assert api.get("/v1/approval-policy", m.admin).json() == {"rules": []}
    assert api.get("/v1/approvals", OPERATOR_API_KEY).json() == []
