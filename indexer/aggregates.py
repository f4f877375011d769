"""The report aggregates (`agg_*` tables, `indexer.models.AGG_TABLES`), kept in step with the
state and event tables in the same transaction: ``batch_deltas`` from a batch's before and after
images (``store.write``), ``rollback_deltas`` around a reorg rollback (``store.rollback``),
``apply`` writes them. ``scratch`` computes the same tables from the state and event tables alone
(the migration's fill, and the tests' proof that the maintained tables are exact).

What they hold (one contribution per holding or arrival):

* ``agg_tier_held[tier]``: value of the live holdings at that tier;
* ``agg_holder_outstanding[owner]``: value of the owner's live, non-empty holdings whose
  certificate is open (pending, active, overdue);
* ``agg_tier_receiver[tier, owner]``: arrivals (``holding_transfer`` mint, split, transfer) at
  that tier received by that owner, and their value;
* ``agg_deal_certificate[certificate_id]``: its financing deals (``financing_deal``), their value
  and price;
* ``agg_deal_parties[factor, seller]``: their financing deals, value, price, sum of rate x value,
  of rates and of days to maturity;
* ``agg_deal_rate[tier, factor, kind, rate_bps]``: financing deals joined with their offer (its
  tier and kind: final by the end of the accepting transaction), value, price, days to maturity;
  ``agg_deal_tier_seller[kind, tier, seller]``, ``agg_deal_factor_seller[kind, factor, seller]``:
  those deals per seller, each also under the kind ``*`` (every kind);
* ``agg_split_count[token_id]``: the splits off a holding;
* ``agg_chain_hop[block_number, log_index]``: per hop (split or whole transfer) that continues a
  fast chain (`CHAIN_SECONDS`), the hop it continues and the chain's hops up to it. A function of
  the earlier hops only: rows are added with their hops and a rollback deletes those above the
  ancestor.

A row whose figures are all zero is deleted: the tables do not depend on the batch boundaries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, text

from indexer import bulk
from indexer.models import AGG_TABLES, STATE_TABLES

OPEN = frozenset(("pending", "active", "overdue"))
ARRIVALS = frozenset(("mint", "split", "transfer"))
HOPS = frozenset(("split", "transfer"))  # hops between members (`reports.abnormal_splits`)
CHAIN_SECONDS = 3_600  # the fast chains kept in agg_chain_hop (`reports.MAX_SECONDS`, its default)
CHUNK = 500
Row = dict[str, Any]

TIER_HELD = AGG_TABLES["agg_tier_held"]
HOLDER = AGG_TABLES["agg_holder_outstanding"]
RECEIVER = AGG_TABLES["agg_tier_receiver"]
DEAL_CERT = AGG_TABLES["agg_deal_certificate"]
DEAL_PARTIES = AGG_TABLES["agg_deal_parties"]
DEAL_RATE = AGG_TABLES["agg_deal_rate"]
TIER_SELLER = AGG_TABLES["agg_deal_tier_seller"]
FACTOR_SELLER = AGG_TABLES["agg_deal_factor_seller"]
EVERY_KIND = "*"
SPLIT_COUNT = AGG_TABLES["agg_split_count"]
CHAIN_HOP = AGG_TABLES["agg_chain_hop"]
DEAL_COLUMNS = "certificate_id, factor, seller, value, price, rate_bps, days_to_maturity"
# a deal with its offer's tier and kind (NULL: no offer row, as the rates report's join drops it)
DEAL_OFFER = ("SELECT d.certificate_id, d.factor, d.seller, d.value, d.price, d.rate_bps, d.days_to_maturity, "
              "o.tier, o.kind FROM financing_deal d LEFT JOIN financing_offer o ON o.offer_id = d.offer_id")
HOP_COLUMNS = "block_number, log_index, timestamp, kind, from_token_id, to_token_id"


class Deltas:
    """Changes to the aggregates, summed over the contributions removed (-1) and added (+1)."""

    def __init__(self) -> None:
        self.held: dict[int, int] = defaultdict(int)
        self.holder: dict[str, int] = defaultdict(int)
        self.receivers: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        self.deal_certs: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        self.deal_parties: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
        self.deal_rates: dict[tuple[int, str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.tier_sellers: dict[tuple[str, int, str], int] = defaultdict(int)
        self.factor_sellers: dict[tuple[str, str, str], int] = defaultdict(int)
        self.splits: dict[int, int] = defaultdict(int)
        self.chain_hops: list[Row] = []  # rows to add (a rollback deletes, `RollbackDeltas.before`)

    def holding(self, row: Row | None, cert_status: str | None, sign: int) -> None:
        if row is None or row["status"] != "live":
            return
        value = int(row["value"])
        if not value:
            return
        self.held[row["tier"]] += sign * value
        if cert_status in OPEN:
            self.holder[row["owner"]] += sign * value

    def arrival(self, row: Row, sign: int) -> None:
        if row["kind"] in ARRIVALS:
            r = self.receivers[(row["tier"], row["to_owner"])]
            r[0] += sign
            r[1] += sign * int(row["value"])
        if row["kind"] == "split":
            self.splits[row["from_token_id"]] += sign

    def deal(self, row: Row, sign: int) -> None:
        value, price, rate = int(row["value"]), int(row["price"]), int(row["rate_bps"])
        c = self.deal_certs[row["certificate_id"]]
        for i, x in enumerate((1, value, price)):
            c[i] += sign * x
        p = self.deal_parties[(row["factor"], row["seller"])]
        for i, x in enumerate((1, value, price, rate * value, rate, int(row["days_to_maturity"]))):
            p[i] += sign * x
        if row["tier"] is None:  # no offer row
            return
        r = self.deal_rates[(row["tier"], row["factor"], row["kind"], rate)]
        for i, x in enumerate((1, value, price, int(row["days_to_maturity"]))):
            r[i] += sign * x
        for kind in (row["kind"], EVERY_KIND):
            self.tier_sellers[(kind, row["tier"], row["seller"])] += sign
            self.factor_sellers[(kind, row["factor"], row["seller"])] += sign


def chain_hops(hops: Iterable[Any], delivered: dict[int, Row]) -> list[Row]:
    """The agg_chain_hop rows of `hops` (rows of `HOP_COLUMNS`, in chain order), after the hops
    before them: `delivered[token]` is the last hop before them that delivered the token, with its
    `hops` (1: it continues no chain); updated in place. The rule of `reports.abnormal_splits`."""
    out: list[Row] = []
    for h in hops:
        if h["kind"] not in HOPS:
            continue
        prev = delivered.get(h["from_token_id"])
        n = 1
        if prev is not None and 0 <= h["timestamp"] - prev["timestamp"] <= CHAIN_SECONDS:
            n = prev["hops"] + 1
            out.append({"block_number": h["block_number"], "log_index": h["log_index"],
                        "prev_block_number": prev["block_number"], "prev_log_index": prev["log_index"], "hops": n})
        delivered[h["to_token_id"]] = {**h, "hops": n}
    return out


def _delivered(conn: Connection, tokens: set[int], cache: Any = None) -> dict[int, Row]:
    """Per token, the last stored hop that delivered it, with its chain's `hops` (`chain_hops`):
    from the follower's row cache (`store.RowCache.delivered`) when it has the token (or,
    complete, knows no hop delivered it), else read through the driver's cursor (thousands of
    rows a batch: SQLAlchemy's per-row result handling cost more than the query)."""
    out: dict[int, Row] = {}
    if cache is not None:
        known = cache.delivered
        out.update((t, known[t]) for t in tokens if t in known)
        if cache.complete:
            return out
        tokens = {t for t in tokens if t not in known}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for part in _chunks(sorted(tokens)):
        cursor.execute(
            f"SELECT t.block_number, t.log_index, t.timestamp, t.to_token_id, c.hops FROM holding_transfer t "
            f"LEFT JOIN agg_chain_hop c ON c.block_number = t.block_number AND c.log_index = t.log_index "
            f"WHERE t.kind IN ('split', 'transfer') AND t.to_token_id IN ({', '.join(map(str, map(int, part)))})"
        )
        for block, index, timestamp, token, hops in cursor.fetchall():
            old = out.get(token)
            if old is None or (block, index) > (old["block_number"], old["log_index"]):
                out[token] = {"block_number": block, "log_index": index, "timestamp": timestamp,
                              "to_token_id": token, "hops": hops or 1}
    return out


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _statuses(conn: Connection, ids: Iterable[int]) -> dict[int, str]:
    cert = STATE_TABLES["certificate"]
    out: dict[int, str] = {}
    for part in _chunks(sorted(ids)):
        out.update((r[0], r[1]) for r in conn.execute(select(cert.c.id, cert.c.status).where(cert.c.id.in_(part))))
    return out


