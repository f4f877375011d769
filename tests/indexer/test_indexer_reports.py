"""Every report on a small hand-built book (rows inserted directly through the models into a fresh
database, both backends), against figures computed by hand below."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from indexer import aggregates, reports
from indexer.db import make_engine, upgrade
from indexer.models import Block, Certificate, Checkpoint, FinancingDeal, Holding, HoldingTransfer, Member

DAY = 86_400
NOW = 1000 * DAY  # the newest indexed block's time: "now" of the reports


def _addr(tag: str) -> str:
    return "0x" + tag * 20


A, B = _addr("a1"), _addr("b2")  # core enterprises
S1, S2, S3 = _addr("c1"), _addr("c2"), _addr("c3")  # suppliers
F, G = _addr("f1"), _addr("f2")  # factors
ZERO = "0x" + "00" * 20
HASH = "0x" + "11" * 32

# id: (debtor, payee, face, issued days ago, maturity in days from now, status, repaid, redeemed, first token)
CERTS = {
    1: (A, S1, 1000, 100, 20, "active", 0, 0, 1),
    2: (A, S2, 500, 200, -40, "overdue", 200, 200, 4),  # partial repayment, paid out
    3: (B, S1, 2000, 50, 100, "active", 0, 0, 5),
    4: (B, S3, 300, 300, -10, "settled", 300, 300, 8),
    5: (B, S2, 400, 5, 200, "rejected", 0, 0, 9),
    6: (A, S3, 600, 150, -5, "active", 100, 0, 10),  # matured, not yet marked; repaid, not yet paid out
}
# token: (certificate, parent, owner now, tier now, value now, initial value, status, created days ago)
HOLDINGS = {
    1: (1, 0, S1, 1, 300, 1000, "live", 100),
    2: (1, 1, S3, 3, 300, 400, "live", 90),  # split to S2 at tier 2, moved whole to S3 (tier 3)
    3: (1, 1, F, 2, 300, 300, "live", 30),  # financing split: S1 sold 300 to F
    4: (2, 0, S1, 2, 300, 500, "live", 200),  # S2 moved it whole to S1 (tier 2); 200 redeemed
    5: (3, 0, S1, 1, 1200, 2000, "live", 50),
    6: (3, 5, S2, 2, 300, 800, "live", 40),
    7: (3, 6, G, 3, 500, 500, "live", 10),  # financing split: S2 sold 500 to G
    8: (4, 0, S3, 1, 0, 300, "burned", 300),
    9: (5, 0, S2, 1, 0, 400, "burned", 5),
    10: (6, 0, S2, 3, 600, 600, "live", 150),  # S3 -> S1 (tier 2) -> S2 (tier 3), whole
    11: (1, 2, F, 4, 100, 100, "live", 2),  # financing split: S3 sold 100 of token 2 to F
}
# (days ago, kind, certificate, from token, to token, from owner, to owner, value, tier after)
MOVES = [
    (300, "mint", 4, 0, 8, ZERO, S3, 300, 1),
    (200, "mint", 2, 0, 4, ZERO, S2, 500, 1),
    (190, "transfer", 2, 4, 4, S2, S1, 500, 2),
    (150, "mint", 6, 0, 10, ZERO, S3, 600, 1),
    (140, "transfer", 6, 10, 10, S3, S1, 600, 2),
    (130, "transfer", 6, 10, 10, S1, S2, 600, 3),
    (100, "mint", 1, 0, 1, ZERO, S1, 1000, 1),
    (90, "split", 1, 1, 2, S1, S2, 400, 2),
    (80, "transfer", 1, 2, 2, S2, S3, 400, 3),
    (50, "mint", 3, 0, 5, ZERO, S1, 2000, 1),
    (40, "split", 3, 5, 6, S1, S2, 800, 2),
    (30, "split", 1, 1, 3, S1, F, 300, 2),
    (20, "burn", 2, 4, 0, S1, ZERO, 200, 2),
    (10, "split", 3, 6, 7, S2, G, 500, 3),
    (10, "burn", 4, 8, 0, S3, ZERO, 300, 1),
    (5, "mint", 5, 0, 9, ZERO, S2, 400, 1),
    (4, "burn", 5, 9, 0, S2, ZERO, 400, 1),
    (2, "split", 1, 2, 11, S3, F, 100, 4),
]
# (days ago, certificate, token, new token, seller, factor, value, price, rate bps, days to maturity)
DEALS = [
    (30, 1, 1, 3, S1, F, 300, 290, 600, 20),
    (10, 3, 6, 7, S2, G, 500, 450, 1200, 100),
    (2, 1, 2, 11, S3, F, 100, 95, 900, 20),
]


def _t(model: Any) -> Any:
    return model.__table__


def build(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    roles = {A: "core_enterprise", B: "core_enterprise", S1: "supplier", S2: "supplier", S3: "supplier"}
    roles |= {F: "factor", G: "factor"}
    with engine.begin() as conn:
        conn.execute(
            insert(_t(Member)),
            [
                {"address": a, "role": r, "active": True, "kyc_hash": HASH}
                | {"onboarded_block": 1, "onboarded_at": 0, "updated_block": 1}
                for a, r in roles.items()
            ],
        )
        conn.execute(
            insert(_t(Certificate)),
            [
                {
                    "id": cid,
                    "debtor": d,
                    "payee": p,
                    "first_token_id": tok,
                    "face_value": face,
                    "issued_at": NOW - ago * DAY,
                    "maturity": NOW + due * DAY,
                    "status": st,
                    "document_hash": HASH,
                    "repaid_value": repaid,
                    "redeemed_value": redeemed,
                    "issued_block": 1,
                    "issued_tx": HASH,
                    "updated_block": 1,
                }
                for cid, (d, p, face, ago, due, st, repaid, redeemed, tok) in CERTS.items()
            ],
        )
        conn.execute(
            insert(_t(Holding)),
            [
                {
                    "token_id": tid,
                    "certificate_id": cid,
                    "owner": owner,
                    "value": value,
                    "initial_value": initial,
                    "parent_token_id": parent,
                    "tier": tier,
                    "status": st,
                    "created_block": 1,
                    "created_tx": HASH,
                    "created_at": NOW - ago * DAY,
                    "updated_block": 1,
                }
                for tid, (cid, parent, owner, tier, value, initial, st, ago) in HOLDINGS.items()
            ],
        )
        conn.execute(
            insert(_t(HoldingTransfer)),
            [
                {"block_number": i + 1, "log_index": 0, "tx_hash": HASH, "timestamp": NOW - ago * DAY}
                | {"kind": kind, "certificate_id": cid, "from_token_id": ft, "to_token_id": tt}
                | {"from_owner": fo, "to_owner": to, "value": v, "tier": tier}
                for i, (ago, kind, cid, ft, tt, fo, to, v, tier) in enumerate(MOVES)
            ],
        )
        conn.execute(
            insert(_t(FinancingDeal)),
            [
                {"block_number": 100 + i, "log_index": 0, "tx_hash": HASH, "timestamp": NOW - ago * DAY}
                | {"offer_id": i + 1, "certificate_id": cid, "token_id": tok, "new_token_id": new}
                | {"seller": s, "factor": f, "value": v, "price": p, "rate_bps": r, "days_to_maturity": days}
                | {"recourse": False}
                for i, (ago, cid, tok, new, s, f, v, p, r, days) in enumerate(DEALS)
            ],
        )
        conn.execute(insert(_t(Block)), [{"number": 200, "hash": HASH, "timestamp": NOW}])
        conn.execute(insert(_t(Checkpoint)), [{"id": 1, "chain_id": 1, "block_number": 200, "block_hash": HASH}])
        aggregates.rebuild(conn)  # rows written directly: the report aggregates computed as migration 0010 does
    engine.dispose()


@pytest.fixture
def client(report_api: Any) -> TestClient:
    client: TestClient = report_api(build)  # conftest: the API as an auditor on this module's rows
    return client


def get(client: TestClient, path: str, **params: Any) -> Any:
    resp = client.get(f"/v1/reports/{path}", params=params)
    assert resp.status_code == 200, resp.text
    if params.get("format") == "csv":
        return list(csv.DictReader(io.StringIO(resp.text)))
    return resp.json()


def direct(client: TestClient, fn: Any, **params: Any) -> Any:
    """A report function called in-process on the API's database."""
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        return fn(conn, **params)


