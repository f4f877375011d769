"""Auditor (the indexer's auditor API): dashboard of exposure, ageing, tiers, financing,
concentration and overdue, the market, rates, early payments, recourse, invoice usage and abnormal
splitting as tables (charts where they help) with their CSV, the regulator's export, certificates,
the lineage tree."""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
from collections.abc import Iterator
from csv import reader as csv_reader
from typing import IO, Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from portal import forms
from portal.charts import bars
from portal.errors import PortalError
from portal.web import Current, render

router = APIRouter()

# Each report on the dashboard: (the auditor API's path, its fixed parameters). The CSV link of a
# screen is the auditor API's own CSV of the same report, filters and moment.
REPORTS: dict[str, tuple[str, dict[str, Any]]] = {
    "exposure": ("/v1/reports/exposure", {}),
    "ageing": ("/v1/reports/ageing", {}),
    "tiers": ("/v1/reports/tiers", {}),
    "financing": ("/v1/reports/financing", {}),
    "concentration": ("/v1/reports/concentration", {"by": "holder", "top": 10}),
    "market": ("/v1/reports/market", {}),
    "rates-tier": ("/v1/reports/rates", {"by": "tier"}),
    "rates-factor": ("/v1/reports/rates", {"by": "factor"}),
    "early-payments": ("/v1/reports/early-payments", {}),
    "recourse": ("/v1/reports/recourse", {}),
    "invoices": ("/v1/reports/invoices", {}),
    "abnormal-splits": ("/v1/reports/abnormal-splits", {}),
    "certificates": ("/v1/certificates", {}),
}
NO_MEMBER = ("invoices",)  # invoice usage has no member filter
REGULATOR = ("certificates", "transfers", "deals")
THRESHOLDS = ("max_splits", "min_value", "max_seconds", "min_hops")
SPOOL_BYTES = 16 << 20  # a regulator export larger than this is spooled to a temporary file
CHUNK_BYTES = 1 << 16


def short(addr: Any) -> str:
    s = str(addr or "")
    return f"{s[:6]}…{s[-4:]}" if len(s) == 42 else s


def _as_of(as_of: str, as_of_block: str) -> dict[str, str]:
    """The auditor's "as of" choice, passed to every call of the auditor API: a block number wins
    over a moment (the API takes one of them); empty: now."""
    block = as_of_block.strip()
    if block:
        return {"as_of_block": str(forms.parse_int(block, "as_of_block"))}
    moment = as_of.strip()
    return {"as_of": moment} if moment else {}


def thresholds(max_splits: str = "", min_value: str = "", max_seconds: str = "", min_hops: str = "") -> dict[str, int]:
    """The abnormal-splitting thresholds typed (min_value in ¥, the others whole numbers); empty:
    the auditor API's defaults."""
    out: dict[str, int] = {}
    for name, text in (("max_splits", max_splits), ("max_seconds", max_seconds), ("min_hops", min_hops)):
        if text.strip():
            out[name] = forms.parse_int(text, name)
    if min_value.strip():
        out["min_value"] = forms.parse_amount(min_value, "min_value")
    return out


def params(report: str, f: dict[str, str], limits: dict[str, int]) -> dict[str, Any]:
    """The auditor API's parameters of `report` for the dashboard's filters `f` (dates, member, as
    of) and thresholds: the table shows up to 1,000 rows (certificates: 200); its CSV every row."""
    _, fixed = REPORTS[report]
    out: dict[str, Any] = {"date_from": f["date_from"], "date_to": f["date_to"], **fixed}
    out.update({k: f[k] for k in ("as_of", "as_of_block") if f.get(k)})
    if report == "certificates":
        return {**out, "debtor": f["member"], "limit": 200}
    if report not in NO_MEMBER:
        out["member"] = f["member"]
    if report == "abnormal-splits":
        out.update(limits)
    if report != "concentration":
        out["limit"] = 1000
    return out