def batch_deltas(conn: Connection, ws: Any, cache: Any = None) -> Deltas:
    """The aggregates' changes of a batch (`handlers.WorkSet`), read before its rows are written:
    each touched holding's contribution before and after; every other holding of a certificate
    that opened or closed in the batch (read from the database, unchanged by the batch). The
    chain hops continue the hops stored (`_delivered`, from `cache` when it has them); the
    tokens' last delivering hops after the batch are left in `ws.delivered` for the cache."""
    d = Deltas()
    holdings_before, holdings_after = ws.original["holding"], ws.rows["holding"]
    certs_before, certs_after = ws.original["certificate"], ws.rows["certificate"]
    outside = {
        img["certificate_id"]
        for pk, row in holdings_after.items()
        for img in (row, holdings_before.get(pk))
        if img is not None and img["certificate_id"] not in certs_after
    }
    other = _statuses(conn, outside)

    def status(cid: int, before: bool) -> str | None:
        if cid in certs_after:
            row = (certs_before if before else certs_after).get(cid)
            return None if row is None else row["status"]
        return other.get(cid)

    for pk, after in holdings_after.items():
        before = holdings_before.get(pk)
        if before is after:
            continue
        if before is not None:
            d.holding(before, status(before["certificate_id"], True), -1)
        if after is not None:
            d.holding(after, status(after["certificate_id"], False), +1)
    flipped = [cid for cid in certs_after if (status(cid, True) in OPEN) != (status(cid, False) in OPEN)]
    if flipped:
        h = STATE_TABLES["holding"]
        for part in _chunks(flipped):
            for r in conn.execute(select(h).where(h.c.certificate_id.in_(part))).mappings():
                if r["token_id"] in holdings_after:
                    continue  # counted above from its images
                d.holding(dict(r), status(r["certificate_id"], True), -1)
                d.holding(dict(r), status(r["certificate_id"], False), +1)
    hops = sorted(ws.events["holding_transfer"], key=lambda r: (r["block_number"], r["log_index"]))
    for row in hops:
        d.arrival(row, +1)
    ws.delivered = _delivered(conn, {h["from_token_id"] for h in hops if h["kind"] in HOPS}, cache)
    d.chain_hops = chain_hops(hops, ws.delivered)  # updates ws.delivered with the batch's hops
    offers = ws.rows["financing_offer"]
    for row in ws.events["financing_deal"]:
        offer = offers.get(row["offer_id"])  # the accepting batch always has it (`handlers.offer_accepted`)
        d.deal({**row, "tier": offer and offer["tier"], "kind": offer and offer["kind"]}, +1)
    return d


