"""Core enterprise: issue within the credit line, what I owe by maturity, repay."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from portal import forms
from portal.views.common import gather_ok, my_operations
from portal.web import Ctx, Current, Posted, act, render, upload, write

router = APIRouter()
OPEN = ("pending", "active", "overdue")
INVOICE_ROWS = 2  # the issue form's invoice rows (the second one optional)


async def invoices_required(c: Ctx) -> bool:
    """Whether the operator requires invoices for every certificate (the gateway's system info)."""
    return bool((await c.get("/system/info")).get("invoices_required"))


async def invoice_rows(c: Ctx) -> list[dict[str, str]]:
    """The issue form's invoice rows: field `invoice_<name>` repeated once per row."""
    form = await c.request.form()
    columns = {k: [str(v) for v in form.getlist(f"invoice_{k}")] for k in forms.INVOICE_FIELDS}
    return [{k: (vals[i] if i < len(vals) else "") for k, vals in columns.items()} for i in range(INVOICE_ROWS)]


@router.get("/core")
async def core(c: Current) -> Response:
    c.need("core_enterprise")
    me = await c.get("/me")
    issued = await my_operations(c, "certificates.issue")
    ids = [int(op["result"]["certificate_id"]) for op in issued]
    payees = {int(op["result"]["certificate_id"]): op["args"].get("payee") for op in issued}
    certs = await gather_ok([c.get(f"/certificates/{i}") for i in ids])
    accounts = await gather_ok([c.get(f"/settlement/certificates/{i}") for i in ids])
    owed: list[dict[str, Any]] = []
    for cert, acct in zip(certs, accounts, strict=True):
        if cert and acct and cert["status"] in OPEN:
            repaid = int(acct["repaid"])
            owed.append({**cert, "payee": payees.get(int(cert["certificate_id"])), "repaid": repaid,
                         "owed": int(cert["face_value"]) - repaid})
    owed.sort(key=lambda r: (r["maturity"], r["certificate_id"]))
    by_month: dict[str, int] = defaultdict(int)
    for r in owed:
        by_month[forms.day(r["maturity"])[:7]] += r["owed"]
    limit, used = int(me.get("credit_limit") or 0), int(me.get("credit_used") or 0)
    return render(c.request, "core.html", c, me=me, owed=owed, months=sorted(by_month.items()),
                  invoices_required=await invoices_required(c), invoice_rows=INVOICE_ROWS,
                  total_owed=sum(r["owed"] for r in owed), limit=limit, used=used, available=max(limit - used, 0))


@router.post("/core/issue")
async def issue(c: Posted, payee: str = Form(""), amount: str = Form(""), maturity: str = Form(""),
                document_ref: str = Form(""), document: UploadFile | None = File(None)) -> Response:
    c.need("core_enterprise")

    async def call() -> dict[str, Any]:
        body: dict[str, Any] = {
            "payee": forms.parse_address(payee, "payee"), "face_value": forms.parse_amount(amount),
            "maturity": forms.parse_date(maturity, "maturity"),
            "document_hash": forms.document_hash(await upload(document), document_ref)}
        invoices = forms.parse_invoices(await invoice_rows(c), await invoices_required(c))
        if invoices is not None:
            body["invoices"] = invoices
        return await write(c, "/certificates", body)

    return await act(c, "/core", call)


@router.post("/core/repay")
async def repay(c: Posted, certificate_id: str = Form(""), amount: str = Form("")) -> Response:
    c.need("core_enterprise")

    async def call() -> dict[str, Any]:
        body = {"certificate_id": forms.parse_int(certificate_id, "certificate"), "amount": forms.parse_amount(amount)}
        return await write(c, "/settlement/repay", body)

    return await act(c, "/core", call)
