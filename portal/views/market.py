"""The financing market through the gateway's market API. Supplier: quote requests and their
quotes (accept one), early-payment offers from the debtor (accept), standing programmes (take).
Factor: open offers it is invited to (accept), quote requests (quote, withdraw). Core enterprise:
early-payment offers (make, cancel) and programmes (open, close)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from portal import forms
from portal.errors import PortalError
from portal.views.common import gather_ok, newest
from portal.views.holder import FOR_ME, HOLDERS, ZERO, certificates
from portal.web import Ctx, Current, Posted, act, render, write

router = APIRouter()
DETAILS = 20  # quote requests read with their quotes (one call each)


def same(a: Any, b: Any) -> bool:
    return str(a or "").lower() == str(b or "").lower()


def best_quote(quotes: list[dict[str, Any]]) -> int | None:
    """The open quote that pays the seller most (highest price, then the earliest quote)."""
    open_ = [q for q in quotes if q.get("status") == "open"]
    if not open_:
        return None
    return int(max(open_, key=lambda q: (int(q["price"]), -int(q["quote_id"])))["quote_id"])


def takeable(programmes: list[dict[str, Any]], holdings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open programmes with budget left, each with the caller's holdings of that debtor's
    certificates that it could sell into it (not frozen, certificate active)."""
    out = []
    for p in programmes:
        if not p.get("open") or int(p.get("remaining") or 0) == 0:
            continue
        mine = [h for h in holdings if same(h["cert"].get("debtor"), p["debtor"]) and not h.get("frozen")
                and h["cert"].get("status") == "active"]
        out.append({**p, "holdings": mine})
    return out


async def requests_with_quotes(c: Ctx, **params: Any) -> list[dict[str, Any]]:
    """The caller's quote requests (a factor: every request), newest first, each with the quotes the
    gateway shows the caller (`quotes_visible`: `own` before the deadline for a factor, else `all`)."""
    listed = (await c.get("/financing/quote-requests", **FOR_ME, limit=DETAILS, **params))["items"]
    found = await gather_ok([c.get(f"/financing/quote-requests/{r['request_id']}") for r in listed])
    return [{**r, "best": best_quote(r["quotes"])} for r in found if r]


@router.get("/market")
async def market(c: Current) -> Response:
    c.need(*HOLDERS)
    if c.role == "factor":
        return await _factor(c)
    return await _supplier(c)


async def _factor(c: Ctx) -> Response:
    offers, quotable, requests = await asyncio.gather(
        c.get("/financing/offers", **FOR_ME, status="open", limit=100),
        c.get("/financing/quote-requests", **FOR_ME, status="open", limit=100),
        requests_with_quotes(c),
    )
    open_offers = [o for o in offers["items"] if same(o["factor"], ZERO)]  # the gateway lists those I'm invited to
    return render(c.request, "market.html", c, open_offers=open_offers, requests=requests,
                  quotable={int(r["request_id"]) for r in quotable["items"]})


async def _supplier(c: Ctx) -> Response:
    hs, requests, early, programmes = await asyncio.gather(
        c.get("/holdings"), requests_with_quotes(c),
        newest(c, "/settlement/early-payments/{}", c.settings.market_scan),
        newest(c, "/settlement/programmes/{}", c.settings.market_scan),
    )
    certs = await certificates(c, {int(h["certificate_id"]) for h in hs})
    holdings = [{**h, "cert": certs.get(int(h["certificate_id"]), {})} for h in hs]
    return render(c.request, "market.html", c, requests=requests,
                  early=[e for e in early if e["status"] == "open"], programmes=takeable(programmes, holdings))


# --- supplier -----------------------------------------------------------------------------------


@router.post("/market/quotes/{quote_id}/accept")
async def accept_quote(quote_id: int, c: Posted) -> Response:
    c.need(*HOLDERS)
    return await act(c, "/market", lambda: write(c, f"/financing/quotes/{quote_id}/accept"))


@router.post("/market/requests/{request_id}/cancel")
async def cancel_request(request_id: int, c: Posted) -> Response:
    c.need(*HOLDERS)
    return await act(c, "/market", lambda: write(c, f"/financing/quote-requests/{request_id}/cancel"))


@router.post("/market/early-payments/{early_id}/accept")
async def accept_early(early_id: int, c: Posted) -> Response:
    c.need(*HOLDERS)
    return await act(c, "/market", lambda: write(c, f"/settlement/early-payments/{early_id}/accept"))


@router.post("/market/programmes/{programme_id}/take")
async def take(programme_id: int, c: Posted, token_id: str = Form(""), amount: str = Form("")) -> Response:
    c.need(*HOLDERS)

    async def call() -> dict[str, Any]:
        body = {"token_id": forms.parse_int(token_id, "holding"), "value": forms.parse_amount(amount)}
        return await write(c, f"/settlement/programmes/{programme_id}/take", body)

    return await act(c, "/market", call)


# --- factor ---------------------------------------------------------------------------------------


@router.post("/market/requests/{request_id}/quote")
async def submit_quote(request_id: int, c: Posted, rate: str = Form("")) -> Response:
    c.need("factor")

    async def call() -> dict[str, Any]:
        return await write(c, f"/financing/quote-requests/{request_id}/quotes",
                           {"rate_bps": forms.parse_rate_bps(rate)})

    return await act(c, "/market", call)


@router.post("/market/quotes/{quote_id}/withdraw")
async def withdraw_quote(quote_id: int, c: Posted) -> Response:
    c.need("factor")
    return await act(c, "/market", lambda: write(c, f"/financing/quotes/{quote_id}/withdraw"))


# --- core enterprise: early payment ----------------------------------------------------------------


@router.get("/early")
async def early(c: Current) -> Response:
    c.need("core_enterprise")
    offers, programmes = await asyncio.gather(
        newest(c, "/settlement/early-payments/{}", c.settings.market_scan),
        newest(c, "/settlement/programmes/{}", c.settings.market_scan),
    )
    me = c.session.account
    return render(c.request, "early.html", c, offers=[o for o in offers if same(o["debtor"], me)],
                  programmes=[p for p in programmes if same(p["debtor"], me)])


@router.post("/early/offer")
async def offer_early(c: Posted, token_id: str = Form(""), amount: str = Form(""), rate: str = Form(""),
                      expires: str = Form("")) -> Response:
    """Offer to pay (part of) a holding of one of my certificates now, at a discount rate."""
    c.need("core_enterprise")

    async def call() -> dict[str, Any]:
        body = {"token_id": forms.parse_int(token_id, "holding"), "value": forms.parse_amount(amount),
                "rate_bps": forms.parse_rate_bps(rate), "expires_at": forms.parse_date(expires, "expires")}
        return await write(c, "/settlement/early-payments", body)

    return await act(c, "/early", call)


@router.post("/early/programme")
async def open_programme(c: Posted, rate: str = Form(""), budget: str = Form("")) -> Response:
    c.need("core_enterprise")

    async def call() -> dict[str, Any]:
        body = {"rate_bps": forms.parse_rate_bps(rate), "budget": forms.parse_amount(budget, "budget")}
        return await write(c, "/settlement/programmes", body)

    return await act(c, "/early", call)


@router.post("/early/{what}/{item_id}/{action}")
async def early_action(what: str, item_id: int, action: str, c: Posted) -> Response:
    c.need("core_enterprise")
    paths = {("offers", "cancel"): "/settlement/early-payments/{}/cancel",
             ("programmes", "close"): "/settlement/programmes/{}/close"}
    path = paths.get((what, action))
    if path is None:
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    return await act(c, "/early", lambda: write(c, path.format(item_id)))