def _holdings_of(conn: Connection, token_ids: list[Any], cert_ids: list[Any]) -> list[tuple[Row, str | None]]:
    """Holdings by token id or certificate id, each with its certificate's status."""
    h, c = STATE_TABLES["holding"], STATE_TABLES["certificate"]
    q = select(h, c.c.status.label("cert_status")).select_from(h.outerjoin(c, c.c.id == h.c.certificate_id))
    found: dict[int, tuple[Row, str | None]] = {}
    for col, ids in ((h.c.token_id, token_ids), (h.c.certificate_id, cert_ids)):
        for part in _chunks(sorted(ids)):
            for r in conn.execute(q.where(col.in_(part))).mappings():
                row = dict(r)
                found[row["token_id"]] = (row, row.pop("cert_status"))
    return list(found.values())


class RollbackDeltas:
    """Around `store.rollback`: ``before`` reads the contributions of the rows the rollback will
    restore (and of the event rows it will delete), ``after`` those of the restored rows."""

    def __init__(self, token_ids: list[Any], cert_ids: list[Any]) -> None:
        self.token_ids, self.cert_ids = token_ids, cert_ids
        self.d = Deltas()

    def before(self, conn: Connection, ancestor: int) -> None:
        for row, st in _holdings_of(conn, self.token_ids, self.cert_ids):
            self.d.holding(row, st, -1)
        rows = conn.execute(text(
            "SELECT kind, tier, to_owner, value, from_token_id FROM holding_transfer WHERE block_number > :b"
        ), {"b": ancestor}).mappings()
        for r in rows:
            self.d.arrival(dict(r), -1)
        deals = conn.execute(text(f"{DEAL_OFFER} WHERE d.block_number > :b"), {"b": ancestor}).mappings()
        for r in deals:
            self.d.deal(dict(r), -1)
        conn.execute(delete(CHAIN_HOP).where(CHAIN_HOP.c.block_number > ancestor))

    def after(self, conn: Connection) -> Deltas:
        for row, st in _holdings_of(conn, self.token_ids, self.cert_ids):
            self.d.holding(row, st, +1)
        return self.d


