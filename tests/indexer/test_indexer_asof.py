"""Reports, lists and lineage "as of" a block equal the same calls on a FRESH index stopped at that
block (both backends): every report, the certificates and members lists, every certificate's
lineage (tree, rows, CSV), every member's holdings and history. Plus the 422s, the invariant
"open versions = state rows", and migration 0006 on an index made before it.

The indexes here keep every block's header (`reorg_window` larger than the chain), so the time of
any block is known; see docs/indexer.md for blocks the index does not store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from indexer.api.main import create_app
from indexer.db import alembic_config
from indexer.models import STATE_TABLES, VERSION_TABLES
from indexer.settings import Settings
from scf_core.apikeys import hash_key

KEY = "auditor-asof-key"
WINDOW = 100_000  # every header stored: the time of every block known


def _client(url: str) -> TestClient:
    app = create_app(Settings(database_url=url, auditor_key_hashes=hash_key(KEY)))
    return TestClient(app, headers={"X-API-Key": KEY})


class Full:
    """The played chain indexed to its head, with its API."""

    def __init__(self, system: Any, url: str) -> None:
        self.system = system
        self.ix = system.index(url, reorg_window=WINDOW)
        self.url = url
        self.client = _client(url)
        with self.ix.engine.connect() as conn:
            self.head = conn.execute(text("SELECT block_number FROM checkpoint")).scalar_one()
            self.members = list(conn.execute(text("SELECT address FROM member ORDER BY address")).scalars())
            self.certificates = conn.execute(text("SELECT COUNT(*) FROM certificate")).scalar_one()
            self.times = dict(conn.execute(text("SELECT number, timestamp FROM block")).all())
        self.first = system.manifest.deployment_block

    def close(self) -> None:
        self.client.app.state.engine.dispose()  # type: ignore[attr-defined]
        self.client.close()
        self.ix.close()


@pytest.fixture
def full(played: Any, databases: Any) -> Iterator[Full]:
    f = Full(played, databases.new())
    try:
        yield f
    finally:
        f.close()


MARKET_REPORTS = ("market", "rates", "early-payments", "recourse")


def snapshot(client: TestClient, full: Full, params: dict[str, Any], market: bool = True,
             invoices: bool = True) -> dict[str, Any]:
    """Every as-of-capable call's status and body (JSON, and CSV for some); `market=False` leaves
    out the market's reports, `invoices=False` the calls that show invoices or registrations (an
    index made before migrations 0008/0009 lacks those of its earlier blocks: docs/indexer.md)."""
    out: dict[str, Any] = {}

    def call(path: str, **extra: Any) -> None:
        r = client.get(path, params={**params, **extra})
        key = path + repr(sorted(extra.items()))
        out[key] = (r.status_code, r.text if extra.get("format") == "csv" else r.json())

    for rep in ("exposure", "tiers", "financing", "ageing", "abnormal-splits", *(MARKET_REPORTS if market else ())):
        call(f"/v1/reports/{rep}")
    call("/v1/reports/abnormal-splits", max_splits=1, min_value=10**9, max_seconds=10**6, min_hops=2)
    for dataset in ("certificates", "transfers", "deals") if invoices else ("transfers",):
        call(f"/v1/reports/regulator/{dataset}", limit=10_000)
        call(f"/v1/reports/regulator/{dataset}", format="csv", limit=10_000)
    if invoices:
        call("/v1/reports/invoices")
        call("/v1/reports/invoices", format="csv")
        call("/v1/reports/deals")
    call("/v1/reports/exposure", format="csv")
    call("/v1/reports/tiers", certificate_id=1)
    for by in ("debtor", "holder"):
        call("/v1/reports/concentration", by=by, top=1000)
    call("/v1/certificates", limit=1000)
    call("/v1/members", limit=1000)
    call("/v1/members", format="csv", limit=1000)
    for cid in range(1, full.certificates + 1):
        call(f"/v1/certificates/{cid}/lineage")
        call(f"/v1/certificates/{cid}/lineage", format="csv")
        call(f"/v1/certificates/{cid}/lineage/rows", limit=1000)
    for m in full.members:
        call(f"/v1/members/{m}/holdings", include_spent=True, limit=1000)
        call(f"/v1/members/{m}/history", limit=10_000)
    call("/v1/certificates", holder=full.members[-1], limit=1000)
    return out


def assert_as_of_equals_fresh(full: Full, databases: Any, block: int, market: bool = True,
                             invoices: bool = True) -> None:
    url = databases.new()
    fresh = full.system.indexer(url, reorg_window=WINDOW)
    try:
        fresh.sync(to_block=block)
        assert fresh.checkpoint()["block_number"] == block
        with _client(url) as fc:
            expected = snapshot(fc, full, {}, market, invoices)
        got = snapshot(full.client, full, {"as_of_block": block}, market, invoices)
        assert got.keys() == expected.keys()
        for k in expected:
            assert got[k] == expected[k], f"{k} as of block {block}"
        # as_of (a time): the last block with timestamp <= that time
        t = full.times[block]
        by_time = full.client.get("/v1/reports/exposure", params={"as_of": t}).json()
        last = max(n for n, ts in full.times.items() if ts <= t)
        assert (by_time["as_of_block"], by_time["as_of_time"]) == (last, full.times[last])
        assert by_time == full.client.get("/v1/reports/exposure", params={"as_of_block": last}).json()
    finally:
        fresh.close()


def test_as_of_equals_fresh_index_at_chosen_blocks(full: Full, databases: Any) -> None:
    first, head = full.first, full.head
    assert head - first > 50, "the scenario should span many blocks"
    picks = sorted({first, first + (head - first) // 4, (first + head) // 2, head - 7, head - 1, head})
    for block in picks:
        assert_as_of_equals_fresh(full, databases, block)
    # absent = now: the same answers as as_of_block = the indexed block, and says so
    now = full.client.get("/v1/reports/exposure").json()
    assert now["as_of_block"] == head and now["as_of_time"] == full.times[head] == now["as_of"]
    assert now == full.client.get("/v1/reports/exposure", params={"as_of_block": head}).json()


def test_as_of_equals_fresh_index_random_blocks(full: Full, databases: Any) -> None:
    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        block = data.draw(st.integers(full.first, full.head), label="block")
        assert_as_of_equals_fresh(full, databases, block)

    check()


def test_open_versions_equal_state(full: Full) -> None:
    """Every state row has exactly one open version, equal to it (and no other)."""
    with full.ix.engine.connect() as conn:
        for name, t in STATE_TABLES.items():
            v = VERSION_TABLES[name]
            cols = [v.c[c.name] for c in t.columns]
            state = sorted(tuple(r) for r in conn.execute(select(t)))
            open_ = sorted(tuple(r) for r in conn.execute(select(*cols).where(v.c.valid_to_block.is_(None))))
            assert state == open_, name
            gaps = conn.execute(
                text(
                    f"SELECT COUNT(*) FROM {v.name} a WHERE a.valid_to_block IS NOT NULL AND NOT EXISTS "
                    f"(SELECT 1 FROM {v.name} b WHERE b.{t.primary_key.columns.keys()[0]} = "
                    f"a.{t.primary_key.columns.keys()[0]} AND b.valid_from_block = a.valid_to_block)"
                )
            ).scalar_one()
            assert gaps == 0, f"{name}: a closed version without its successor"


BAD = [
    ({"as_of_block": 5, "as_of": 5}, "not both"),
    ({"as_of_block": "first-1"}, "within"),
    ({"as_of_block": "head+1"}, "within"),
    ({"as_of": "head_time+1"}, "after the indexed block"),
    ({"as_of": "0"}, "before the first block"),
    ({"as_of": "1970-01-01"}, "before the first block"),
    ({"as_of_block": "-1"}, "invalid request"),
    ({"as_of_block": "x"}, "invalid request"),
    ({"as_of": "yesterday"}, "invalid request"),
    ({"as_of_block": str(2**63)}, "invalid request"),
]


@pytest.mark.parametrize("path", ["/v1/reports/ageing", "/v1/certificates/1/lineage", "/v1/members"])
def test_as_of_out_of_range_is_422(full: Full, path: str) -> None:
    head_time = full.times[full.head]
    subst = {"first-1": full.first - 1, "head+1": full.head + 1, "head_time+1": head_time + 1}
    for params, message in BAD:
        p = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
        r = full.client.get(path, params=p)
        assert r.status_code == 422, (p, r.text)
        body = r.json()
        assert set(body) == {"code", "message", "details"} and body["code"] == "VALIDATION_ERROR"
        assert message in body["message"], (p, body)
    # the bounds themselves are fine
    for p in ({"as_of_block": full.first}, {"as_of_block": full.head}, {"as_of": head_time}):
        assert full.client.get(path, params=p).status_code in (200, 404), p  # 404: not issued yet


def test_migration_0006_on_an_older_index(played: Any, databases: Any) -> None:
    """An index made before 0006: its history starts at its checkpoint block at the migration; as-of
    there and at every later block it indexes equals a fresh index stopped at that block, earlier
    is a 422."""
    from alembic import command

    url = databases.new()
    first = played.manifest.deployment_block
    head = played.scenario.w3.eth.block_number
    mid = (first + head) // 2
    ix = played.indexer(url, reorg_window=WINDOW)
    try:
        ix.sync(to_block=mid)
        ix.engine.dispose()
        command.downgrade(alembic_config(url), "0005")  # the schema before 0006 (history dropped)
        command.upgrade(alembic_config(url), "head")
        with ix.engine.connect() as conn:
            assert conn.execute(text("SELECT history_from_block FROM checkpoint")).scalar_one() == mid
            for name in STATE_TABLES:
                n_state = conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                n_open = conn.execute(
                    text(f"SELECT COUNT(*) FROM {name}_version WHERE valid_from_block = :b"), {"b": mid}
                ).scalar_one()
                assert n_state == n_open, name
        ix.sync()  # on to the head: versions from here on as usual
    finally:
        ix.close()
    full = Full.__new__(Full)
    full.system, full.url, full.first, full.head = played, url, mid, head
    full.client = _client(url)
    full.ix = played.indexer(url, reorg_window=WINDOW)
    with full.ix.engine.connect() as conn:
        full.members = list(conn.execute(text("SELECT address FROM member ORDER BY address")).scalars())
        full.certificates = conn.execute(text("SELECT COUNT(*) FROM certificate")).scalar_one()
        full.times = dict(conn.execute(text("SELECT number, timestamp FROM block")).all())
    try:
        r = full.client.get("/v1/reports/exposure", params={"as_of_block": mid - 1})
        assert r.status_code == 422 and "within" in r.json()["message"]
        for block in (mid, mid + 1, (mid + head) // 2, head):
            # the downgrade to 0005 dropped the market's and the invoices' tables (0008, 0009): they restart empty, as
            # for any index made before 0008_market (docs/indexer.md: re-index for the market)
            assert_as_of_equals_fresh(full, databases, block, market=False, invoices=False)
    finally:
        full.close()