def test_exposure(client: TestClient) -> None:
    rows = get(client, "exposure")["items"]
    # A: certificates 1, 2, 6. outstanding = face - redeemed of open ones: 1000 + 300 + 600;
    # unpaid = face - repaid: 1000 + 300 + 500; overdue = face - repaid of the marked one (2);
    # matured unpaid = certificates 2 and 6 (maturity passed): 300 + 500; deals 1 and 3 on certificate 1
    a = {
        "debtor": A,
        "certificates": 3,
        "issued": 2100,
        "outstanding": 1900,
        "unpaid_by_debtor": 1800,
        "repaid": 300,
        "redeemed": 200,
        "overdue": 300,
        "matured_unpaid": 800,
        "overdue_certificates": 1,
        "financed": 400,
        "financed_price": 385,
        "deals": 2,
    }
    # B: certificates 3, 4 (5 was rejected: not exposure)
    b = {
        "debtor": B,
        "certificates": 2,
        "issued": 2300,
        "outstanding": 2000,
        "unpaid_by_debtor": 2000,
        "repaid": 300,
        "redeemed": 300,
        "overdue": 0,
        "matured_unpaid": 0,
        "overdue_certificates": 0,
        "financed": 500,
        "financed_price": 450,
        "deals": 1,
    }
    assert rows == [a, b]
    # "today" before certificate 6's maturity: only 2 has matured (the API's "today" is the time of
    # the block reported: `as_of` selects a block, tests/indexer/test_indexer_asof.py)
    assert direct(client, reports.exposure, as_of=NOW - 20 * DAY)[0]["matured_unpaid"] == 300
    assert get(client, "exposure", member=B)["items"] == [b]
    # issued in the last 120 days: certificates 1 (A) and 3 (B)
    recent = get(client, "exposure", date_from=NOW - 120 * DAY)["items"]
    assert [(r["debtor"], r["issued"], r["outstanding"], r["deals"]) for r in recent] == [
        (A, 1000, 1000, 2),
        (B, 2000, 2000, 1),
    ]
    assert get(client, "exposure", date_from=0)["items"] == [a, b]
    page = get(client, "exposure", limit=1, offset=1)
    assert (page["items"], page["total"], page["next_offset"], page["as_of"]) == ([b], 2, None, NOW)
    assert get(client, "exposure", limit=1)["next_offset"] == 1
    rows_csv = get(client, "exposure", format="csv")
    assert [(r["debtor"], r["unpaid_by_debtor"], r["as_of"]) for r in rows_csv] == [
        (A, "1800", str(NOW)),
        (B, "2000", str(NOW)),
    ]


