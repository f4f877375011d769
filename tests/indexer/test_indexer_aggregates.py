"""The report aggregates (`indexer.aggregates`) maintained batch by batch equal a computation from
scratch over the state and event tables, and the whole-book reports that read them equal the same
reports computed by scanning the tables (both backends; reorg rollback: test_indexer_reorg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from indexer import aggregates, reports
from indexer.models import AGG_TABLES


def assert_aggregates_exact(engine: Any) -> None:
    with engine.connect() as conn:
        kept = {name: sorted(tuple(r) for r in conn.execute(select(t))) for name, t in AGG_TABLES.items()}
        assert kept == aggregates.scratch(conn)
        assert reports.tiers(conn) == reports.tiers(conn, scan=True)
        assert reports.concentration(conn, by="holder", top=50) == reports.concentration(
            conn, by="holder", top=50, scan=True
        )
        assert reports.exposure(conn) == reports.exposure(conn, scan=True)
        assert reports.financing(conn) == reports.financing(conn, scan=True)
        for deal in conn.execute(select(AGG_TABLES["agg_deal_parties"])).mappings():
            for params in ({"member": deal["seller"]}, {"factor": deal["factor"]}, {"seller": deal["seller"]}):
                assert reports.financing(conn, **params) == reports.financing(conn, **params, scan=True)
        assert_rates_and_splits_exact(conn)


def assert_rates_and_splits_exact(conn: Any) -> None:
    """The rates and abnormal-splits reports read through their aggregates equal the scans."""
    for by in ("tier", "factor"):
        for kind in (None, "direct", "open", "quote"):
            assert reports.rates(conn, by=by, kind=kind) == reports.rates(conn, by=by, kind=kind, scan=True)
    hops = conn.execute(text("SELECT DISTINCT certificate_id, from_owner, to_owner FROM holding_transfer "
                             "WHERE kind IN ('split', 'transfer')")).all()
    params: list[dict[str, Any]] = [{}, {"min_hops": 2}, {"max_splits": 0}, {"max_splits": 1, "min_hops": 4},
                                    {"min_value": 10**30}, {"min_value": 0}]
    params += [{"certificate_id": c, "min_hops": 2, "max_splits": 1} for c in {h[0] for h in hops}]
    params += [{"member": m, "min_hops": 2, "max_splits": 1} for m in sorted({m for h in hops for m in h[1:]})]
    blocks = conn.execute(text("SELECT DISTINCT block_number FROM holding_transfer ORDER BY 1")).scalars().all()
    params += [{"at": b, "min_hops": 2, "max_splits": 1} for b in blocks[:: max(1, len(blocks) // 8)]]
    for p in params:
        assert reports.abnormal_splits(conn, **p) == reports.abnormal_splits(conn, **p, scan=True), p


def test_aggregates_equal_scratch_after_a_lifecycle(played: Any, databases: Any) -> None:
    # small ranges: many batches, so holdings change across batch boundaries and within one
    ix = played.index(databases.new(), batch_blocks=3)
    try:
        assert_aggregates_exact(ix.engine)
        with ix.engine.connect() as conn:
            tiers = reports.tiers(conn)
            assert tiers and sum(t["holdings"] for t in tiers) > 0
            assert reports.concentration(conn, by="holder")["parties"] > 0
            assert sum(r["deals"] for r in reports.financing(conn)) > 0  # deals were made: not vacuous
    finally:
        ix.close()


def test_aggregates_do_not_depend_on_batch_boundaries(played: Any, databases: Any, dump_db: Any) -> None:
    one = played.index(databases.new(), batch_blocks=1000, max_batch_blocks=100_000)
    two = played.index(databases.new(), batch_blocks=1, max_batch_blocks=1)
    try:
        a, b = dump_db(one.engine), dump_db(two.engine)
        assert {n: a[n] for n in AGG_TABLES} == {n: b[n] for n in AGG_TABLES}
    finally:
        one.close()
        two.close()


NEW_IN_0012 = ("agg_deal_rate", "agg_deal_tier_seller", "agg_deal_factor_seller", "agg_split_count", "agg_chain_hop")


def test_migration_0012_fills_what_the_follower_keeps(played: Any, databases: Any) -> None:
    """An index made before 0012: the migration's SQL fills the new aggregates with exactly the rows
    the follower would have kept (and the from-scratch computation)."""
    from alembic import command

    from indexer.db import alembic_config

    url = databases.new()
    ix = played.index(url, batch_blocks=3)
    try:
        with ix.engine.connect() as conn:
            kept = {n: sorted(tuple(r) for r in conn.execute(select(AGG_TABLES[n]))) for n in NEW_IN_0012}
        assert all(kept.values()), kept  # every table has rows: not vacuous
        ix.engine.dispose()
        command.downgrade(alembic_config(url), "0011_report_latency")
        command.upgrade(alembic_config(url), "head")
        with ix.engine.connect() as conn:
            filled = {n: sorted(tuple(r) for r in conn.execute(select(AGG_TABLES[n]))) for n in NEW_IN_0012}
            assert filled == kept
            assert {n: aggregates.scratch(conn)[n] for n in NEW_IN_0012} == kept
            assert_rates_and_splits_exact(conn)
    finally:
        ix.close()
