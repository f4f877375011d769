"""The financing market in SQL: an early payment by the debtor (offer and programme) is repaid and
redeemed at once (value conserved); open offers, quotes, early payments, programmes and recourse
become rows that reconcile with the chain; the market, rates, early-payment and recourse reports
equal figures computed from the chain alone (web3), as of a past block equal a fresh index stopped
there, and a reorg rolls the market's rows back (both backends)."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from scenario import doc
from sqlalchemy import text

from indexer import handlers
from indexer.api.main import create_app
from indexer.decode import Event
from indexer.models import OFFER_STATUS_NAMES, RECOURSE_STATUS_NAMES, REQUEST_STATUS_NAMES
from indexer.reconcile import reconcile
from indexer.settings import Settings
from scf_core.apikeys import hash_key

DAY = 86_400


def test_early_payments_reconcile_and_conserve_value(fresh_system: Any, tmp_path: Any) -> None:
    s = fresh_system.scenario
    s.setup()
    s.issue(3)
    st = s.settlement.functions
    paid = 0
    for n, (cid, tid) in enumerate(zip(s.certificates, s.tokens, strict=False)):
        payee = s.holding(tid)["owner"]
        debtor = s.certificate(cid)[0]
        value = s.holding(tid)["value"] // 3
        if n % 2 == 0:  # a one-off offer, accepted by the holder
            s.send(st.offerEarlyPayment(tid, value, 500, s.now() + 5 * DAY), debtor)
            s.send(st.acceptEarlyPayment(st.earlyPaymentOfferCount().call()), payee)
        else:  # a standing programme, taken by the holder
            s.send(st.openProgramme(400, value * 2), debtor)
            s.send(st.takeProgramme(st.programmeCount().call(), tid, value), payee)
        paid += value
    assert paid > 0
    ix = fresh_system.index(f"sqlite:///{tmp_path / 'ix.db'}", batch_blocks=5)
    try:
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert diffs == [], "\n".join(map(str, diffs))
        with ix.engine.connect() as conn:
            rows = conn.execute(text("select id, repaid_value, redeemed_value from certificate")).all()
            bad = conn.execute(
                text(
                    "select c.id from certificate c left join holding h on h.certificate_id = c.id "
                    "and h.status = 'live' where c.status <> 'rejected' "
                    "group by c.id, c.face_value, c.redeemed_value "
                    "having coalesce(sum(h.value), 0) + c.redeemed_value <> c.face_value"
                )
            ).all()
        assert bad == []
        onchain = {cid: tuple(s.settlement.functions.account(cid).call()) for cid in s.certificates}
        assert {int(r[0]): (int(r[1]), int(r[2])) for r in rows if int(r[0]) in onchain} == onchain
        assert sum(v[1] for v in onchain.values()) == paid
    finally:
        ix.close()


# --- the market: rows, reports, reconcile, as of, reorgs -------------------------------------

KEY = "auditor-market-key"


def play_market(system: Any) -> int:
    """Certificates with a tier-2 holding under each root, the market on them, then (past maturity)
    every certificate marked overdue and recourse exercised. Returns the block before overdue."""
    s = system.scenario
    s.setup()
    s.issue(4)
    t = s.token.functions
    for tid in list(s.tokens):
        h = s.holding(tid)
        to = next(a for a in s.suppliers if a != h["owner"])
        before = t.tokenCount().call()
        s.send(t.splitTransfer(tid, to, h["value"] // 2, doc(s.rng)), h["owner"])
        s.tokens.append(before + 1)
    s.market()
    mid: int = s.w3.eth.block_number
    s.increase_time(100 * DAY)
    for cid in s.certificates:
        s.try_send(s.settlement.functions.markOverdue(cid), s.operator)
    s.recourse()
    return mid


def assert_pages_agree(client: TestClient, path: str, **params: Any) -> None:
    """Pages of one row, concatenated, are the whole report; every page has the same total and
    summary figures as the whole."""
    whole = client.get(path, params={**params, "limit": 10_000}).json()
    assert whole["total"] == len(whole["items"]) >= 2
    rows = []
    for offset in range(whole["total"] + 1):
        page = client.get(path, params={**params, "limit": 1, "offset": offset}).json()
        rows.extend(page["items"])
        assert {k: v for k, v in page.items() if k not in ("items", "limit", "offset", "next_offset")} == {
            k: v for k, v in whole.items() if k not in ("items", "limit", "offset", "next_offset")}
        assert page["next_offset"] == (offset + 1 if offset + 1 < whole["total"] else None)
    assert rows == whole["items"]


def _client(url: str) -> TestClient:
    app = create_app(Settings(database_url=url, auditor_key_hashes=hash_key(KEY)))
    return TestClient(app, headers={"X-API-Key": KEY})


def _logs(contract: Any, event: str) -> list[Any]:
    return [e["args"] for e in getattr(contract.events, event).get_logs(from_block=0)]


def _wavg(pairs: list[tuple[int, int]]) -> float:
    """Value-weighted average of (x, value) pairs, as the reports round it."""
    total = sum(v for _, v in pairs)
    return round(sum(x * v for x, v in pairs) / total, 2) if total else 0.0


def expected_from_chain(s: Any) -> dict[str, Any]:
    """The four reports' figures computed from the chain alone (views and logs, web3)."""
    f = s.financing.functions
    now = s.now()
    lower = str.lower
    tier = {tid: s.holding(tid)["tier"] for tid in range(1, s.token.functions.tokenCount().call() + 1)}
    opened = {e["offerId"]: [lower(a) for a in e["factors"]] for e in _logs(s.financing, "OfferOpened")}
    quotes = [f.quoteOf(q).call() for q in range(1, f.quoteCount().call() + 1)]
    market = {}
    for oid, factors in opened.items():
        o = f.offer(oid).call()
        status = OFFER_STATUS_NAMES[o[8]]
        market[("open_offer", oid)] = {
            "value": o[3], "rate_bps": o[5], "tier": tier[o[0]], "invited": ",".join(factors) or "all",
            "state": "expired" if status == "open" and o[6] <= now else status,
            "factor": lower(o[2]) if status == "accepted" else None,
        }  # fmt: skip
    for rid in range(1, f.quoteRequestCount().call() + 1):
        r = f.quoteRequest(rid).call()  # (tokenId, seller, value, deadline, recourse, status, documentHash)
        mine = [q for q in quotes if q[0] == rid]
        live = [q for q in mine if q[5] in (1, 2)]
        best = min(((q[3], -q[2]) for q in live), default=None)
        status = REQUEST_STATUS_NAMES[r[5]]
        market[("quote_request", rid)] = {
            "value": r[2], "tier": tier[r[0]], "quotes": len(mine),
            "best_rate_bps": best[0] if best else None, "best_price": -best[1] if best else None,
            "state": "expired" if status == "open" and r[3] <= now else status,
        }  # fmt: skip
    deals = [f.offer(i).call() for i in range(1, f.offerCount().call() + 1)]
    deals = [d for d in deals if d[8] == 2]
    rates: dict[str, dict[Any, Any]] = {"tier": {}, "factor": {}}
    for by in rates:
        for d in deals:
            key = tier[d[0]] if by == "tier" else lower(d[2])
            rates[by].setdefault(key, []).append(d)
        rates[by] = {
            k: {
                "deals": len(ds), "volume": sum(d[3] for d in ds), "paid": sum(d[4] for d in ds),
                "min_rate_bps": min(d[5] for d in ds), "max_rate_bps": max(d[5] for d in ds),
                "avg_rate_bps": _wavg([(d[5], d[3]) for d in ds]),
            }
            for k, ds in rates[by].items()
        }  # fmt: skip
    early: dict[tuple[str, str], list[Any]] = {}
    for e in _logs(s.settlement, "EarlyPaid"):
        early.setdefault((lower(e["debtor"]), lower(e["holder"])), []).append(e)
    savings = {
        k: {
            "payments": len(es), "value": sum(e["value"] for e in es), "paid": sum(e["price"] for e in es),
            "discount": sum(e["value"] - e["price"] for e in es),
            "avg_days_early": _wavg([(e["daysEarly"], e["value"]) for e in es]),
            "via_programme": sum(1 for e in es if e["programmeId"]),
        }
        for k, es in early.items()
    }  # fmt: skip
    claims: dict[int, dict[str, Any]] = {}
    for e in _logs(s.financing, "RecourseUnpaid"):
        claims[e["offerId"]] = {"status": "unpaid", "claimed_amount": e["amount"], "settled_amount": None}
    for e in _logs(s.financing, "RecourseSettled"):
        c = claims.setdefault(e["offerId"], {"claimed_amount": e["amount"]})
        c.update(status="settled", settled_amount=e["amount"])
    for oid, c in claims.items():
        assert RECOURSE_STATUS_NAMES[f.deal(oid).call()[6]] == c["status"]
    return {"market": market, "rates": rates, "savings": savings, "recourse": claims}