def _merge(conn: Connection, table: Any, keys: list[str], changes: dict[tuple[Any, ...], list[int]],
           fields: list[str]) -> None:
    """Add `changes` (key -> deltas of `fields`) to `table`; rows left all zero are deleted."""
    changes = {k: v for k, v in changes.items() if any(v)}
    if not changes:
        return
    kcols = [table.c[k] for k in keys]
    current: dict[tuple[Any, ...], list[int]] = {}
    for r in bulk.read(conn, table, tuple(keys), list(changes), (*keys, *fields)):  # driver values
        current[tuple(r[: len(keys)])] = [int(x) for x in r[len(keys) :]]
    inserts, updates, deletes = [], [], []
    for key, delta in changes.items():
        old = current.get(key)
        new = [a + b for a, b in zip(old or [0] * len(fields), delta, strict=True)]
        if any(x < 0 for x in new):
            raise AssertionError(f"{table.name}{key}: negative aggregate {new}")
        values = dict(zip(keys, key, strict=True)) | dict(zip(fields, new, strict=True))
        if not any(new):
            if old is not None:
                deletes.append(key)
        elif old is None:
            inserts.append(values)
        else:
            updates.append(values)
    # in bulk (`indexer.bulk`; a statement per row was most of a batch's time)
    if deletes:
        conn.execute(
            delete(table).where(*[c == bindparam(f"k_{c.name}") for c in kcols]),
            [{f"k_{k}": v for k, v in zip(keys, key, strict=True)} for key in deletes],
        )
    bulk.write(conn, table, inserts)
    bulk.write(conn, table, updates, keys=tuple(keys))


