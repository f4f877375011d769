"""Abnormal splitting read through the aggregates (`agg_split_count`, `agg_chain_hop`, the index of
small splits) equals the scan of every hop (now and as of a block), on random hop sequences
written as rows (both backends): time gaps at and around the 3,600 s bound, zero and backwards,
holdings delivered and split many times, members on either side. The chain rows the follower
keeps, a rebuild computes and migration 0012's SQL fills are the same."""

from __future__ import annotations

import importlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text

from indexer import aggregates, reports
from indexer.db import make_engine, upgrade
from indexer.models import AGG_TABLES, EVENT_TABLES

MIGRATION = importlib.import_module("indexer.migrations.versions.0012_split_rate_aggregates")
OWNERS = ["0x" + f"{i:040x}" for i in range(1, 5)]
HASH = "0x" + "11" * 32

# a hop: kind, the holding it leaves (the newest made so far, mostly: chains grow), a split into a new
# holding (else value into one already there), seconds after the previous row, value, sender,
# receiver, in the previous row's block
hop = st.tuples(
    st.sampled_from(["split", "split", "transfer", "transfer", "merge", "mint"]),
    st.sampled_from([0, 0, 0, 1, 2, 5, 17]),
    st.sampled_from([True, True, True, False]),
    st.sampled_from([0, 0, 1, 1_800, 3_599, 3_600, 3_601, 7_200, -5]),
    st.sampled_from([1, 9_999, 10_000, 10_001, 10**30]),
    st.integers(0, 3),
    st.integers(0, 3),
    st.booleans(),
)


def _rows(hops: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows, block, log, ts, tokens = [], 1, 0, 1_000_000, [1, 2, 3]
    for kind, pick, fresh, gap, value, frm, to, same_block in hops:
        block, log = (block, log + 1) if same_block else (block + 1, 0)
        ts += gap
        token = tokens[-1 - pick % len(tokens)]
        to_token = token
        if kind == "split":
            to_token = max(tokens) + 1 if fresh else tokens[pick % len(tokens)]
            tokens.append(to_token)  # (again, when already there: the newest delivered)
        rows.append({"block_number": block, "log_index": log, "tx_hash": HASH, "timestamp": ts, "kind": kind,
                     "certificate_id": 1, "from_token_id": 0 if kind == "mint" else token,
                     "to_token_id": to_token, "from_owner": OWNERS[frm], "to_owner": OWNERS[to], "value": value,
                     "tier": 1 + token % 3})
    return rows


PARAMS: list[dict[str, Any]] = [
    {}, {"min_hops": 2}, {"min_hops": 4}, {"max_splits": 0}, {"max_splits": 2}, {"min_value": 10_001},
    {"min_value": 0}, {"certificate_id": 1, "min_hops": 2}, {"certificate_id": 2},
    *({"member": m, "min_hops": 2, "max_splits": 1} for m in OWNERS),
]


def test_abnormal_splits_through_aggregates_equal_the_scan(databases: Any) -> None:
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    table, chain = EVENT_TABLES["holding_transfer"], AGG_TABLES["agg_chain_hop"]
    found = {f: 0 for f in reports.FINDINGS}
    try:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(st.lists(hop, min_size=1, max_size=25))
        def check(hops: list[tuple[Any, ...]]) -> None:
            rows = _rows(hops)
            with engine.begin() as conn:
                conn.execute(delete(table))
                conn.execute(insert(table), rows)
                aggregates.rebuild(conn)
                middle = rows[len(rows) // 2]["block_number"]  # as of a block: the hops up to it
                as_of = [{"at": middle}, {"at": middle, "min_hops": 2, "max_splits": 0, "min_value": 10_001},
                         {"at": middle - 1, "member": OWNERS[0], "min_hops": 2, "max_splits": 1}]
                for p in [*PARAMS, *as_of]:
                    fast = reports.abnormal_splits(conn, **p)
                    assert fast == reports.abnormal_splits(conn, **p, scan=True), p
                    for r in fast:
                        found[r["finding"]] += 1
                # the follower, a batch at a time: the same rows as the rebuild
                rebuilt = sorted(tuple(r) for r in conn.execute(select(chain)))
                delivered: dict[int, Any] = {}
                kept = [r for i in range(0, len(rows), 4) for r in aggregates.chain_hops(rows[i : i + 4], delivered)]
                assert sorted(tuple(r.values()) for r in kept) == rebuilt
                # migration 0012's SQL
                conn.execute(delete(chain))
                conn.execute(text(MIGRATION.FILL_CHAIN_HOP))
                assert sorted(tuple(r) for r in conn.execute(select(chain))) == rebuilt

        check()
    finally:
        engine.dispose()
    assert all(found.values()), found  # every kind of finding came up