def test_tiers(client: TestClient) -> None:
    rows = get(client, "tiers")["items"]
    # arrivals at each tier (creations and whole transfers), by hand from MOVES:
    # tier 1: mints to S1 (1000, 2000), S2 (500, 400), S3 (300, 600);
    # tier 2: splits to S2 (400, 800) and F (300), whole moves to S1 (500, 600);
    # tier 3: whole moves to S3 (400) and S2 (600), split to G (500); tier 4: split to F (100).
    # value held now at each tier (live holdings): 1: 300 + 1200; 2: 300 + 300 + 300; 3: 300 + 500 + 600; 4: 100
    assert [
        (r["tier"], r["suppliers"], r["holders"], r["holdings"], r["value_received"], r["value_held"]) for r in rows
    ] == [
        (1, 3, 3, 6, 4800, 1500),
        (2, 2, 3, 5, 2600, 900),
        (3, 2, 3, 3, 1500, 1400),
        (4, 0, 1, 1, 100, 100),
    ]
    # debtor B: certificates 3, 4, 5
    b = get(client, "tiers", member=B)["items"]
    assert [(r["tier"], r["suppliers"], r["holders"], r["value_received"], r["value_held"]) for r in b] == [
        (1, 3, 3, 2700, 1200),
        (2, 1, 1, 800, 300),
        (3, 0, 1, 500, 500),
    ]
    # certificate 6 went S3 (tier 1) -> S1 (tier 2) -> S2 (tier 3) whole: each is reached once
    six = get(client, "tiers", certificate_id=6)["items"]
    assert [(r["tier"], r["suppliers"], r["value_received"], r["value_held"]) for r in six] == [
        (1, 1, 600, 0),
        (2, 1, 600, 0),
        (3, 1, 600, 600),
    ]
    assert get(client, "tiers", date_from=0)["items"] == rows
    assert get(client, "tiers", date_to=0)["items"] == []
    assert [r["tier"] for r in get(client, "tiers", date_from=NOW - 60 * DAY)["items"]] == [1, 2, 3]  # 3 and 5
    page = get(client, "tiers", limit=1, offset=1)
    assert ([r["tier"] for r in page["items"]], page["total"], page["next_offset"]) == ([2], 4, 2)
    assert [r["suppliers"] for r in get(client, "tiers", format="csv")] == ["3", "2", "2", "0"]


