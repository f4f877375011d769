"""Backfill of a randomized lifecycle on both backends: reconcile finds no difference, finds one
when a row is tampered with, invariants hold, a second sync changes nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, text, update

from indexer.errors import RpcError
from indexer.fetch import LogFetcher
from indexer.models import STATE_TABLES
from indexer.reconcile import reconcile


def test_backfill_reconciles_and_detects_tampering(played: Any, databases: Any, dump_db: Any) -> None:
    ix = played.index(databases.new())
    try:
        cp = ix.checkpoint()
        assert cp["block_number"] == played.scenario.w3.eth.block_number
        assert cp["events"] > 100
        block, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert block == cp["block_number"]
        assert diffs == [], "\n".join(map(str, diffs))

        with ix.engine.connect() as conn:
            # value is conserved per certificate: live holdings + redeemed = face value
            rows = conn.execute(
                text(
                    "select c.id, c.face_value, c.redeemed_value, c.status, "
                    "coalesce(sum(case when h.status = 'live' then h.value else 0 end), 0) "
                    "from certificate c left join holding h on h.certificate_id = c.id "
                    "group by c.id, c.face_value, c.redeemed_value, c.status"
                )
            ).all()
            assert rows
            for cid, face, redeemed, status, live in rows:  # amounts: decimal TEXT on SQLite
                if status == "rejected":
                    assert int(live) == 0
                else:
                    assert int(live) + int(redeemed) == int(face), cid
            tiers = conn.execute(text("select max(tier) from holding")).scalar()
            assert tiers >= 3
            assert conn.execute(text("select count(*) from financing_deal")).scalar() > 0
            assert conn.execute(text("select count(*) from redemption")).scalar() > 0

        before = dump_db(ix.engine)
        assert ix.sync() == 0  # nothing new: nothing written twice
        assert dump_db(ix.engine) == before

        holding = STATE_TABLES["holding"]
        with ix.engine.begin() as conn:
            tid, value = conn.execute(
                select(holding.c.token_id, holding.c.value).where(holding.c.status == "live").limit(1)
            ).one()
            conn.execute(update(holding).where(holding.c.token_id == tid).values(value=value + 1))
            conn.execute(
                text(
                    "update currency_balance set balance = balance - 5 where address = "
                    "(select min(address) from currency_balance)"
                )
            )
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        fields = {(d.entity, d.field) for d in diffs}
        assert ("holding", "value") in fields
        assert ("currency_balance", "balance") in fields
        assert ("currency_balance", "total_supply") in fields

        # rows missing from SQL, and certificate fields that used to go unchecked
        with ix.engine.begin() as conn:
            member = conn.execute(text("select min(address) from member")).scalar()
            conn.execute(text("delete from member where address = :a"), {"a": member})
            rich = conn.execute(text("select max(address) from currency_balance where balance > 0")).scalar()
            conn.execute(text("delete from currency_balance where address = :a"), {"a": rich})
            conn.execute(text("update certificate set payee = :a where id = 1"), {"a": "0x" + "ee" * 20})
            conn.execute(text("update certificate set issued_at = issued_at + 1, first_token_id = 999 where id = 2"))
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        found = {(d.entity, d.key, d.field) for d in diffs}
        assert ("member", member, "exists") in found
        assert ("currency_balance", rich, "exists") in found and ("currency_balance", rich, "balance") in found
        assert {
            ("certificate", 1, "payee"),
            ("certificate", 2, "issued_at"),
            ("certificate", 2, "first_token_id"),
        } <= found
    finally:
        ix.close()


def test_reconcile_reads_one_snapshot(played: Any, databases: Any, monkeypatch: Any) -> None:
    """The follower commits a batch between reconcile's reads: reconcile still sees one state."""
    from indexer import store

    ix = played.index(databases.new())
    holding = STATE_TABLES["holding"]
    load_checkpoint = store.load_checkpoint
    committed = []

    def follower_commits_meanwhile(conn: Any) -> Any:
        cp = load_checkpoint(conn)
        if not committed:  # another connection changes a holding after the checkpoint was read
            with ix.engine.begin() as other:
                tid = other.execute(select(holding.c.token_id).where(holding.c.status == "live").limit(1)).scalar()
                other.execute(update(holding).where(holding.c.token_id == tid).values(value=holding.c.value + 1))
            committed.append(tid)
        return cp

    try:
        monkeypatch.setattr(store, "load_checkpoint", follower_commits_meanwhile)
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
        assert committed and diffs == [], "\n".join(map(str, diffs))
        _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)  # the change was committed: seen now
        assert [(d.entity, d.key, d.field) for d in diffs] == [("holding", committed[0], "value")]
    finally:
        ix.close()