def apply(conn: Connection, d: Deltas) -> None:
    _merge(conn, TIER_HELD, ["tier"], {(t,): [v] for t, v in d.held.items()}, ["value"])
    _merge(conn, HOLDER, ["owner"], {(o,): [v] for o, v in d.holder.items()}, ["value"])
    _merge(conn, RECEIVER, ["tier", "owner"], {k: list(v) for k, v in d.receivers.items()},
           ["arrivals", "value_received"])
    _merge(conn, DEAL_CERT, ["certificate_id"], {(c,): list(v) for c, v in d.deal_certs.items()},
           ["deals", "financed", "financed_price"])
    _merge(conn, DEAL_PARTIES, ["factor", "seller"], {k: list(v) for k, v in d.deal_parties.items()},
           ["deals", "volume", "paid", "rate_value", "rate_sum", "days_sum"])
    _merge(conn, DEAL_RATE, ["tier", "factor", "kind", "rate_bps"], {k: list(v) for k, v in d.deal_rates.items()},
           ["deals", "volume", "paid", "days_sum"])
    _merge(conn, TIER_SELLER, ["kind", "tier", "seller"], {k: [n] for k, n in d.tier_sellers.items()}, ["deals"])
    _merge(conn, FACTOR_SELLER, ["kind", "factor", "seller"], {k: [n] for k, n in d.factor_sellers.items()},
           ["deals"])
    _merge(conn, SPLIT_COUNT, ["token_id"], {(t,): [n] for t, n in d.splits.items()}, ["splits"])
    bulk.write(conn, CHAIN_HOP, d.chain_hops)


def scratch(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The aggregates computed from the state and event tables alone, rows ordered by key (as
    `select(table).order_by(primary key)` returns the maintained ones)."""
    d = Deltas()
    q = text(
        "SELECT h.token_id, h.owner, h.value, h.tier, h.status, c.status AS cert_status "
        "FROM holding h LEFT JOIN certificate c ON c.id = h.certificate_id"
    )
    for r in conn.execute(q).mappings():
        d.holding(dict(r), r["cert_status"], +1)
    for r in conn.execute(text("SELECT kind, tier, to_owner, value, from_token_id FROM holding_transfer")).mappings():
        d.arrival(dict(r), +1)
    for r in conn.execute(text(DEAL_OFFER)).mappings():
        d.deal(dict(r), +1)
    hops = conn.execute(text(f"SELECT {HOP_COLUMNS} FROM holding_transfer WHERE kind IN ('split', 'transfer') "
                             "ORDER BY block_number, log_index")).mappings()
    chains = chain_hops(hops, {})
    return {
        "agg_tier_receiver": sorted((t, o, n, v) for (t, o), (n, v) in d.receivers.items() if n or v),
        "agg_tier_held": sorted((t, v) for t, v in d.held.items() if v),
        "agg_holder_outstanding": sorted((o, v) for o, v in d.holder.items() if v),
        "agg_deal_certificate": sorted((c, *v) for c, v in d.deal_certs.items() if any(v)),
        "agg_deal_parties": sorted((*k, *v) for k, v in d.deal_parties.items() if any(v)),
        "agg_deal_rate": sorted((*k, *v) for k, v in d.deal_rates.items() if any(v)),
        "agg_deal_tier_seller": sorted((*k, n) for k, n in d.tier_sellers.items() if n),
        "agg_deal_factor_seller": sorted((*k, n) for k, n in d.factor_sellers.items() if n),
        "agg_split_count": sorted((t, n) for t, n in d.splits.items() if n),
        "agg_chain_hop": sorted(tuple(r.values()) for r in chains),
    }


def rebuild(conn: Connection, tables: Iterable[str] | None = None) -> None:
    """Empty the aggregates (or those of `tables`) and fill them from scratch (an index made
    before them)."""
    names = set(AGG_TABLES if tables is None else tables)
    for name in names:
        conn.execute(delete(AGG_TABLES[name]))
    for name, rows in scratch(conn).items():
        if name not in names:
            continue
        t = AGG_TABLES[name]
        cols = [c.name for c in t.columns]
        if rows:
            conn.execute(insert(t), [dict(zip(cols, r, strict=True)) for r in rows])