def test_financing(client: TestClient) -> None:
    rows = get(client, "financing")["items"]
    # F: 300 at 600 bps and 100 at 900 bps -> value-weighted (180000 + 90000) / 400 = 675
    f = {
        "factor": F,
        "deals": 2,
        "volume": 400,
        "paid": 385,
        "discount": 15,
        "avg_rate_bps": 675.0,
        "avg_rate_bps_simple": 750.0,
        "avg_days_to_maturity": 20.0,
        "sellers": 2,
    }
    g = {
        "factor": G,
        "deals": 1,
        "volume": 500,
        "paid": 450,
        "discount": 50,
        "avg_rate_bps": 1200.0,
        "avg_rate_bps_simple": 1200.0,
        "avg_days_to_maturity": 100.0,
        "sellers": 1,
    }
    assert rows == [f, g]
    assert get(client, "financing", member=G)["items"] == [g]  # as the factor
    assert [(r["factor"], r["volume"]) for r in get(client, "financing", member=S1)["items"]] == [(F, 300)]  # seller
    assert [(r["factor"], r["volume"]) for r in get(client, "financing", seller=S2)["items"]] == [(G, 500)]
    assert [(r["factor"], r["volume"]) for r in get(client, "financing", date_from=NOW - 5 * DAY)["items"]] == [
        (F, 100)
    ]
    assert get(client, "financing", date_to=NOW - 30 * DAY)["items"] == []
    page = get(client, "financing", limit=1)
    assert (page["items"], page["total"], page["next_offset"]) == ([f], 2, 1)
    assert [r["avg_rate_bps"] for r in get(client, "financing", format="csv")] == ["675.0", "1200.0"]


