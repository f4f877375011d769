"""Each role's main task done through the portal in headless Chromium, checked on chain (the
gateway's API) and in the indexer (the auditor API). The tests run in order and build one story:
onboarding, issue, accept, split and pay, offer and financing, repayment and redemption, audit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from portal_stack import World, confirmed, login, shot

from scf.demo import Processes, wait_indexed
from scf_core.invoices import invoice_key

UNIT = 100
INVOICE = b"%PDF-1.4 invoice PO-T1-T2-77 delivery note 2026-12-01\n"


def sha(data: bytes) -> str:
    return "0x" + hashlib.sha256(data).hexdigest()


def gw(world: World, who: str, path: str, **params: Any) -> Any:
    return world.gw.get(world.key(who), path, **params)


def test_operator_onboards_members_and_sets_credit_the_clearing_agent_mints(browser: Any, world: World) -> None:
    page = login(browser, world, "operator")
    assert page.url.endswith("/operator")
    assert page.locator("#mint-form").count() == 0  # the operator never touches client money
    for name, role in [("Huaxin Motors", "core_enterprise"), ("Changjiang Body Works", "supplier"),
                       ("Anhe Stamping", "supplier"), ("Ningbo Factoring", "factor"),
                       ("Shanghai Clearing Bank", "clearing_agent")]:
        page.select_option("#onboard-form select[name=role]", role)
        page.fill("#onboard-form input[name=label]", name)
        page.fill("#onboard-form input[name=kyc_ref]", f"KYC file {name}")
        page.click("#onboard-form button[type=submit]")
        key = page.inner_text("#new-api-key")
        account = page.inner_text("#new-account")
        confirmed(page)
        if name == "Changjiang Body Works":
            shot(page, "operator-onboarded")
        world.members[name] = {"account": account, "key": key, "role": role}
        # on chain: the member, its role and KYC hash; the key shown once works
        member = gw(world, "operator", f"/v1/members/{account}")
        assert member["active"] is True and member["kyc_hash"] == sha(f"KYC file {name}".encode())
        assert world.gw.get(key, "/v1/me")["role"] == role
        page.goto(f"{world.portal}/operator")

    core, factor = world.account("Huaxin Motors"), world.account("Ningbo Factoring")
    page.fill("#credit-form input[name=account]", core)
    page.fill("#credit-form input[name=amount]", "5,000,000.00")
    page.click("#credit-form button")
    confirmed(page)
    assert int(gw(world, "operator", f"/v1/members/{core}")["credit_limit"]) == 5_000_000 * UNIT
    page.goto(f"{world.portal}/operator")
    assert "Huaxin Motors" in page.inner_text("#members")
    shot(page, "operator")
    page.context.close()
    # the clearing agent (a licensed bank) mints against deposits and burns on withdrawal
    page = login(browser, world, "Shanghai Clearing Bank")
    assert page.url.endswith("/clearing")
    for who in (core, factor):
        page.goto(f"{world.portal}/clearing")
        page.fill("#mint-form input[name=account]", who)
        page.fill("#mint-form input[name=amount]", "2000100")
        page.click("#mint-form button")
        confirmed(page)
    page.goto(f"{world.portal}/clearing")
    page.fill("#burn-form input[name=account]", factor)
    page.fill("#burn-form input[name=amount]", "100")
    page.click("#burn-form button")
    confirmed(page)
    for who, minor in ((core, 2_000_100 * UNIT), (factor, 2_000_000 * UNIT)):
        assert int(gw(world, "operator", f"/v1/currency/balances/{who}")["balance"]) == minor
    page.goto(f"{world.portal}/clearing?account={core}")
    assert "2,000,100.00" in page.inner_text("#found") and len(page.locator("#moves tbody tr").all()) == 3
    shot(page, "clearing")
    page.context.close()


def test_core_issues_within_its_credit_line(browser: Any, world: World) -> None:
    page = login(browser, world, "Huaxin Motors")
    assert page.url.endswith("/core")
    assert page.inner_text("#credit-available") == "¥5,000,000.00"
    maturity = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%d")
    page.fill("#issue-form input[name=payee]", world.account("Changjiang Body Works"))
    page.fill("#issue-form input[name=amount]", "1,000,000.00")
    page.fill("#issue-form input[name=maturity]", maturity)
    page.fill("#issue-form input[name=document_ref]", "invoice INV-2026-001")
    page.click("#issue-form button")
    result = confirmed(page)
    cert_id, token = int(result["certificate_id"]), int(result["token_id"])
    world.facts.update(cert=cert_id, token=token, maturity=maturity)
    # the page's data section follows: used / available and what I owe
    page.wait_for_selector(f"#owed tr[data-certificate='{cert_id}']")
    assert page.inner_text("#credit-available") == "¥4,000,000.00"
    # on chain
    cert = gw(world, "Huaxin Motors", f"/v1/certificates/{cert_id}")
    assert cert["face_value"] == 1_000_000 * UNIT and cert["status"] == "pending"
    assert cert["document_hash"] == sha(b"invoice INV-2026-001")
    assert datetime.fromtimestamp(cert["maturity"], UTC).strftime("%Y-%m-%d") == maturity
    assert int(gw(world, "Huaxin Motors", "/v1/me")["credit_used"]) == 1_000_000 * UNIT
    shot(page, "core")
    page.context.close()


def test_core_issues_on_an_invoice_and_the_same_invoice_again_is_refused(browser: Any, world: World) -> None:
    # the stack leaves invoices optional (the form above issued without one); here one backs the certificate
    assert gw(world, "Huaxin Motors", "/v1/system/info")["invoices_required"] is False
    page = login(browser, world, "Huaxin Motors")
    assert page.get_attribute("#invoices", "data-required") == "false"
    used_before = int(gw(world, "Huaxin Motors", "/v1/me")["credit_used"])
    maturity = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d")
    issued = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")

    def fill(payee: str, tax_id: str) -> None:
        page.fill("#issue-form input[name=payee]", world.account(payee))
        page.fill("#issue-form input[name=amount]", "50,000.00")
        page.fill("#issue-form input[name=maturity]", maturity)
        page.fill("#issue-form input[name=document_ref]", "contract HX-2026-17")
        row = page.locator("#invoices .invoice-row[data-row='1']")
        row.locator("input[name=invoice_seller_tax_id]").fill(tax_id)
        row.locator("input[name=invoice_invoice_code]").fill("3100261130")
        row.locator("input[name=invoice_invoice_number]").fill("00090001")
        row.locator("input[name=invoice_amount]").fill("80,000.00")
        row.locator("input[name=invoice_issue_date]").fill(issued)
        row.locator("input[name=invoice_backed]").fill("50,000.00")

    fill("Changjiang Body Works", "91310000MA1FL8XQ30")
    shot(page, "core-invoice")
    page.click("#issue-form button[type=submit]")
    cert_id = int(confirmed(page)["certificate_id"])
    world.facts["invoice_cert"] = cert_id
    key = "0x" + invoice_key("91310000MA1FL8XQ30", "3100261130", "00090001").hex()
    world.facts["invoice_key"] = key
    # on chain: the certificate rests on the invoice (50,000.00 of its 80,000.00)
    cert = gw(world, "Huaxin Motors", f"/v1/certificates/{cert_id}")
    assert cert["face_value"] == 50_000 * UNIT and len(cert["invoices"]) == 1
    op = next(o for o in gw(world, "Huaxin Motors", "/v1/operations", limit=5)
              if o["kind"] == "certificates.issue" and o["args"].get("invoices"))
    assert op["args"]["invoices"][0]["key"] == key and op["args"]["invoices"][0]["backed"] == 50_000 * UNIT
    assert op["args"]["invoices"][0]["amount"] == 80_000 * UNIT

    # the same invoice (lower case, spaces: the same canonical key) for another supplier: refused, named
    page.goto(f"{world.portal}/core")
    fill("Anhe Stamping", " 91310000ma1fl8xq30 ")
    page.click("#issue-form button[type=submit]")
    err = page.locator("#flash .error")
    err.wait_for()
    text = err.inner_text()
    assert "INVOICE_ALREADY_USED" in text and f"certificate {cert_id}" in text, text
    assert "one invoice cannot back a second certificate" in text, text  # the hint
    shot(page, "core-invoice-refused")
    assert int(gw(world, "Huaxin Motors", "/v1/me")["credit_used"]) == used_before + 50_000 * UNIT
    # a field the gateway refuses (a tax id of the wrong form): its 422 code and hint
    page.goto(f"{world.portal}/core")
    fill("Anhe Stamping", "9131")
    page.locator("#invoices .invoice-row[data-row='1'] input[name=invoice_invoice_number]").fill("00090002")
    page.click("#issue-form button[type=submit]")
    text = page.locator("#flash .error").inner_text()
    assert "INVALID_TAX_ID" in text and "18-character unified social credit code" in text, text

    # the operator requires invoices: the first row is required, an issue without one refused by the
    # portal (the browser's own check switched off), nothing sent; then optional again
    world.gw.put(world.key("operator"), "/v1/system/invoices-required", {"required": True})
    try:
        page.goto(f"{world.portal}/core")
        assert page.get_attribute("#invoices", "data-required") == "true"
        assert page.locator("#invoices .invoice-row[data-row='1'] input[required]").count() == 4
        assert page.locator("#invoices .invoice-row[data-row='2'] input[required]").count() == 0
        page.fill("#issue-form input[name=payee]", world.account("Anhe Stamping"))
        page.fill("#issue-form input[name=amount]", "1,000.00")
        page.fill("#issue-form input[name=maturity]", maturity)
        page.fill("#issue-form input[name=document_ref]", "no invoice")
        page.evaluate("document.querySelector('#issue-form').noValidate = true")
        page.click("#issue-form button[type=submit]")
        text = page.locator("#flash .error").inner_text()
        assert "INVALID_INPUT" in text and "requires at least one invoice" in text, text
    finally:
        world.gw.put(world.key("operator"), "/v1/system/invoices-required", {"required": False})
    assert int(gw(world, "Huaxin Motors", "/v1/me")["credit_used"]) == used_before + 50_000 * UNIT
    page.context.close()

    # in the indexer: the invoice used by that certificate, 50,000.00 of 80,000.00
    wait_indexed(world.auditor, world.node, Processes())
    usage = world.auditor.get("/v1/reports/invoices", key=key)["items"]
    assert [(u["used"], u["amount"], u["state"]) for u in usage] == [(50_000 * UNIT, 80_000 * UNIT, "partly_used")]
    assert usage[0]["certificates"] == f"{cert_id}:{50_000 * UNIT}"


def test_supplier_accepts_splits_and_pays_with_an_uploaded_document(browser: Any, world: World) -> None:
    page = login(browser, world, "Changjiang Body Works")
    cert_id, token = world.facts["cert"], world.facts["token"]
    page.click(f"#incoming tr[data-certificate='{cert_id}'] button[name=accept]")
    confirmed(page)
    page.wait_for_selector(f"#holdings tr[data-token='{token}']")
    assert gw(world, "Changjiang Body Works", f"/v1/certificates/{cert_id}")["status"] == "active"

    page.goto(f"{world.portal}/holdings/{token}")
    page.fill("#pay-form input[name=to]", world.account("Anhe Stamping"))
    page.fill("#pay-form input[name=amount]", "400,000.00")
    page.set_input_files("#pay-form input[name=document]",
                         files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": INVOICE}])
    page.click("#pay-form button")
    new_token = int(confirmed(page)["new_token_id"])
    world.facts["t2_token"] = new_token
    page.wait_for_selector("#value:has-text('¥600,000.00')")
    # on chain: the tier-2 holding, its parent and value; the document hash is the file's sha256
    h = gw(world, "Anhe Stamping", f"/v1/holdings/{new_token}")
    assert (h["value"], h["parent_token_id"], h["tier"]) == (400_000 * UNIT, token, 2)
    ops = gw(world, "Changjiang Body Works", "/v1/operations", limit=5)
    split = next(op for op in ops if op["kind"] == "holdings.split_transfer")
    assert split["args"]["document_hash"] == sha(INVOICE)
    shot(page, "supplier-holding")
    page.context.close()


def test_an_over_balance_split_shows_the_apis_error_and_changes_nothing(browser: Any, world: World) -> None:
    page = login(browser, world, "Changjiang Body Works")
    token = world.facts["token"]
    page.goto(f"{world.portal}/holdings/{token}")
    page.fill("#pay-form input[name=to]", world.account("Anhe Stamping"))
    page.fill("#pay-form input[name=amount]", "999,999,999.00")
    page.fill("#pay-form input[name=document_ref]", "PO-too-much")
    page.click("#pay-form button")
    err = page.locator("#flash .error")
    err.wait_for()
    text = err.inner_text()
    assert "CONTRACT_REVERT" in text and "CertificateInsufficientValue" in text, text
    assert "60000000" in text and "99999999900" in text, text  # available / requested, from details.args
    assert gw(world, "Changjiang Body Works", f"/v1/holdings/{token}")["value"] == 600_000 * UNIT
    shot(page, "error")
    # bad input is refused by the portal before any call
    page.fill("#pay-form input[name=to]", world.account("Anhe Stamping"))
    page.fill("#pay-form input[name=amount]", "1.234")
    page.fill("#pay-form input[name=document_ref]", "x")
    page.click("#pay-form button")
    assert "INVALID_INPUT" in page.locator("#flash .error").inner_text()
    page.context.close()


def test_operator_freezes_releases_pauses_and_unpauses(browser: Any, world: World) -> None:
    page = login(browser, world, "operator")
    t2 = world.facts["t2_token"]
    page.fill("#freeze-form input[name=token_id]", str(t2))
    page.fill("#freeze-form input[name=reason]", "court order 2026-0042")
    page.click("#freeze-form button[type=submit] >> nth=0")
    confirmed(page)
    assert gw(world, "operator", f"/v1/holdings/{t2}")["frozen"] is True
    ops = gw(world, "operator", "/v1/operations", limit=1)
    assert ops[0]["kind"] == "holdings.freeze" and ops[0]["args"]["reason_hash"] == sha(b"court order 2026-0042")
    # the holder sees it frozen
    holder = login(browser, world, "Anhe Stamping")
    assert holder.locator(f"#holdings tr[data-token='{t2}'] .frozen").count() == 1
    holder.context.close()
    page.fill("#freeze-form input[name=token_id]", str(t2))
    page.fill("#freeze-form input[name=reason]", "court order 2026-0042 lifted")
    page.click("#freeze-form button[formaction='/operator/unfreeze-holding']")
    confirmed(page)
    assert gw(world, "operator", f"/v1/holdings/{t2}")["frozen"] is False

    page.click("#pause-form button")
    confirmed(page)
    assert gw(world, "operator", "/v1/system/info")["paused"] is True
    page.wait_for_selector("#pause-form button:has-text('Unpause')")  # the page followed
    page.click("#pause-form button")
    confirmed(page)
    assert gw(world, "operator", "/v1/system/info")["paused"] is False
    page.context.close()


def test_supplier_offers_to_a_factor_and_the_factor_accepts(browser: Any, world: World) -> None:
    seller = login(browser, world, "Changjiang Body Works")
    token = world.facts["token"]
    cert = gw(world, "Changjiang Body Works", f"/v1/certificates/{world.facts['cert']}")
    quote = gw(world, "Changjiang Body Works", "/v1/financing/quote", value=100_000 * UNIT, rate_bps=450,
               maturity=cert["maturity"])
    seller.goto(f"{world.portal}/holdings/{token}")
    seller.fill("#offer-form input[name=factor]", world.account("Ningbo Factoring"))
    seller.fill("#offer-form input[name=amount]", "100,000.00")
    seller.fill("#offer-form input[name=rate]", "4.5")
    price = quote["price"]
    shown = f"¥{price // 100:,}.{price % 100:02d}"
    seller.wait_for_selector(f"#quote-price:has-text('{shown}')")  # the preview, from the gateway's quote
    seller.fill("#offer-form input[name=document_ref]", "factoring agreement FA-9")
    shot(seller, "supplier-offer")
    seller.click("#offer-form button")
    offer_id = int(confirmed(seller)["offer_id"])
    before = int(gw(world, "Changjiang Body Works", "/v1/me")["balance"])

    factor = login(browser, world, "Ningbo Factoring")
    assert factor.url.endswith("/offers")
    row = factor.locator(f"#offers tr[data-offer='{offer_id}']")
    assert shown in row.inner_text()
    shot(factor, "factor-offers")
    row.locator("button").first.click()
    new_token = int(confirmed(factor)["new_token_id"])
    # on chain: the offer accepted, the factor holds the part, the seller got the price (DvP)
    assert gw(world, "Ningbo Factoring", f"/v1/financing/offers/{offer_id}")["status"] == "accepted"
    assert gw(world, "Ningbo Factoring", f"/v1/holdings/{new_token}")["value"] == 100_000 * UNIT
    assert int(gw(world, "Changjiang Body Works", "/v1/me")["balance"]) == before + price
    factor.goto(f"{world.portal}/holdings")
    assert factor.locator(f"#holdings tr[data-token='{new_token}']").count() == 1
    assert world.facts["maturity"] in factor.inner_text("#maturities")
    shot(factor, "factor-book")
    seller.context.close()
    factor.context.close()


def test_core_repays_and_a_holder_redeems(browser: Any, world: World) -> None:
    world.node.travel(91 * 86_400)  # dev-chain control: past maturity
    cert_id = world.facts["cert"]
    core = login(browser, world, "Huaxin Motors")
    row = core.locator(f"#owed tr[data-certificate='{cert_id}']")
    assert row.locator("input[name=amount]").input_value() == "1,000,000.00"  # prefilled with what is owed
    row.locator("button").click()
    confirmed(core)
    assert gw(world, "Huaxin Motors", f"/v1/settlement/certificates/{cert_id}")["repaid"] == 1_000_000 * UNIT
    core.wait_for_selector(f"#owed tr[data-certificate='{cert_id}'] td.owed:has-text('¥0.00')")
    core.context.close()

    holder = login(browser, world, "Anhe Stamping")
    t2 = world.facts["t2_token"]
    holder.goto(f"{world.portal}/holdings/{t2}")
    assert holder.inner_text("#redeemable") == "¥400,000.00"
    holder.click("#redeem-form button")
    assert confirmed(holder)["redeemed"] == str(400_000 * UNIT)
    assert int(gw(world, "Anhe Stamping", "/v1/me")["balance"]) == 400_000 * UNIT
    r = httpx.get(f"{world.stack.gateway_url}/v1/holdings/{t2}", headers={"X-API-Key": world.key("operator")})
    assert r.status_code == 404 or r.json()["value"] == 0  # burned
    holder.context.close()


def test_auditor_dashboard_lineage_tree_and_csv(browser: Any, world: World) -> None:
    wait_indexed(world.auditor, world.node, Processes())
    page = login(browser, world, "auditor")
    assert page.url.endswith("/audit")
    core = world.account("Huaxin Motors").lower()
    exposure = world.auditor.get("/v1/reports/exposure")["items"]
    row = next(r for r in exposure if r["debtor"] == core)
    panel = page.inner_text("#exposure")
    assert page.locator(f"#exposure code[title='{core}']").count() >= 1 and f"{row['issued'] // 100:,}.00" in panel
    assert "svg" in page.inner_html("#exposure")
    for section in ("#overdue", "#ageing", "#tiers", "#financing", "#concentration"):
        assert page.locator(f"{section} svg").count() == 1
    shot(page, "auditor-dashboard")

    # CSV of what is on screen: the auditor API's CSV of the same report
    with page.expect_download() as dl:
        page.click("#csv-exposure")
    csv_bytes = Path(dl.value.path()).read_bytes()
    assert csv_bytes == world.auditor.http.get("/v1/reports/exposure", params={"format": "csv", "limit": 10000}).content
    assert core.encode() in csv_bytes

    # invoice usage: the invoice the core issued on, used 50,000.00 of 80,000.00 by that certificate
    usage = world.auditor.get("/v1/reports/invoices", limit=1000)
    row = page.locator(f"#invoices tr[data-key='{world.facts['invoice_key']}']")
    assert row.locator(".used").inner_text() == "¥50,000.00"
    assert row.locator(".certs").inner_text().strip() == f"#{world.facts['invoice_cert']} ¥50,000.00"
    assert page.inner_text("#invoices .invoices-count") == str(usage["invoices"])
    with page.expect_download() as dl:
        page.click("#csv-invoices")
    assert Path(dl.value.path()).read_bytes() == world.auditor.http.get(
        "/v1/reports/invoices", params={"format": "csv", "limit": 10000}).content

    cert_id = world.facts["cert"]
    page.click(f"#certificates tr[data-certificate='{cert_id}'] a")
    lineage = world.auditor.get(f"/v1/certificates/{cert_id}/lineage")
    tokens = {n["token_id"] for n in _walk(lineage["tree"])}
    assert {int(x) for x in page.locator("#tree details").evaluate_all("els => els.map(e => e.dataset.token)")} \
        == tokens
    assert page.inner_text("#max-tier") == str(lineage["max_tier"])
    t2 = next(n for n in _walk(lineage["tree"]) if n["token_id"] == world.facts["t2_token"])
    assert t2["document_hash"] == sha(INVOICE)  # the uploaded file's hash, as indexed
    # interactive: collapse hides the children, expand shows them again
    child = page.locator(f"#tree details[data-token='{t2['token_id']}'] > summary")
    assert child.is_visible()
    page.click("#collapse-all")
    assert not child.is_visible()
    page.click("#expand-all")
    assert child.is_visible()
    # each node links to its transaction
    link = page.locator(f"#tree details[data-token='{t2['token_id']}'] > summary a.tx").first
    assert link.get_attribute("href") == f"#tx-{t2['created_tx']}"
    assert page.locator(f"tr[id='tx-{t2['created_tx']}']").count() == 1
    shot(page, "auditor-lineage")
    with page.expect_download() as dl:
        page.click("#csv-lineage")
    assert Path(dl.value.path()).read_bytes() == world.auditor.http.get(
        f"/v1/certificates/{cert_id}/lineage", params={"format": "csv"}).content
    page.context.close()


def _walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n in nodes:
        out.append(n)
        out += _walk(n.get("children", []))
    return out
