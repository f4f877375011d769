"""Auditor (the indexer's auditor API): dashboard of exposure, ageing, tiers, financing,
concentration and overdue as charts with their figures, certificates, the lineage tree, CSV."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from portal import forms
from portal.charts import bars
from portal.errors import PortalError
from portal.web import Current, render

router = APIRouter()

# CSV export of what a screen shows: the auditor API's own CSV of the same report and filters
REPORTS = {
    "exposure": "/v1/reports/exposure",
    "ageing": "/v1/reports/ageing",
    "tiers": "/v1/reports/tiers",
    "financing": "/v1/reports/financing",
    "concentration": "/v1/reports/concentration",
    "certificates": "/v1/certificates",
}


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


@router.get("/audit")
async def dashboard(c: Current, date_from: str = "", date_to: str = "", member: str = "", as_of: str = "",
                    as_of_block: str = "") -> Response:
    c.need("auditor")
    at = _as_of(as_of, as_of_block)
    f = {"date_from": date_from.strip(), "date_to": date_to.strip(), "member": member.strip().lower(), **at}
    exposure, ageing, tiers, financing, concentration, certs = await asyncio.gather(
        c.audit(REPORTS["exposure"], **f, limit=1000),
        c.audit(REPORTS["ageing"], **f),
        c.audit(REPORTS["tiers"], **f, limit=1000),
        c.audit(REPORTS["financing"], **f, limit=1000),
        c.audit(REPORTS["concentration"], **f, by="holder", top=10),
        c.audit(REPORTS["certificates"], date_from=f["date_from"], date_to=f["date_to"], debtor=f["member"],
                limit=200, **at),
    )
    exp = exposure["items"]
    charts = {
        "exposure": bars([(short(r["debtor"]), int(r["outstanding"])) for r in exp], "outstanding"),
        "overdue": bars([(short(r["debtor"]), int(r["matured_unpaid"])) for r in exp], "matured unpaid"),
        "ageing": bars([(b["bucket"], int(b["outstanding"])) for b in ageing["buckets"]], "ageing"),
        "tiers": bars([(f"T{r['tier']}", int(r["suppliers"])) for r in tiers["items"]], "suppliers per tier"),
        "financing": bars([(short(r["factor"]), int(r["volume"])) for r in financing["items"]], "financing"),
        "concentration": bars([(short(r["party"]), int(r["outstanding"]))
                               for r in concentration["top"]], "concentration"),
    }
    query = {k: v for k, v in f.items() if v}
    return render(c.request, "audit.html", c, f=f, query=query, at=at, as_of_text=as_of.strip(),
                  as_of_block_text=as_of_block.strip(), exposure=exposure, ageing=ageing, tiers=tiers,
                  financing=financing, concentration=concentration, certs=certs["items"], charts=charts, short=short)


@router.get("/audit/csv/{report}")
async def csv(report: str, c: Current, date_from: str = "", date_to: str = "", member: str = "", as_of: str = "",
              as_of_block: str = "") -> Response:
    """The report on screen as CSV (same filters, same moment), straight from the auditor API."""
    c.need("auditor")
    at = _as_of(as_of, as_of_block)
    if report not in REPORTS:
        raise PortalError("NOT_FOUND", "no such report", {"report": report}, 404)
    params: dict[str, Any] = {"date_from": date_from, "date_to": date_to, "limit": 10_000, **at}
    if report == "certificates":
        params.update(debtor=member, limit=200)
    else:
        params["member"] = member
    if report == "concentration":
        params.update(by="holder", top=10)
    body, disposition = await c.api.audit_csv(c.key, REPORTS[report], **params)
    return Response(body, media_type="text/csv", headers={"Content-Disposition": disposition})


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
