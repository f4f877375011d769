"""The controls' reports on a small hand-built book (rows inserted through the models into a fresh
database, both backends) against figures worked out by hand: invoice usage, abnormal splitting
(each threshold), deals with their registration, the regulator's export (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from test_indexer_market import assert_pages_agree

from indexer import aggregates, reports
from indexer.db import make_engine, upgrade
from indexer.models import (
    Block,
    Certificate,
    Checkpoint,
    FinancingDeal,
    FinancingOffer,
    HoldingTransfer,
    Invoice,
    InvoiceEvent,
)

HASH = "0x" + "11" * 32
REF = "0x" + "7e" * 32


def _addr(tag: str) -> str:
    return "0x" + tag * 20


A, S1, S2, S3, F, G = (_addr(t) for t in ("a1", "c1", "c2", "c3", "f1", "f2"))
ZERO = "0x" + "00" * 20
K1, K2, K3 = ("0x" + f"{n:064x}" for n in (1, 2, 3))

# key: (amount, used, closed, first registered at)
INVOICES = {K1: (1_000, 1_000, False, 100), K2: (500, 0, False, 300), K3: (800, 100, True, 200)}
# (block, log, kind, key, certificate, value, used after)
INVOICE_EVENTS = [
    (10, 0, "backed", K1, 1, 600, 600),
    (11, 0, "backed", K1, 2, 400, 1_000),
    (11, 1, "backed", K3, 2, 100, 100),
    (12, 0, "backed", K2, 3, 500, 500),
    (13, 0, "released", K2, 3, 500, 0),
    (14, 0, "closed", K3, 2, 0, 100),
]
# (time, kind, from token, to token, from owner, to owner, value): all of certificate 1
MOVES = [
    (900, "mint", 0, 1, ZERO, S1, 10_000),
    (1_000, "split", 1, 2, S1, S2, 5_000),
    (1_100, "split", 2, 5, S2, S3, 1_000),  # 100 s after token 2 arrived
    (1_200, "transfer", 5, 5, S3, F, 1_000),  # 100 s after token 5 arrived
    (1_250, "split", 5, 6, F, G, 500),  # 50 s after: a fast chain 1 -> 2 -> 5 -> F -> 6 of 4 hops
    (5_000, "split", 1, 3, S1, S3, 50),
    (9_000, "split", 1, 4, S1, S2, 2_000),
]


def _t(model: Any) -> Any:
    return model.__table__


def build(url: str) -> None:
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(_t(Certificate)), [
            {"id": cid, "debtor": A, "payee": payee, "first_token_id": cid, "face_value": face, "issued_at": 100 * cid,
             "maturity": 10**6, "status": status, "document_hash": HASH, "repaid_value": 0, "redeemed_value": 0,
             "issued_block": cid, "issued_tx": HASH, "updated_block": cid}
            for cid, payee, face, status in ((1, S1, 10_000, "active"), (2, S2, 500, "settled"),
                                             (3, S3, 500, "rejected"))
        ])
        conn.execute(insert(_t(Invoice)), [
            {"key": k, "amount": a, "used": u, "closed": c, "closed_at": 1_400 if c else None, "first_block": at // 10,
             "first_at": at, "updated_block": 14}
            for k, (a, u, c, at) in INVOICES.items()
        ])
        conn.execute(insert(_t(InvoiceEvent)), [
            {"block_number": b, "log_index": li, "tx_hash": HASH, "timestamp": b * 100, "kind": kind, "key": k,
             "certificate_id": cid, "amount": INVOICES[k][0], "value": v, "used": u}
            for b, li, kind, k, cid, v, u in INVOICE_EVENTS
        ])
        conn.execute(insert(_t(HoldingTransfer)), [
            {"block_number": 20 + i, "log_index": 0, "tx_hash": f"0x{i:064x}", "timestamp": ts, "kind": kind,
             "certificate_id": 1, "from_token_id": ft, "to_token_id": tt, "from_owner": fo, "to_owner": to,
             "value": v, "tier": 1}
            for i, (ts, kind, ft, tt, fo, to, v) in enumerate(MOVES)
        ])
        offers = [(1, 1, S1, F, 3_000, 2_900, REF), (2, 2, S2, G, 200, 195, None)]
        conn.execute(insert(_t(FinancingOffer)), [
            {"offer_id": o, "token_id": tok, "certificate_id": 1, "seller": s, "factor": f, "value": v, "price": p,
             "rate_bps": 500, "days_to_maturity": 30, "expires_at": 10**6, "recourse": o == 2, "document_hash": HASH,
             "status": "accepted", "created_block": 40, "created_tx": HASH, "created_at": 4_000, "closed_block": 41,
             "closed_tx": HASH, "registration_ref": ref, "registered_at": 4_200 if ref else None}
            for o, tok, s, f, v, p, ref in offers
        ])
        conn.execute(insert(_t(FinancingDeal)), [
            {"block_number": 41 + o, "log_index": 0, "tx_hash": HASH, "timestamp": 4_100, "offer_id": o,
             "certificate_id": 1, "token_id": tok, "new_token_id": 10 + o, "seller": s, "factor": f, "value": v,
             "price": p, "rate_bps": 500, "days_to_maturity": 30, "recourse": o == 2}
            for o, tok, s, f, v, p, _ in offers
        ])
        conn.execute(insert(_t(Block)), [{"number": 50, "hash": HASH, "timestamp": 10_000}])
        conn.execute(insert(_t(Checkpoint)), [{"id": 1, "chain_id": 1, "block_number": 50, "block_hash": HASH}])
        aggregates.rebuild(conn)  # rows written directly: the report aggregates from scratch
    engine.dispose()


@pytest.fixture
def client(report_api: Any) -> TestClient:
    client: TestClient = report_api(build)  # conftest: the API as an auditor on this module's rows
    return client


def get(client: TestClient, path: str, **params: Any) -> Any:
    resp = client.get(f"/v1/reports/{path}", params=params)
    assert resp.status_code == 200, resp.text
    if params.get("format") == "csv":
        assert resp.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(resp.text)))
    return resp.json()


def test_invoice_usage(client: TestClient) -> None:
    rep = get(client, "invoices")
    rows = {r["key"]: r for r in rep["items"]}
    assert [r["key"] for r in rep["items"]] == [K1, K3, K2]  # by first registration
    assert rows[K1] == {"key": K1, "amount": 1_000, "used": 1_000, "available": 0, "state": "used_up",
                             "certificate_count": 2, "certificates": "1:600 2:400", "first_block": 10,
                             "first_at": 100, "closed_at": None}
    assert (rows[K2]["state"], rows[K2]["available"], rows[K2]["certificates"]) == ("released", 500, "")
    assert (rows[K3]["state"], rows[K3]["available"], rows[K3]["certificates"]) == ("closed", 0, "2:100")
    assert rep["invoices"] == 3 and rep["total_used"] == 1_100
    assert {r["key"] for r in get(client, "invoices", certificate_id=2)["items"]} == {K1, K3}
    assert [r["key"] for r in get(client, "invoices", state="closed")["items"]] == [K3]
    assert [r["key"] for r in get(client, "invoices", key=K2.upper().replace("0X", "0x"))["items"]] == [K2]
    assert [r["key"] for r in get(client, "invoices", date_from=150, date_to=250)["items"]] == [K3]
    csv_rows = get(client, "invoices", format="csv")
    assert csv_rows[0]["key"] == K1 and csv_rows[0]["certificates"] == "1:600 2:400" and csv_rows[0]["used"] == "1000"
    assert csv_rows[0]["invoices"] == "3"  # the summary on every row


def _findings(client: TestClient, **params: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {f: [] for f in reports.FINDINGS}
    for r in get(client, "abnormal-splits", **params)["items"]:
        out[r["finding"]].append(r)
    return out


def test_abnormal_splits_defaults(client: TestClient) -> None:
    rep = get(client, "abnormal-splits")
    assert (rep["max_splits"], rep["min_value"], rep["max_seconds"], rep["min_hops"]) == (10, 10_000, 3_600, 3)
    f = _findings(client)
    assert f["many_splits"] == []
    assert sorted(r["token_id"] for r in f["small_value"]) == [2, 3, 4, 5, 6]  # every split is below 100.00
    [chain] = f["fast_chain"]
    assert (chain["hops"], chain["token_id"], chain["owner"], chain["from_owner"], chain["seconds"]) == (
        4, 6, G, S1, 250)
    assert chain["path"] == f"{S1}>{S2}#2 {S2}>{S3}#5 {S3}>{F}#5 {F}>{G}#6"
    assert (rep["many_splits_count"], rep["small_value_count"], rep["fast_chain_count"]) == (0, 5, 1)


def test_abnormal_splits_thresholds(client: TestClient) -> None:
    f = _findings(client, max_splits=2, min_value=100)
    [many] = f["many_splits"]
    assert (many["token_id"], many["splits"], many["value"], many["owner"]) == (1, 3, 7_050, S1)
    assert [r["token_id"] for r in f["small_value"]] == [3]
    assert _findings(client, max_splits=3)["many_splits"] == []  # more than N, not N
    # hops at most 60 s apart: only the transfer and the split 50 s after it
    assert _findings(client, max_seconds=60)["fast_chain"] == []
    [short] = _findings(client, max_seconds=60, min_hops=2)["fast_chain"]
    assert (short["hops"], short["seconds"], short["from_owner"]) == (2, 50, S3)
    assert _findings(client, min_hops=5)["fast_chain"] == []
    # a member's view: hops it sent or received
    g = _findings(client, member=G)
    assert [r["token_id"] for r in g["small_value"]] == [6] and len(g["fast_chain"]) == 1
    only = get(client, "abnormal-splits", finding="fast_chain", format="csv")
    assert [r["finding"] for r in only] == ["fast_chain"] and only[0]["small_value_count"] == "5"
    assert _findings(client, date_from=5_000)["fast_chain"] == []


def test_deals_with_registration(client: TestClient) -> None:
    rows = get(client, "deals")["items"]
    assert [(r["offer_id"], r["registration_ref"], r["registered"], r["registered_at"]) for r in rows] == [
        (1, REF, True, 4_200), (2, None, False, None)]
    assert [r["offer_id"] for r in get(client, "deals", registered="true")["items"]] == [1]
    assert [r["offer_id"] for r in get(client, "deals", registered="false", member=G)["items"]] == [2]
    assert_pages_agree(client, "/v1/reports/deals")
    assert_pages_agree(client, "/v1/reports/invoices")
    rep = get(client, "deals", format="csv")
    assert rep[0]["registration_ref"] == REF and rep[1]["registration_ref"] == "" and rep[0]["registered_deals"] == "1"


@pytest.mark.parametrize("registered", [None, "true", "false"])
def test_deal_counts_of_the_whole_book(client: TestClient, registered: str | None) -> None:
    """The whole book's counts (from the deals and the registered offers, without the join) are
    those of its rows and of the joined counts (a date filter takes that path)."""
    params = {} if registered is None else {"registered": registered}
    whole, joined = get(client, "deals", **params), get(client, "deals", **params, date_from=0)
    assert whole == joined
    items = whole["items"]
    assert whole["total"] == whole["deals"] == len(items) >= 1
    assert whole["registered_deals"] == sum(r["registered"] for r in items)


def test_regulator_layout(client: TestClient) -> None:
    for dataset, columns in reports.REGULATOR_COLUMNS.items():
        body = get(client, f"regulator/{dataset}")
        assert body["layout"] == "scf-regulator/1" and body["columns"] == list(columns)
        assert all(list(r) == list(columns) for r in body["rows"])
        resp = client.get(f"/v1/reports/regulator/{dataset}", params={"format": "csv", "date_from": 10**9})
        assert resp.status_code == 200 and resp.text.strip() == ",".join(columns)  # the header without rows
    certs = {r["certificate_id"]: r for r in get(client, "regulator/certificates")["rows"]}
    assert certs[2]["invoice_keys"] == f"{K1} {K3}" and certs[3]["invoice_keys"] == K2
    assert certs[1]["issued_at"] == "1970-01-01T00:01:40Z" and certs[1]["currency"] == "CNY"
    assert certs[1]["outstanding"] == 10_000
    page = get(client, "regulator/transfers", limit=3, offset=3)
    assert [r["timestamp"] for r in page["rows"]] == ["1970-01-01T00:20:00Z", "1970-01-01T00:20:50Z",
                                                       "1970-01-01T01:23:20Z"]
    assert page["next_offset"] == 6
    assert get(client, "regulator/transfers", limit=3, offset=6)["next_offset"] is None
    deals = get(client, "regulator/deals", format="csv")
    assert [(d["offer_id"], d["registration_ref"], d["recourse"]) for d in deals] == [
        ("1", REF, "False"), ("2", "", "True")]


@pytest.mark.parametrize(("path", "params"), [
    ("invoices", {"state": "lost"}),
    ("invoices", {"key": "0x12"}),
    ("abnormal-splits", {"min_hops": "1"}),
    ("abnormal-splits", {"min_value": "-1"}),
    ("abnormal-splits", {"finding": "odd"}),
    ("deals", {"registered": "perhaps"}),
    ("regulator/holdings", {}),
])
def test_bad_parameters_are_422(client: TestClient, path: str, params: dict[str, str]) -> None:
    resp = client.get(f"/v1/reports/{path}", params=params)
    assert resp.status_code == 422, resp.text
    assert set(resp.json()) == {"code", "message", "details"}


def test_openapi_declares_the_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("invoices", "abnormal-splits", "deals", "regulator/{dataset}"):
        answers = paths[f"/v1/reports/{path}"]["get"]["responses"]
        assert {"200", "401", "403", "404", "422"} <= set(answers), (path, answers)
    assert client.get("/v1/reports/invoices", headers={"X-API-Key": "wrong"}).status_code == 403