@router.get("/audit")
async def dashboard(c: Current, date_from: str = "", date_to: str = "", member: str = "", as_of: str = "",
                    as_of_block: str = "", max_splits: str = "", min_value: str = "", max_seconds: str = "",
                    min_hops: str = "") -> Response:
    c.need("auditor")
    at = _as_of(as_of, as_of_block)
    limits = thresholds(max_splits, min_value, max_seconds, min_hops)
    f = {"date_from": date_from.strip(), "date_to": date_to.strip(), "member": member.strip().lower(), **at}
    names = list(REPORTS)
    answers = await asyncio.gather(*(c.audit(REPORTS[n][0], **params(n, f, limits)) for n in names))
    r: dict[str, Any] = dict(zip(names, answers, strict=True))
    exp = r["exposure"]["items"]
    charts = {
        "exposure": bars([(short(x["debtor"]), int(x["outstanding"])) for x in exp], "outstanding"),
        "overdue": bars([(short(x["debtor"]), int(x["matured_unpaid"])) for x in exp], "matured unpaid"),
        "ageing": bars([(b["bucket"], int(b["outstanding"])) for b in r["ageing"]["buckets"]], "ageing"),
        "tiers": bars([(f"T{x['tier']}", int(x["suppliers"])) for x in r["tiers"]["items"]], "suppliers per tier"),
        "financing": bars([(short(x["factor"]), int(x["volume"])) for x in r["financing"]["items"]], "financing"),
        "concentration": bars([(short(x["party"]), int(x["outstanding"]))
                               for x in r["concentration"]["top"]], "concentration"),
        "rates_tier": bars([(f"T{x['tier']}", round(x["avg_rate_bps"])) for x in r["rates-tier"]["items"]],
                           "average rate (bps) per tier"),
        "rates_factor": bars([(short(x["factor"]), round(x["avg_rate_bps"])) for x in r["rates-factor"]["items"]],
                             "average rate (bps) per factor"),
        "early": bars([(short(x["holder"]), int(x["discount"])) for x in r["early-payments"]["items"]],
                      "discount saved per holder"),
    }
    query = {k: v for k, v in f.items() if v}
    split_query = {**query, **{k: str(limits[k] if k != "min_value" else forms.money(limits[k]))
                               for k in limits}}
    used = {k: r["abnormal-splits"].get(k) for k in THRESHOLDS}
    return render(c.request, "audit.html", c, f=f, query=query, split_query=split_query, at=at,
                  as_of_text=as_of.strip(), as_of_block_text=as_of_block.strip(), exposure=r["exposure"],
                  ageing=r["ageing"], tiers=r["tiers"], financing=r["financing"], concentration=r["concentration"],
                  market=r["market"], rates_tier=r["rates-tier"], rates_factor=r["rates-factor"],
                  early=r["early-payments"], recourse=r["recourse"], invoices=r["invoices"],
                  splits=r["abnormal-splits"], used=used, certs=r["certificates"]["items"], charts=charts,
                  short=short, regulator=REGULATOR)


@router.get("/audit/csv/{report}")
async def csv(report: str, c: Current, date_from: str = "", date_to: str = "", member: str = "", as_of: str = "",
              as_of_block: str = "", max_splits: str = "", min_value: str = "", max_seconds: str = "",
              min_hops: str = "") -> Response:
    """The report on screen as CSV (same filters, same moment), straight from the auditor API: every
    row (``whole``), concentration's top N as asked."""
    c.need("auditor")
    if report not in REPORTS:
        raise PortalError("NOT_FOUND", "no such report", {"report": report}, 404)
    f = {"date_from": date_from, "date_to": date_to, "member": member.strip().lower(), **_as_of(as_of, as_of_block)}
    limits = thresholds(max_splits, min_value, max_seconds, min_hops)
    query = params(report, f, limits)
    paged = query.pop("limit", None) is not None
    body, disposition = await whole(c, REPORTS[report][0], "csv", query, 'attachment; filename="report.csv"',
                                    paged=paged)
    return _file(body, "text/csv", disposition)


@router.get("/audit/regulator/{dataset}.{fmt}")
async def regulator(dataset: str, fmt: str, c: Current, date_from: str = "", date_to: str = "", as_of: str = "",
                    as_of_block: str = "") -> Response:
    """The regulator's export (fixed layout, every row in chain order), CSV or JSON, for the
    dashboard's dates and moment: the auditor API's own answer when one page holds it all, else its
    pages (``export_page_rows`` each) joined, every page read at one block. The file is complete
    or not sent: an error on any page answers that error, not a truncated file."""
    c.need("auditor")
    if dataset not in REGULATOR or fmt not in ("csv", "json"):
        raise PortalError("NOT_FOUND", "no such export", {"dataset": dataset, "format": fmt}, 404)
    query = {"date_from": date_from, "date_to": date_to, **_as_of(as_of, as_of_block)}
    body, disposition = await whole(c, f"/v1/reports/regulator/{dataset}", fmt, query,
                                    f'attachment; filename="regulator-{dataset}.{fmt}"')
    return _file(body, "text/csv" if fmt == "csv" else "application/json", disposition)