def test_market_rows_reports_reconcile_and_as_of(fresh_system: Any, databases: Any) -> None:
    s = fresh_system.scenario
    mid = play_market(fresh_system)
    url = databases.new()
    ix = fresh_system.index(url, batch_blocks=5, reorg_window=100_000)
    client = _client(url)
    try:
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert diffs == [], "\n".join(map(str, diffs))
        want = expected_from_chain(s)
        # every kind of market row is there, so the comparisons below are not vacuous
        got = client.get("/v1/reports/market", params={"limit": 10_000}).json()
        kinds = {(r["kind"], r["state"]) for r in got["items"]}
        assert {("open_offer", "accepted"), ("open_offer", "cancelled"), ("quote_request", "accepted")} <= kinds
        assert {("quote_request", "cancelled"), ("quote_request", "expired")} <= kinds
        assert {r["tier"] for r in got["items"]} == {1, 2}
        assert {(r["kind"], r["id"]): {k: r[k] for k in want["market"][(r["kind"], r["id"])]} for r in got["items"]} \
            == want["market"]  # fmt: skip
        assert got["open_offers"] == sum(1 for k in want["market"] if k[0] == "open_offer")
        for state in (None, "open", "expired", "accepted", "cancelled"):  # the totals are those of the rows
            params = {"limit": 10_000} if state is None else {"limit": 10_000, "state": state}
            rep = client.get("/v1/reports/market", params=params).json()
            items = rep["items"]
            assert (rep["total"], rep["open_offers"], rep["quote_requests"], rep["open_value"]) == (
                len(items), sum(r["kind"] == "open_offer" for r in items),
                sum(r["kind"] == "quote_request" for r in items),
                sum(r["value"] for r in items if r["state"] == "open"))
        for by in ("tier", "factor"):
            rows = client.get("/v1/reports/rates", params={"by": by}).json()["items"]
            assert {r[by]: {k: r[k] for k in want["rates"][by][r[by]]} for r in rows} == want["rates"][by]
        assert len(want["rates"]["tier"]) == 2
        kinds_dealt = client.get("/v1/reports/rates", params={"by": "factor", "kind": "quote"}).json()["items"]
        assert sum(r["deals"] for r in kinds_dealt) == sum(
            1 for k, v in want["market"].items() if k[0] == "quote_request" and v["state"] == "accepted"
        )
        rows = client.get("/v1/reports/early-payments").json()
        got_savings = {(r["debtor"], r["holder"]): {k: r[k] for k in want["savings"][(r["debtor"], r["holder"])]}
                       for r in rows["items"]}  # fmt: skip
        assert got_savings == want["savings"] and len(got_savings) >= 2
        assert rows["discount"] == sum(v["discount"] for v in want["savings"].values()) > 0
        assert any(v["via_programme"] for v in want["savings"].values())
        rec = client.get("/v1/reports/recourse").json()
        assert {r["offer_id"]: {k: r[k] for k in want["recourse"][r["offer_id"]]} for r in rec["items"]} \
            == want["recourse"]  # fmt: skip
        assert {r["status"] for r in rec["items"]} == {"unpaid", "settled"}
        assert any(r["settled_at"] and r["settled_tx"] != r["exercised_tx"] for r in rec["items"])
        assert rec["claims"] == len(want["recourse"]) and rec["unpaid"] >= 1 and rec["settled"] >= 1
        # CSV: the page's rows with the summary as columns
        for path in ("market", "rates", "early-payments", "recourse"):
            r = client.get(f"/v1/reports/{path}", params={"format": "csv"})
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
            lines = list(csv.DictReader(io.StringIO(r.text)))
            assert len(lines) == client.get(f"/v1/reports/{path}").json()["total"]
            assert all(line["as_of_block"] == str(ix.checkpoint()["block_number"]) for line in lines)
        # filters select the same rows as filtering the whole report
        everything = got["items"]
        for params, keep in (
            ({"state": "expired"}, lambda r: r["state"] == "expired"),
            ({"tier": 2}, lambda r: r["tier"] == 2),
            ({"member": everything[0]["seller"]}, lambda r: r["seller"] == everything[0]["seller"]),
            ({"certificate_id": everything[-1]["certificate_id"]},
             lambda r: r["certificate_id"] == everything[-1]["certificate_id"]),
        ):  # fmt: skip
            part = client.get("/v1/reports/market", params={**params, "limit": 10_000}).json()["items"]
            assert part == [r for r in everything if keep(r)] and part
        unpaid = client.get("/v1/reports/recourse", params={"status": "unpaid"}).json()
        assert [r["offer_id"] for r in unpaid["items"]] == sorted(
            k for k, v in want["recourse"].items() if v["status"] == "unpaid"
        )
        assert unpaid["unpaid_amount"] == sum(r["claimed_amount"] for r in unpaid["items"]) > 0
        holder = next(iter(want["savings"]))[1]
        mine = client.get("/v1/reports/early-payments", params={"member": holder}).json()["items"]
        assert {r["holder"] for r in mine} == {holder}  # a supplier: only its own payments
        factor = s.factors[0].lower()
        mine = client.get("/v1/reports/rates", params={"by": "factor", "member": factor}).json()["items"]
        assert [r["factor"] for r in mine] == [factor] and mine[0]["deals"] == want["rates"]["factor"][factor]["deals"]
        page = client.get("/v1/reports/market", params={"limit": 2, "offset": 1}).json()
        assert page["items"] == everything[1:3] and page["total"] == len(everything)
        for path in ("market", "early-payments", "recourse"):  # paged by the database: pages of one agree
            assert_pages_agree(client, f"/v1/reports/{path}")
        for path, bad in (("market", {"state": "done"}), ("rates", {"by": "holder"}), ("recourse", {"status": "x"})):
            assert client.get(f"/v1/reports/{path}", params=bad).status_code == 422
        # as of the block before the overdue marks: equal to a fresh index stopped there
        fresh_url = databases.new()
        fresh = fresh_system.indexer(fresh_url, reorg_window=100_000)
        try:
            fresh.sync(to_block=mid)
            fresh_client = _client(fresh_url)
            for path in ("market", "rates", "early-payments", "recourse"):
                then = client.get(f"/v1/reports/{path}", params={"as_of_block": mid}).json()
                assert then == fresh_client.get(f"/v1/reports/{path}").json()
            assert client.get("/v1/reports/recourse", params={"as_of_block": mid}).json()["claims"] == 0
            fresh_client.close()
        finally:
            fresh.close()
    finally:
        client.close()
        ix.close()


