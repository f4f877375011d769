"""Operator: onboard members (the new member's API key shown once), credit lines, judicial freeze /
release, pause / unpause. The settlement currency is the clearing agent's (views/clearing.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from portal import forms
from portal.errors import PortalError, invalid
from portal.views.common import gather_ok, my_operations
from portal.web import Current, Posted, act, render, upload, write

router = APIRouter()
ROLES = ("supplier", "core_enterprise", "factor", "auditor", "clearing_agent")


@router.get("/operator")
async def operator(c: Current, account: str = "") -> Response:
    c.need("operator")
    info = await c.get("/system/info")
    onboarded = (await my_operations(c, "members.onboard"))[:50]
    states = await gather_ok([c.get(f"/members/{op['args']['account']}") for op in onboarded])
    members = [{**(m or {}), "account": op["args"]["account"], "label": op["args"].get("label", ""),
                "role": op["args"].get("role")} for op, m in zip(onboarded, states, strict=True)]
    found = await c.get(f"/members/{forms.parse_address(account)}") if account.strip() else None
    return render(c.request, "operator.html", c, info=info, members=members, found=found, roles=ROLES)


@router.post("/operator/onboard")
async def onboard(c: Posted, role: str = Form(""), label: str = Form(""), kyc_ref: str = Form(""),
                  kyc_file: UploadFile | None = File(None)) -> Response:
    """Onboard after KYC; the answer carries the member's API key, shown on this page only."""
    c.need("operator")
    try:
        if role not in ROLES:
            raise invalid("role: choose a role", field="role", value=role)
        body = {"role": role, "label": label.strip()[:100],
                "kyc_hash": forms.document_hash(await upload(kyc_file), kyc_ref, "kyc")}
        out = await write(c, "/members", body)
    except PortalError as exc:
        c.session.flash.append({"error": exc.as_dict()})
        return await operator(c)
    return render(c.request, "onboarded.html", c, out=out, label=body["label"], role=role)


@router.post("/operator/credit")
async def credit(c: Posted, account: str = Form(""), amount: str = Form("")) -> Response:
    c.need("operator")

    async def call() -> dict[str, Any]:
        who = forms.parse_address(account)
        return await write(c, f"/members/{who}/credit-limit", {"limit": forms.parse_amount(amount)}, method="PUT")

    return await act(c, "/operator", call)


@router.post("/operator/{action}-holding")
async def freeze(action: str, c: Posted, token_id: str = Form(""), reason: str = Form("")) -> Response:
    c.need("operator")
    if action not in ("freeze", "unfreeze"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)

    async def call() -> dict[str, Any]:
        token = forms.parse_int(token_id, "holding")
        return await write(c, f"/holdings/{token}/{action}", {"reason_hash": forms.text_hash(reason, "reason")})

    return await act(c, "/operator", call)


@router.post("/operator/{action}")
async def pause(action: str, c: Posted) -> Response:
    c.need("operator")
    if action not in ("pause", "unpause"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    return await act(c, "/operator", lambda: write(c, f"/system/{action}"))
