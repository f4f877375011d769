"""`indexer.bulk.write` (executemany on SQLite; COPY and array-joined UPDATE on PostgreSQL) stores
exactly what SQLAlchemy's own insert and update store, awkward values included."""

from __future__ import annotations

import contextlib
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from indexer import bulk
from indexer.db import make_engine, upgrade
from indexer.models import STATE_TABLES, VERSION_TABLES

MAX = 2**256 - 1
# text a COPY must escape: tabs, newlines, backslashes, \N, quotes, non-ASCII
TEXT = st.text(alphabet=st.sampled_from(list("ab0x\t\n\r\\N'\",{}é中 ")), max_size=40)


def _invoice(key: str, rnd: random.Random, closed_at: int | None) -> dict[str, Any]:
    return {"key": key, "amount": rnd.choice([0, 1, MAX, rnd.randrange(MAX)]), "used": rnd.randrange(2**70),
            "closed": rnd.random() < 0.5, "closed_at": closed_at, "first_block": rnd.randrange(2**40),
            "first_at": rnd.randrange(2**40), "updated_block": rnd.randrange(2**62)}


def _dump(conn: Any, table: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]


def test_bulk_write_stores_what_sqlalchemy_stores(databases: Any) -> None:
    fast_url, slow_url = databases.new(), databases.new()
    upgrade(fast_url)
    upgrade(slow_url)
    fast, slow = make_engine(fast_url), make_engine(slow_url)
    inv, state = STATE_TABLES["invoice"], STATE_TABLES["system_state"]
    inv_v = VERSION_TABLES["invoice"]

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(keys=st.lists(TEXT.filter(bool), min_size=1, max_size=12, unique=True), values=st.lists(TEXT, min_size=12,
           max_size=12), seed=st.integers(0, 2**32))
    def check(keys: list[str], values: list[str], seed: int) -> None:
        rnd = random.Random(seed)
        rows = [_invoice(k, rnd, rnd.choice([None, rnd.randrange(2**40)])) for k in keys]
        changed = [_invoice(k, rnd, rnd.choice([None, 5])) for k in keys if rnd.random() < 0.7]
        states = [{"key": k, "value": values[i], "updated_block": i} for i, k in enumerate(keys)]
        versions = [{**r, "valid_from_block": 1, "valid_to_block": None} for r in rows]
        closes = [{"key": r["key"], "valid_to_block": 7} for r in changed]
        with fast.begin() as conn:
            for t in (inv, state, inv_v):
                conn.execute(t.delete())
            bulk.write(conn, inv, rows)
            bulk.write(conn, state, states)
            bulk.write(conn, inv_v, versions)
            bulk.write(conn, inv, changed, keys=("key",))
            bulk.write(conn, inv_v, closes, keys=("key",), null=("valid_to_block",))
            again = [{**c, "valid_to_block": 9} for c in closes]
            bulk.write(conn, inv_v, again, keys=("key",), null=("valid_to_block",))  # none open: no-op
        with slow.begin() as conn:
            for t in (inv, state, inv_v):
                conn.execute(t.delete())
            conn.execute(insert(inv), rows)
            conn.execute(insert(state), states)
            conn.execute(insert(inv_v), versions)
            for r in changed:
                conn.execute(update(inv).where(inv.c.key == r["key"]).values(r))
                conn.execute(update(inv_v).where(inv_v.c.key == r["key"], inv_v.c.valid_to_block.is_(None))
                             .values(valid_to_block=7))
        with fast.connect() as a, slow.connect() as b:
            for t in (inv, state, inv_v):
                assert _dump(a, t) == _dump(b, t), t.name
            assert {r[0] for r in a.execute(select(inv_v.c.key).where(inv_v.c.valid_to_block == 7))} == {
                r["key"] for r in changed}

    try:
        check()
    finally:
        fast.dispose()
        slow.dispose()


def test_bulk_read_finds_what_a_select_finds(databases: Any) -> None:
    """`bulk.read` by a composite key (more keys than a SQLite chunk; awkward text; absent keys)
    returns the rows SQLAlchemy's select returns, amounts as the driver's exact decimal or text."""
    from indexer.models import AGG_TABLES

    url = databases.new()
    upgrade(url)
    eng = make_engine(url)
    recv = AGG_TABLES["agg_tier_receiver"]
    rnd = random.Random(7)
    owners = [f"0x{i:040x}" if i % 7 else f"o'\t\\N{i}é" for i in range(1_300)]
    rows = [{"tier": i % 5, "owner": o, "arrivals": i, "value_received": rnd.choice([MAX, rnd.randrange(MAX)])}
            for i, o in enumerate(owners)]
    try:
        with eng.begin() as conn:
            bulk.write(conn, recv, rows)
            wanted = [(r["tier"], r["owner"]) for r in rows[::2]] + [(9, "absent"), (1, owners[0])]
            got = bulk.read(conn, recv, ("tier", "owner"), wanted, ("tier", "owner", "arrivals", "value_received"))
            expected = {(r["tier"], r["owner"]): (r["arrivals"], r["value_received"]) for r in rows[::2]}
            assert {(t, o): (a, int(v)) for t, o, a, v in got} == expected
            assert len(got) == len(expected)
            assert bulk.read(conn, recv, ("tier", "owner"), [], ("tier",)) == []
    finally:
        eng.dispose()


def test_pipelined_updates_store_what_plain_ones_store(databases: Any) -> None:
    """Updates inside `bulk.pipelined` (PostgreSQL's pipeline mode) leave the rows as outside it,
    an error among them is raised by the end of the block, and an insert there is refused."""
    import pytest

    url = databases.new()
    upgrade(url)
    eng = make_engine(url)
    inv, inv_v = STATE_TABLES["invoice"], VERSION_TABLES["invoice"]
    rnd = random.Random(3)
    rows = [_invoice(f"k{i}", rnd, None) for i in range(50)]
    changed = [_invoice(f"k{i}", rnd, 5) for i in range(0, 50, 3)]
    closes = [{"key": r["key"], "valid_to_block": 7} for r in changed]
    versions = [{**r, "valid_from_block": 1, "valid_to_block": None} for r in rows]
    try:
        dumps = []
        for piped in (False, True):
            with eng.begin() as conn:
                for t in (inv, inv_v):
                    conn.execute(t.delete())
                bulk.write(conn, inv, rows)
                bulk.write(conn, inv_v, versions)
                with bulk.pipelined(conn) if piped else contextlib.nullcontext():
                    bulk.write(conn, inv, changed, keys=("key",))
                    bulk.write(conn, inv_v, closes, keys=("key",), null=("valid_to_block",))
                dumps.append((_dump(conn, inv), _dump(conn, inv_v)))
        assert dumps[0] == dumps[1]
        if eng.dialect.name == "postgresql":
            from psycopg.errors import DataError

            with pytest.raises(DataError), eng.begin() as conn, bulk.pipelined(conn):
                bulk.write(conn, inv, [{**changed[0], "used": -1, "first_block": "x"}], keys=("key",))
            with pytest.raises(RuntimeError), eng.begin() as conn, bulk.pipelined(conn):
                bulk.write(conn, inv, [_invoice("new", rnd, None)])
    finally:
        eng.dispose()