def test_cli_reconcile_exit_codes(played: Any, tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    from indexer.cli import main

    manifest = tmp_path / "manifest.json"
    played.manifest.save(manifest)
    monkeypatch.setenv("SCF_INDEXER_RPC_URL", played.url)
    monkeypatch.setenv("SCF_INDEXER_MANIFEST", str(manifest))
    monkeypatch.setenv("SCF_INDEXER_DATABASE_URL", f"sqlite:///{tmp_path / 'ix.db'}")
    assert main(["sync"]) == 0
    assert main(["reconcile"]) == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "ix.db") as db:
        db.execute("update certificate set status = 'active' where status != 'active'")
    assert main(["reconcile"]) == 1
    assert "certificate[" in capsys.readouterr().out


class _FakeRpc:
    """eth_getLogs that refuses ranges over `limit` blocks, as a node with a range cap does."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.calls: list[tuple[int, int]] = []

    def get_logs(self, addresses: list[str], a: int, b: int, topics: Any = None) -> list[dict[str, Any]]:
        self.calls.append((a, b))
        if b - a + 1 > self.limit:
            raise RpcError(-32005, "query returned more than 10000 results")
        return []


def test_adaptive_range_halves_then_grows() -> None:
    rpc = _FakeRpc(limit=300)
    f = LogFetcher(rpc, [], start=2000, maximum=4000)  # type: ignore[arg-type]
    end, _ = f.fetch(1, 100_000)
    assert end - 1 + 1 <= 300 and f.step <= 500
    rpc.limit = 10**9
    for _ in range(5):
        end, _ = f.fetch(end + 1, 100_000)
    assert f.step == 4000  # quiet ranges grow up to the maximum


def test_limit_error_at_minimum_raises() -> None:
    rpc = _FakeRpc(limit=0)
    f = LogFetcher(rpc, [], start=4, minimum=1)  # type: ignore[arg-type]
    with pytest.raises(RpcError):
        f.fetch(1, 10)


def test_rate_limit_backs_off_and_retries_the_same_range() -> None:
    import httpx

    from indexer.fetch import is_limit_error, is_rate_limited

    class Throttled:
        def __init__(self, errors: list[Exception]) -> None:
            self.errors = errors
            self.calls: list[tuple[int, int]] = []

        def get_logs(self, addresses: list[str], a: int, b: int, topics: Any = None) -> list[dict[str, Any]]:
            self.calls.append((a, b))
            if self.errors:
                raise self.errors.pop(0)
            return []

    too_many = httpx.Response(429, request=httpx.Request("POST", "http://node"))
    errors: list[Exception] = [
        RpcError(-32005, "rate limit exceeded"),
        httpx.HTTPStatusError("429", request=too_many.request, response=too_many),
        RpcError(-32000, "Too Many Requests"),
    ]
    rpc = Throttled(list(errors))
    slept: list[float] = []
    f = LogFetcher(rpc, [], start=100, sleep=slept.append)  # type: ignore[arg-type]
    assert f.fetch(1, 10_000) == (100, [])
    assert rpc.calls == [(1, 100)] * 4 and f.step == 200  # same range each time; then it grew
    assert slept == [0.5, 1.0, 2.0]  # exponential back-off
    assert all(is_rate_limited(e) and not is_limit_error(e) for e in errors)

    endless = Throttled([RpcError(429, "slow down") for _ in range(10)])
    f = LogFetcher(endless, [], start=100, rate_retries=3, sleep=slept.append)  # type: ignore[arg-type]
    with pytest.raises(RpcError):
        f.fetch(1, 10_000)
    assert endless.calls == [(1, 100)] * 4 and f.step == 100

    # range / result-size errors still halve the range, whatever their wording
    for message in ("query returned more than 10000 results", "Log response size exceeded", "block range too large"):
        assert is_limit_error(RpcError.from_error({"code": -32000, "message": message}))
        assert not is_rate_limited(RpcError.from_error({"code": -32000, "message": message}))
    assert not is_limit_error(RpcError(-32000, "gas limit reached"))


def test_journal_pruned_when_the_floor_moves(fresh_system: Any, databases: Any) -> None:
    """Undo entries below the journal floor can never be used: they go whenever the floor moves up
    (here: a gap of more than the window between two syncs)."""
    system = fresh_system
    system.scenario.setup()
    ix = system.index(databases.new(), reorg_window=8)
    try:
        with ix.engine.connect() as conn:
            assert conn.execute(text("select count(*) from undo_log")).scalar() > 0
        system.scenario.issue(2)
        system.rpc("anvil_mine", hex(60))
        system.scenario.issue(1)
        ix.sync()
        floor = ix.checkpoint()["journal_floor"]
        with ix.engine.connect() as conn:
            low, n = conn.execute(text("select min(block_number), count(*) from undo_log")).one()
        assert n > 0 and low >= floor > system.scenario.w3.eth.block_number - 8
    finally:
        ix.close()


def test_follow_keeps_confirmation_depth(fresh_system: Any, databases: Any) -> None:
    import threading

    system = fresh_system
    s = system.scenario
    s.setup()
    ix = system.indexer(databases.new(), confirmations=2, poll_interval_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=ix.follow, kwargs={"stop": stop.is_set}, daemon=True)
    thread.start()
    try:
        s.issue(2)
        s.trade(5)
        head = s.w3.eth.block_number
        deadline = time.monotonic() + 30
        while ix.checkpoint()["block_number"] < head - 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        assert ix.checkpoint()["block_number"] == head - 2  # never closer to the head than 2 blocks
    finally:
        stop.set()
        thread.join(10)
        ix.close()


def test_migrations_match_models(databases: Any) -> None:
    """`alembic upgrade head` builds exactly the schema of the models (no pending autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from indexer.db import make_engine, upgrade
    from indexer.models import IndexerModel

    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), IndexerModel.metadata)
        assert diff == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reconcile_after_random_lifecycles(seed: int, tmp_path: Any) -> None:
    """More randomized lifecycles (SQLite): reconcile finds no difference, value is conserved."""
    from scenario import System

    from scf import devchain

    chain = devchain.start()
    try:
        system = System(chain, seed=seed)
        system.scenario.run(certificates=4, steps=30)
        ix = system.index(f"sqlite:///{tmp_path / 'ix.db'}", batch_blocks=7)
        try:
            _, diffs = reconcile(ix.engine, ix.rpc, ix.manifest)
            assert diffs == [], "\n".join(map(str, diffs))
            with ix.engine.connect() as conn:
                bad = conn.execute(
                    text(
                        "select c.id from certificate c left join holding h on h.certificate_id = c.id "
                        "and h.status = 'live' where c.status <> 'rejected' "
                        "group by c.id, c.face_value, c.redeemed_value "
                        "having coalesce(sum(h.value), 0) + c.redeemed_value <> c.face_value"
                    )
                ).all()
            assert bad == []
        finally:
            ix.close()
    finally:
        chain.stop()