def _buckets(rep: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {b["bucket"]: (b["certificates"], b["outstanding"], b["marked_overdue"]) for b in rep["buckets"]}


def test_ageing(client: TestClient) -> None:
    rep = get(client, "ageing")
    assert rep["as_of"] == NOW and rep["total"] == 9
    # open: 1 due in 20 days (1000), 3 due in 100 (2000), 6 five days past (600), 2 forty days past, marked (300)
    assert _buckets(rep) == {
        "due 0-30d": (1, 1000, 0),
        "due 31-60d": (0, 0, 0),
        "due 61-90d": (0, 0, 0),
        "due 91-180d": (1, 2000, 0),
        "due >180d": (0, 0, 0),
        "overdue 1-30d": (1, 600, 0),
        "overdue 31-60d": (1, 300, 300),
        "overdue 61-90d": (0, 0, 0),
        "overdue >90d": (0, 0, 0),
    }
    a = {k: v for k, v in _buckets(get(client, "ageing", member=A)).items() if v[0]}
    assert a == {"due 0-30d": (1, 1000, 0), "overdue 1-30d": (1, 600, 0), "overdue 31-60d": (1, 300, 300)}
    recent = {k: v for k, v in _buckets(get(client, "ageing", date_from=NOW - 120 * DAY)).items() if v[0]}
    assert recent == {"due 0-30d": (1, 1000, 0), "due 91-180d": (1, 2000, 0)}
    # 50 days later: 1 is 30 days past, 3 due in 50, 6 is 55 days past, 2 is 90 days past
    later = {k: v for k, v in _buckets(direct(client, reports.ageing, as_of=NOW + 50 * DAY)).items() if v[0]}
    assert later == {
        "due 31-60d": (1, 2000, 0),
        "overdue 1-30d": (1, 1000, 0),
        "overdue 31-60d": (1, 600, 0),
        "overdue 61-90d": (1, 300, 300),
    }
    page = get(client, "ageing", limit=3, offset=6)
    assert [b["bucket"] for b in page["buckets"]] == ["overdue 31-60d", "overdue 61-90d", "overdue >90d"]
    assert page["next_offset"] is None and page["as_of"] == NOW
    rows = get(client, "ageing", format="csv")
    assert len(rows) == 9 and {r["as_of"] for r in rows} == {str(NOW)}


def test_concentration(client: TestClient) -> None:
    rep = get(client, "concentration")
    # open certificates: B 2000, A 1900 of 3900; HHI = (2000/39)^2 + (1900/39)^2
    assert rep["top"] == [
        {"rank": 1, "party": B, "outstanding": 2000, "share": round(2000 / 3900, 6)},
        {"rank": 2, "party": A, "outstanding": 1900, "share": round(1900 / 3900, 6)},
    ]
    assert (rep["parties"], rep["total_outstanding"], rep["top_n_share"], rep["hhi"]) == (2, 3900, 1.0, 5003.29)
    assert get(client, "concentration", top=1)["top_n_share"] == round(2000 / 3900, 6)
    # live holdings of open certificates: S1 300+300+1200, S2 300+600, G 500, F 300+100, S3 300
    holders = get(client, "concentration", by="holder")
    assert [(r["party"], r["outstanding"]) for r in holders["top"]] == [
        (S1, 1800),
        (S2, 900),
        (G, 500),
        (F, 400),
        (S3, 300),
    ]
    assert holders["hhi"] == 2991.45  # (1800² + 900² + 500² + 400² + 300²) / 3900² * 10000
    # certificates issued in the last 120 days: 1 (A, 1000) and 3 (B, 2000)
    recent = get(client, "concentration", date_from=NOW - 120 * DAY)
    assert (recent["total_outstanding"], recent["hhi"]) == (3000, 5555.56)
    assert get(client, "concentration", by="holder", member=A)["total_outstanding"] == 1900
    page = get(client, "concentration", by="holder", top=5, limit=2, offset=2)
    assert [r["party"] for r in page["top"]] == [G, F]
    assert (page["total"], page["next_offset"], page["parties"]) == (5, 4, 5)
    rows = get(client, "concentration", by="holder", top=2, format="csv")
    assert [r["party"] for r in rows] == [S1, S2]
    summary = {(r["hhi"], r["total_outstanding"], r["top_n_share"], r["parties"]) for r in rows}
    assert summary == {("2991.45", "3900", str(round(2700 / 3900, 6)), "5")}


def test_lineage_rows(client: TestClient) -> None:
    resp = client.get("/v1/certificates/1/lineage/rows")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # depth first: 1, its child 2 and 2's child 11, then 1's other child 3
    assert [r["token_id"] for r in body["items"]] == [1, 2, 11, 3]
    assert (body["holdings"], body["live_value"], body["max_tier"], body["total"]) == (4, 1000, 4, 4)
    page = client.get("/v1/certificates/1/lineage/rows", params={"limit": 2, "offset": 1}).json()
    assert [r["token_id"] for r in page["items"]] == [2, 11] and page["next_offset"] == 3
    owned = client.get("/v1/certificates/1/lineage/rows", params={"member": F}).json()
    assert [r["token_id"] for r in owned["items"]] == [11, 3]
    recent = client.get("/v1/certificates/1/lineage/rows", params={"date_from": NOW - 50 * DAY}).json()
    assert [r["token_id"] for r in recent["items"]] == [11, 3]
    rows = list(
        csv.DictReader(io.StringIO(client.get("/v1/certificates/1/lineage/rows", params={"format": "csv"}).text))
    )
    assert [r["token_id"] for r in rows] == ["1", "2", "11", "3"] and {r["live_value"] for r in rows} == {"1000"}
    assert client.get("/v1/certificates/99/lineage/rows").status_code == 404
    # every page is the depth-first walk of the tree (`/lineage`) filtered and sliced
    for cid in (1, 6):
        nodes = list(reports.walk_lineage(client.get(f"/v1/certificates/{cid}/lineage").json()["tree"]))
        for params in ({}, {"member": F}, {"date_from": NOW - 50 * DAY}, {"date_to": NOW}, {"limit": 1, "offset": 1},
                       {"member": S2, "limit": 1}):
            body = client.get(f"/v1/certificates/{cid}/lineage/rows", params=params).json()
            want = [reports.lineage_row(n) for n in nodes
                    if n["owner"] == params.get("member", n["owner"])
                    and params.get("date_from", 0) <= n["created_at"] < params.get("date_to", 2**62)]
            offset = int(params.get("offset", 0))
            assert (body["items"], body["total"]) == (want[offset : offset + int(params.get("limit", 100))], len(want))
    whole = list(csv.DictReader(io.StringIO(client.get("/v1/certificates/1/lineage", params={"format": "csv"}).text)))
    assert [(r["token_id"], r["holdings"], r["live_value"], r["max_tier"]) for r in whole] == [
        (t, "4", "1000", "4") for t in ("1", "2", "11", "3")
    ]
    tree = client.get("/v1/certificates/1/lineage").json()["tree"]
    assert tree[0]["transfers"] == [] and [c["token_id"] for c in tree[0]["children"]] == [2, 3]
    assert [(t["from"], t["to"]) for t in tree[0]["children"][0]["transfers"]] == [(S2, S3)]
    six = client.get("/v1/certificates/6/lineage").json()["tree"]
    assert [(t["from"], t["to"]) for t in six[0]["transfers"]] == [(S3, S1), (S1, S2)]


def test_migration_backfills_transfer_tiers(databases: Any) -> None:
    """0002 adds holding_transfer.tier to a populated 0001 database: each row's tier is recovered
    from the holding's current tier and the whole transfers after it."""
    from alembic import command
    from sqlalchemy import text

    from indexer.db import alembic_config

    url = databases.new()
    command.upgrade(alembic_config(url), "0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for tid, (cid, parent, owner, tier, value, initial, st, ago) in HOLDINGS.items():
                conn.execute(
                    text(
                        "INSERT INTO holding (token_id, certificate_id, owner, value, initial_value, parent_token_id, "
                        "tier, frozen, status, document_hash, created_block, created_tx, created_at, updated_block) "
                        "VALUES (:t, :c, :o, :v, :i, :p, :tier, false, :s, :h, 1, :h, :at, 1)"
                    ),
                    {"t": tid, "c": cid, "o": owner, "v": value, "i": initial, "p": parent, "tier": tier}
                    | {"s": st, "h": HASH, "at": NOW - ago * DAY},
                )
            for i, (ago, kind, cid, ft, tt, fo, to, v, _tier) in enumerate(MOVES):
                conn.execute(
                    text(
                        "INSERT INTO holding_transfer (block_number, log_index, tx_hash, timestamp, kind, "
                        "certificate_id, from_token_id, to_token_id, from_owner, to_owner, value) "
                        "VALUES (:b, 0, :h, :ts, :k, :c, :ft, :tt, :fo, :to, :v)"
                    ),
                    {"b": i + 1, "h": HASH, "ts": NOW - ago * DAY, "k": kind, "c": cid}
                    | {"ft": ft, "tt": tt, "fo": fo, "to": to, "v": v},
                )
        upgrade(url)
        with engine.connect() as conn:
            got = [r[0] for r in conn.execute(text("SELECT tier FROM holding_transfer ORDER BY block_number"))]
        assert got == [m[-1] for m in MOVES]
    finally:
        engine.dispose()
