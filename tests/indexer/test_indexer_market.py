"""The market's settlement paths in SQL: an early payment by the debtor (offer and programme) is
repaid and redeemed at once; the index equals the chain (reconcile) and value is conserved."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from indexer.reconcile import reconcile

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
