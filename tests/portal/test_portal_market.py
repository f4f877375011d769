"""The financing market through the portal in headless Chromium, each step checked on chain (the
gateway's API) and in the indexer: a supplier's quote request quoted by two factors (each seeing
only its own quote before the deadline), withdrawn and accepted; an open offer to a listed factor
taken by it and refused to another; early payment by the debtor (accepted, cancelled) and a
standing programme (taken, closed); recourse on an overdue deal; the auditor's dashboard "as of" a
past block. A stack of the module's own: it moves the chain's clock."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from portal_stack import World, confirmed, login, shot

from portal.forms import money
from scf.demo import AuditorClient, GatewayClient, Node, Processes, doc, start_stack, wait_indexed

UNIT = 100
DAY = 86_400
CORE, SUPPLIER, BANK, RIVAL = "Huaxin Motors", "Changjiang Body Works", "Ningbo Factoring", "Pudong Finance"
CLEARING = "Shanghai Clearing Bank"  # the clearing agent alone mints the settlement currency


@pytest.fixture(scope="module")
def market(browser: Any) -> Iterator[World]:
    procs = Processes()
    work = Path(tempfile.mkdtemp(prefix="portal-market-"))
    try:
        stack = start_stack(work, procs)
        w = World(stack, GatewayClient(stack.gateway_url), Node(stack.chain_url),
                  AuditorClient(str(stack.auditor_url), stack.auditor_key))
        op = stack.operator_key
        for name, role in [(CORE, "core_enterprise"), (SUPPLIER, "supplier"), (BANK, "factor"), (RIVAL, "factor"),
                           (CLEARING, "clearing_agent")]:
            data = w.gw.post(op, "/v1/members", {"role": role, "kyc_hash": doc(f"kyc:{name}"), "label": name})
            w.members[name] = {"account": data["account"], "key": data["api_key"], "role": role}
        w.gw.put(op, f"/v1/members/{w.account(CORE)}/credit-limit", {"limit": 5_000_000 * UNIT})
        for name in (CORE, BANK, RIVAL):
            w.gw.post(w.key(CLEARING), "/v1/currency/mint", {"to": w.account(name), "amount": 3_000_000 * UNIT})
        issued = w.gw.post(w.key(CORE), "/v1/certificates", {
            "payee": w.account(SUPPLIER), "face_value": 1_000_000 * UNIT, "maturity": w.node.now() + 120 * DAY,
            "document_hash": doc("invoice:market")})
        w.facts.update(cert=issued["result"]["certificate_id"], token=issued["result"]["token_id"],
                       issue_block=issued["block_number"])
        w.gw.post(w.key(SUPPLIER), f"/v1/certificates/{w.facts['cert']}/accept")
        yield w
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def gw(w: World, who: str, path: str, **params: Any) -> Any:
    return w.gw.get(w.key(who), path, **params)


def chain_day(w: World, days: int, fmt: str = "%Y-%m-%d") -> str:
    return datetime.fromtimestamp(w.node.now() + days * DAY, UTC).strftime(fmt)


def balance(w: World, who: str) -> int:
    return int(gw(w, who, "/v1/me")["balance"])


def quote_ids(page: Any, request_id: int) -> set[int]:
    rows = page.locator(f"#quotes-{request_id} tr[data-quote]")
    return {int(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.quote)")}


def test_supplier_asks_for_quotes_factors_quote_and_the_supplier_takes_the_best(browser: Any, market: World) -> None:
    w, token = market, market.facts["token"]
    seller = login(browser, w, SUPPLIER)
    seller.goto(f"{w.portal}/holdings/{token}")
    deadline = chain_day(w, 2, "%Y-%m-%dT%H:%M")
    seller.fill("#rfq-form input[name=amount]", "200,000.00")
    seller.fill("#rfq-form input[name=deadline]", deadline)
    seller.fill("#rfq-form input[name=document_ref]", "factoring agreement RFQ-1")
    seller.click("#rfq-form button[type=submit]")
    request_id = int(confirmed(seller)["request_id"])
    r = gw(w, SUPPLIER, f"/v1/financing/quote-requests/{request_id}")
    assert (r["value"], r["status"]) == (200_000 * UNIT, "open")
    assert r["deadline"] == int(datetime.fromisoformat(deadline).replace(tzinfo=UTC).timestamp())

    bank = login(browser, w, BANK)
    bank.goto(f"{w.portal}/market")
    bank.fill(f"[data-request='{request_id}'] .quote-form input[name=rate]", "5")
    bank.click(f"[data-request='{request_id}'] .quote-form button")
    first = int(confirmed(bank)["quote_id"])
    bank.click(f"#quotes-{request_id} tr[data-quote='{first}'] button[name=withdraw]")
    confirmed(bank)
    assert gw(w, BANK, f"/v1/financing/quotes/{first}")["status"] == "withdrawn"
    bank.goto(f"{w.portal}/market")
    bank.fill(f"[data-request='{request_id}'] .quote-form input[name=rate]", "4.8")
    bank.click(f"[data-request='{request_id}'] .quote-form button")
    second = int(confirmed(bank)["quote_id"])

    rival = login(browser, w, RIVAL)
    rival.goto(f"{w.portal}/market")
    rival.fill(f"[data-request='{request_id}'] .quote-form input[name=rate]", "4.2")
    rival.click(f"[data-request='{request_id}'] .quote-form button")
    best = int(confirmed(rival)["quote_id"])
    # before the deadline each factor sees only its own quotes (the gateway's rule, shown as given)
    rival.goto(f"{w.portal}/market")
    assert quote_ids(rival, request_id) == {best}
    assert rival.locator(f"[data-request='{request_id}'] .quotes-visible").get_attribute("data-visible") == "own"
    bank.goto(f"{w.portal}/market")
    assert quote_ids(bank, request_id) == {first, second}
    shot(bank, "factor-market")

    seller.goto(f"{w.portal}/market")
    assert quote_ids(seller, request_id) == {first, second, best}
    assert "best" in seller.locator(f"#quotes-{request_id} tr[data-quote='{best}']").get_attribute("class")
    shot(seller, "supplier-market")
    before = balance(w, SUPPLIER)
    seller.click(f"#quotes-{request_id} tr[data-quote='{best}'] button[name=accept]")
    deal = confirmed(seller)
    price, new_token = int(deal["price"]), int(deal["new_token_id"])
    # on chain: delivery versus payment at the rival's price
    assert gw(w, RIVAL, f"/v1/financing/quotes/{best}")["status"] == "accepted"
    assert gw(w, SUPPLIER, f"/v1/financing/quote-requests/{request_id}")["status"] == "accepted"
    assert gw(w, RIVAL, f"/v1/holdings/{new_token}")["value"] == 200_000 * UNIT
    assert balance(w, SUPPLIER) == before + price
    assert gw(w, SUPPLIER, f"/v1/holdings/{token}")["value"] == 800_000 * UNIT

    # from the deadline on, every factor sees every quote
    w.node.travel(3 * DAY)
    bank.goto(f"{w.portal}/market")
    assert quote_ids(bank, request_id) == {first, second, best}
    assert bank.locator(f"[data-request='{request_id}'] .quotes-visible").get_attribute("data-visible") == "all"
    for p in (seller, bank, rival):
        p.context.close()


def test_an_open_offer_to_a_listed_factor_is_taken_by_it_only(browser: Any, market: World) -> None:
    w, token = market, market.facts["token"]
    seller = login(browser, w, SUPPLIER)
    seller.goto(f"{w.portal}/holdings/{token}")
    seller.fill("#open-offer-form textarea[name=factors]", w.account(BANK))
    seller.fill("#open-offer-form input[name=amount]", "100,000.00")
    seller.fill("#open-offer-form input[name=rate]", "4.5")
    seller.fill("#open-offer-form input[name=expires]", chain_day(w, 7))
    seller.check("#open-offer-form input[name=recourse]")
    seller.fill("#open-offer-form input[name=document_ref]", "factoring agreement OPEN-1")
    seller.click("#open-offer-form button[type=submit]")
    offer_id = int(confirmed(seller)["offer_id"])
    o = gw(w, SUPPLIER, f"/v1/financing/offers/{offer_id}")
    assert (o["status"], o["recourse"], o["factor"]) == ("open", True, "0x" + "0" * 40)

    rival = login(browser, w, RIVAL)
    rival.goto(f"{w.portal}/market")
    assert rival.locator(f"#open-offers tr[data-offer='{offer_id}']").count() == 0  # not invited
    rival.context.close()
    bank = login(browser, w, BANK)
    bank.goto(f"{w.portal}/market")
    row = bank.locator(f"#open-offers tr[data-offer='{offer_id}']")
    assert "¥100,000.00" in row.inner_text()
    row.locator("button[name=accept]").click()
    new_token = int(confirmed(bank)["new_token_id"])
    assert bank.url.endswith("/market")
    o = gw(w, BANK, f"/v1/financing/offers/{offer_id}")
    assert o["status"] == "accepted" and o["factor"].lower() == w.account(BANK).lower()
    assert gw(w, BANK, f"/v1/holdings/{new_token}")["value"] == 100_000 * UNIT
    w.facts["recourse_deal"] = offer_id
    seller.goto(f"{w.portal}/offers")
    mine = seller.inner_text(f"#offers tr[data-offer='{offer_id}']")
    assert "accepted" in mine, mine
    for p in (seller, bank):
        p.context.close()
    # the new screens in Chinese
    zh = login(browser, w, BANK, locale="zh-CN")
    zh.goto(f"{w.portal}/market")
    assert zh.inner_text("h1") == "融资市场" and "可受让的公开融资" in zh.inner_text("main")
    zh.context.close()


def test_the_debtor_offers_early_payment_the_supplier_accepts_and_a_cancelled_one_is_gone(
        browser: Any, market: World) -> None:
    w, token = market, market.facts["token"]
    core = login(browser, w, CORE)
    core.goto(f"{w.portal}/early")
    ids = []
    for amount in ("100,000.00", "50,000.00"):
        core.fill("#early-form input[name=token_id]", str(token))
        core.fill("#early-form input[name=amount]", amount)
        core.fill("#early-form input[name=rate]", "3")
        core.fill("#early-form input[name=expires]", chain_day(w, 7))
        core.click("#early-form button")
        ids.append(int(confirmed(core)["early_payment_id"]))
        core.goto(f"{w.portal}/early")
    taken, cancelled = ids
    core.click(f"#early-offers tr[data-early='{cancelled}'] button[name=cancel]")
    confirmed(core)
    assert gw(w, CORE, f"/v1/settlement/early-payments/{cancelled}")["status"] == "cancelled"
    shot(core, "core-early")

    seller = login(browser, w, SUPPLIER)
    seller.goto(f"{w.portal}/market")
    assert seller.locator(f"#early-offers tr[data-early='{cancelled}']").count() == 0
    value_before, cash_before = gw(w, SUPPLIER, f"/v1/holdings/{token}")["value"], balance(w, SUPPLIER)
    seller.click(f"#early-offers tr[data-early='{taken}'] button[name=accept]")
    paid = confirmed(seller)
    assert gw(w, SUPPLIER, f"/v1/settlement/early-payments/{taken}")["status"] == "accepted"
    assert balance(w, SUPPLIER) == cash_before + int(paid["price"])
    assert 0 < int(paid["price"]) < 100_000 * UNIT  # discounted
    assert gw(w, SUPPLIER, f"/v1/holdings/{token}")["value"] == value_before - 100_000 * UNIT
    for p in (seller, core):
        p.context.close()


def test_a_standing_programme_is_taken_by_a_holder_and_closed(browser: Any, market: World) -> None:
    w, token = market, market.facts["token"]
    core = login(browser, w, CORE)
    core.goto(f"{w.portal}/early")
    core.fill("#programme-form input[name=rate]", "3.5")
    core.fill("#programme-form input[name=budget]", "200,000")
    core.click("#programme-form button")
    programme = int(confirmed(core)["programme_id"])
    assert gw(w, CORE, f"/v1/settlement/programmes/{programme}")["budget"] == 200_000 * UNIT

    seller = login(browser, w, SUPPLIER)
    seller.goto(f"{w.portal}/market")
    row = seller.locator(f"#programmes tr[data-programme='{programme}']")
    row.locator("select[name=token_id]").select_option(str(token))
    row.locator("input[name=amount]").fill("50,000.00")
    row.locator("button").click()
    assert int(confirmed(seller)["value"]) == 50_000 * UNIT
    assert gw(w, CORE, f"/v1/settlement/programmes/{programme}")["remaining"] == 150_000 * UNIT
    # more than is left: the gateway's error, and its meaning in the page's language
    seller.goto(f"{w.portal}/market")
    row.locator("input[name=amount]").fill("150,000.01")
    row.locator("button").click()
    err = seller.locator("#flash .error").inner_text()
    assert "SettlementBudgetExceeded" in err and "More than the programme has left" in err, err
    seller.context.close()

    core.goto(f"{w.portal}/early")
    assert "¥150,000.00" in core.inner_text(f"#programmes tr[data-programme='{programme}'] .remaining")
    core.click(f"#programmes tr[data-programme='{programme}'] button[name=close]")
    confirmed(core)
    assert gw(w, CORE, f"/v1/settlement/programmes/{programme}")["open"] is False
    core.context.close()


def test_the_factor_exercises_recourse_on_an_overdue_deal(browser: Any, market: World) -> None:
    w, deal = market, market.facts["recourse_deal"]
    bank = login(browser, w, BANK)
    bank.goto(f"{w.portal}/holdings")
    row = bank.locator(f"#deals tr[data-deal='{deal}']")
    row.locator("button[name=recourse]").click()  # not overdue yet: the contract refuses
    err = bank.locator("#flash .error").inner_text()
    assert "FinancingNotOverdue" in err and "not overdue yet" in err, err

    w.node.travel(150 * DAY)  # past maturity and the grace period
    w.gw.post(w.stack.operator_key, "/v1/settlement/mark-overdue", {"certificate_id": w.facts["cert"]})
    bank.goto(f"{w.portal}/holdings")
    assert "overdue" in bank.inner_text(f"#deals tr[data-deal='{deal}']")
    bank.click(f"#deals tr[data-deal='{deal}'] button[name=recourse]")
    result = confirmed(bank)
    on_chain = gw(w, BANK, f"/v1/financing/deals/{deal}")
    assert on_chain["recourse_status"] == result["recourse"] and result["recourse"] in ("unpaid", "settled")
    shot(bank, "factor-book-recourse")
    bank.context.close()


def test_the_auditor_sees_every_report_as_of_a_past_block(browser: Any, market: World) -> None:
    w = market
    wait_indexed(w.auditor, w.node, Processes())
    block = w.facts["issue_block"]  # the certificate issued, not yet accepted
    page = login(browser, w, "auditor")
    page.fill("#filters input[name=as_of_block]", str(block))
    page.click("#filters button")
    page.wait_for_selector(f"#as-of-block:text-is('{block}')")
    then = w.auditor.get("/v1/reports/exposure", as_of_block=block)["items"]
    now = w.auditor.get("/v1/reports/exposure")["items"]
    assert then[0]["financed"] == 0 and now[0]["financed"] > 0
    assert page.locator("#exposure tbody tr").count() == len(then) == 1
    assert f"¥{then[0]['financed'] // 100:,}.00" in page.inner_text("#exposure tbody tr >> td:nth-child(5)")
    assert "pending" in page.inner_text(f"#certificates tr[data-certificate='{w.facts['cert']}']")
    shot(page, "auditor-as-of")
    with page.expect_download() as dl:
        page.click("#csv-exposure")
    assert Path(dl.value.path()).read_bytes() == w.auditor.http.get(
        "/v1/reports/exposure", params={"format": "csv", "limit": 10000, "as_of_block": block}).content
    page.click(f"#certificates tr[data-certificate='{w.facts['cert']}'] a")
    lineage = w.auditor.get(f"/v1/certificates/{w.facts['cert']}/lineage", as_of_block=block)
    assert page.locator("#tree details").count() == lineage["holdings"] == 1  # no split yet at that block
    with page.expect_download() as dl:
        page.click("#csv-lineage")
    assert Path(dl.value.path()).read_bytes() == w.auditor.http.get(
        f"/v1/certificates/{w.facts['cert']}/lineage", params={"format": "csv", "as_of_block": block}).content
    # a block outside the history: the auditor API's error as given
    page.goto(f"{w.portal}/audit?as_of_block=999999999")
    assert "VALIDATION_ERROR" in page.inner_text(".error")
    page.context.close()


def _pct(bps: float | None) -> str:
    return "–" if bps is None else f"{bps / 100:.2f}%"


def _csv(page: Any, link: str) -> bytes:
    with page.expect_download() as dl:
        page.click(link)
    return Path(dl.value.path()).read_bytes()


def test_the_auditor_sees_the_market_rates_savings_recourse_splits_and_the_regulator_export(
        browser: Any, market: World) -> None:
    w = market
    wait_indexed(w.auditor, w.node, Processes())
    api = w.auditor.get
    page = login(browser, w, "auditor")
    # the market: each open offer and quote request with its best rate, as the auditor API gives them
    mk = api("/v1/reports/market", limit=1000)
    assert mk["items"] and page.locator("#market tbody tr[data-kind]").count() == len(mk["items"])
    assert page.inner_text("#market .open-value") == f"¥{money(mk['open_value'])}"
    for r in mk["items"]:
        row = page.locator(f"#market tr[data-kind='{r['kind']}'][data-id='{r['id']}']")
        assert row.locator(".best-rate").inner_text() == _pct(r["best_rate_bps"])
    assert any(r["kind"] == "quote_request" and r["quotes"] >= 2 for r in mk["items"])
    # rates per tier and per factor: the volume-weighted average, with a chart
    for by in ("tier", "factor"):
        items = api("/v1/reports/rates", by=by, limit=1000)["items"]
        assert items and page.locator(f"#rates-{by} svg").count() == 1
        assert page.locator(f"#rates-{by} .avg-rate").all_inner_texts() == [_pct(r["avg_rate_bps"]) for r in items]
    early = api("/v1/reports/early-payments", limit=1000)
    assert early["discount"] > 0 and page.inner_text("#early-payments .discount") == f"¥{money(early['discount'])}"
    rec = api("/v1/reports/recourse", limit=1000)
    assert rec["claims"] == 1 and page.inner_text("#recourse .claims") == "1"
    claimed = page.inner_text(f"#recourse tr[data-deal='{w.facts['recourse_deal']}'] .claimed")
    assert claimed == f"¥{money(rec['items'][0]['claimed_amount'])}"
    # CSV of each: the auditor API's own CSV of the same report
    for link, path, extra in (("#csv-market", "/v1/reports/market", {}),
                              ("#csv-rates-factor", "/v1/reports/rates", {"by": "factor"}),
                              ("#csv-early-payments", "/v1/reports/early-payments", {}),
                              ("#csv-recourse", "/v1/reports/recourse", {})):
        assert _csv(page, link) == w.auditor.http.get(path, params={**extra, "format": "csv", "limit": 10000}).content
    shot(page, "auditor-market")

    # abnormal splitting with the auditor's thresholds: every split below ¥1,000,000 is small
    page.fill("#thresholds input[name=min_value]", "1,000,000.00")
    page.fill("#thresholds input[name=max_splits]", "0")
    page.click("#thresholds button")
    page.wait_for_selector("#thresholds input[name=max_splits][value='0']")
    limits = {"min_value": 1_000_000 * UNIT, "max_splits": 0, "max_seconds": 3600, "min_hops": 3}
    splits = api("/v1/reports/abnormal-splits", limit=1000, **limits)
    assert splits["small_value_count"] > 0 and splits["many_splits_count"] > 0
    for k in ("many_splits", "small_value", "fast_chain"):
        assert page.inner_text(f"#abnormal-splits .count-{k}") == str(splits[f"{k}_count"])
    assert page.locator("#abnormal-splits tbody tr[data-finding]").count() == len(splits["items"])
    assert _csv(page, "#csv-abnormal-splits") == w.auditor.http.get(
        "/v1/reports/abnormal-splits", params={**limits, "format": "csv", "limit": 10000}).content
    shot(page, "auditor-controls")
    # the regulator's export, CSV and JSON, as the auditor API gives it
    for dataset in ("certificates", "transfers", "deals"):
        for fmt in ("csv", "json"):
            assert _csv(page, f"#reg-{dataset}-{fmt}") == w.auditor.http.get(
                f"/v1/reports/regulator/{dataset}", params={"format": fmt, "limit": 10000}).content
    page.context.close()
