"""Clearing agent (the licensed bank): mint settlement currency against a deposit, burn it on a
withdrawal, look up a member's balance. The operator never does either (PBOC 2025: client money
moves through a licensed institution, not the platform)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from portal import forms
from portal.errors import PortalError
from portal.web import Current, Posted, act, render, write

router = APIRouter()


@router.get("/clearing")
async def clearing(c: Current, account: str = "") -> Response:
    c.need("clearing_agent")
    found = await c.get(f"/currency/balances/{forms.parse_address(account)}") if account.strip() else None
    recent = await c.get("/operations", state="confirmed", limit=50)  # the bank's own, newest first
    moves = [op for op in recent if op["kind"] in ("currency.mint", "currency.burn")]
    return render(c.request, "clearing.html", c, found=found, moves=moves)


@router.post("/clearing/{action}")
async def move(action: str, c: Posted, account: str = Form(""), amount: str = Form("")) -> Response:
    """Mint to (deposit) or burn from (withdrawal) a member's balance, signed with the bank's key."""
    c.need("clearing_agent")
    if action not in ("mint", "burn"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)

    async def call() -> dict[str, Any]:
        who, value = forms.parse_address(account), forms.parse_amount(amount)
        body = {"to": who, "amount": value} if action == "mint" else {"account": who, "amount": value}
        return await write(c, f"/currency/{action}", body)

    return await act(c, "/clearing", call)
