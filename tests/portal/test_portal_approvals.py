"""Dual control through the portal in headless Chromium: a core enterprise's admin adds a maker and
a checker and sets a policy; the maker's large issue waits unsigned; the checker approves it from
the inbox (it is confirmed) and rejects another with a reason; checked through the gateway's API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from portal_stack import World, confirmed, login, shot

CORE = "Approval Core Works"


def gw(world: World, who: str, path: str, **params: Any) -> Any:
    return world.gw.get(world.key(who), path, **params)


def chain_nonce(world: World, account: str) -> int:
    return int(world.node.call("eth_getTransactionCount", account, "latest"), 16)


def issue(page: Any, world: World, payee: str, amount: str) -> str:
    """Issues from the core screen; returns the flashed operation's id once it is awaiting approval."""
    page.goto(f"{world.portal}/core")
    page.fill("#issue-form input[name=payee]", payee)
    page.fill("#issue-form input[name=amount]", amount)
    page.fill("#issue-form input[name=maturity]", (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d"))
    page.fill("#issue-form input[name=document_ref]", f"invoice {secrets.token_hex(4)}")
    page.click("#issue-form button")
    box = page.locator("#flash [data-op]").first
    box.wait_for()
    assert box.get_attribute("data-op-state") == "awaiting_approval", box.inner_text()
    return str(box.get_attribute("data-op"))


def test_maker_checker_through_the_portal(browser: Any, world: World) -> None:
    op_key = world.stack.operator_key
    for name, role in [(CORE, "core_enterprise"), ("Approval Payee", "supplier")]:
        out = world.gw.post(op_key, "/v1/members", {"role": role, "kyc_hash": "0x" + secrets.token_hex(32),
                                                    "label": name})
        world.members[name] = {"account": out["account"], "key": out["api_key"], "role": role}
    world.gw.put(op_key, f"/v1/members/{world.account(CORE)}/credit-limit", {"limit": 10**12})
    payee = world.account("Approval Payee")

    admin = login(browser, world, CORE)
    assert admin.url.endswith("/core")
    admin.click("header nav a[href='/users']")
    for label, role in [("Li Na", "maker"), ("Wang Qiang", "checker")]:
        admin.fill("#user-form input[name=label]", label)
        admin.select_option("#user-form select[name=role]", role)
        admin.click("#user-form button")
        world.members[label] = {"account": world.account(CORE), "key": admin.inner_text("#new-user-key"),
                                "role": "core_enterprise"}
        me = world.gw.get(world.key(label), "/v1/me")["user"]
        assert (me["label"], me["role"]) == (label, role)
    admin.goto(f"{world.portal}/users")
    admin.fill("#rule-form input[name=kind]", "certificates.issue")
    admin.fill("#rule-form input[name=min_amount]", "500,000.00")
    admin.fill("#rule-form input[name=approvals]", "1")
    admin.click("#rule-form button")
    assert "certificates.issue" in admin.inner_text("#policy-rules")
    assert gw(world, CORE, "/v1/approval-policy") == {
        "rules": [{"kind": "certificates.issue", "min_amount": 500_000 * 100, "approvals": 1}]}
    assert [u["label"] for u in gw(world, CORE, "/v1/users")][-2:] == ["Li Na", "Wang Qiang"]
    shot(admin, "users")

    maker = login(browser, world, "Li Na")
    assert "/users" not in [a.get_attribute("href") for a in maker.locator("header nav a").all()]
    nonce = chain_nonce(world, world.account(CORE))
    first = issue(maker, world, payee, "600,000.00")
    second = issue(maker, world, payee, "700,000.00")
    op = gw(world, CORE, f"/v1/operations/{first}")
    assert op["state"] == "awaiting_approval" and op["nonce"] is None and op["approvals_required"] == 1

    checker = login(browser, world, "Wang Qiang")
    assert checker.url.endswith("/approvals")
    rows = checker.locator("#inbox tr[data-approval]")
    assert {rows.nth(i).get_attribute("data-approval") for i in range(rows.count())} == {first, second}
    assert "Li Na" in checker.inner_text(f"#inbox tr[data-approval='{first}']")
    shot(checker, "approvals")
    assert chain_nonce(world, world.account(CORE)) == nonce  # nothing signed
    row = checker.locator(f"#inbox tr[data-approval='{first}']")
    row.locator("input[name=reason]").fill("contract and invoice checked")
    row.locator("button[formaction$='/reject']").wait_for()
    row.locator("form.decide button[type=submit]").first.click()
    result = confirmed(checker)
    assert int(result["certificate_id"]) > 0
    assert gw(world, CORE, f"/v1/operations/{first}")["state"] == "confirmed"

    checker.goto(f"{world.portal}/approvals")
    row = checker.locator(f"#inbox tr[data-approval='{second}']")
    row.locator("input[name=reason]").fill("amount above the contract")
    row.locator("button[formaction$='/reject']").click()
    checker.wait_for_selector("#flash [data-op][data-op-state=rejected]")
    rejected = gw(world, CORE, f"/v1/operations/{second}")
    assert rejected["state"] == "rejected" and rejected["error"]["message"] == "amount above the contract"
    log = gw(world, CORE, "/v1/approvals/log")
    assert [(a["user_label"], a["decision"], a["reason"]) for a in log][:2] == [
        ("Wang Qiang", "reject", "amount above the contract"),
        ("Wang Qiang", "approve", "contract and invoice checked"),
    ]
    assert "amount above the contract" in checker.inner_text("#approval-log")
    assert chain_nonce(world, world.account(CORE)) == nonce + 1

    zh = login(browser, world, "Wang Qiang", locale="zh-CN")
    assert "审批" in zh.inner_text("header nav") and "审批记录" in zh.inner_text("main")
    for page in (admin, maker, checker, zh):
        page.context.close()