def test_overlapped_pipeline_gives_the_rows_of_one_step_at_a_time(played: Any, databases: Any, dump_db: Any) -> None:
    """`sync` fetches the next range while it writes the previous one; stepping one range at a time
    (`step`: fetch, then write) must give exactly the same tables."""
    overlapped = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2)
    serial = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2)
    try:
        events = overlapped.sync()
        steps = 0
        while serial.step() is not None:
            steps += 1
        assert steps > 10 and events > 100
        assert overlapped.checkpoint() == serial.checkpoint()
        assert dump_db(overlapped.engine) == dump_db(serial.engine)
    finally:
        overlapped.close()
        serial.close()


def test_a_batch_prepared_on_a_stale_checkpoint_is_not_written(played: Any, databases: Any) -> None:
    """A batch is committed only on top of the checkpoint it was fetched after."""
    from indexer.errors import ReorgDetected

    ix = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2)
    try:
        cp = ix.checkpoint()
        ix.guard(cp)
        head = ix.rpc.block_number()
        first = ix.prepare(cp, head, None)
        assert first is not None
        ix.commit(first)
        with pytest.raises(ReorgDetected):
            ix.commit(first)  # prepared after the old checkpoint: refused, nothing written twice
        assert ix.checkpoint()["block_number"] == first.to_block
    finally:
        ix.close()


