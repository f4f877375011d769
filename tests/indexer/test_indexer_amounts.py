"""Amounts over the whole range the contracts accept (uint128 limits, face values and holding
values; uint256 currency amounts and balances) go through the real pipeline on a dev chain and
come out exactly in SQL, the API's JSON and CSV, and reconcile; the follower never stops."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi.testclient import TestClient
from follower import Follower
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from indexer.api.main import create_app
from indexer.models import STATE_TABLES
from indexer.reconcile import reconcile
from indexer.settings import Settings
from scf_core.apikeys import hash_key

U128 = 2**128 - 1
U256 = 2**256 - 1
DAY = 86_400
KEY = "amounts-key"
EDGES = [2**63 - 1, 2**63, 2**64, 2**127, U128, 2**128, 2**255, U256]

amount = st.one_of(st.integers(1, U256), st.sampled_from(EDGES), st.integers(1, 2**70))
amount128 = st.one_of(st.integers(1, U128), st.sampled_from([e for e in EDGES if e <= U128]))
ops = st.lists(
    st.one_of(
        st.tuples(st.just("mint"), st.integers(0, 3), amount),
        st.tuples(st.just("transfer"), st.integers(0, 3), st.integers(0, 3), st.integers(0, U256)),
        st.tuples(st.just("burn"), st.integers(0, 3), st.integers(0, U256)),
        st.tuples(st.just("limit"), st.integers(0, 1), st.integers(0, U128)),
        st.tuples(st.just("issue"), st.integers(0, 1), st.integers(0, 1), amount128),
        st.tuples(st.just("split"), st.integers(0, 50), st.integers(0, U128)),
    ),
    min_size=1,
    max_size=6,
)


def test_amounts_full_range_exact_everywhere(fresh_system: Any, databases: Any) -> None:
    s = fresh_system.scenario
    m, cur, tok = s.membership.functions, s.currency.functions, s.token.functions
    cores, suppliers = s.cores[:2], s.suppliers[:2]
    people = cores + suppliers
    for a in cores:
        s.send(m.onboard(a, 1, b"\x01" * 32), s.operator)
    for a in suppliers:
        s.send(m.onboard(a, 2, b"\x02" * 32), s.operator)
    s.send(m.onboard(s.clearing, 5, b"\x05" * 32), s.operator)  # the clearing agent mints and burns
    url = databases.new()
    ix = fresh_system.indexer(url, poll_interval_s=0.05)
    follower = Follower(ix)
    app = create_app(Settings(database_url=url, auditor_key_hashes=hash_key(KEY)))
    client = TestClient(app, headers={"X-API-Key": KEY})
    try:

        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(ops)
        def play(steps: list[tuple[Any, ...]]) -> None:
            for op in steps:
                if op[0] == "mint":
                    amount = min(op[2], U256 - cur.totalSupply().call())
                    if amount:  # the token refuses zero-amount mints and burns
                        s.send(cur.mint(people[op[1]], amount), s.clearing)
                elif op[0] == "transfer":
                    src, dst = people[op[1]], people[op[2]]
                    bal = cur.balanceOf(src).call()
                    s.send(cur.transfer(dst, op[3] % (bal + 1)), src)
                elif op[0] == "burn":
                    who = people[op[1]]
                    burn = op[2] % (cur.balanceOf(who).call() + 1)
                    if burn:  # a zero burn reverts (SettlementTokenZeroBurn)
                        s.send(cur.burn(who, burn), s.clearing)
                elif op[0] == "limit":
                    s.send(m.setCreditLimit(cores[op[1]], op[2]), s.operator)
                elif op[0] == "issue":
                    core, face = cores[op[1]], op[3]
                    line = m.memberOf(core).call()  # (role, active, kycHash, creditLimit, creditUsed)
                    used = line[4]
                    if used + face > U128:
                        continue
                    if line[3] < used + face:
                        s.send(m.setCreditLimit(core, used + face), s.operator)
                    s.send(tok.issue(suppliers[op[2]], face, s.now() + 30 * DAY, b"\x03" * 32), core)
                    s.send(tok.accept(tok.certificateCount().call()), suppliers[op[2]])
                else:  # split part of a holding to the other supplier: a new holding, one tier down
                    live = [(t, h) for t in range(1, tok.tokenCount().call() + 1) if (h := s.holding(t)) and h["value"]]
                    if live:
                        tid, h = live[op[1] % len(live)]
                        to = suppliers[1] if h["owner"] == suppliers[0] else suppliers[0]
                        s.send(tok.splitTransfer(tid, to, op[2] % h["value"] + 1, b"\x04" * 32), h["owner"])
            follower.wait_for(s.w3.eth.block_number)
            check()

        def check() -> None:
            balances = {a.lower(): cur.balanceOf(a).call() for a in people}
            lines = {a.lower(): m.memberOf(a).call() for a in cores}
            certs = {
                cid: tok.certificate(cid).call()  # (debtor, maturity, status, issuedAt, faceValue, ...)
                for cid in range(1, tok.certificateCount().call() + 1)
            }
            # SQL
            with ix.engine.connect() as conn:
                sql_bal = {r.address: r.balance for r in conn.execute(select(STATE_TABLES["currency_balance"]))}
                sql_lines = {r.debtor: (r.limit, r.used) for r in conn.execute(select(STATE_TABLES["credit_line"]))}
                sql_faces = {r.id: r.face_value for r in conn.execute(select(STATE_TABLES["certificate"]))}
            assert {a: sql_bal.get(a, 0) for a in balances} == balances
            assert {a: sql_lines.get(a, (0, 0)) for a in lines} == {a: (c[3], c[4]) for a, c in lines.items()}
            assert sql_faces == {cid: c[4] for cid, c in certs.items()}
            # reconcile compares exactly
            _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
            assert diffs == [], "\n".join(map(str, diffs))
            # API: JSON integers and CSV, exact
            got = client.get("/v1/members", params={"limit": 100})
            assert got.status_code == 200, got.text
            members = {r["address"]: r for r in json.loads(got.text)["items"]}
            for a, bal in balances.items():
                assert members[a]["currency_balance"] in (bal, None if bal == 0 else bal)
            for a, c in lines.items():
                assert (members[a]["credit_limit"] or 0, members[a]["credit_used"] or 0) == (c[3], c[4])
            rows = list(csv.DictReader(io.StringIO(client.get("/v1/members", params={"format": "csv"}).text)))
            for r in rows:
                if r["address"] in balances:
                    assert int(r["currency_balance"] or 0) == balances[r["address"]]
            body = json.loads(client.get("/v1/certificates", params={"limit": 10_000}).text)
            assert {c["id"]: c["face_value"] for c in body["items"]} == {cid: c[4] for cid, c in certs.items()}
            issued: dict[str, int] = {}
            for c in certs.values():
                issued[c[0].lower()] = issued.get(c[0].lower(), 0) + c[4]
            expo = json.loads(client.get("/v1/reports/exposure").text)["items"]
            assert {r["debtor"]: r["issued"] for r in expo} == issued
            assert {r["debtor"]: r["outstanding"] for r in expo} == issued
            expo_csv = csv.DictReader(io.StringIO(client.get("/v1/reports/exposure", params={"format": "csv"}).text))
            assert {r["debtor"]: int(r["issued"]) for r in expo_csv} == issued
            conc = json.loads(client.get("/v1/reports/concentration", params={"by": "holder"}).text)
            assert conc["total_outstanding"] == sum(issued.values())
            # holding values (up to 2**128 - 1) through splits: the lineage trees, JSON and CSV
            for cid, c in certs.items():
                tree = json.loads(client.get(f"/v1/certificates/{cid}/lineage").text)
                assert tree["live_value"] == c[4]
                nodes, stack = {}, list(tree["tree"])
                while stack:
                    n = stack.pop()
                    nodes[n["token_id"]] = n["value"]
                    stack.extend(n["children"])
                chain_values = {t: h["value"] for t in nodes if (h := s.holding(t))}
                assert nodes == chain_values
                rows = csv.DictReader(io.StringIO(client.get(f"/v1/certificates/{cid}/lineage?format=csv").text))
                assert {int(r["token_id"]): int(r["value"]) for r in rows} == nodes

        # the values that stopped the BIGINT indexer, first, then random ones
        s.send(cur.mint(people[2], 2**63), s.clearing)
        s.send(m.setCreditLimit(cores[0], U128), s.operator)
        s.send(tok.issue(suppliers[0], U128, s.now() + 30 * DAY, b"\x03" * 32), cores[0])
        s.send(tok.accept(1), suppliers[0])
        s.send(tok.splitTransfer(1, suppliers[1], 2**127 + 1, b"\x04" * 32), suppliers[0])
        follower.wait_for(s.w3.eth.block_number)
        check()
        play()
    finally:
        follower.stop()
        client.close()
        app.state.engine.dispose()
        ix.close()


def test_migration_0003_keeps_existing_amounts(databases: Any) -> None:
    """An index created before the exact amounts upgrades in place: its values survive, and
    values beyond BIGINT fit afterwards; states and roles are respelled in lowercase (0005)."""
    from alembic import command
    from sqlalchemy import insert, text

    from indexer.db import alembic_config, make_engine, upgrade

    url = databases.new()
    command.upgrade(alembic_config(url), "0002")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO currency_balance VALUES ('0xaa', 9223372036854775807, 1)"))
            conn.execute(text("INSERT INTO credit_line VALUES ('0xbb', 5, 3, 1)"))
            conn.execute(text("INSERT INTO member VALUES ('0xbb', 'CoreEnterprise', true, '0x', 1, 1, 1)"))
            conn.execute(text("INSERT INTO certificate_status_change VALUES (1, 0, '0x', 1, 1, 'Active')"))
        upgrade(url)
        bal, line = STATE_TABLES["currency_balance"], STATE_TABLES["credit_line"]
        with engine.begin() as conn:
            conn.execute(insert(bal), [{"address": "0xcc", "balance": U256, "updated_block": 2}])
            assert dict(conn.execute(select(bal.c.address, bal.c.balance)).all()) == {
                "0xaa": 2**63 - 1,
                "0xcc": U256,
            }
            assert conn.execute(select(line.c.limit, line.c.used)).one() == (5, 3)
            # 0005: states and roles in lowercase
            assert conn.execute(text("SELECT role FROM member")).scalar() == "core_enterprise"
            assert conn.execute(text("SELECT status FROM certificate_status_change")).scalar() == "active"
    finally:
        engine.dispose()
