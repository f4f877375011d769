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
from portal.views.common import gather_ok
from portal.web import Ctx, Current, Posted, act, render, upload, write

router = APIRouter()
HOLDERS = ("supplier", "factor")
ZERO = "0x" + "0" * 40  # an open offer's factor until it is taken
FOR_ME = {"for": "me"}  # the gateway's market lists are always the caller's (`?for=me`)


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
    deals = await factor_deals(c) if c.role == "factor" else []
    return render(c.request, "holdings.html", c, me=me, incoming=incoming, held=held, deals=deals,
                  maturities=sorted(by_day.items()), total=sum(int(r["value"]) for r in held))


async def factor_deals(c: Ctx) -> list[dict[str, Any]]:
    """The factor's deals (accepted offers it bought) with their recourse state and the status of
    the certificate behind them."""
    me = (c.session.account or "").lower()
    bought = [o for o in (await c.get("/financing/offers", **FOR_ME, status="accepted", limit=100))["items"]
              if str(o["factor"]).lower() == me]
    deals = await gather_ok([c.get(f"/financing/deals/{o['offer_id']}") for o in bought])
    held = await gather_ok([c.get(f"/holdings/{d['new_token_id']}") if d else _none() for d in deals])
    certs = await certificates(c, {int(h["certificate_id"]) for h in held if h})
    out = []
    for o, d, h in zip(bought, deals, held, strict=True):
        # a deal the gateway cannot read any more (e.g. its holding redeemed) still shows as bought
        cert = certs.get(int(h["certificate_id"]), {}) if h else {}
        out.append({**o, "new_token_id": None, "recourse_status": None, **(d or {}),
                    "certificate_id": cert.get("certificate_id"), "cert_status": cert.get("status"),
                    "maturity": cert.get("maturity")})
    return out


async def _none() -> None:
    return None


@router.post("/deals/{offer_id}/{action}")
async def recourse(offer_id: int, action: str, c: Posted) -> Response:
    """The factor makes the seller buy back the holding of an overdue deal (or settles an unpaid claim)."""
    c.need("factor")
    if action not in ("recourse", "settle-recourse"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    return await act(c, "/holdings", lambda: write(c, f"/financing/deals/{offer_id}/{action}"))


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
    now = datetime.now(UTC)
    return render(c.request, "holding.html", c, h=h, cert=cert,
                  default_expiry=(now + timedelta(days=7)).strftime("%Y-%m-%d"),
                  default_deadline=(now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))


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


@router.post("/holdings/{token_id}/open-offer")
async def open_offer(token_id: int, c: Posted, factors: str = Form(""), amount: str = Form(""), rate: str = Form(""),
                     expires: str = Form(""), recourse: str = Form(""), document_ref: str = Form(""),
                     document: UploadFile | None = File(None)) -> Response:
    """Offer (part of) the holding to every active factor (no list) or to the listed ones; the first
    invited factor to accept gets it."""
    c.need(*HOLDERS)

    async def call() -> dict[str, Any]:
        body = {"token_id": token_id, "value": forms.parse_amount(amount), "factors": forms.parse_accounts(factors),
                "rate_bps": forms.parse_rate_bps(rate), "expires_at": forms.parse_date(expires, "expires"),
                "recourse": recourse == "on",
                "document_hash": forms.document_hash(await upload(document), document_ref)}
        return await write(c, "/financing/open-offers", body)

    return await act(c, f"/holdings/{token_id}", call)


@router.post("/holdings/{token_id}/quote-request")
async def quote_request(token_id: int, c: Posted, amount: str = Form(""), deadline: str = Form(""),
                        recourse: str = Form(""), document_ref: str = Form(""),
                        document: UploadFile | None = File(None)) -> Response:
    """Ask every active factor for a quote on (part of) the holding until the deadline (RFQ)."""
    c.need(*HOLDERS)

    async def call() -> dict[str, Any]:
        body = {"token_id": token_id, "value": forms.parse_amount(amount),
                "deadline": forms.parse_moment(deadline, "deadline"), "recourse": recourse == "on",
                "document_hash": forms.document_hash(await upload(document), document_ref)}
        return await write(c, "/financing/quote-requests", body)

    return await act(c, f"/holdings/{token_id}", call)


@router.post("/holdings/{token_id}/redeem")
async def redeem(token_id: int, c: Posted) -> Response:
    c.need(*HOLDERS)
    return await act(c, f"/holdings/{token_id}", lambda: write(c, "/settlement/redeem", {"token_id": token_id}))


@router.get("/offers")
async def offers(c: Current, id: str = "") -> Response:
    """The gateway's list for the caller (`GET /financing/offers?for=me`): a seller's offers, the
    offers addressed to a factor and the open offers it is invited to; or one offer by number."""
    c.need(*HOLDERS)
    looked_up = None
    if id.strip():
        looked_up = await c.get(f"/financing/offers/{forms.parse_int(id, 'offer')}")
    listed = (await c.get("/financing/offers", **FOR_ME, limit=100))["items"]
    me = (c.session.account or "").lower()
    mine = [o for o in listed if c.role != "factor" or str(o["factor"]).lower() in (me, ZERO)]
    return render(c.request, "offers.html", c, offers=mine, looked_up=looked_up, zero=ZERO)


@router.post("/offers/{offer_id}/{action}")
async def offer_action(offer_id: int, action: str, c: Posted, back: str = Form("/offers")) -> Response:
    if action not in ("accept", "cancel"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    c.need("factor") if action == "accept" else c.need(*HOLDERS)
    to = back if back in ("/offers", "/market") else "/offers"
    return await act(c, to, lambda: write(c, f"/financing/offers/{offer_id}/{action}"))