def test_row_cache_holds_the_rows_of_the_database(played: Any, databases: Any, dump_db: Any) -> None:
    """The follower's row cache (`store.RowCache`) replaces reading back the rows earlier batches
    wrote: every row it holds is the row a SELECT returns (absent keys: no row), and an index built
    with it equals one built reading every row from the database."""
    from sqlalchemy import select, text

    from indexer.aggregates import _delivered
    from indexer.models import PK, STATE_TABLES

    cached = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2)
    uncached = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2, row_cache_rows=0)
    try:
        assert cached.sync() > 100
        uncached.sync()
        cache = cached.rows
        assert cache.complete and cache.size > 50
        assert not uncached.rows.complete and uncached.rows.size == 0
        with cached.engine.connect() as conn:
            for table, rows in cache.rows.items():
                t = STATE_TABLES[table]
                in_db = {r[PK[table]]: dict(r) for r in conn.execute(select(t)).mappings()}
                assert {pk: row for pk, row in rows.items() if row is not None} == in_db, table
                assert all(pk not in in_db for pk, row in rows.items() if row is None), table
            # and, complete, every token's last delivering hop (the chain aggregate's reads)
            tokens = set(conn.execute(text("SELECT to_token_id FROM holding_transfer")).scalars())
            stored = _delivered(conn, tokens)
        cols = ("block_number", "log_index", "timestamp", "to_token_id", "hops")
        assert len(stored) > 10
        assert {t: [h[c] for c in cols] for t, h in cache.delivered.items()} == {
            t: [h[c] for c in cols] for t, h in stored.items()
        }
        assert dump_db(cached.engine) == dump_db(uncached.engine)
    finally:
        cached.close()
        uncached.close()


def test_row_cache_is_dropped_when_the_checkpoint_is_not_its_own(played: Any, databases: Any) -> None:
    """A cache describes the index at one checkpoint: another one stored (a rollback, a reset,
    another writer) empties it; an empty index makes it complete."""
    from indexer.handlers import WorkSet
    from indexer.store import RowCache

    ix = played.indexer(databases.new(), batch_blocks=2, max_batch_blocks=2)
    try:
        ix.sync(max_steps=3)
        cp = ix.checkpoint()
        cache = ix.rows
        assert cache.size > 0 and cache.at == (cp["block_number"], cp["block_hash"])
        assert cache.valid_at(cp) and cache.size > 0
        assert not cache.valid_at({**cp, "block_hash": "0x" + "00" * 32})
        assert cache.size == 0 and not cache.complete
        assert cache.valid_at(None) and cache.complete
        small = RowCache(limit=1)
        small.valid_at(None)
        ws = WorkSet(None)
        ws.load("member", "0xa", {"address": "0xa"})
        ws.load("member", "0xb", None)
        small.absorb(ws, (1, "0x01"))
        assert small.size == 0 and not small.complete  # beyond its limit: emptied, reads again
    finally:
        ix.close()


def test_backfill_collects_garbage_less_often_and_restores_the_thresholds() -> None:
    """While batches are indexed the collector's thresholds are raised (it scanned every batch's
    rows again and again); the previous ones come back afterwards, also after an error; a collector
    turned off by threshold 0 is left off."""
    import gc

    from indexer.pipeline import _few_collections

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with pytest.raises(RuntimeError), _few_collections():
            assert gc.get_threshold() == (10_000, 50, 100)
            raise RuntimeError
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(0, 10, 10)
        with _few_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_sqlite_page_cache_of_the_follower(tmp_path: Any) -> None:
    from indexer.db import make_engine

    for mib, expected in ((64, -64 * 1024), (None, -2000)):  # -2000: SQLite's default (2 MiB)
        engine = make_engine(f"sqlite:///{tmp_path}/c.db", cache_mib=mib)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == expected
            assert conn.exec_driver_sql("select xadd('1', '2')").scalar() == "3"  # the exact functions too
        engine.dispose()
