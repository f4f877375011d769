"""The auditors' reports: plain SQL (portable between SQLite and PostgreSQL) over the indexed
tables. Every function takes a connection and returns JSON-ready dicts; amounts are integer minor
units (2 decimals), times unix seconds of the chain."""

from __future__ import annotations

import gc
import heapq
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from indexer.aggregates import CHAIN_SECONDS, EVERY_KIND
from indexer.models import EVENT_TABLES, STATE_TABLES

OPEN_STATUSES = ("pending", "active", "overdue")
DAY = 86_400
DUE_BUCKETS = [
    (0, 30, "due 0-30d"),
    (31, 60, "due 31-60d"),
    (61, 90, "due 61-90d"),
    (91, 180, "due 91-180d"),
    (181, None, "due >180d"),
]
OVERDUE_BUCKETS = [
    (1, 30, "overdue 1-30d"),
    (31, 60, "overdue 31-60d"),
    (61, 90, "overdue 61-90d"),
    (91, None, "overdue >90d"),
]


class Filters:
    """WHERE-clause builder for optional filters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, clause: str, **params: Any) -> None:
        if any(v is None for v in params.values()):
            return
        self.clauses.append(clause)
        self.params.update(params)

    def where(self, prefix: str = "WHERE") -> str:
        return f"{prefix} " + " AND ".join(self.clauses) if self.clauses else ""


class Exact:
    """Exact SQL arithmetic over amounts (up to 2**256 - 1): PostgreSQL's NUMERIC operators; on
    SQLite, where amounts are decimal TEXT, the exact functions of `indexer.db`."""

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"

    def sum(self, x: str) -> str:
        return f"xsum({x})" if self.sqlite else f"SUM({x})"

    def sub(self, a: str, b: str) -> str:
        return f"xsub({a}, {b})" if self.sqlite else f"({a} - {b})"

    def mul(self, a: str, b: str) -> str:
        return f"xmul({a}, {b})" if self.sqlite else f"({a} * {b})"

    def neg(self, a: str) -> str:
        return f"xneg({a})" if self.sqlite else f"(-{a})"


# result columns holding amounts: ints in every report, whatever the backend returns
# (SQLite: decimal TEXT; PostgreSQL: Decimal)
AMOUNT_KEYS = frozenset(
    (
        "face_value",
        "redeemed_value",
        "repaid_value",
        "outstanding",
        "value",
        "initial_value",
        "price",
        "amount",
        "credit_limit",
        "credit_used",
        "currency_balance",
        "issued",
        "unpaid_by_debtor",
        "repaid",
        "redeemed",
        "overdue",
        "matured_unpaid",
        "financed",
        "financed_price",
        "value_received",
        "volume",
        "paid",
        "discount",
        "rate_value",
        "used",
        "available",
    )
)


# --- "as of" a block --------------------------------------------------------------------------
#
# `at` (a block number) in every report: None = the current state tables, queried as they always
# were; otherwise each table is replaced by its state after block `at`: a state table by its
# versions valid at `at` (`<table>_version`), an event table by its rows up to `at`.


def src(table: str, at: int | None, alias: str | None = None) -> str:
    """The FROM item of `table` (named `alias`, default the table's name) as of block `at`."""
    alias = alias or table
    if at is None:
        return table if alias == table else f"{table} {alias}"
    if table in STATE_TABLES:
        cols = ", ".join(f'"{c.name}"' for c in STATE_TABLES[table].columns)
        return (
            f"(SELECT {cols} FROM {table}_version WHERE valid_from_block <= :as_of_block "
            f"AND (valid_to_block IS NULL OR valid_to_block > :as_of_block)) {alias}"
        )
    assert table in EVENT_TABLES, table
    return f"(SELECT * FROM {table} WHERE block_number <= :as_of_block) {alias}"


def at_params(at: int | None) -> dict[str, Any]:
    return {} if at is None else {"as_of_block": at}


def history_range(conn: Connection) -> tuple[int | None, int | None]:
    """(first, last) block an "as of" may ask for: the history's start and the indexed block."""
    row = conn.execute(text("SELECT history_from_block, block_number FROM checkpoint WHERE id = 1")).first()
    return (None, None) if row is None else (row[0], row[1])


def block_time(conn: Connection, block: int) -> int | None:
    """The timestamp of `block`, or of the newest stored block below it (the index stores every
    block with platform events, every batch end and every block of the reorg window: a block
    it lacks had no platform event, so the state there is the same)."""
    ts = conn.execute(
        text("SELECT timestamp FROM block WHERE number <= :b ORDER BY number DESC LIMIT 1"), {"b": block}
    ).scalar()
    return None if ts is None else int(ts)


def block_at_time(conn: Connection, moment: int) -> tuple[int, int] | None:
    """The newest stored block with timestamp <= `moment` (and its timestamp)."""
    row = conn.execute(
        text("SELECT number, timestamp FROM block WHERE timestamp <= :t ORDER BY timestamp DESC, number DESC LIMIT 1"),
        {"t": moment},
    ).first()
    return None if row is None else (int(row[0]), int(row[1]))


def to_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _fix(row: dict[str, Any]) -> dict[str, Any]:
    for k, v in row.items():
        if k in AMOUNT_KEYS and v is not None and not isinstance(v, int):
            row[k] = int(v)
    return row


def _rows(conn: Connection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [_fix(dict(r)) for r in conn.execute(text(sql), params).mappings()]


def status(conn: Connection) -> dict[str, Any]:
    cp = conn.execute(text("SELECT block_number, block_hash, events FROM checkpoint WHERE id = 1")).mappings().first()
    ts = conn.execute(text("SELECT timestamp FROM block ORDER BY number DESC LIMIT 1")).scalar()
    st = (
        conn.execute(
            text("SELECT head, failures, last_error, last_error_at, updated_at FROM indexer_status WHERE id = 1")
        )
        .mappings()
        .first()
    )
    indexed = cp["block_number"] if cp else None
    head = st["head"] if st else None
    return {
        "indexed_block": indexed,
        "block_hash": cp["block_hash"] if cp else None,
        "events": cp["events"] if cp else 0,
        "chain_time": ts,
        # the follower's view (indexer_status): node head it last saw, blocks behind it, its
        # consecutive failures and last error (kept after recovery), when it last wrote
        "head": head,
        "lag": head - indexed if head is not None and indexed is not None else None,
        "failures": st["failures"] if st else 0,
        "last_error": st["last_error"] if st else None,
        "last_error_at": st["last_error_at"] if st else None,
        "status_updated_at": st["updated_at"] if st else None,
    }


def chain_time(conn: Connection) -> int:
    """The timestamp of the newest indexed block: 'now' for ageing (the dev chain's clock moves)."""
    ts = conn.execute(text("SELECT timestamp FROM block ORDER BY number DESC LIMIT 1")).scalar()
    return int(ts or 0)


# --- certificates and lineage ----------------------------------------------------------------


def certificates(
    conn: Connection,
    *,
    debtor: str | None = None,
    holder: str | None = None,
    status_: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    limit: int = 100,
    offset: int = 0,
    at: int | None = None,
) -> list[dict[str, Any]]:
    f = Filters()
    f.add("c.debtor = :debtor", debtor=debtor)
    f.add("c.status = :status", status=status_)
    f.add("c.issued_at >= :date_from", date_from=date_from)
    f.add("c.issued_at < :date_to", date_to=date_to)
    f.add(
        f"EXISTS (SELECT 1 FROM {src('holding', at, 'h')} WHERE h.certificate_id = c.id AND h.owner = :holder)",
        holder=holder,
    )
    x = Exact(conn)
    return _rows(
        conn,
        f"""
        SELECT c.id, c.debtor, c.payee, c.face_value, c.redeemed_value, c.repaid_value,
               {x.sub("c.face_value", "c.redeemed_value")} AS outstanding, c.status, c.issued_at, c.maturity,
               c.overdue_at, c.settled_at, c.document_hash, c.issued_tx, c.issued_block
        FROM {src("certificate", at, "c")} {f.where()} ORDER BY c.id LIMIT :limit OFFSET :offset""",
        {**f.params, "limit": limit, "offset": offset, **at_params(at)},
    )


_LINEAGE_COLS = (
    "token_id",
    "parent_token_id",
    "tier",
    "owner",
    "value",
    "initial_value",
    "status",
    "frozen",
    "document_hash",
    "created_tx",
    "created_block",
    "created_at",
)


def _raw(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Plain DBAPI tuples (no Row objects): the lineage of a large certificate is latency-bound."""
    if conn.dialect.paramstyle == "qmark":
        sql = sql.replace("%s", "?")
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(sql, params)
        rows: list[tuple[Any, ...]] = cur.fetchall()
    finally:
        cur.close()
    return rows


_NO_TRANSFERS: tuple[dict[str, Any], ...] = ()  # shared by the nodes never transferred whole (JSON: [])


def lineage(conn: Connection, certificate_id: int, at: int | None = None) -> dict[str, Any] | None:
    """The certificate and the tree of its holdings from tier 1 down (penetration)."""
    cert = (
        conn.execute(
            text(f"SELECT * FROM {src('certificate', at)} WHERE id = :id"), {"id": certificate_id, **at_params(at)}
        )
        .mappings()
        .first()
    )
    if cert is None:
        return None
    # amounts come as decimal TEXT (SQLite) or Decimal (PostgreSQL) from plain DBAPI rows
    num = int
    if at is None:
        rows = _raw(
            conn,
            f"SELECT {', '.join(_LINEAGE_COLS)} FROM holding WHERE certificate_id = %s ORDER BY token_id",
            (certificate_id,),
        )
        moves = _raw(
            conn,
            "SELECT to_token_id, from_owner, to_owner, tx_hash, block_number, timestamp "
            "FROM holding_transfer WHERE certificate_id = %s AND kind = 'transfer' "
            "ORDER BY block_number, log_index",
            (certificate_id,),
        )
    else:  # the versions of the certificate's holdings valid at `at` (index on certificate_id)
        rows = _raw(
            conn,
            f"SELECT {', '.join(_LINEAGE_COLS)} FROM holding_version WHERE certificate_id = %s "
            "AND valid_from_block <= %s AND (valid_to_block IS NULL OR valid_to_block > %s) ORDER BY token_id",
            (certificate_id, at, at),
        )
        moves = _raw(
            conn,
            "SELECT to_token_id, from_owner, to_owner, tx_hash, block_number, timestamp "
            "FROM holding_transfer WHERE certificate_id = %s AND kind = 'transfer' AND block_number <= %s "
            "ORDER BY block_number, log_index",
            (certificate_id, at),
        )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # ~30k fresh containers, no cycles: a collection would only cost time
    try:
        transfers: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in moves:
            transfers[m[0]].append({"from": m[1], "to": m[2], "tx_hash": m[3], "block_number": m[4], "timestamp": m[5]})
        nodes: dict[int, dict[str, Any]] = {}
        roots: list[dict[str, Any]] = []
        live = 0
        max_tier = 0
        for r in rows:
            # one dict literal per node (keys of _LINEAGE_COLS): half the cost of dict(zip()) + updates
            node = {
                "token_id": r[0],
                "parent_token_id": r[1],
                "tier": r[2],
                "owner": r[3],
                "value": num(r[4]),
                "initial_value": num(r[5]),
                "status": r[6],
                "frozen": bool(r[7]),
                "document_hash": r[8],
                "created_tx": r[9],
                "created_block": r[10],
                "created_at": r[11],
                "transfers": transfers.get(r[0], _NO_TRANSFERS),
                "children": [],
            }
            nodes[r[0]] = node
            parent = nodes.get(r[1])
            (parent["children"] if parent is not None else roots).append(node)
            if r[6] == "live":
                live += node["value"]
            if r[2] > max_tier:
                max_tier = r[2]
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        "certificate": _fix(dict(cert)),
        "holdings": len(nodes),
        "live_value": live,
        "max_tier": max_tier,
        "tree": roots,
    }


# one node of the lineage as JSON text without its closing `]}` (the children follow), built by
# PostgreSQL: the keys and order of `lineage`'s nodes, compact
_NODE_JSON = """'{"token_id":' || h.token_id || ',"parent_token_id":' || h.parent_token_id || ',"tier":' || h.tier
    || ',"owner":' || to_json(h.owner) || ',"value":' || h.value || ',"initial_value":' || h.initial_value
    || ',"status":' || to_json(h.status) || ',"frozen":' || CASE WHEN h.frozen THEN 'true' ELSE 'false' END
    || ',"document_hash":' || to_json(h.document_hash) || ',"created_tx":' || to_json(h.created_tx)
    || ',"created_block":' || h.created_block || ',"created_at":' || h.created_at
    || ',"transfers":[' || COALESCE(t.moves, '') || '],"children":['"""
_MOVE_JSON = """'{"from":' || to_json(from_owner) || ',"to":' || to_json(to_owner) || ',"tx_hash":' || to_json(tx_hash)
    || ',"block_number":' || block_number || ',"timestamp":' || timestamp || '}'"""


def lineage_stamp(conn: Connection, certificate_id: int) -> tuple[int | None, str | None]:
    """The last block (number, hash) that changed any holding of the certificate: its holdings'
    newest version (index `ix_holding_version_cert_block`: one index probe). The lineage (now) of a
    certificate is a function of this stamp: holdings never leave a certificate (SlotChanged only
    mints and burns), every change writes a version at its block, a reorg deletes the versions above
    the common ancestor, and the hash tells a block from its replacement on another branch."""
    row = _raw(
        conn,
        "SELECT v.m, b.hash FROM (SELECT MAX(valid_from_block) AS m FROM holding_version "
        "WHERE certificate_id = %s) v LEFT JOIN block b ON b.number = v.m",
        (certificate_id,),
    )[0]
    return (row[0], row[1])


def block_hash(conn: Connection, number: int) -> str | None:
    """The indexed (canonical) block `number`'s hash, None when it is not indexed."""
    row = _raw(conn, "SELECT hash FROM block WHERE number = %s", (number,))
    return row[0][0] if row else None


def lineage_changed(conn: Connection, certificate_id: int, after_block: int) -> list[int]:
    """The certificate's holdings with a version newer than `after_block` (changed or created
    since), by token id (index `ix_holding_version_cert_block`)."""
    rows = _raw(conn, "SELECT DISTINCT token_id FROM holding_version WHERE certificate_id = %s "
                      "AND valid_from_block > %s ORDER BY token_id", (certificate_id, after_block))
    return [r[0] for r in rows]


def lineage_nodes(conn: Connection, certificate_id: int, tokens: list[int] | None = None) -> list[tuple[Any, ...]]:
    """The certificate's holdings (only `tokens` when given) by token id: (token, parent, node JSON
    text up to its children, live value, tier). PostgreSQL writes each node's JSON."""
    only_moves = only_nodes = ""
    params: tuple[Any, ...] = (certificate_id, certificate_id)
    if tokens is not None:
        only_moves, only_nodes = " AND to_token_id = ANY(%s)", " AND h.token_id = ANY(%s)"
        params = (certificate_id, tokens, certificate_id, tokens)
    return _raw(
        conn,
        f"""SELECT h.token_id, h.parent_token_id, {_NODE_JSON},
                   CASE WHEN h.status = 'live' THEN h.value ELSE 0 END, h.tier
            FROM holding h LEFT JOIN (
              SELECT to_token_id, string_agg({_MOVE_JSON}, ',' ORDER BY block_number, log_index) AS moves
              FROM holding_transfer WHERE certificate_id = %s AND kind = 'transfer'{only_moves} GROUP BY to_token_id
            ) t ON t.to_token_id = h.token_id
            WHERE h.certificate_id = %s{only_nodes} ORDER BY h.token_id""",
        params,
    )


class LineageTree:
    """A certificate's holdings as `lineage_tree_json` writes them, kept in pieces so that a few
    changed or new holdings are put in place without reading or walking the others (`updated`):
    the document's text pieces in order (each node's JSON text, commas, closings), where each
    node's text and closing are, its children, live value and tier. Never changed once made (shared
    between threads)."""

    NEW_IN_PLACE = 16  # more new holdings than this in one update: laid out again (one walk)

    def __init__(self, tokens: dict[int, int], nodes: list[bytes], children: dict[int, list[int]],
                 roots: list[int], live: list[int], tiers: list[int],
                 layout: tuple[list[bytes], list[int], list[int]] | None = None) -> None:
        self.tokens, self.nodes, self.children, self.roots = tokens, nodes, children, roots
        self.live, self.tiers = live, tiers
        self.pieces, self.at, self.closing = layout or self._layout()
        self.text_bytes = sum(map(len, nodes))

    @classmethod
    def build(cls, rows: list[tuple[Any, ...]]) -> LineageTree:
        """From `lineage_nodes` rows (by token id: a parent comes before its children)."""
        tokens = {r[0]: i for i, r in enumerate(rows)}
        children: dict[int, list[int]] = {}
        roots: list[int] = []
        for i, r in enumerate(rows):
            p = tokens.get(r[1])
            if p is None:
                roots.append(i)
            elif p in children:
                children[p].append(i)
            else:
                children[p] = [i]
        # values as int: exact (a sum of Decimals rounds to 28 digits; values reach 2**256 - 1)
        return cls(tokens, [r[2].encode() for r in rows], children, roots, [int(r[3]) for r in rows],
                   [r[4] for r in rows])

    def _layout(self) -> tuple[list[bytes], list[int], list[int]]:
        """The pieces depth first (a node's text, its children comma separated, its closing; children
        by token id) and where each node's text and closing are."""
        out: list[bytes] = []
        add = out.append
        nodes, children = self.nodes, self.children
        at, closing = [0] * len(nodes), [0] * len(nodes)
        stack: list[Any] = [(iter(self.roots), -1)]
        first = True
        while stack:
            i = next(stack[-1][0], None)
            if i is None:
                owner = stack.pop()[1]
                if owner >= 0:
                    closing[owner] = len(out)
                    add(b"]}")
                first = False
                continue
            if not first:
                add(b",")
            at[i] = len(out)
            add(nodes[i])
            kids = children.get(i)
            if kids:
                stack.append((iter(kids), i))
                first = True
            else:
                closing[i] = len(out)
                add(b"]}")
                first = False
        return out, at, closing

    def updated(self, rows: list[tuple[Any, ...]]) -> LineageTree:
        """A tree with `rows` (`lineage_nodes`, by token id) in place: a known holding's node
        replaced, a new one (a higher token id than any known: ids only grow) added last under its
        parent. What it changes is copied, the rest shared."""
        tokens, nodes, live, tiers = dict(self.tokens), list(self.nodes), list(self.live), list(self.tiers)
        children, roots = dict(self.children), self.roots
        pieces, at, closing = list(self.pieces), list(self.at), list(self.closing)
        in_place = sum(1 for r in rows if r[0] not in tokens) <= self.NEW_IN_PLACE
        copied: set[int] = set()
        for token, parent, json_text, value, tier in rows:
            node = json_text.encode()
            i = tokens.get(token)
            if i is not None:
                nodes[i], live[i], tiers[i] = node, int(value), tier
                pieces[at[i]] = node
                continue
            tokens[token] = i = len(nodes)
            nodes.append(node)
            live.append(int(value))
            tiers.append(tier)
            p = tokens.get(parent)
            siblings = roots if p is None else children.get(p, [])
            if p is None:
                roots = roots + [i]
            elif p in copied:
                children[p].append(i)
            else:
                children[p] = [*siblings, i]
                copied.add(p)
            if not in_place:
                continue
            # its text goes last among its siblings: before its parent's closing, or at the end
            k = len(pieces) if p is None else closing[p]
            new = ([b","] if siblings else []) + [node, b"]}"]
            pieces[k:k] = new
            if p is not None:  # everything from k on moves by what was put in
                n = len(new)
                at = [a + n if a >= k else a for a in at]
                closing = [c + n if c >= k else c for c in closing]
            at.append(k + len(new) - 2)
            closing.append(k + len(new) - 1)
        layout = (pieces, at, closing) if in_place else None
        return LineageTree(tokens, nodes, children, roots, live, tiers, layout)

    def encode(self) -> bytes:
        """`"holdings":…,"live_value":…,"max_tier":…,"tree":[…]`."""
        figures = _dumps({"holdings": len(self.nodes), "live_value": sum(self.live),
                          "max_tier": int(max(self.tiers, default=0))})
        return b"".join([figures[1:-1], b',"tree":[', *self.pieces, b"]"])


def lineage_tree_json(conn: Connection, certificate_id: int) -> bytes:
    """The holdings' part of `lineage` (now) as compact JSON members, without braces:
    `"holdings":…,"live_value":…,"max_tier":…,"tree":[…]`. The nodes' JSON is written by PostgreSQL
    and nested here: no Python object per holding (a 10,000-holding certificate: a few milliseconds
    of Python instead of ~60). PostgreSQL only; read it in one snapshot (REPEATABLE READ) for a
    document of one state."""
    return LineageTree.build(lineage_nodes(conn, certificate_id)).encode()


def lineage_json(
    conn: Connection,
    certificate_id: int,
    extra: dict[str, Any],
    holdings: Callable[[Connection, int], bytes] = lineage_tree_json,
) -> bytes | None:
    """`lineage` (now) as compact JSON with the `extra` keys at the end: the certificate's row read
    here, then the holdings' part from `holdings` (`lineage_tree_json` or a keeper of its results).
    The same document as `lineage` encoded; PostgreSQL only. None: no such certificate."""
    cert = conn.execute(text("SELECT * FROM certificate WHERE id = :id"), {"id": certificate_id}).mappings().first()
    if cert is None:
        return None
    tree = holdings(conn, certificate_id)
    end = b"," + _dumps(extra)[1:] if extra else b"}"
    return _dumps({"certificate": _fix(dict(cert))})[:-1] + b"," + tree + end


def _dumps(obj: dict[str, Any]) -> bytes:
    """Compact JSON by orjson; an int over 64 bits: the standard encoder, as the API's JSON responses."""
    import orjson

    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def lineage_page(
    conn: Connection,
    certificate_id: int,
    *,
    owner: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    limit: int,
    offset: int = 0,
    at: int | None = None,
) -> tuple[dict[str, int], int, list[dict[str, Any]]] | None:
    """One page of `flatten_lineage` (depth first), of the holdings of `owner` created in the date
    range: (the whole tree's holdings, live value and deepest tier; the rows selected; the page's
    rows). The tree's order comes from a skeleton of every holding (ids and the filtered columns);
    only the page's holdings and transfers are read whole."""
    if conn.execute(text(f"SELECT 1 FROM {src('certificate', at)} WHERE id = :id"),
                    {"id": certificate_id, **at_params(at)}).first() is None:
        return None
    table, cond = "holding", ""
    params: tuple[Any, ...] = (certificate_id,)
    if at is not None:  # the versions valid at `at`, as `lineage`
        table = "holding_version"
        cond = " AND valid_from_block <= %s AND (valid_to_block IS NULL OR valid_to_block > %s)"
        params = (certificate_id, at, at)
    live_sum = Exact(conn).sum("CASE WHEN status = 'live' THEN value END")
    n, live, max_tier = _raw(
        conn,
        f"SELECT COUNT(*), {live_sum}, MAX(tier) FROM {table} WHERE certificate_id = %s{cond}",
        params,
    )[0]
    filtered = owner is not None or date_from is not None or date_to is not None
    skeleton = _raw(
        conn,
        f"SELECT token_id, parent_token_id{', owner, created_at' if filtered else ''} FROM {table} "
        f"WHERE certificate_id = %s{cond} ORDER BY token_id",
        params,
    )
    children: dict[int, list[int]] = {}
    roots: list[int] = []
    for r in skeleton:  # as `lineage` nests them (parents come first)
        kids = children.get(r[1])
        (kids if kids is not None else roots).append(r[0])
        children[r[0]] = []
    order = []  # depth first
    stack = list(reversed(roots))
    while stack:
        token = stack.pop()
        order.append(token)
        stack.extend(reversed(children[token]))
    selected = order
    if filtered:
        keep = {t for t, _, own, created in skeleton
                if (owner is None or own == owner) and (date_from is None or created >= date_from)
                and (date_to is None or created < date_to)}
        selected = [t for t in order if t in keep]
    page = selected[offset : offset + limit]
    rows: dict[int, dict[str, Any]] = {}
    txs: dict[int, list[str]] = defaultdict(list)
    if page:
        ids = ", ".join(str(int(t)) for t in page)
        for r in _raw(conn, f"SELECT {', '.join(_LINEAGE_COLS)} FROM {table} "
                            f"WHERE certificate_id = %s{cond} AND token_id IN ({ids})", params):
            rows[r[0]] = {**dict(zip(_LINEAGE_COLS, r, strict=True)), "value": int(r[4]),
                          "initial_value": int(r[5]), "frozen": bool(r[7])}
        moves = ("SELECT to_token_id, tx_hash FROM holding_transfer WHERE certificate_id = %s AND kind = 'transfer' "
                 f"AND to_token_id IN ({ids})")
        if at is not None:
            moves += " AND block_number <= %s"
        for to_token, tx in _raw(conn, moves + " ORDER BY block_number, log_index",
                                 (certificate_id,) if at is None else (certificate_id, at)):
            txs[to_token].append(tx)
    out = [{**rows[t], "transfer_txs": " ".join(txs.get(t, ()))} for t in page]
    return {"holdings": int(n), "live_value": int(live or 0), "max_tier": int(max_tier or 0)}, len(selected), out


def walk_lineage(tree: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The nodes of a lineage tree, depth first."""
    stack = list(reversed(tree))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node["children"]))


def lineage_row(node: dict[str, Any]) -> dict[str, Any]:
    """A lineage node as a flat row (for CSV): its transfers' transactions in one column."""
    row = {k: v for k, v in node.items() if k not in ("children", "transfers")}
    row["transfer_txs"] = " ".join(t["tx_hash"] for t in node["transfers"])
    return row


def flatten_lineage(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Depth-first rows of a lineage tree (for CSV)."""
    return [lineage_row(node) for node in walk_lineage(tree)]


# --- members ---------------------------------------------------------------------------------


def members(
    conn: Connection, *, role: str | None = None, limit: int = 100, offset: int = 0, at: int | None = None
) -> list[dict[str, Any]]:
    f = Filters()
    f.add("m.role = :role", role=role)
    return _rows(
        conn,
        f"""
        SELECT m.address, m.role, m.active, m.kyc_hash, m.onboarded_at, cl."limit" AS credit_limit,
               cl.used AS credit_used, cb.balance AS currency_balance
        FROM {src("member", at, "m")} LEFT JOIN {src("credit_line", at, "cl")} ON cl.debtor = m.address
        LEFT JOIN {src("currency_balance", at, "cb")} ON cb.address = m.address
        {f.where()} ORDER BY m.address LIMIT :limit OFFSET :offset""",
        {**f.params, "limit": limit, "offset": offset, **at_params(at)},
    )


def member_holdings(
    conn: Connection,
    address: str,
    *,
    include_spent: bool = False,
    certificate_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
    at: int | None = None,
) -> list[dict[str, Any]]:
    f = Filters()
    f.add("h.owner = :owner", owner=address)
    f.add("h.certificate_id = :cid", cid=certificate_id)
    if not include_spent:
        f.clauses.append("h.status = 'live' AND h.value <> 0")  # amounts are never negative
    return _rows(
        conn,
        f"""
        SELECT h.token_id, h.certificate_id, h.value, h.initial_value, h.parent_token_id, h.tier, h.frozen,
               h.status, h.document_hash, h.created_tx, h.created_at, c.debtor, c.maturity,
               c.status AS certificate_status
        FROM {src("holding", at, "h")} JOIN {src("certificate", at, "c")} ON c.id = h.certificate_id
        {f.where()} ORDER BY h.token_id LIMIT :limit OFFSET :offset""",
        {**f.params, "limit": limit, "offset": offset, **at_params(at)},
    )


def member_history(
    conn: Connection,
    address: str,
    *,
    date_from: int | None = None,
    date_to: int | None = None,
    limit: int = 100,
    offset: int = 0,
    at: int | None = None,
) -> list[dict[str, Any]]:
    """Everything that happened to a member, newest last: holdings received and given, financing
    deals, redemptions, repayments and currency transfers."""
    f = Filters()
    f.add("timestamp >= :date_from", date_from=date_from)
    f.add("timestamp < :date_to", date_to=date_to)
    f.add("block_number <= :as_of_block", as_of_block=at)  # the union's rows up to the block
    x = Exact(conn)
    sql = f"""
        SELECT * FROM (
          SELECT block_number, log_index, tx_hash, timestamp, 'holding_' || kind AS event, certificate_id,
                 CASE WHEN to_owner = :a THEN to_token_id ELSE from_token_id END AS token_id,
                 CASE WHEN to_owner = :a THEN from_owner ELSE to_owner END AS counterparty,
                 CASE WHEN to_owner = :a THEN value ELSE {x.neg("value")} END AS amount
          FROM holding_transfer WHERE (from_owner = :a OR to_owner = :a) AND NOT (from_owner = :a AND to_owner = :a)
          UNION ALL
          SELECT block_number, log_index, tx_hash, timestamp,
                 CASE WHEN seller = :a THEN 'financing_sold' ELSE 'financing_bought' END, certificate_id,
                 new_token_id, CASE WHEN seller = :a THEN factor ELSE seller END,
                 CASE WHEN seller = :a THEN price ELSE {x.neg("price")} END
          FROM financing_deal WHERE seller = :a OR factor = :a
          UNION ALL
          SELECT block_number, log_index, tx_hash, timestamp, 'redeemed', certificate_id, token_id, NULL, amount
          FROM redemption WHERE holder = :a
          UNION ALL
          SELECT block_number, log_index, tx_hash, timestamp, 'repaid', certificate_id, NULL, NULL, {x.neg("amount")}
          FROM repayment WHERE debtor = :a
          UNION ALL
          SELECT block_number, log_index, tx_hash, timestamp, 'currency_transfer', NULL, NULL,
                 CASE WHEN recipient = :a THEN sender ELSE recipient END,
                 CASE WHEN recipient = :a THEN value ELSE {x.neg("value")} END
          FROM currency_transfer WHERE sender = :a OR recipient = :a
        ) hist {f.where()}
        ORDER BY block_number, log_index, event LIMIT :limit OFFSET :offset"""
    return _rows(conn, sql, {**f.params, "a": address, "limit": limit, "offset": offset})


# --- exposure, tiers, financing --------------------------------------------------------------


def exposure(
    conn: Connection,
    *,
    debtor: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    as_of: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> list[dict[str, Any]]:
    """Per core enterprise, over its certificates issued in the date range (rejected ones left out).

    Two bases, on purpose: `outstanding` = face - redeemed of open certificates (value still held
    by holders, what they will be paid); `unpaid_by_debtor` = face - repaid of open certificates
    (what the debtor still owes; smaller than outstanding when repaid money is not yet paid out to
    the holders); `overdue` = face - repaid of certificates marked overdue; `matured_unpaid` =
    face - repaid of active/overdue certificates whose maturity is <= `as_of` (marked or not).
    Financed now: from the per-certificate deal totals the follower maintains (`scan`: from the
    deals themselves, which those totals always equal)."""
    as_of = as_of if as_of is not None else chain_time(conn)
    f = Filters()
    f.params.update(at_params(at))
    f.add("c.debtor = :debtor", debtor=debtor)
    f.add("c.issued_at >= :date_from", date_from=date_from)
    f.add("c.issued_at < :date_to", date_to=date_to)
    f.clauses.append("c.status <> 'rejected'")
    x = Exact(conn)
    unredeemed = x.sub("c.face_value", "c.redeemed_value")
    unpaid = x.sub("c.face_value", "c.repaid_value")
    rows = _rows(
        conn,
        f"""
        SELECT c.debtor, COUNT(*) AS certificates, {x.sum("c.face_value")} AS issued,
               {x.sum(f"CASE WHEN c.status IN ('pending', 'active', 'overdue') THEN {unredeemed} ELSE 0 END")}
                   AS outstanding,
               {x.sum(f"CASE WHEN c.status IN ('pending', 'active', 'overdue') THEN {unpaid} ELSE 0 END")}
                   AS unpaid_by_debtor,
               {x.sum("c.repaid_value")} AS repaid, {x.sum("c.redeemed_value")} AS redeemed,
               {x.sum(f"CASE WHEN c.status = 'overdue' THEN {unpaid} ELSE 0 END")} AS overdue,
               {x.sum(f"CASE WHEN c.status IN ('active', 'overdue') AND c.maturity <= :as_of THEN {unpaid} ELSE 0 END")}
                   AS matured_unpaid,
               COUNT(CASE WHEN c.status = 'overdue' THEN 1 END) AS overdue_certificates
        FROM {src("certificate", at, "c")} {f.where()} GROUP BY c.debtor ORDER BY c.debtor""",
        {**f.params, "as_of": as_of},
    )
    if at is None and not scan:  # now: the per-certificate deal totals the follower maintains
        deals = f"""SELECT c.debtor, SUM(d.deals) AS deals, {x.sum("d.financed")} AS financed,
                           {x.sum("d.financed_price")} AS financed_price
                    FROM agg_deal_certificate d JOIN certificate c ON c.id = d.certificate_id"""
    else:
        deals = f"""SELECT c.debtor, COUNT(*) AS deals, {x.sum("d.value")} AS financed,
                           {x.sum("d.price")} AS financed_price
                    FROM {src("financing_deal", at, "d")} JOIN {src("certificate", at, "c")}
                    ON c.id = d.certificate_id"""
    fin = {r["debtor"]: r for r in _rows(conn, f"{deals} {f.where()} GROUP BY c.debtor", f.params)}
    for r in rows:
        d = fin.get(r["debtor"], {})
        r["financed"] = int(d.get("financed") or 0)
        r["financed_price"] = int(d.get("financed_price") or 0)
        r["deals"] = int(d.get("deals") or 0)
        for k in ("issued", "outstanding", "unpaid_by_debtor", "repaid", "redeemed", "overdue", "matured_unpaid"):
            r[k] = int(r[k] or 0)
    return rows


# holding_transfer kinds by which a holding arrives at a tier: created there (issue, split,
# financing split) or moved there whole (ERC-721 transfer, tier + 1)
_ARRIVALS = "('mint', 'split', 'transfer')"


def tiers(
    conn: Connection,
    *,
    debtor: str | None = None,
    certificate_id: int | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> list[dict[str, Any]]:
    """Suppliers reached per tier, from the history (optionally of one debtor's certificates, one
    certificate, or certificates issued in a range): every arrival of a holding at a tier (its
    creation, or a whole transfer that moved it one tier deeper) counts for the member that
    received it. `suppliers`: distinct receivers with the supplier role; `holders`: distinct
    receivers; `holdings`: arrivals; `value_received`: value that arrived (initial value of a
    created holding, whole value of a transferred one); `value_held`: live value at that tier now.
    The whole book now reads the maintained aggregates (`scan`: from the transfers and holdings
    themselves, which the aggregates always equal)."""
    if not scan and at is None and debtor is None and certificate_id is None and date_from is None and date_to is None:
        return _tiers_whole_book(conn)
    f = Filters()
    f.params.update(at_params(at))
    f.add("c.debtor = :debtor", debtor=debtor)
    f.add("c.issued_at >= :date_from", date_from=date_from)
    f.add("c.issued_at < :date_to", date_to=date_to)
    join = bool(f.clauses)
    f.add("{t}.certificate_id = :cid", cid=certificate_id)
    where = f.where()

    def scoped(alias: str) -> tuple[str, str]:
        j = f"JOIN {src('certificate', at, 'c')} ON c.id = {alias}.certificate_id" if join else ""
        return j, where.replace("{t}", alias)

    x = Exact(conn)
    j, w = scoped("r")
    arrivals = _rows(
        conn,
        f"""
        SELECT g.tier, COUNT(CASE WHEN m.role = 'supplier' THEN 1 END) AS suppliers, COUNT(*) AS holders,
               SUM(g.arrivals) AS holdings, {x.sum("g.value")} AS value_received
        FROM (SELECT r.tier, r.to_owner, COUNT(*) AS arrivals, {x.sum("r.value")} AS value
              FROM {src("holding_transfer", at, "r")} {j} {w} {"AND" if w else "WHERE"} r.kind IN {_ARRIVALS}
              GROUP BY r.tier, r.to_owner) g
        LEFT JOIN {src("member", at, "m")} ON m.address = g.to_owner
        GROUP BY g.tier ORDER BY g.tier""",
        f.params,
    )
    j, w = scoped("h")
    held = {
        int(r[0]): int(r[1] or 0)
        for r in conn.execute(
            text(f"""
        SELECT h.tier, {x.sum("h.value")} FROM {src("holding", at, "h")} {j}
        {w} {"AND" if w else "WHERE"} h.status = 'live' GROUP BY h.tier"""),
            f.params,
        ).all()
    }
    for r in arrivals:
        for k in ("suppliers", "holders", "holdings", "value_received"):
            r[k] = int(r[k] or 0)
        r["value_held"] = held.get(r["tier"], 0)
    return arrivals


def _tiers_whole_book(conn: Connection) -> list[dict[str, Any]]:
    """`tiers` of the whole book now, from the aggregates the follower maintains
    (`indexer.aggregates`: per tier and receiver, and live value per tier): the same rows as the
    scan of every transfer and holding, reading a few thousand rows instead."""
    x = Exact(conn)
    rows = _rows(
        conn,
        f"""
        SELECT r.tier, COUNT(CASE WHEN m.role = 'supplier' THEN 1 END) AS suppliers, COUNT(*) AS holders,
               SUM(r.arrivals) AS holdings, {x.sum("r.value_received")} AS value_received
        FROM agg_tier_receiver r LEFT JOIN member m ON m.address = r.owner
        GROUP BY r.tier ORDER BY r.tier""",
        {},
    )
    held = {int(t): int(v) for t, v in conn.execute(text("SELECT tier, value FROM agg_tier_held")).all()}
    for r in rows:
        for k in ("suppliers", "holders", "holdings", "value_received"):
            r[k] = int(r[k] or 0)
        r["value_held"] = held.get(r["tier"], 0)
    return rows


def financing(
    conn: Connection,
    *,
    member: str | None = None,
    seller: str | None = None,
    factor: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> list[dict[str, Any]]:
    """Per factor: deals, volume (value bought), price paid, discount, value-weighted average rate,
    over the deals (accepted offers) in the date range; `member` matches the factor or the seller.
    The whole history now reads the per-factor-and-seller totals the follower maintains (`scan`:
    from the deals themselves, which those totals always equal)."""
    f = Filters()
    f.add("(factor = :member OR seller = :member)", member=member)
    f.add("seller = :seller", seller=seller)
    f.add("factor = :factor", factor=factor)
    x = Exact(conn)
    if not scan and at is None and date_from is None and date_to is None:
        table = "agg_deal_parties"
        sums = f"""SUM(deals) AS deals, {x.sum("volume")} AS volume, {x.sum("paid")} AS paid,
                   {x.sum("rate_value")} AS rate_value, SUM(rate_sum) AS rate_sum, SUM(days_sum) AS days_sum"""
    else:
        f.add("timestamp >= :date_from", date_from=date_from)
        f.add("timestamp < :date_to", date_to=date_to)
        f.add("block_number <= :as_of_block", as_of_block=at)
        table = "financing_deal"
        sums = f"""COUNT(*) AS deals, {x.sum("value")} AS volume, {x.sum("price")} AS paid,
                   {x.sum(x.mul("rate_bps", "value"))} AS rate_value, SUM(rate_bps) AS rate_sum,
                   SUM(days_to_maturity) AS days_sum"""
    rows = _rows(
        conn,
        f"SELECT factor, {sums}, COUNT(DISTINCT seller) AS sellers FROM {table} {f.where()} "
        "GROUP BY factor ORDER BY factor",
        f.params,
    )
    out = []
    for r in rows:
        n, volume, paid = int(r["deals"]), int(r["volume"] or 0), int(r["paid"] or 0)
        out.append({
            "factor": r["factor"], "deals": n, "volume": volume, "paid": paid, "discount": volume - paid,
            "avg_rate_bps_simple": round(int(r["rate_sum"]) / n, 2) if n else 0.0,
            "avg_days_to_maturity": round(int(r["days_sum"]) / n, 2) if n else 0.0,
            "sellers": int(r["sellers"]),
            "avg_rate_bps": round(int(r["rate_value"] or 0) / volume, 2) if volume else 0.0,
        })
    return out


# --- ageing and concentration ----------------------------------------------------------------


def ageing(
    conn: Connection,
    *,
    debtor: str | None = None,
    as_of: int | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """Outstanding value (face - redeemed of open certificates issued in the date range) by days to
    maturity, and past maturity by days overdue."""
    as_of = as_of if as_of is not None else chain_time(conn)
    f = Filters()
    f.params.update(at_params(at))
    f.add("debtor = :debtor", debtor=debtor)
    f.add("issued_at >= :date_from", date_from=date_from)
    f.add("issued_at < :date_to", date_to=date_to)
    f.clauses.append("status IN ('pending', 'active', 'overdue')")
    f.clauses.append("face_value <> redeemed_value")  # outstanding: redeemed never exceeds face
    # days to maturity (rounded up), or days past it (rounded up, at least 1), then the bucket
    due = "(maturity - CAST(:as_of AS BIGINT) + 86399) / 86400"
    late = "(CAST(:as_of AS BIGINT) - maturity + 86399) / 86400"
    label = " ".join(
        [f"WHEN maturity > :as_of AND {due} <= {hi} THEN '{lbl}'" for _, hi, lbl in DUE_BUCKETS if hi is not None]
        + [f"WHEN maturity > :as_of THEN '{DUE_BUCKETS[-1][2]}'"]
        + [f"WHEN {late} <= {hi} THEN '{lbl}'" for _, hi, lbl in OVERDUE_BUCKETS if hi is not None]
        + [f"ELSE '{OVERDUE_BUCKETS[-1][2]}'"]
    )
    x = Exact(conn)
    outstanding = x.sub("face_value", "redeemed_value")
    rows = conn.execute(
        text(f"""
        SELECT bucket, COUNT(*), {x.sum("outstanding")}, {x.sum("CASE WHEN status = 'overdue' THEN outstanding END")}
        FROM (SELECT CASE {label} END AS bucket, status, {outstanding} AS outstanding
              FROM {src("certificate", at)} {f.where()}) b
        GROUP BY bucket"""),
        {**f.params, "as_of": as_of},
    ).all()
    labels = [b[2] for b in DUE_BUCKETS] + [b[2] for b in OVERDUE_BUCKETS]
    buckets: dict[str, dict[str, Any]] = {
        label: {"bucket": label, "certificates": 0, "outstanding": 0, "marked_overdue": 0} for label in labels
    }
    for name, n, total, overdue in rows:
        buckets[name].update(certificates=int(n), outstanding=int(total or 0), marked_overdue=int(overdue or 0))
    return {"as_of": as_of, "buckets": list(buckets.values())}


def concentration(
    conn: Connection,
    *,
    by: str = "debtor",
    top: int = 10,
    debtor: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> dict[str, Any]:
    """Outstanding value by debtor (open certificates) or by holder (live holdings), of certificates
    issued in the date range: top-N share and the Herfindahl-Hirschman index (sum of squared
    shares, 0-10000). The whole book by holder now reads the maintained per-holder totals
    (`scan`: from the holdings themselves, which those totals always equal)."""
    f = Filters()
    f.params.update(at_params(at))
    x = Exact(conn)
    if by == "debtor":
        f.add("debtor = :debtor", debtor=debtor)
        f.add("issued_at >= :date_from", date_from=date_from)
        f.add("issued_at < :date_to", date_to=date_to)
        f.clauses.append("status IN ('pending', 'active', 'overdue')")
        sql = f"""SELECT debtor AS party, {x.sum(x.sub("face_value", "redeemed_value"))} AS outstanding
                  FROM {src("certificate", at)} {f.where()} GROUP BY debtor"""
    elif by == "holder" and not scan and at is None and debtor is None and date_from is None and date_to is None:
        # the whole book now: the per-holder totals the follower maintains (`indexer.aggregates`)
        sql = "SELECT owner AS party, value AS outstanding FROM agg_holder_outstanding"
    elif by == "holder":
        f.add("c.debtor = :debtor", debtor=debtor)
        f.add("c.issued_at >= :date_from", date_from=date_from)
        f.add("c.issued_at < :date_to", date_to=date_to)
        f.clauses.append("h.status = 'live' AND h.value <> 0 AND c.status IN ('pending', 'active', 'overdue')")
        sql = f"""SELECT h.owner AS party, {x.sum("h.value")} AS outstanding
                  FROM {src("holding", at, "h")} JOIN {src("certificate", at, "c")} ON c.id = h.certificate_id
                  {f.where()} GROUP BY h.owner"""
    else:
        raise ValueError("by must be 'debtor' or 'holder'")
    groups = [(r[0], int(r[1] or 0)) for r in conn.execute(text(sql), f.params).all()]
    groups = [g for g in groups if g[1] > 0]
    groups.sort(key=lambda g: (-g[1], g[0]))
    total = sum(v for _, v in groups)
    shares = [(p, v, v / total if total else 0.0) for p, v in groups]
    hhi = round(sum((s * 100) ** 2 for _, _, s in shares), 2)
    top_rows = [
        {"rank": i + 1, "party": p, "outstanding": v, "share": round(s, 6)} for i, (p, v, s) in enumerate(shares[:top])
    ]
    return {
        "by": by,
        "parties": len(groups),
        "total_outstanding": total,
        "top_n": top,
        "top_n_share": round(sum(s for _, _, s in shares[:top]), 6),
        "hhi": hhi,
        "top": top_rows,
    }


# --- the market: offers and quotes, rates achieved, early payments, recourse ------------------


def _state(status: str, expires_at: int, now: int) -> str:
    """open past its expiry/deadline is `expired` (the contracts refuse it from then on)."""
    return "expired" if status == "open" and expires_at <= now else status


@dataclass(frozen=True)
class MarketQuery:
    """The market report's filters (`market` and `market_totals` take the same): seller, certificate,
    tier when offered, state at `now` (default: the chain's time), creation date range, as of block
    `at`."""

    seller: str | None = None
    certificate_id: int | None = None
    tier: int | None = None
    state: str | None = None
    date_from: int | None = None
    date_to: int | None = None
    now: int | None = None
    at: int | None = None


# the market's two kinds of rows, as FROM items `m` once parenthesized: (full, narrow). The narrow
# form has only what the filters and the totals read (an index-only scan of the open offers,
# 0013); the quote joined in the full form is one at most per request (its primary key)
_MARKET_OFFERS = ("""
          SELECT 'open_offer' AS kind, o.offer_id AS id, o.certificate_id, o.tier, o.token_id, o.seller, o.value,
                 o.rate_bps, o.price, o.expires_at, o.status,
                 CASE WHEN o.status = 'accepted' THEN o.factor END AS factor,
                 COALESCE(o.invited, 'all') AS invited, o.rate_bps AS best_rate_bps,
                 o.price AS best_price, CASE WHEN o.status = 'accepted' THEN o.offer_id END AS deal_offer_id,
                 o.created_at, o.created_block
          FROM {offer} WHERE o.kind = 'open'""", """
          SELECT o.seller, o.certificate_id, o.tier, o.created_at, o.status, o.expires_at, o.value
          FROM {offer} WHERE o.kind = 'open'""")
_MARKET_REQUESTS = ("""
          SELECT 'quote_request' AS kind, r.request_id AS id, r.certificate_id, r.tier, r.token_id, r.seller,
                 r.value, aq.rate_bps, aq.price, r.deadline AS expires_at, r.status, aq.factor, 'all' AS invited,
                 NULL AS best_rate_bps, NULL AS best_price, r.offer_id AS deal_offer_id, r.created_at,
                 r.created_block
          FROM {request} LEFT JOIN {quote} ON aq.quote_id = r.quote_id""", """
          SELECT r.seller, r.certificate_id, r.tier, r.created_at, r.status, r.deadline AS expires_at, r.value
          FROM {request}""")


def _market(conn: Connection, q: MarketQuery, narrow: bool = False) -> tuple[tuple[str, str], Filters]:
    """The market's rows (offers open to every factor or a list, and quote requests) with their
    state at `now`, filtered: the two kinds' queries (each a FROM item `m` once parenthesized;
    `narrow`: the columns the filters and totals read) and the filters over `m`."""
    f = Filters()
    f.params.update(at_params(q.at))
    f.params["now"] = q.now if q.now is not None else chain_time(conn)
    f.add("m.seller = :seller", seller=q.seller)
    f.add("m.certificate_id = :cid", cid=q.certificate_id)
    f.add("m.tier = :tier", tier=q.tier)
    f.add("m.created_at >= :date_from", date_from=q.date_from)
    f.add("m.created_at < :date_to", date_to=q.date_to)
    # the state at `now` (`_state`), as conditions on the columns (a range of the totals' indexes)
    if q.state in ("open", "expired"):
        f.add(f"m.status = 'open' AND m.expires_at {'>' if q.state == 'open' else '<='} :now")
    else:
        f.add("m.status = :state", state=q.state)
    tables = {"offer": src("financing_offer", q.at, "o"), "request": src("quote_request", q.at, "r"),
              "quote": src("quote", q.at, "aq")}
    i = 1 if narrow else 0
    return (_MARKET_OFFERS[i].format(**tables), _MARKET_REQUESTS[i].format(**tables)), f


def market(conn: Connection, q: MarketQuery, *, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """Open offers (to every factor or a list) and quote requests, created in the date range, by
    certificate and tier: value, the offer's rate or the best (lowest) rate quoted and its price,
    quotes received, the buyer once accepted, and the state now (`open`, `expired`: open past its
    expiry or deadline, `accepted`, `cancelled`). `limit` / `offset`: one page of them
    (`market_totals`: the counts and open value of them all)."""
    kinds, f = _market(conn, q)
    page = ""
    if limit is not None:  # each kind in the report's order up to the page's end (an index scan), then merged
        page = "LIMIT :end"
        f.params["end"] = offset + limit
    per_kind = [
        _rows(
            conn,
            f"""
            SELECT m.*, CASE WHEN m.status = 'open' AND m.expires_at <= :now THEN 'expired' ELSE m.status END AS state
            FROM ({sql}) m {f.where()}
            ORDER BY m.certificate_id, m.tier, m.created_block, m.id {page}""",
            f.params,
        )
        for sql in kinds
    ]
    rows = list(heapq.merge(*per_kind, key=lambda r: (r["certificate_id"], r["tier"], r["created_block"], r["kind"],
                                                      r["id"])))
    if limit is not None:
        rows = rows[offset : offset + limit]
    # per request of the rows: quotes received, and the best quote (the lowest rate, and at that
    # rate the highest price; withdrawn quotes do not count)
    requests = [int(r["id"]) for r in rows if r["kind"] == "quote_request"]
    quotes: dict[int, int] = defaultdict(int)
    best: dict[int, tuple[int, int]] = {}
    for i in range(0, len(requests), 500):
        ids = ", ".join(str(n) for n in requests[i : i + 500])
        for rid, rate, price, q_status in conn.execute(
            text(f"SELECT q.request_id, q.rate_bps, q.price, q.status FROM {src('quote', q.at, 'q')} "
                 f"WHERE q.request_id IN ({ids})"),
            at_params(q.at),
        ).all():
            quotes[int(rid)] += 1
            if q_status not in ("open", "accepted"):
                continue
            key = (int(rate), -int(price))
            if int(rid) not in best or key < best[int(rid)]:
                best[int(rid)] = key
    out = []
    for r in rows:
        st = r.pop("state")
        for k in ("value", "price", "best_price"):
            r[k] = to_int(r[k])
        r["quotes"] = 0
        if r["kind"] == "quote_request":
            b = best.get(r["id"])
            r["best_rate_bps"], r["best_price"] = (b[0], -b[1]) if b else (None, None)
            r["quotes"] = quotes.get(r["id"], 0)
        out.append({**{k: r[k] for k in _MARKET_KEYS}, "state": st})
    return out


_MARKET_KEYS = ("kind", "id", "certificate_id", "tier", "token_id", "seller", "value", "rate_bps", "price",
                "expires_at", "status", "factor", "invited", "quotes", "best_rate_bps", "best_price",
                "deal_offer_id", "created_at", "created_block")


def market_totals(conn: Connection, q: MarketQuery) -> dict[str, Any]:
    """Of every row `market` lists (same filters): rows, open offers, quote requests, open value;
    each kind counted on its own, from its narrow form."""
    kinds, f = _market(conn, q, narrow=True)
    x = Exact(conn)
    counts, open_value = [], 0
    open_ = " AND ".join([*f.clauses, "m.status = 'open'", "m.expires_at > :now"])
    for sql in kinds:  # the count, then the sum over the open rows only (a range of the index)
        counts.append(int(conn.execute(text(f"SELECT COUNT(*) FROM ({sql}) m {f.where()}"), f.params).scalar_one()))
        value = conn.execute(text(f"SELECT {x.sum('m.value')} FROM ({sql}) m WHERE {open_}"), f.params).scalar_one()
        open_value += to_int(value) or 0
    return {"rows": sum(counts), "open_offers": counts[0], "quote_requests": counts[1], "open_value": open_value}


def rates(
    conn: Connection,
    *,
    by: str = "tier",
    member: str | None = None,
    kind: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> list[dict[str, Any]]:
    """Discount rates achieved per tier (of the seller's holding when offered) or per factor,
    over the deals (accepted offers) in the date range (`member`: factor or seller; `kind`:
    direct, open or quote): deals, volume, paid, min / max / volume-weighted / simple average
    annual rate in bps, average days to maturity. Without member, dates and `at` (and not `scan`):
    from the aggregates `agg_deal_rate` and `agg_deal_<tier|factor>_seller`, the same figures."""
    if by not in ("tier", "factor"):
        raise ValueError("by must be 'tier' or 'factor'")
    if not scan and member is None and date_from is None and date_to is None and at is None:
        return _rates_aggregated(conn, by, kind)
    f = Filters()
    f.params.update(at_params(at))
    f.add("(d.factor = :member OR d.seller = :member)", member=member)
    f.add("o.kind = :kind", kind=kind)
    f.add("d.timestamp >= :date_from", date_from=date_from)
    f.add("d.timestamp < :date_to", date_to=date_to)
    group = "o.tier" if by == "tier" else "d.factor"
    x = Exact(conn)
    rows = _rows(
        conn,
        f"""
        SELECT {group} AS {by}, COUNT(*) AS deals, {x.sum("d.value")} AS volume, {x.sum("d.price")} AS paid,
               MIN(d.rate_bps) AS min_rate_bps, MAX(d.rate_bps) AS max_rate_bps,
               {x.sum(x.mul("d.rate_bps", "d.value"))} AS rate_value, AVG(d.rate_bps) AS avg_rate_bps_simple,
               AVG(d.days_to_maturity) AS avg_days_to_maturity, COUNT(DISTINCT d.seller) AS sellers,
               COUNT(DISTINCT d.factor) AS factors
        FROM {src("financing_deal", at, "d")} JOIN {src("financing_offer", at, "o")} ON o.offer_id = d.offer_id
        {f.where()} GROUP BY {group} ORDER BY {group}""",
        f.params,
    )
    for r in rows:
        r["volume"] = int(r["volume"] or 0)
        r["paid"] = int(r["paid"] or 0)
        r["avg_rate_bps"] = round(int(r.pop("rate_value") or 0) / r["volume"], 2) if r["volume"] else 0.0
        r["avg_rate_bps_simple"] = round(float(r["avg_rate_bps_simple"] or 0), 2)
        r["avg_days_to_maturity"] = round(float(r["avg_days_to_maturity"] or 0), 2)
    return rows


def _rates_aggregated(conn: Connection, by: str, kind: str | None) -> list[dict[str, Any]]:
    """`rates` of every deal (or of one kind) from the aggregates: a row per tier, factor, kind and
    rate (min / max over the rates present, averages from the sums, exact) and a row per tier or
    factor and seller (of the kind, or of `*`: every kind)."""
    f = Filters()
    f.add("kind = :kind", kind=kind)
    x = Exact(conn)
    rows = _rows(
        conn,
        f"""
        SELECT {by}, SUM(deals) AS deals, {x.sum("volume")} AS volume, {x.sum("paid")} AS paid,
               MIN(rate_bps) AS min_rate_bps, MAX(rate_bps) AS max_rate_bps,
               {x.sum(x.mul("rate_bps", "volume"))} AS rate_value, SUM(rate_bps * deals) AS rate_sum,
               SUM(days_sum) AS days_sum, COUNT(DISTINCT factor) AS factors
        FROM agg_deal_rate {f.where()} GROUP BY {by} ORDER BY {by}""",
        f.params,
    )
    sellers: dict[Any, int] = dict(conn.execute(
        text(f"SELECT {by}, COUNT(*) FROM agg_deal_{by}_seller WHERE kind = :k GROUP BY {by}"),
        {"k": kind or EVERY_KIND}).all())
    out = []
    for r in rows:  # the keys and figures of the scan (AVG over integers: the exact ratio, rounded)
        deals, volume = int(r["deals"]), r["volume"]
        out.append({by: r[by], "deals": deals, "volume": volume, "paid": r["paid"], "min_rate_bps": r["min_rate_bps"],
                    "max_rate_bps": r["max_rate_bps"], "avg_rate_bps_simple": round(int(r["rate_sum"]) / deals, 2),
                    "avg_days_to_maturity": round(int(r["days_sum"]) / deals, 2), "sellers": sellers[r[by]],
                    "factors": r["factors"], "avg_rate_bps": round(r["rate_value"] / volume, 2) if volume else 0.0})
    return out


def early_payments(
    conn: Connection,
    *,
    member: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Early payments (dynamic discounting) per debtor and holder, paid in the date range
    (`member`: debtor or holder): payments, value settled early, paid, discount (what the debtor
    saved, the holder gave up), value-weighted days early and rate, via offers / programmes.
    `limit` / `offset`: one page of the rows (`early_payment_totals`: the sums of them all)."""
    f = _early_filters(member, date_from, date_to, at)
    page = ""
    if limit is not None:
        page = "LIMIT :limit OFFSET :offset"
        f.params.update(limit=limit, offset=offset)
    x = Exact(conn)
    rows = _rows(
        conn,
        f"""
        SELECT e.debtor, e.holder, COUNT(*) AS payments, {x.sum("e.value")} AS value, {x.sum("e.price")} AS paid,
               {x.sum(x.sub("e.value", "e.price"))} AS discount,
               {x.sum(x.mul("e.days_early", "e.value"))} AS days_value,
               {x.sum(x.mul("e.rate_bps", "e.value"))} AS rate_value, MIN(e.days_early) AS min_days_early,
               MAX(e.days_early) AS max_days_early,
               COUNT(CASE WHEN e.offer_id <> 0 THEN 1 END) AS via_offer,
               COUNT(CASE WHEN e.programme_id <> 0 THEN 1 END) AS via_programme
        FROM {src("early_payment", at, "e")} {f.where()} GROUP BY e.debtor, e.holder ORDER BY e.debtor, e.holder
        {page}""",
        f.params,
    )
    for r in rows:
        for k in ("value", "paid", "discount"):
            r[k] = int(r[k] or 0)
        days, rate = int(r.pop("days_value") or 0), int(r.pop("rate_value") or 0)
        r["avg_days_early"] = round(days / r["value"], 2) if r["value"] else 0.0
        r["avg_rate_bps"] = round(rate / r["value"], 2) if r["value"] else 0.0
    return rows


def _early_filters(member: str | None, date_from: int | None, date_to: int | None, at: int | None) -> Filters:
    f = Filters()
    f.params.update(at_params(at))
    f.add("(e.debtor = :member OR e.holder = :member)", member=member)
    f.add("e.timestamp >= :date_from", date_from=date_from)
    f.add("e.timestamp < :date_to", date_to=date_to)
    return f


def early_payment_totals(
    conn: Connection,
    *,
    member: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
) -> dict[str, int]:
    """Of every row `early_payments` lists (same filters): rows (debtor and holder pairs), value,
    paid and discount."""
    f = _early_filters(member, date_from, date_to, at)
    x = Exact(conn)
    n, value, paid = conn.execute(
        text(f"""SELECT COUNT(DISTINCT e.debtor || ' ' || e.holder), {x.sum("e.value")}, {x.sum("e.price")}
                 FROM {src("early_payment", at, "e")} {f.where()}"""),
        f.params,
    ).one()
    value, paid = int(value or 0), int(paid or 0)
    return {"rows": int(n), "value": value, "paid": paid, "discount": value - paid}


def _recourse_filters(member: str | None, status_: str | None, date_from: int | None, date_to: int | None,
                      at: int | None) -> Filters:
    f = Filters()
    f.params.update(at_params(at))
    f.add("(r.seller = :member OR r.factor = :member)", member=member)
    f.add("r.status = :status", status=status_)
    f.add("r.exercised_at >= :date_from", date_from=date_from)
    f.add("r.exercised_at < :date_to", date_to=date_to)
    return f


def recourse(
    conn: Connection,
    *,
    member: str | None = None,
    status_: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Recourse claims exercised in the date range (`member`: seller or factor), one row each:
    the deal (value, price), what was claimed when exercised, and whether and for what the seller
    bought the holding back (`settled`) or not yet (`unpaid`). `limit` / `offset`: one page of
    them (`recourse_totals`: the totals of them all)."""
    f = _recourse_filters(member, status_, date_from, date_to, at)
    page = ""
    if limit is not None:
        page = "LIMIT :limit OFFSET :offset"
        f.params.update(limit=limit, offset=offset)
    rows = _rows(
        conn,
        f"""
        SELECT r.offer_id, r.certificate_id, r.token_id, r.seller, r.factor, r.status, o.value AS deal_value,
               o.price AS deal_price, r.claimed_value, r.claimed_amount, r.settled_value, r.settled_amount,
               CASE WHEN r.status = 'unpaid' THEN r.claimed_amount ELSE 0 END AS unpaid_amount,
               r.exercised_at, r.exercised_tx, r.settled_at, r.settled_tx
        FROM {src("recourse_claim", at, "r")} LEFT JOIN {src("financing_offer", at, "o")} ON o.offer_id = r.offer_id
        {f.where()} ORDER BY r.offer_id {page}""",
        f.params,
    )
    for r in rows:
        for k in ("deal_value", "deal_price", "claimed_value", "claimed_amount", "settled_value", "settled_amount"):
            r[k] = to_int(r[k])
        r["unpaid_amount"] = int(r["unpaid_amount"] or 0)
    return rows


def recourse_totals(
    conn: Connection,
    *,
    member: str | None = None,
    status_: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
) -> dict[str, Any]:
    """`recourse_summary` of every claim `recourse` lists (same filters), summed by the database."""
    f = _recourse_filters(member, status_, date_from, date_to, at)
    x = Exact(conn)
    row = conn.execute(
        text(f"""
        SELECT COUNT(*), COUNT(CASE WHEN r.status = 'settled' THEN 1 END), {x.sum("r.claimed_amount")},
               {x.sum("CASE WHEN r.status = 'settled' THEN r.settled_amount END")},
               {x.sum("CASE WHEN r.status = 'unpaid' THEN r.claimed_amount END")}
        FROM {src("recourse_claim", at, "r")} {f.where()}"""),
        f.params,
    ).one()
    claims, settled = int(row[0]), int(row[1])
    return {
        "claims": claims,
        "settled": settled,
        "unpaid": claims - settled,
        "claimed_amount": int(row[2] or 0),
        "settled_amount": int(row[3] or 0),
        "unpaid_amount": int(row[4] or 0),
    }


def recourse_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of recourse rows: claims, settled, unpaid and their amounts."""
    settled = [r for r in rows if r["status"] == "settled"]
    return {
        "claims": len(rows),
        "settled": len(settled),
        "unpaid": len(rows) - len(settled),
        "claimed_amount": sum(r["claimed_amount"] for r in rows),
        "settled_amount": sum(r["settled_amount"] or 0 for r in settled),
        "unpaid_amount": sum(r["unpaid_amount"] for r in rows),
    }


# --- controls: invoices, abnormal splitting, registered deals, the regulator's export ----------


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _invoice_filters(key: str | None, certificate_id: int | None, date_from: int | None, date_to: int | None,
                     at: int | None) -> Filters:
    f = Filters()
    f.params.update(at_params(at))
    f.add("i.key = :key", key=key)
    f.add("i.first_at >= :date_from", date_from=date_from)
    f.add("i.first_at < :date_to", date_to=date_to)
    f.add(f"i.key IN (SELECT e.key FROM {src('invoice_event', at, 'e')} WHERE e.certificate_id = :cid)",
          cid=certificate_id)
    return f


def invoices(
    conn: Connection,
    *,
    key: str | None = None,
    certificate_id: int | None = None,
    state: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Invoice usage (one invoice, one certificate): per invoice its key, amount, value used,
    value still available, the certificates whose backing counts (with what each backs) and its
    state: `closed` (a settled certificate closed it), `used_up` (used = amount), `partly_used`,
    `released` (every certificate on it rejected). First registered in the date range. `limit` /
    `offset`: one page of them (`invoice_totals`: the count and value used of them all)."""
    f = _invoice_filters(key, certificate_id, date_from, date_to, at)
    page = ""
    if limit is not None and state is None:  # a state is known once a row is read: paged below
        page = "LIMIT :limit OFFSET :offset"
        f.params.update(limit=limit, offset=offset)
    rows = _rows(
        conn,
        f"""SELECT i.key, i.amount, i.used, i.closed, i.closed_at, i.first_block, i.first_at
            FROM {src("invoice", at, "i")} {f.where()} ORDER BY i.first_block, i.key {page}""",
        f.params,
    )
    out = []
    for r in rows:
        amount, used = int(r["amount"]), int(r["used"])
        r_state = ("closed" if r["closed"] else "used_up" if used >= amount else "partly_used" if used
                   else "released")
        if state is not None and r_state != state:
            continue
        out.append({
            "key": r["key"], "amount": amount, "used": used, "available": 0 if r["closed"] else amount - used,
            "state": r_state, "first_block": r["first_block"], "first_at": r["first_at"],
            "closed_at": r["closed_at"],
        })
    if limit is not None and state is not None:
        out = out[offset : offset + limit]
    backing = _backing(conn, [r["key"] for r in out], at)
    for r in out:
        certs = backing.get(r["key"], {})
        r["certificate_count"] = len(certs)
        r["certificates"] = " ".join(f"{c}:{b}" for c, b in sorted(certs.items()))
    keys = ("key", "amount", "used", "available", "state", "certificate_count", "certificates", "first_block",
            "first_at", "closed_at")
    return [{k: r[k] for k in keys} for r in out]


def _backing(conn: Connection, keys: list[str], at: int | None) -> dict[str, dict[int, int]]:
    """Per invoice of `keys`: certificate -> value it backs (backed and not released)."""
    backing: dict[str, dict[int, int]] = defaultdict(dict)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        names = {f"k{j}": k for j, k in enumerate(chunk)}
        for k, cid, kind, value in conn.execute(
            text(f"""SELECT e.key, e.certificate_id, e.kind, e.value FROM {src("invoice_event", at, "e")}
                     WHERE e.key IN ({", ".join(":" + n for n in names)})
                     ORDER BY e.block_number, e.log_index"""),
            {**names, **at_params(at)},
        ).all():
            if kind == "backed":
                backing[k][cid] = int(value)
            elif kind == "released":
                backing[k].pop(cid, None)
    return backing


def invoice_totals(
    conn: Connection,
    *,
    key: str | None = None,
    certificate_id: int | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
) -> dict[str, int]:
    """The count and value used of the invoices `invoices` lists without a state (same filters)."""
    f = _invoice_filters(key, certificate_id, date_from, date_to, at)
    n, used = conn.execute(
        text(f"SELECT COUNT(*), {Exact(conn).sum('i.used')} FROM {src('invoice', at, 'i')} {f.where()}"), f.params
    ).one()
    return {"invoices": int(n), "total_used": int(used or 0)}


INVOICE_STATES = ("closed", "used_up", "partly_used", "released")

# abnormal splitting: the defaults of the thresholds (docs/indexer.md)
MAX_SPLITS = 10  # a holding split more often than this
MIN_VALUE = 10_000  # a split moving less than this (minor units: 100.00)
MAX_SECONDS = CHAIN_SECONDS  # a hop within this long after the previous one continues a fast chain
MIN_HOPS = 3  # a fast chain of at least this many hops
FINDINGS = ("many_splits", "small_value", "fast_chain")


_HOP_COLUMNS = """t.block_number, t.log_index, t.tx_hash, t.timestamp, t.kind, t.certificate_id, t.from_token_id,
                  t.to_token_id, t.from_owner, t.to_owner, t.value, t.tier"""


def abnormal_splits(
    conn: Connection,
    *,
    max_splits: int = MAX_SPLITS,
    min_value: int = MIN_VALUE,
    max_seconds: int = MAX_SECONDS,
    min_hops: int = MIN_HOPS,
    certificate_id: int | None = None,
    member: str | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    scan: bool = False,
) -> list[dict[str, Any]]:
    """Findings over the hops between members (splits and whole transfers of holdings) in the date
    range: `many_splits` (a holding split more than `max_splits` times), `small_value` (a split
    moving less than `min_value`), `fast_chain` (at least `min_hops` hops, each leaving the holding
    the previous one delivered within `max_seconds` of it: value passed on at once, again and
    again). `member`: hops it sent or received. With the default `max_seconds` and no dates (and
    not `scan`): read through the aggregates `agg_split_count`, `agg_chain_hop` and the index of
    small splits (`_abnormal_indexed`), the same rows; otherwise every hop in range is read."""
    if not scan and max_seconds == CHAIN_SECONDS and min_hops >= 2 and date_from is None and date_to is None:
        return _abnormal_indexed(conn, max_splits, min_value, min_hops, certificate_id, member, at)
    f = Filters()
    f.params.update(at_params(at))
    f.clauses.append("t.kind IN ('split', 'transfer')")
    f.add("t.certificate_id = :cid", cid=certificate_id)
    f.add("t.timestamp >= :date_from", date_from=date_from)
    f.add("t.timestamp < :date_to", date_to=date_to)
    hops = conn.execute(
        text(f"""SELECT {_HOP_COLUMNS}
                 FROM {src("holding_transfer", at, "t")} {f.where()} ORDER BY t.block_number, t.log_index"""),
        f.params,
    ).mappings().all()

    def involved(h: Any) -> bool:
        return member is None or member in (h["from_owner"], h["to_owner"])

    out: list[dict[str, Any]] = []
    splits: dict[int, list[Any]] = defaultdict(list)
    for h in hops:
        if h["kind"] == "split":
            splits[h["from_token_id"]].append(h)
            if int(h["value"]) < min_value and involved(h):
                out.append(_small_value(h))
    out += _many_splits(splits, max_splits, involved)
    # fast chains: a hop continues the chain of the hop that delivered its holding, if soon enough
    arrived: dict[int, int] = {}  # token -> index of the hop that delivered it last
    chain: list[list[int]] = []  # per hop: the indexes of its chain, oldest first
    extended: set[int] = set()
    for i, h in enumerate(hops):
        prev = arrived.get(h["from_token_id"])
        if prev is not None and 0 <= h["timestamp"] - hops[prev]["timestamp"] <= max_seconds:
            chain.append([*chain[prev], i])
            extended.add(prev)
        else:
            chain.append([i])
        arrived[h["to_token_id"]] = i
    for i, path in enumerate(chain):
        if i in extended or len(path) < min_hops or not any(involved(hops[j]) for j in path):
            continue
        out.append(_fast_chain([hops[j] for j in path]))
    return _findings_sorted(out)


def _small_value(h: Any) -> dict[str, Any]:
    return {"finding": "small_value", "certificate_id": h["certificate_id"], "token_id": h["to_token_id"],
            "owner": h["to_owner"], "from_owner": h["from_owner"], "value": int(h["value"]), "tier": h["tier"],
            "tx_hash": h["tx_hash"], "timestamp": h["timestamp"]}


def _many_splits(splits: dict[int, list[Any]], max_splits: int, involved: Any) -> list[dict[str, Any]]:
    """The many_splits rows of the splits per holding (each in chain order)."""
    out = []
    for token, rows in sorted(splits.items()):
        if len(rows) > max_splits and any(involved(h) for h in rows):
            out.append({"finding": "many_splits", "certificate_id": rows[0]["certificate_id"], "token_id": token,
                        "owner": rows[-1]["from_owner"], "splits": len(rows),
                        "value": sum(int(h["value"]) for h in rows), "tier": rows[0]["tier"] - 1,
                        "tx_hash": rows[-1]["tx_hash"], "timestamp": rows[-1]["timestamp"],
                        "seconds": rows[-1]["timestamp"] - rows[0]["timestamp"]})
    return out


def _fast_chain(path: list[Any]) -> dict[str, Any]:
    first, last = path[0], path[-1]
    return {"finding": "fast_chain", "certificate_id": last["certificate_id"], "token_id": last["to_token_id"],
            "owner": last["to_owner"], "from_owner": first["from_owner"], "hops": len(path),
            "value": int(last["value"]), "tier": last["tier"], "seconds": last["timestamp"] - first["timestamp"],
            "path": " ".join(f"{h['from_owner']}>{h['to_owner']}#{h['to_token_id']}" for h in path),
            "tx_hash": last["tx_hash"], "timestamp": last["timestamp"]}


def _findings_sorted(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {name: n for n, name in enumerate(FINDINGS)}
    out.sort(key=lambda r: (order[r["finding"]], r["certificate_id"], r["token_id"], r["timestamp"]))
    return out


def _abnormal_indexed(conn: Connection, max_splits: int, min_value: int, min_hops: int, certificate_id: int | None,
                      member: str | None, at: int | None) -> list[dict[str, Any]]:
    """`abnormal_splits` with the default `max_seconds`, over every hop (up to block `at`): the
    splits below `min_value` through the partial index on split values; the splits of the
    holdings `agg_split_count` counts more than `max_splits` of (now: a superset of those as of
    `at`); the fast chains from `agg_chain_hop` (a row depends only on the hops before it): hops
    of a chain that no hop up to `at` continues, walked back hop by hop. The rows, their order
    and the member test are those of the scan."""

    def involved(h: Any) -> bool:
        return member is None or member in (h["from_owner"], h["to_owner"])

    f = Filters()
    f.add("t.certificate_id = :cid", cid=certificate_id)
    f.add("t.block_number <= :at", at=at)
    small = Filters()
    small.clauses, small.params = [*f.clauses, "t.kind = 'split'"], dict(f.params)
    small.add("(t.from_owner = :member OR t.to_owner = :member)", member=member)
    if conn.dialect.name == "sqlite":  # decimal TEXT: shorter is smaller, equal lengths compare as text
        small.add("(LENGTH(t.value) < :mv_len OR (LENGTH(t.value) = :mv_len AND t.value < :mv))",
                  mv=str(min_value), mv_len=len(str(min_value)))
    else:
        small.add("t.value < :mv", mv=min_value)
    out = [_small_value(h) for h in conn.execute(text(
        f"SELECT {_HOP_COLUMNS} FROM holding_transfer t {small.where()} ORDER BY t.block_number, t.log_index"
    ), small.params).mappings()]
    # many splits: the holdings split more than max_splits times in all (a superset when filtered)
    splits: dict[int, list[Any]] = defaultdict(list)
    for h in conn.execute(text(
        f"""SELECT {_HOP_COLUMNS} FROM agg_split_count s JOIN holding_transfer t ON t.from_token_id = s.token_id
            {f.where()} {"AND" if f.clauses else "WHERE"} s.splits > :max_splits AND t.kind = 'split'
            ORDER BY t.block_number, t.log_index"""), {**f.params, "max_splits": max_splits}
    ).mappings():
        splits[h["from_token_id"]].append(h)
    out += _many_splits(splits, max_splits, involved)
    # fast chains: their last hops, then each chain's hops back to its first
    leaves = conn.execute(text(
        f"""SELECT c.block_number, c.log_index, c.prev_block_number, c.prev_log_index
            FROM agg_chain_hop c JOIN holding_transfer t ON t.block_number = c.block_number
                 AND t.log_index = c.log_index
            {f.where()} {"AND" if f.clauses else "WHERE"} c.hops >= :min_hops AND NOT EXISTS (
              SELECT 1 FROM agg_chain_hop n WHERE n.prev_block_number = c.block_number
                     AND n.prev_log_index = c.log_index {"" if at is None else "AND n.block_number <= :at"})
            ORDER BY c.block_number, c.log_index"""), {**f.params, "min_hops": min_hops}).all()
    prev: dict[tuple[int, int], tuple[int, int] | None] = {(r[0], r[1]): (r[2], r[3]) for r in leaves}
    todo = {p for p in prev.values() if p is not None and p not in prev}
    while todo:  # a hop without an agg_chain_hop row begins its chain
        found = {(r["block_number"], r["log_index"]): (r["prev_block_number"], r["prev_log_index"]) for r in _at_keys(
            conn, "SELECT block_number, log_index, prev_block_number, prev_log_index FROM agg_chain_hop", todo)}
        for k in todo:
            prev[k] = found.get(k)
        todo = {p for p in found.values() if p not in prev}
    hops = {(h["block_number"], h["log_index"]): h
            for h in _at_keys(conn, f"SELECT {_HOP_COLUMNS} FROM holding_transfer t", set(prev))}
    for leaf in leaves:
        path: list[Any] = []
        key: tuple[int, int] | None = (leaf[0], leaf[1])
        while key is not None:
            path.append(hops[key])
            key = prev[key]
        path.reverse()
        if any(involved(h) for h in path):
            out.append(_fast_chain(path))
    return _findings_sorted(out)


def _at_keys(conn: Connection, select: str, keys: set[tuple[int, int]]) -> list[Any]:
    """The rows (mappings) of `select`, with columns block_number and log_index, at `keys`: read
    by block number (a list of OR-ed pairs took PostgreSQL 20 ms to plan for 300 keys)."""
    blocks = sorted({b for b, _ in keys})
    out: list[Any] = []
    for i in range(0, len(blocks), 1000):
        listed = ", ".join(map(str, blocks[i : i + 1000]))
        out += [r for r in conn.execute(text(f"{select} WHERE block_number IN ({listed})")).mappings()
                if (r["block_number"], r["log_index"]) in keys]
    return out


def _deal_filters(member: str | None, registered: bool | None, certificate_id: int | None, date_from: int | None,
                  date_to: int | None, at: int | None) -> Filters:
    f = Filters()
    f.params.update(at_params(at))
    f.add("(d.factor = :member OR d.seller = :member)", member=member)
    f.add("d.certificate_id = :cid", cid=certificate_id)
    f.add("d.timestamp >= :date_from", date_from=date_from)
    f.add("d.timestamp < :date_to", date_to=date_to)
    if registered is not None:
        f.clauses.append("o.registration_ref IS NOT NULL" if registered else "o.registration_ref IS NULL")
    return f


def deals(
    conn: Connection,
    *,
    member: str | None = None,
    registered: bool | None = None,
    certificate_id: int | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Financing deals (accepted offers) in the date range with their registration reference at
    the receivables registry (中登网; NULL until the factor records it), in chain order; `limit` /
    `offset`: one page of them (`deals_summary`: the counts of them all)."""
    f = _deal_filters(member, registered, certificate_id, date_from, date_to, at)
    page = ""
    if limit is not None:
        page = "LIMIT :limit OFFSET :offset"
        f.params.update(limit=limit, offset=offset)
    rows = _rows(
        conn,
        f"""SELECT d.offer_id, d.certificate_id, d.token_id, d.new_token_id, d.seller, d.factor, d.value, d.price,
                   d.rate_bps, d.days_to_maturity, d.recourse, d.timestamp, d.tx_hash, o.registration_ref,
                   o.registered_at
            FROM {src("financing_deal", at, "d")} JOIN {src("financing_offer", at, "o")} ON o.offer_id = d.offer_id
            {f.where()} ORDER BY d.block_number, d.log_index {page}""",
        f.params,
    )
    for r in rows:
        r["recourse"] = bool(r["recourse"])
        r["registered"] = r["registration_ref"] is not None
    return rows


def deals_summary(
    conn: Connection,
    *,
    member: str | None = None,
    registered: bool | None = None,
    certificate_id: int | None = None,
    date_from: int | None = None,
    date_to: int | None = None,
    at: int | None = None,
) -> dict[str, int]:
    """The counts of `deals` (same filters): deals, and those registered. Of the whole book now
    without the join of every deal to its offer: every deal is an accepted offer (`OfferAccepted`
    writes both rows) and only a deal gets a registration (`Financing.setRegistration`), so the
    registered deals are the offers with a reference (a partial index, 0013)."""
    if at is None and member is None and certificate_id is None and date_from is None and date_to is None:
        n = conn.execute(text("SELECT COUNT(*) FROM financing_deal")).scalar_one()
        reg = conn.execute(text("SELECT COUNT(*) FROM financing_offer WHERE registration_ref IS NOT NULL")
                           ).scalar_one()
        if registered is not None:
            n = reg if registered else n - reg
        return {"deals": int(n), "registered_deals": int(reg) if registered is not False else 0}
    f = _deal_filters(member, registered, certificate_id, date_from, date_to, at)
    n, reg = conn.execute(
        text(f"""SELECT COUNT(*), COUNT(o.registration_ref)
                 FROM {src("financing_deal", at, "d")} JOIN {src("financing_offer", at, "o")}
                 ON o.offer_id = d.offer_id {f.where()}"""),
        f.params,
    ).one()
    return {"deals": int(n), "registered_deals": int(reg)}


# the regulator's layout: one fixed list of columns per dataset (docs/indexer.md, "regulator layout")
REGULATOR_LAYOUT = "scf-regulator/1"
REGULATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "certificates": (
        "certificate_id", "debtor", "payee", "face_value", "currency", "issued_at", "maturity", "status",
        "repaid_value", "redeemed_value", "outstanding", "overdue_at", "settled_at", "document_hash",
        "invoice_keys", "issued_block", "issued_tx",
    ),
    "transfers": (
        "block_number", "log_index", "tx_hash", "timestamp", "certificate_id", "kind", "from_token_id",
        "to_token_id", "from_owner", "to_owner", "value", "currency", "tier",
    ),
    "deals": (
        "offer_id", "certificate_id", "token_id", "new_token_id", "seller", "factor", "value", "price", "currency",
        "rate_bps", "days_to_maturity", "recourse", "timestamp", "tx_hash", "registration_ref", "registered_at",
    ),
}
CURRENCY = "CNY"  # the settlement currency's unit: amounts in fen (minor units, 2 decimals)
_TIMES = ("issued_at", "maturity", "overdue_at", "settled_at", "timestamp", "registered_at")


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def regulator_export(
    conn: Connection,
    dataset: str,
    *,
    date_from: int | None = None,
    date_to: int | None = None,
    limit: int = 1000,
    offset: int = 0,
    at: int | None = None,
) -> list[dict[str, Any]]:
    """One page of a dataset of the regulator's layout, in chain order: `certificates` (issued in
    the date range), `transfers` (every value movement between holdings, and whole transfers),
    `deals`. Rows carry exactly `REGULATOR_COLUMNS[dataset]`, times as ISO 8601 UTC."""
    f = Filters()
    f.params.update({**at_params(at), "limit": limit, "offset": offset})
    x = Exact(conn)
    if dataset == "certificates":
        f.add("c.issued_at >= :date_from", date_from=date_from)
        f.add("c.issued_at < :date_to", date_to=date_to)
        rows = _rows(conn, f"""
            SELECT c.id AS certificate_id, c.debtor, c.payee, c.face_value, c.issued_at, c.maturity, c.status,
                   c.repaid_value, c.redeemed_value, {x.sub("c.face_value", "c.redeemed_value")} AS outstanding,
                   c.overdue_at, c.settled_at, c.document_hash, c.issued_block, c.issued_tx
            FROM {src("certificate", at, "c")} {f.where()} ORDER BY c.id LIMIT :limit OFFSET :offset""", f.params)
        keys: dict[int, list[str]] = defaultdict(list)
        ids = [r["certificate_id"] for r in rows]
        if ids:
            for cid, k in conn.execute(
                text(f"""SELECT e.certificate_id, e.key FROM {src("invoice_event", at, "e")}
                         WHERE e.kind = 'backed' AND e.certificate_id IN ({", ".join(map(str, ids))})
                         ORDER BY e.block_number, e.log_index"""),
                at_params(at),
            ).all():
                keys[cid].append(k)
        for r in rows:
            r["invoice_keys"] = " ".join(keys.get(r["certificate_id"], []))
    elif dataset == "transfers":
        f.add("t.timestamp >= :date_from", date_from=date_from)
        f.add("t.timestamp < :date_to", date_to=date_to)
        rows = _rows(conn, f"""
            SELECT t.block_number, t.log_index, t.tx_hash, t.timestamp, t.certificate_id, t.kind, t.from_token_id,
                   t.to_token_id, t.from_owner, t.to_owner, t.value, t.tier
            FROM {src("holding_transfer", at, "t")} {f.where()}
            ORDER BY t.block_number, t.log_index LIMIT :limit OFFSET :offset""", f.params)
    elif dataset == "deals":
        rows = deals(conn, date_from=date_from, date_to=date_to, at=at, limit=limit, offset=offset)
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    out = []
    for r in rows:
        r["currency"] = CURRENCY
        for t in _TIMES:
            if t in r:
                r[t] = _iso(r[t])
        out.append({c: r.get(c) for c in REGULATOR_COLUMNS[dataset]})
    return out
