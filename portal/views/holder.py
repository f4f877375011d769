"""Suppliers and factors: holdings (incoming certificates to accept), pay with a split, offer to a
factor (with the quote), redeem; offers made / addressed to me, accept, cancel."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from portal import forms
from portal.errors import PortalError
from portal.views.common import gather_ok, my_operations
from portal.web import Ctx, Current, Posted, act, render, upload, write

router = APIRouter()
HOLDERS = ("supplier", "factor")


async def certificates(c: Ctx, ids: set[int]) -> dict[int, dict[str, Any]]:
    found = await gather_ok([c.get(f"/certificates/{i}") for i in sorted(ids)])
    return {int(x["certificate_id"]): x for x in found if x}


@router.get("/holdings")
async def holdings(c: Current) -> Response:
    c.need(*HOLDERS)
    me, hs = await asyncio.gather(c.get("/me"), c.get("/holdings"))
    certs = await certificates(c, {int(h["certificate_id"]) for h in hs})
    rows = [{**h, "cert": certs.get(int(h["certificate_id"]), {})} for h in hs]
    rows.sort(key=lambda r: (r["cert"].get("maturity", 0), int(r["token_id"])))
    incoming = [r for r in rows if r["cert"].get("status") == "pending"]
    held = [r for r in rows if r["cert"].get("status") != "pending"]
    by_day: dict[str, int] = defaultdict(int)
    for r in held:
        by_day[forms.day(r["cert"].get("maturity"))] += int(r["value"])
    return render(c.request, "holdings.html", c, me=me, incoming=incoming, held=held,
                  maturities=sorted(by_day.items()), total=sum(int(r["value"]) for r in held))


@router.post("/certificates/{certificate_id}/{decision}")
async def decide(certificate_id: int, decision: str, c: Posted) -> Response:
    c.need("supplier")
    if decision not in ("accept", "reject"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    return await act(c, "/holdings", lambda: write(c, f"/certificates/{certificate_id}/{decision}"))


@router.get("/holdings/{token_id}")
async def holding(token_id: int, c: Current) -> Response:
    c.need(*HOLDERS)
    h = await c.get(f"/holdings/{token_id}")
    cert = await c.get(f"/certificates/{h['certificate_id']}")
    expires = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%d")
    return render(c.request, "holding.html", c, h=h, cert=cert, default_expiry=expires)


@router.post("/holdings/{token_id}/pay")
async def pay(token_id: int, c: Posted, to: str = Form(""), amount: str = Form(""), document_ref: str = Form(""),
              document: UploadFile | None = File(None)) -> Response:
    """Split `amount` off the holding and pass it to a supplier, with the hash of the trade document."""
    c.need(*HOLDERS)

    async def call() -> dict[str, Any]:
        body = {"to": forms.parse_address(to, "to"), "value": forms.parse_amount(amount),
                "document_hash": forms.document_hash(await upload(document), document_ref)}
        return await write(c, f"/holdings/{token_id}/split-transfer", body)

    return await act(c, f"/holdings/{token_id}", call)


@router.get("/quote.json")
async def quote(c: Current, amount: str = "", rate: str = "", maturity: int = 0) -> Response:
    """The price a factor would pay now (the gateway's quote), for the offer form's preview."""
    try:
        q = await c.get("/financing/quote", value=forms.parse_amount(amount), rate_bps=forms.parse_rate_bps(rate),
                        maturity=maturity)
    except PortalError as exc:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)
    return JSONResponse({"price": forms.money(q["price"]), "days": q["days_to_maturity"]})


@router.post("/holdings/{token_id}/offer")
async def offer(token_id: int, c: Posted, factor: str = Form(""), amount: str = Form(""), rate: str = Form(""),
                expires: str = Form(""), recourse: str = Form(""), document_ref: str = Form(""),
                document: UploadFile | None = File(None)) -> Response:
    """Offer (part of) the holding to a named factor at an annual rate (today's financing API)."""
    c.need(*HOLDERS)

    async def call() -> dict[str, Any]:
        body = {"token_id": token_id, "value": forms.parse_amount(amount),
                "factor": forms.parse_address(factor, "factor"),
                "rate_bps": forms.parse_rate_bps(rate), "expires_at": forms.parse_date(expires, "expires"),
                "recourse": recourse == "on",
                "document_hash": forms.document_hash(await upload(document), document_ref)}
        return await write(c, "/financing/offers", body)

    return await act(c, f"/holdings/{token_id}", call)


@router.post("/holdings/{token_id}/redeem")
async def redeem(token_id: int, c: Posted) -> Response:
    c.need(*HOLDERS)
    return await act(c, f"/holdings/{token_id}", lambda: write(c, "/settlement/redeem", {"token_id": token_id}))


async def newest_offer_id(c: Ctx) -> int:
    """The highest offer id (offer ids count up from 1): exponential then binary search on
    GET /financing/offers/{id}, where 404 = not yet, 200/403 = exists."""

    async def exists(n: int) -> bool:
        try:
            await c.get(f"/financing/offers/{n}")
        except PortalError as exc:
            if exc.status == 404:
                return False
            if exc.status == 403:
                return True
            raise
        return True

    if not await exists(1):
        return 0
    lo = 1
    while await exists(lo * 2):
        lo *= 2
    hi = lo * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if await exists(mid) else (lo, mid)
    return lo


@router.get("/offers")
async def offers(c: Current, id: str = "") -> Response:
    """Seller: the offers I made (from my operations). Factor: the offers addressed to me among the
    newest `offer_scan` offers (the gateway lists no offers by factor yet), or one offer by number."""
    c.need(*HOLDERS)
    if c.role == "factor":
        top = await newest_offer_id(c)
        ids = list(range(top, max(0, top - c.settings.offer_scan), -1))
    else:
        ids = [int(op["result"]["offer_id"]) for op in await my_operations(c, "financing.create_offer")]
    looked_up = None
    if id.strip():
        looked_up = await c.get(f"/financing/offers/{forms.parse_int(id, 'offer')}")
    found = [o for o in await gather_ok([c.get(f"/financing/offers/{i}") for i in ids]) if o]
    me = (c.session.account or "").lower()
    mine = [o for o in found if me in (str(o["factor"]).lower(), str(o["seller"]).lower())]
    return render(c.request, "offers.html", c, offers=mine, looked_up=looked_up, scanned=len(ids))


@router.post("/offers/{offer_id}/{action}")
async def offer_action(offer_id: int, action: str, c: Posted) -> Response:
    if action not in ("accept", "cancel"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    c.need("factor") if action == "accept" else c.need(*HOLDERS)
    return await act(c, "/offers", lambda: write(c, f"/financing/offers/{offer_id}/{action}"))