def _file(body: bytes | IO[bytes], media: str, disposition: str) -> Response:
    if isinstance(body, bytes):
        return Response(body, media_type=media, headers={"Content-Disposition": disposition})
    return StreamingResponse(_chunks(body), media_type=media, headers={"Content-Disposition": disposition})


async def whole(c: Current, path: str, fmt: str, query: dict[str, Any], disposition: str,
                paged: bool = True) -> tuple[bytes | IO[bytes], str]:
    """Every row of the auditor API's paged answer at `path` in `fmt` (csv, json: the regulator's
    layout), with the API's Content-Disposition (`disposition` when it sends none): the first page's
    bytes when it is the only one (or `paged` is false); else a file of every page read at one
    block (the block the auditor chose, else the first page's: CSV pages do not say it, so one more
    call asks), the CSV header once, the JSON rows in one list after the first page's other members
    (without its paging members). Complete or the error of the page that failed."""
    size = c.settings.export_page_rows
    first, disposition = await c.api.audit_file(c.key, path, fmt, disposition, **query,
                                                **({"limit": size, "offset": 0} if paged else {}))
    if not paged or _rows(first, fmt) < size:
        return first, disposition
    if "as_of_block" not in query:  # one block for every page, whatever is indexed meanwhile
        block = json.loads(first)["as_of_block"] if fmt == "json" else (await c.audit(path, **query, limit=1))[
            "as_of_block"]
        query = {**{k: v for k, v in query.items() if k != "as_of"}, "as_of_block": str(block)}
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by _chunks or here)
    try:
        offset, rows = 0, size
        while rows == size:
            page, _ = await c.api.audit_file(c.key, path, fmt, "", **query, limit=size, offset=offset)
            rows = _rows(page, fmt)
            if fmt == "csv":
                out.write(page if offset == 0 else page.split(b"\r\n", 1)[1])
            else:
                doc = json.loads(page)
                if offset == 0:
                    head_doc = {k: v for k, v in doc.items() if k not in ("rows", "limit", "offset", "next_offset")}
                    out.write(json.dumps(head_doc, separators=(",", ":")).encode()[:-1] + b',"rows":[')
                elif doc["rows"]:
                    out.write(b",")
                out.write(b",".join(json.dumps(r, separators=(",", ":")).encode() for r in doc["rows"]))
            offset += size
        if fmt == "json":
            out.write(b"]}")
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out, disposition


def _rows(page: bytes, fmt: str) -> int:
    """The rows of one page of an export (CSV: its records after the header; JSON: the regulator's
    layout, its `rows`)."""
    if fmt == "json":
        return len(json.loads(page)["rows"])
    return max(sum(1 for _ in csv_reader(io.StringIO(page.decode()))) - 1, 0)


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk
    finally:
        f.close()


@router.get("/audit/lineage/{certificate_id}")
async def lineage(certificate_id: int, c: Current, as_of: str = "", as_of_block: str = "") -> Response:
    c.need("auditor")
    at = _as_of(as_of, as_of_block)
    data = await c.audit(f"/v1/certificates/{certificate_id}/lineage", **at)
    txs: dict[str, dict[str, Any]] = {}

    def collect(nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            txs.setdefault(n["created_tx"], {"tx": n["created_tx"], "block": n["created_block"],
                                             "time": n["created_at"], "what": []})["what"].append(
                ("created", n["token_id"], n["owner"], n["initial_value"]))
            for t in n.get("transfers", []):
                txs.setdefault(t["tx_hash"], {"tx": t["tx_hash"], "block": t["block_number"], "time": t["timestamp"],
                                              "what": []})["what"].append(("moved", n["token_id"], t["to"], None))
            collect(n.get("children", []))

    collect(data["tree"])
    return render(c.request, "lineage.html", c, data=data, cert=data["certificate"], short=short, query=at,
                  txs=sorted(txs.values(), key=lambda x: (x["block"], x["tx"])), day=forms.day)


@router.get("/audit/lineage-csv/{certificate_id}")
async def lineage_csv(certificate_id: int, c: Current, as_of: str = "", as_of_block: str = "") -> Response:
    c.need("auditor")
    body, disposition = await c.api.audit_csv(c.key, f"/v1/certificates/{certificate_id}/lineage",
                                              **_as_of(as_of, as_of_block))
    return Response(body, media_type="text/csv", headers={"Content-Disposition": disposition})
