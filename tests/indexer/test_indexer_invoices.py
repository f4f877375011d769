"""The invoice registry and the deals' registration references indexed from a real chain (both
backends): rows equal to the chain's views, the backing per certificate (backed, released by a
rejection, closed by settlement), the controls' settings, and a reorg that drops invoice events."""

from __future__ import annotations

import json
import random
from typing import Any

from sqlalchemy import select, text
from test_indexer_reorg import assert_matches_chain_and_fresh_index

from indexer import reports
from indexer.models import EVENT_TABLES, STATE_TABLES
from indexer.reconcile import reconcile

DAY = 86_400


def _issue(s: Any, invoices: list[tuple[bytes, int, int]], payee: str | None = None, days: int = 30) -> int:
    payee = payee or s.suppliers[0]
    face = sum(b for _, _, b in invoices)
    receipt = s.send(s.token.functions.issueWithInvoices(payee, face, s.now() + days * DAY, b"\x01" * 32, invoices),
                     s.cores[0])
    cid: int = s.token.functions.certificateCount().call(block_identifier=receipt["blockNumber"])
    return cid


def _key(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _deal(s: Any, cid: int, factor: str) -> int:
    """The payee of `cid` sells part of its holding to `factor`; returns the offer id."""
    f = s.financing.functions
    token = s.token.functions.certificate(cid).call()[7]  # rootTokenId
    s.send(f.createOffer(token, 100, factor, 500, s.now() + DAY, False, b"\x02" * 32), s.suppliers[0])
    offer: int = f.offerCount().call()
    s.send(f.acceptOffer(offer), factor)
    return offer


def test_invoices_and_registrations_indexed(fresh_system: Any, databases: Any) -> None:
    system = fresh_system
    s = system.scenario
    s.setup()  # also turns invoices required on and off again
    t = s.token.functions
    s.send(t.setInvoicesRequired(True), s.operator)
    c1 = _issue(s, [(_key(1), 1_000, 600), (_key(2), 500, 500)])
    c2 = _issue(s, [(_key(1), 1_000, 400)])  # the rest of invoice 1
    c3 = _issue(s, [(_key(3), 300, 300)], payee=s.suppliers[1])
    s.send(t.reject(c3), s.suppliers[1])  # releases invoice 3
    for c in (c1, c2):
        s.send(t.accept(c), s.suppliers[0])
    offer = _deal(s, c1, s.factors[0])
    s.send(s.financing.functions.setRegistration(offer, b"\x0c" * 32), s.factors[0])
    unregistered = _deal(s, c2, s.factors[1])
    # c2 settled in full: closes invoice 1 (c1 still counts on it)
    s.send(s.settlement.functions.repay(c2, 400), s.cores[0])
    s.increase_time(31 * DAY)
    holders = [tid for tid in range(1, s.token.functions.tokenCount().call() + 1)
               if (h := s.holding(tid)) and h["certificate_id"] == c2 and h["value"]]
    s.send(s.settlement.functions.settleBatch(holders), s.operator)
    assert s.certificate(c2)[2] == 5  # Settled

    ix = system.index(databases.new())
    try:
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert diffs == [], "\n".join(map(str, diffs))
        with ix.engine.connect() as conn:
            inv = {r.key: (r.amount, r.used, r.closed) for r in conn.execute(select(STATE_TABLES["invoice"]))}
            assert inv == {_hex(_key(1)): (1_000, 1_000, True), _hex(_key(2)): (500, 500, False),
                           _hex(_key(3)): (300, 0, False)}
            ev = EVENT_TABLES["invoice_event"]
            kinds = [(r.key, r.certificate_id, r.kind, r.value, r.used)
                     for r in conn.execute(select(ev).order_by(ev.c.block_number, ev.c.log_index))]
            assert kinds == [
                (_hex(_key(1)), c1, "backed", 600, 600), (_hex(_key(2)), c1, "backed", 500, 500),
                (_hex(_key(1)), c2, "backed", 400, 1_000), (_hex(_key(3)), c3, "backed", 300, 300),
                (_hex(_key(3)), c3, "released", 300, 0), (_hex(_key(1)), c2, "closed", 0, 1_000),
            ]
            state = dict(conn.execute(text("SELECT key, value FROM system_state")).all())
            assert state["invoices_required"] == "true"
            # the wiring of each token's agents at deployment (set once): Financing and Settlement
            agents = [s.financing.address.lower(), s.settlement.address.lower()]
            for key in ("certificate_system_contracts", "currency_system_contracts"):
                assert [a.lower() for a in json.loads(state[key])] == agents, key
            usage = {r["key"]: r for r in reports.invoices(conn)}
            assert usage[_hex(_key(1))]["state"] == "closed" and usage[_hex(_key(1))]["available"] == 0
            assert usage[_hex(_key(1))]["certificates"] == f"{c1}:600 {c2}:400"
            assert usage[_hex(_key(2))]["state"] == "used_up" and usage[_hex(_key(2))]["certificates"] == f"{c1}:500"
            assert usage[_hex(_key(3))]["state"] == "released" and usage[_hex(_key(3))]["certificate_count"] == 0
            deal_rows = {r["offer_id"]: r for r in reports.deals(conn)}
            assert deal_rows[offer]["registration_ref"] == "0x" + "0c" * 32 and deal_rows[offer]["registered"]
            assert deal_rows[unregistered]["registration_ref"] is None
            export = reports.regulator_export(conn, "certificates")
            assert {r["certificate_id"]: r["invoice_keys"] for r in export}[c1] == f"{_hex(_key(1))} {_hex(_key(2))}"
    finally:
        ix.close()


def test_reorg_drops_invoice_events(fresh_system: Any, databases: Any, dump_db: Any) -> None:
    """Branch A registers invoices, releases one and records a registration; branch B does other
    things: after the reorg nothing of A is left (SQL = the chain = a fresh index of B)."""
    system = fresh_system
    s = system.scenario
    s.setup()
    t = s.token.functions
    c0 = _issue(s, [(_key(10), 1_000, 500)])
    s.send(t.accept(c0), s.suppliers[0])
    ix = system.index(databases.new(), batch_blocks=4)
    try:
        snapshot = system.rpc("evm_snapshot")
        c1 = _issue(s, [(_key(10), 1_000, 500), (_key(11), 200, 200)], payee=s.suppliers[1])
        s.send(t.reject(c1), s.suppliers[1])
        _issue(s, [(_key(12), 50, 50)])
        s.send(s.financing.functions.setRegistration(_deal(s, c0, s.factors[0]), b"\x0a" * 32), s.factors[0])
        ix.sync()
        with ix.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM invoice")).scalar() == 3
        assert system.rpc("evm_revert", snapshot)
        s.rng = random.Random(5)
        _issue(s, [(_key(10), 1_000, 100)])  # other blocks, other invoice events
        s.trade(6)
        head = s.w3.eth.block_number
        ix.sync()
        while ix.checkpoint()["block_number"] != head:
            ix.sync()
        assert ix.reorgs >= 1
        assert_matches_chain_and_fresh_index(ix, system, databases, dump_db)
        with ix.engine.connect() as conn:
            keys = set(conn.execute(text("SELECT key FROM invoice")).scalars())
            assert keys == {_hex(_key(10))}
            assert conn.execute(text("SELECT used FROM invoice")).scalar() in (600, "600")
            ref = "0x" + "0a" * 32
            assert conn.execute(text("SELECT COUNT(*) FROM financing_offer WHERE registration_ref = :r"),
                                {"r": ref}).scalar() == 0
    finally:
        ix.close()


def test_release_or_close_of_an_invoice_never_indexed_is_skipped() -> None:
    """An index upgraded to 0009 from an older one never saw the invoices registered before: their
    later release or closure is logged and skipped (the follower goes on; reconcile shows them)."""
    from indexer.decode import Event
    from indexer.handlers import WorkSet, apply

    key = _hex(_key(9))
    ws = WorkSet(journal_from=None)
    ws.load("invoice", key, None)
    events = [
        Event("CertificateToken", "InvoiceReleased", {"key": key, "certificateId": 3, "released": 5, "used": 0},
              7, "0x" + "00" * 32, 0, "0x" + "01" * 32, 70),
        Event("CertificateToken", "InvoiceClosed", {"key": key, "certificateId": 4}, 8, "0x" + "00" * 32, 0,
              "0x" + "02" * 32, 80),
        Event("CertificateToken", "InvoiceBacked",
              {"key": key, "certificateId": 5, "amount": 90, "backed": 10, "used": 40}, 9, "0x" + "00" * 32, 0,
              "0x" + "03" * 32, 90),
    ]
    apply(ws, events)
    assert ws.get("invoice", key) == {"key": key, "amount": 90, "used": 40, "closed": False, "closed_at": None,
                                      "first_block": 9, "first_at": 90, "updated_block": 9}
    assert [e["kind"] for e in ws.events["invoice_event"]] == ["backed"]
