"""Database side of the pipeline: bulk prefetch of state rows, bulk writes of a batch with its undo
journal, blocks and checkpoint (one transaction), and rollback to a common ancestor."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from indexer import aggregates, bulk
from indexer.handlers import Key, Row, WorkSet
from indexer.models import (
    AGG_TABLES,
    BLOCK,
    CHECKPOINT,
    EVENT_TABLES,
    PK,
    STATE_TABLES,
    STATUS,
    UNDO,
    VERSION_TABLES,
)

CHUNK = 500


class RowCache:
    """The state rows as committed at one checkpoint (`at`: its block number and hash), kept by
    the follower between batches so that a row a previous batch wrote is not read back. Rows are
    the handlers' own dicts (never changed in place: `WorkSet.put`/`update` make new ones), equal
    to what a SELECT returns (tests/indexer prove it on a randomized lifecycle). `complete`: the
    cache holds every row of the index (it started from an empty index and never dropped
    anything), so a key it lacks has no row. Valid only on top of the checkpoint it recorded: the
    follower drops it when the stored checkpoint is another (a rollback, a reset, another writer),
    after a failed batch, and when it grows beyond `limit` rows."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.rows: dict[str, dict[Any, Row | None]] = {t: {} for t in STATE_TABLES}
        # per token, the last hop that delivered it (`aggregates.chain_hops`): complete, a token
        # it lacks was never delivered by a hop
        self.delivered: dict[Any, Row] = {}
        self.size = 0
        self.complete = False
        self.at: tuple[int, str | None] | None = None

    def clear(self) -> None:
        for rows in self.rows.values():
            rows.clear()
        self.delivered.clear()
        self.size = 0
        self.complete = False
        self.at = None

    def valid_at(self, cp: dict[str, Any] | None) -> bool:
        """Whether the cache describes the index at the stored checkpoint `cp` (None: an empty
        index, of which an empty cache is the complete image); otherwise it is emptied."""
        if cp is None:
            self.clear()
            self.complete = True
            return True
        if self.at != (cp["block_number"], cp["block_hash"]):
            self.clear()
            return False
        return True

    def absorb(self, ws: WorkSet, at: tuple[int, str | None]) -> None:
        """After the batch's transaction committed: its rows (and the keys it found absent) as
        they now are in the database, at checkpoint `at`."""
        for table, rows in ws.rows.items():
            mine = self.rows[table]
            for pk, row in rows.items():
                if pk not in mine:
                    self.size += 1
                mine[pk] = row
        for token, hop in ws.delivered.items():
            if token not in self.delivered:
                self.size += 1
            self.delivered[token] = hop
        self.at = at
        if self.size > self.limit:
            self.clear()



def prefetch(conn: Connection, ws: WorkSet, keys: Iterable[Key], cache: RowCache | None = None) -> None:
    """Load into `ws` the state rows of `keys` (None: no row): from `cache` when it has them (or,
    complete, knows there is none), else in one SELECT per table and chunk of keys."""
    wanted: dict[str, set[Any]] = defaultdict(set)
    cached = cache.rows if cache is not None else None
    complete = cache is not None and cache.complete
    for table, pk in keys:
        if ws.loaded(table, pk):
            continue
        if cached is not None:
            mine = cached[table]
            if pk in mine:
                ws.load(table, pk, mine[pk])
                continue
            if complete:
                ws.load(table, pk, None)
                continue
        wanted[table].add(pk)
    for table, pks in wanted.items():
        t = STATE_TABLES[table]
        col = t.c[PK[table]]
        ordered = list(pks)
        for i in range(0, len(ordered), CHUNK):
            part = ordered[i : i + CHUNK]
            for row in conn.execute(select(t).where(col.in_(part))).mappings():
                ws.load(table, row[PK[table]], dict(row))
        for pk in ordered:
            if not ws.loaded(table, pk):
                ws.load(table, pk, None)


def write(conn: Connection, ws: WorkSet, cache: RowCache | None = None) -> int:
    """Write the batch's state and event rows, its journal and the report aggregates' changes;
    returns the number of rows. The updates first (the rows before the batch, and their open
    versions closed: see `WorkSet.history`), pipelined on PostgreSQL (`bulk.pipelined`), then the
    inserts (new rows, versions, events): a version is added only once the one it follows is
    closed. `cache`: the follower's row cache, valid at the stored checkpoint (the chain hops)."""
    aggregates.apply(conn, aggregates.batch_deltas(conn, ws, cache))  # reads the state before the batch
    n = 0
    inserts: list[tuple[Any, list[Row]]] = []
    with bulk.pipelined(conn):
        for table in STATE_TABLES:
            new, updates = ws.changed(table)
            close, add = ws.history(table)
            v, pk = VERSION_TABLES[table], PK[table]
            bulk.write(conn, STATE_TABLES[table], updates, keys=(pk,))
            bulk.write(conn, v, [{pk: c["b_pk"], "valid_to_block": c["b_to"]} for c in close], keys=(pk,),
                       null=("valid_to_block",))
            inserts += [(STATE_TABLES[table], new), (v, add)]
            n += len(new) + len(updates) + len(add)
    for t, rows in inserts:
        bulk.write(conn, t, rows)
    for table, rows in ws.events.items():
        bulk.write(conn, EVENT_TABLES[table], rows)
        n += len(rows)
    bulk.write(conn, UNDO, ws.undo)
    return n