def test_market_reorg_rolls_back_the_market_rows(fresh_system: Any, databases: Any, dump_db: Any) -> None:
    """Branch A (the market played and recourse exercised) indexed, then replaced by branch B
    (other market moves): the market's rows and history equal a fresh index of B, and reconcile."""
    system = fresh_system
    s = system.scenario
    s.setup()
    s.issue(3)
    ix = system.index(databases.new(), batch_blocks=4)
    try:
        snapshot = system.rpc("evm_snapshot")
        play_branch = s.rng.getstate()
        s.market()  # branch A
        s.increase_time(100 * DAY)
        for cid in s.certificates:
            s.try_send(s.settlement.functions.markOverdue(cid), s.operator)
        s.recourse()
        ix.sync()
        with ix.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM quote")).scalar_one() > 0
            assert conn.execute(text("SELECT COUNT(*) FROM early_payment")).scalar_one() > 0
        assert system.rpc("evm_revert", snapshot)
        s.rng.setstate(play_branch)
        # branch B: one early payment offer, cancelled, and a longer chain than A's
        tid = s.tokens[0]
        h = s.holding(tid)
        debtor = s.certificate(h["certificate_id"])[0]
        st = s.settlement.functions
        s.send(st.offerEarlyPayment(tid, h["value"] // 4, 250, s.now() + DAY), debtor)
        s.send(st.cancelEarlyPayment(st.earlyPaymentOfferCount().call()), debtor)
        while s.w3.eth.block_number <= ix.checkpoint()["block_number"]:
            s.increase_time(60)
        head = s.w3.eth.block_number
        ix.sync()
        while ix.checkpoint()["block_number"] != head:
            ix.sync()
        assert ix.reorgs >= 1
        with ix.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM quote")).scalar_one() == 0
            assert conn.execute(text("SELECT status FROM early_payment_offer")).scalars().all() == ["cancelled"]
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert diffs == [], "\n".join(map(str, diffs))
        fresh = system.index(databases.new())
        try:
            assert dump_db(ix.engine) == dump_db(fresh.engine)
        finally:
            fresh.close()
    finally:
        ix.close()


def test_market_events_on_rows_from_before_the_market_index_are_skipped() -> None:
    """An index migrated to 0008_market lacks the market's older rows: events updating them are
    skipped (reconcile shows the gap), the follower never stops; rows it has are updated."""
    ws = handlers.WorkSet(journal_from=None)
    cert = {"id": 1, "repaid_value": 0, "redeemed_value": 0, "updated_block": 1}
    ws.load("certificate", 1, cert)
    ws.load("holding", 5, {"token_id": 5, "tier": 2})
    ws.load("financing_offer", 3, {"offer_id": 3, "kind": "direct", "quote_id": None})
    for table, pk in (("quote", 7), ("quote_request", 2), ("early_payment_offer", 4), ("programme", 6)):
        ws.load(table, pk, None)

    def ev(contract: str, name: str, index: int, **args: Any) -> Event:
        return Event(contract, name, args, 10, "0x" + "ab" * 32, index, "0x" + "cd" * 32, 1_000)

    early = {"certificateId": 1, "tokenId": 5, "holder": "0x" + "11" * 20, "debtor": "0x" + "22" * 20}
    early |= {"value": 40, "price": 39, "rateBps": 300, "daysEarly": 30, "totalRepaid": 40, "totalRedeemed": 40}
    events = [
        ev("Financing", "QuoteWithdrawn", 0, quoteId=7, requestId=2, factor="0x" + "33" * 20),
        ev("Financing", "QuoteRequestCancelled", 1, requestId=2, seller="0x" + "11" * 20),
        ev("Financing", "QuoteAccepted", 2, quoteId=7, requestId=2, offerId=3),
        ev("Settlement", "EarlyPaymentCancelled", 3, offerId=4, debtor="0x" + "22" * 20),
        ev("Settlement", "ProgrammeClosed", 4, programmeId=6, debtor="0x" + "22" * 20, remaining=10),
        ev("Settlement", "EarlyPaid", 5, offerId=4, programmeId=0, **early),
        ev("Settlement", "EarlyPaid", 6, offerId=0, programmeId=6, **early),
    ]
    assert handlers.apply(ws, events) == len(events)
    for table in ("quote", "quote_request", "early_payment_offer", "programme"):
        assert ws.changed(table) == ([], []), table
    assert ws.get("financing_offer", 3)["kind"] == "quote"  # the deal's offer exists: updated
    assert ws.get("certificate", 1)["redeemed_value"] == 40
    assert [(r["offer_id"], r["programme_id"], r["tier"]) for r in ws.events["early_payment"]] == [(4, 0, 2), (0, 6, 2)]
