"""Many rows in one go: `write` inserts the rows of a table, or updates them by key. SQLite: one
driver executemany (a C loop). PostgreSQL: one statement, not one per row (psycopg's pipelined
executemany costs the client and the server a statement each): inserts as COPY, updates joined
to the rows passed as one array per column. The values go through the columns' own bind
processors (`Amount` included), as with SQLAlchemy's `execute`, whose per-row parameter building
is otherwise most of a batch's CPU time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

Row = dict[str, Any]
_PLANS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], Any] = {}


def write(conn: Connection, table: Any, rows: list[Row], keys: tuple[str, ...] = (),
          null: tuple[str, ...] = ()) -> None:
    """Insert `rows` into `table`; with `keys` (column names), update the rows' other columns where
    the keys are equal (and the columns `null` are NULL). Every row has the keys of the first; an
    update's rows have distinct keys."""
    if not rows:
        return
    dialect = conn.dialect
    cols = tuple(k for k in rows[0] if k not in keys) + keys
    cache_key = (table.name, dialect.name, cols, keys, null)
    plan = _PLANS.get(cache_key)
    if plan is None:
        plan = _PLANS[cache_key] = _plan(conn, table, cols, keys, null)
    sql, get, procs_at, width = plan
    params: list[Any] = list(map(get, rows)) if width > 1 else [(v,) for v in map(get, rows)]
    if procs_at:  # converted a column at a time: one comprehension per column, not a loop per value
        columns: list[Any] = list(zip(*params, strict=True))
        for i, proc in procs_at:
            columns[i] = [None if v is None else proc(v) for v in columns[i]]
        params = list(zip(*columns, strict=True))
    if dialect.name != "postgresql":
        conn.exec_driver_sql(sql, params)
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if keys:
        cursor.execute(sql, [list(column) for column in zip(*params, strict=True)])
        return
    if conn.info.get(_PIPELINED):
        raise RuntimeError("bulk.write: no inserts inside bulk.pipelined (a COPY cannot be pipelined)")
    with cursor.copy(sql) as copy:
        for values in params:
            copy.write_row(values)


_PIPELINED = "bulk_pipelined"


@contextlib.contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """PostgreSQL: the updates of `write` inside are sent without waiting for each one's result
    (psycopg's pipeline mode: the server works through them while the client prepares the next
    ones; an error is raised at the end of the block at the latest). Only updates by `write`
    inside: a COPY cannot be pipelined (inserts as arrays instead cost the client more than the
    overlap saves). Elsewhere nothing changes."""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.info[_PIPELINED] = True
    try:
        with conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
            yield
    finally:
        del conn.info[_PIPELINED]


def _plan(conn: Connection, table: Any, cols: tuple[str, ...], keys: tuple[str, ...],
          null: tuple[str, ...]) -> tuple[str, Any, list[tuple[int, Any]], int]:
    dialect = conn.dialect
    q = dialect.identifier_preparer.quote
    t = q(table.name)
    sets = [k for k in cols if k not in keys]
    if dialect.name == "postgresql":
        if not keys:
            sql = f"COPY {t} ({', '.join(q(k) for k in cols)}) FROM STDIN"
        else:
            arrays = ", ".join(f"%s::{table.c[k].type.compile(dialect=dialect)}[]" for k in cols)
            names = ", ".join(f"c{i}" for i in range(len(cols)))
            where = [f"{t}.{q(k)} = u.c{cols.index(k)}" for k in keys] + [f"{t}.{q(k)} IS NULL" for k in null]
            sql = (f"UPDATE {t} SET {', '.join(f'{q(k)} = u.c{i}' for i, k in enumerate(sets))} "
                   f"FROM unnest({arrays}) AS u({names}) WHERE {' AND '.join(where)}")
    else:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        if not keys:
            sql = f"INSERT INTO {t} ({', '.join(q(k) for k in cols)}) VALUES ({', '.join([mark] * len(cols))})"
        else:
            where = [f"{q(k)} = {mark}" for k in keys] + [f"{q(k)} IS NULL" for k in null]
            sql = f"UPDATE {t} SET {', '.join(f'{q(k)} = {mark}' for k in sets)} WHERE {' AND '.join(where)}"
    procs = [(i, table.c[k].type._cached_bind_processor(dialect)) for i, k in enumerate(cols)]
    return sql, itemgetter(*cols), [(i, p) for i, p in procs if p is not None], len(cols)


READ_CHUNK = 500  # key tuples per SQLite statement (bound variables: at most 32,766)


def read(conn: Connection, table: Any, keys: tuple[str, ...], wanted: list[tuple[Any, ...]],
         columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The `columns` of the rows of `table` whose `keys` (column names) equal one of the tuples
    `wanted` (distinct), as the driver returns them (no result processors: an amount comes back
    as the driver's decimal or text). PostgreSQL: one statement joined to the keys passed as one
    array per column (an IN list of row values is planned as an OR of index probes, several times
    slower); SQLite: joined to a VALUES list of chunks of keys. Not through SQLAlchemy's
    expanding IN, whose compilation and per-row result handling cost more than the query."""
    if not wanted:
        return []
    dialect = conn.dialect
    pg = dialect.name == "postgresql"
    q = dialect.identifier_preparer.quote
    cache_key = (table.name, f"read {dialect.name}", columns, keys, ())
    plan = _PLANS.get(cache_key)
    if plan is None:
        cols = ", ".join(f"t.{q(c)}" for c in columns)
        if pg:
            arrays = ", ".join(f"%s::{table.c[k].type.compile(dialect=dialect)}[]" for k in keys)
            on = " AND ".join(f"t.{q(k)} = u.c{i}" for i, k in enumerate(keys))
            sql = (f"SELECT {cols} FROM {q(table.name)} AS t "
                   f"JOIN unnest({arrays}) AS u({', '.join(f'c{i}' for i in range(len(keys)))}) ON {on}")
        else:  # completed per chunk with its VALUES list; CROSS JOIN: SQLite loops over the
            # keys and looks each up in the table's key index (it chose to scan the table otherwise)
            on = " AND ".join(f"t.{q(k)} = u.column{i + 1}" for i, k in enumerate(keys))
            sql = f"SELECT {cols} FROM (VALUES {{}}) AS u CROSS JOIN {q(table.name)} AS t ON {on}"
        procs = [table.c[k].type._cached_bind_processor(dialect) for k in keys]
        plan = _PLANS[cache_key] = (sql, procs)
    sql, procs = plan
    if any(p is not None for p in procs):
        wanted = list(zip(*[[v if p is None or v is None else p(v) for v in column]
                            for p, column in zip(procs, zip(*wanted, strict=True), strict=True)], strict=True))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if pg:
        cursor.execute(sql, [list(column) for column in zip(*wanted, strict=True)])
        return cursor.fetchall()
    mark = "(" + ", ".join("?" * len(keys)) + ")"
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(wanted), READ_CHUNK):
        part = wanted[i : i + READ_CHUNK]
        cursor.execute(sql.format(", ".join([mark] * len(part))), [v for key in part for v in key])
        out.extend(cursor.fetchall())
    return out
