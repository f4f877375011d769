"""Regenerates the screenshots of docs/portal/ on the demo's supply chain:

    PYTHONPATH=$PWD .venv/bin/python tests/portal/screenshots.py

Starts a stack (the demo's `start_stack`), plays the demo's scenario through the gateway (`play`),
adds a pending certificate, offers (named and open to all factors), a quote request with two
quotes, an early-payment offer and a programme, then opens each role's main screens in headless
Chromium and saves them as PNG (English; the main ones in Chinese too, `-zh`, with Debian's
fonts-noto-cjk: `make chromium`). Stops everything it started."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from portal_stack import ARGS, CHROMIUM, SHOTS  # noqa: E402

from scf.demo import (  # noqa: E402
    CORES,
    DAY,
    FACTORS,
    TIER1,
    TIER2,
    UNIT,
    AuditorClient,
    GatewayClient,
    Node,
    Processes,
    Run,
    doc,
    invoice,
    play,
    start_stack,
    wait_indexed,
)


def main() -> int:
    from playwright.sync_api import sync_playwright

    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="portal-shots-"))
    try:
        stack = start_stack(work, procs)
        node = Node(stack.chain_url)
        run = Run(gw=GatewayClient(stack.gateway_url), node=node, operator_key=stack.operator_key)
        play(run)
        # a certificate waiting for acceptance and an open offer to a factor
        core, t1, t2, bank = run.m(CORES[1]), run.m(TIER1[3]), run.m(TIER2[4]), run.m(FACTORS[0])
        run.gw.post(core.key, "/v1/certificates", {"payee": t1.account, "face_value": 250_000 * UNIT,
                                                   "maturity": node.now() + 120 * DAY, "document_hash": doc("inv:E"),
                                                   "invoices": [invoice(TIER1[3], "00093001", 250_000 * UNIT)]})
        token = run.holdings[f"CERT-D/{TIER2[4]}"]
        run.gw.post(t2.key, "/v1/financing/offers", {
            "token_id": token, "value": 50_000 * UNIT, "factor": bank.account, "rate_bps": 480,
            "expires_at": node.now() + 7 * DAY, "recourse": False, "document_hash": doc("fa:D")})
        rival = run.m(FACTORS[1])
        run.gw.post(t2.key, "/v1/financing/open-offers", {
            "token_id": token, "value": 20_000 * UNIT, "factors": [], "rate_bps": 470,
            "expires_at": node.now() + 7 * DAY, "recourse": True, "document_hash": doc("fa:D:open")})
        rfq = run.gw.post(t2.key, "/v1/financing/quote-requests", {
            "token_id": token, "value": 30_000 * UNIT, "deadline": node.now() + 2 * DAY, "recourse": False,
            "document_hash": doc("fa:D:rfq")})["result"]["request_id"]
        for who, bps in ((bank, 460), (rival, 440)):
            run.gw.post(who.key, f"/v1/financing/quote-requests/{rfq}/quotes", {"rate_bps": bps})
        run.gw.post(core.key, "/v1/settlement/early-payments", {
            "token_id": token, "value": 20_000 * UNIT, "rate_bps": 300, "expires_at": node.now() + 7 * DAY})
        run.gw.post(core.key, "/v1/settlement/programmes", {"rate_bps": 350, "budget": 300_000 * UNIT})
        auditor = AuditorClient(str(stack.auditor_url), stack.auditor_key)
        wait_indexed(auditor, node, procs)
        # a past block for the "as of" screen: the middle of the indexed history
        as_of_block = auditor.get("/v1/reports/exposure")["as_of_block"] // 2

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

            def page_of(key: str, locale: str = "en-US") -> Any:
                ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
                page = ctx.new_page()
                page.goto(f"{stack.portal_url}/login")
                if key:
                    page.fill("input[name=api_key]", key)
                    page.click("form[action='/login'] button")
                    page.wait_for_load_state()
                return page

            def save(page: Any, name: str, full: bool = False) -> None:
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)
                print("saved", SHOTS / f"{name}.png")

            SHOTS.mkdir(parents=True, exist_ok=True)
            save(page_of(""), "login")
            s = page_of(t1.key)
            save(s, "supplier-holdings", full=True)
            s.click("#holdings tbody tr a")
            s.fill("#offer-form input[name=factor]", bank.account)
            s.fill("#offer-form input[name=amount]", "100,000.00")
            s.fill("#offer-form input[name=rate]", "4.8")
            s.wait_for_selector("#quote-price:has-text('¥')")
            save(s, "supplier-holding", full=True)
            s.fill("#pay-form input[name=to]", t2.account)
            s.fill("#pay-form input[name=amount]", "99,999,999.00")
            s.fill("#pay-form input[name=document_ref]", "PO-2026-0099")
            s.click("#pay-form button")
            s.wait_for_selector("#flash .error")
            save(s, "error")
            m = page_of(t2.key)
            m.goto(f"{stack.portal_url}/market")
            save(m, "supplier-market", full=True)
            f = page_of(bank.key)
            save(f, "factor-offers")
            f.goto(f"{stack.portal_url}/market")
            save(f, "factor-market", full=True)
            f.goto(f"{stack.portal_url}/holdings")
            save(f, "factor-book", full=True)
            c = page_of(core.key)
            save(c, "core", full=True)
            # the issue form on an invoice already used (the demo's CERT-F's): the refusal and its meaning
            used = invoice(TIER1[1], "00072841", 300_000 * UNIT)
            c.fill("#issue-form input[name=payee]", t1.account)
            c.fill("#issue-form input[name=amount]", "300,000.00")
            c.fill("#issue-form input[name=maturity]", "2027-06-30")
            c.fill("#issue-form input[name=document_ref]", "contract HX-2026-17")
            for field, value in (("seller_tax_id", used["seller_tax_id"]), ("invoice_code", used["invoice_code"]),
                                 ("invoice_number", used["invoice_number"]), ("amount", "300,000.00"),
                                 ("issue_date", used["issue_date"])):
                c.fill(f"#invoices .invoice-row[data-row='1'] input[name=invoice_{field}]", value)
            c.click("#issue-form button[type=submit]")
            c.wait_for_selector("#flash .error")
            save(c, "core-invoice-refused")
            e = page_of(core.key)
            e.goto(f"{stack.portal_url}/early")
            save(e, "core-early", full=True)
            save(page_of(stack.operator_key), "operator", full=True)
            a = page_of(stack.auditor_key)
            save(a, "auditor-dashboard", full=True)
            for section in ("market", "abnormal-splits"):
                a.locator(f"#{section}").screenshot(path=str(SHOTS / f"auditor-{section}.png"))
                print("saved", SHOTS / f"auditor-{section}.png")
            a.goto(f"{stack.portal_url}/audit?as_of_block={as_of_block}")
            save(a, "auditor-as-of", full=True)
            a.goto(f"{stack.portal_url}/audit/lineage/1")
            save(a, "auditor-lineage", full=True)
            # the main screens in Chinese
            save(page_of("", "zh-CN"), "login-zh")
            for key, path, name in [(t1.key, "/holdings", "supplier-holdings-zh"),
                                    (t2.key, "/market", "supplier-market-zh"),
                                    (bank.key, "/market", "factor-market-zh"),
                                    (core.key, "/core", "core-zh"),
                                    (core.key, "/early", "core-early-zh"),
                                    (stack.operator_key, "/operator", "operator-zh"),
                                    (stack.auditor_key, "/audit", "auditor-dashboard-zh")]:
                z = page_of(key, "zh-CN")
                z.goto(f"{stack.portal_url}{path}")
                save(z, name, full=True)
            browser.close()
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
