"""The portal's files (`portal/views/auditor.py`: the regulator export, each report's CSV): every row,
not the auditor API's first page; all pages at one block; the CSV header once; an error on any page
answers that error, never a truncated file. The auditor API here is a stand-in whose data grows
with every request that does not pin a block (blocks indexed meanwhile)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.app import create_app
from portal.client import Api
from portal.settings import PortalSettings

COLUMNS = ("block_number", "log_index", "tx_hash", "value")
PAGE = 4
DATA = ("/v1/reports/regulator/transfers", "/v1/reports/tiers", "/v1/reports/concentration")


class Auditor:
    """`/v1/reports/regulator/transfers` and two reports (the same rows), paged by `limit`/`offset`:
    at block B, rows 0..B*3-1."""

    def __init__(self, block: int, fail_offset: int | None = None):
        self.block = block
        self.fail_offset = fail_offset
        self.pages: list[tuple[int, int | None]] = []  # (offset, as_of_block) of every page read

    def rows(self, block: int) -> list[dict[str, Any]]:
        return [{"block_number": i // 3, "log_index": i % 3, "tx_hash": f"0x{i:064x}", "value": i * 100}
                for i in range(block * 3)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "gw":
            raise httpx.ConnectError("refused")
        q = request.url.params
        if request.url.path not in DATA:
            return httpx.Response(200, json={"buckets": []})  # the login probe
        pinned = int(q["as_of_block"]) if "as_of_block" in q else None
        at = pinned if pinned is not None else self.block
        if pinned is None:
            self.block += 1  # a block indexed after this answer
        limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
        if offset == self.fail_offset and pinned is not None:
            return httpx.Response(503, json={"code": "DATABASE_UNAVAILABLE", "message": "gone", "details": {}})
        self.pages.append((offset, pinned))
        page = self.rows(at)[offset:offset + limit]
        if q.get("format") == "csv":
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(COLUMNS))
            w.writeheader()
            w.writerows(page)
            return httpx.Response(200, content=buf.getvalue().encode(), headers={"content-type": "text/csv"})
        return httpx.Response(200, json={
            "layout": "scf-regulator/1", "dataset": "transfers", "columns": list(COLUMNS), "rows": page,
            "limit": limit, "offset": offset, "next_offset": offset + limit if len(page) == limit else None,
            "as_of_block": at, "as_of_time": 1_700_000_000 + at})


def portal(auditor: Auditor) -> TestClient:
    s = PortalSettings(gateway_url="http://gw", auditor_url="http://aud", export_page_rows=PAGE)
    app = create_app(s)
    app.state.api = Api(s, transport=httpx.MockTransport(auditor))
    return TestClient(app, base_url="http://portal")


def login(client: TestClient) -> None:
    r = client.post("/login", data={"api_key": "aud-key"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/audit"


@settings(max_examples=30, deadline=None)
@given(block=st.integers(0, 7), fmt=st.sampled_from(["csv", "json", "report"]))
def test_every_row_at_one_block(block: int, fmt: str) -> None:
    auditor = Auditor(block)
    url = "/audit/csv/tiers" if fmt == "report" else f"/audit/regulator/transfers.{fmt}"
    fmt = "csv" if fmt == "report" else fmt
    with portal(auditor) as client:
        login(client)
        r = client.get(url)
    assert r.status_code == 200, r.text
    name = "report.csv" if url.endswith("tiers") else f"regulator-transfers.{fmt}"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert r.text.count("block_number") == 1  # the header once
        rows = [{k: int(v) if k != "tx_hash" else v for k, v in row.items()} for row in rows]
    else:
        doc = json.loads(r.content)
        rows = doc["rows"]
        assert doc["columns"] == list(COLUMNS) and doc["layout"] == "scf-regulator/1"
    if len(auditor.rows(block)) < PAGE:  # one page: the auditor API's own answer, at its block
        assert rows == auditor.rows(block) and auditor.pages == [(0, None)]
        return
    looks = 2 if fmt == "csv" else 1  # the first page, and for CSV a call that says its block
    assert [b for _, b in auditor.pages[:looks]] == [None] * looks
    pinned = {b for _, b in auditor.pages[looks:]}
    assert len(pinned) == 1 and None not in pinned  # every page after the first look: one block
    (at,) = pinned
    assert rows == auditor.rows(at)  # every row of that block, none twice, in chain order
    if fmt == "json":
        assert doc["as_of_block"] == at and not {"limit", "offset", "next_offset"} & set(doc)


def test_a_failing_page_answers_its_error_not_a_truncated_file() -> None:
    auditor = Auditor(5, fail_offset=2 * PAGE)
    with portal(auditor) as client:
        login(client)
        r = client.get("/audit/regulator/transfers.csv")
    assert r.status_code == 503 and "regulator-transfers" not in r.headers.get("content-disposition", "")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_moment_chosen_pins_every_page(fmt: str) -> None:
    auditor = Auditor(9)
    with portal(auditor) as client:
        login(client)
        r = client.get(f"/audit/regulator/transfers.{fmt}", params={"as_of_block": "3"})
    assert r.status_code == 200
    assert {b for _, b in auditor.pages} == {3} and auditor.block == 9  # never read unpinned


def test_concentration_is_its_top_n_not_paged() -> None:
    auditor = Auditor(9)
    with portal(auditor) as client:
        login(client)
        r = client.get("/audit/csv/concentration")
    assert r.status_code == 200 and auditor.pages == [(0, None)]  # one call, the API's own limit
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == 27