def load_checkpoint(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(select(CHECKPOINT).where(CHECKPOINT.c.id == 1)).mappings().first()
    return dict(row) if row else None


def save_checkpoint(conn: Connection, values: dict[str, Any]) -> None:
    if load_checkpoint(conn) is None:
        conn.execute(insert(CHECKPOINT), {"id": 1, **values})
    else:
        conn.execute(update(CHECKPOINT).where(CHECKPOINT.c.id == 1).values(**values))


def save_status(conn: Connection, values: dict[str, Any]) -> None:
    """The follower's status row (`indexer_status`, id 1): insert or update."""
    if conn.execute(update(STATUS).where(STATUS.c.id == 1).values(**values)).rowcount == 0:
        conn.execute(insert(STATUS), {"id": 1, **values})


def save_blocks(conn: Connection, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    numbers = [b["number"] for b in blocks]
    for i in range(0, len(numbers), CHUNK):
        conn.execute(delete(BLOCK).where(BLOCK.c.number.in_(numbers[i : i + CHUNK])))
    conn.execute(insert(BLOCK), blocks)


def stored_blocks_desc(conn: Connection, below_or_at: int, limit: int) -> list[tuple[int, str]]:
    rows = conn.execute(
        select(BLOCK.c.number, BLOCK.c.hash)
        .where(BLOCK.c.number <= below_or_at)
        .order_by(BLOCK.c.number.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def prune_journal(conn: Connection, below: int) -> None:
    conn.execute(delete(UNDO).where(UNDO.c.block_number < below))


def rollback(conn: Connection, ancestor: int) -> int:
    """Undo every block above `ancestor`: restore journaled state rows newest first, delete event
    rows and blocks above it. Returns the number of undo entries applied."""
    entries = conn.execute(
        select(UNDO.c.table_name, UNDO.c.pk, UNDO.c.prev)
        .where(UNDO.c.block_number > ancestor)
        .order_by(UNDO.c.id.desc())
    ).all()
    # newest first, so the last write per key is its state as of the ancestor
    final: dict[tuple[str, str], str | None] = {}
    for table, pk, prev in entries:
        final[(table, pk)] = prev
    by_table: dict[str, list[tuple[Any, str | None]]] = defaultdict(list)
    for (table, pk), prev in final.items():
        by_table[table].append((json.loads(pk), prev))
    agg = aggregates.RollbackDeltas(
        [pk for pk, _ in by_table.get("holding", [])], [pk for pk, _ in by_table.get("certificate", [])]
    )
    agg.before(conn, ancestor)
    for table, items in by_table.items():
        t = STATE_TABLES[table]
        col = t.c[PK[table]]
        pks = [pk for pk, _ in items]
        for i in range(0, len(pks), CHUNK):
            conn.execute(delete(t).where(col.in_(pks[i : i + CHUNK])))
        restored = [json.loads(prev) for _, prev in items if prev is not None]
        if restored:
            conn.execute(insert(t), restored)
    for t in EVENT_TABLES.values():
        conn.execute(delete(t).where(t.c.block_number > ancestor))
    aggregates.apply(conn, agg.after(conn))
    for table, v in VERSION_TABLES.items():
        rollback_history(conn, table, v, ancestor)
    conn.execute(delete(UNDO).where(UNDO.c.block_number > ancestor))
    conn.execute(delete(BLOCK).where(BLOCK.c.number > ancestor))
    return len(entries)


def rollback_history(conn: Connection, table: str, v: Any, ancestor: int) -> None:
    """Delete the versions that begin above `ancestor` and reopen the ones they closed (a version
    closed above the ancestor always has its successor above it, so only those keys)."""
    col = v.c[PK[table]]
    keys = list(conn.execute(select(col).where(v.c.valid_from_block > ancestor).group_by(col)).scalars())
    if not keys:
        return
    conn.execute(delete(v).where(v.c.valid_from_block > ancestor))
    for i in range(0, len(keys), CHUNK):
        conn.execute(
            update(v).where(col.in_(keys[i : i + CHUNK]), v.c.valid_to_block > ancestor).values(valid_to_block=None)
        )


def truncate_all(conn: Connection) -> None:
    tables = (*STATE_TABLES.values(), *EVENT_TABLES.values(), *VERSION_TABLES.values(), *AGG_TABLES.values())
    for t in (*tables, UNDO, BLOCK, CHECKPOINT, STATUS):
        conn.execute(delete(t))
