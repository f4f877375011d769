"""Dual control: the approvals inbox (a checker approves or rejects its member's operations with a
reason; every user of the member sees them and the decisions) and the member admin's screen (users
with their API key shown once, revocation, the approval policy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from portal import forms, i18n
from portal.errors import PortalError, invalid
from portal.web import Ctx, Current, Posted, act, render

router = APIRouter()
MEMBER_ROLES = ("operator", "core_enterprise", "supplier", "factor")
USER_ROLES = ("maker", "checker", "admin")
STATES = ("awaiting_approval", "rejected", "expired", "confirmed")
# the kinds offered in the policy form (any kind the gateway knows may be typed)
KINDS = ("certificates.issue", "holdings.split_transfer", "settlement.repay", "financing.create_offer",
         "settlement.offer_early_payment", "currency.mint", "members.set_credit_limit")


def need_admin(c: Ctx) -> None:
    c.need(*MEMBER_ROLES)
    if c.session.user_role != "admin":
        raise PortalError("FORBIDDEN", i18n.t(c.lang, "err_admin"), {"user_role": c.session.user_role}, 403)


@router.get("/approvals")
async def inbox(c: Current, state: str = "awaiting_approval") -> Response:
    c.need(*MEMBER_ROLES)
    state = state if state in STATES else "awaiting_approval"
    items = await c.get("/approvals", state=state)
    log = await c.get("/approvals/log", limit=50)
    policy = await c.get("/approval-policy")
    return render(c.request, "approvals.html", c, items=items, log=log, rules=policy["rules"], state=state,
                  states=STATES, checker=c.session.user_role == "checker")


@router.post("/approvals/{operation_id}/{verdict}")
async def decide(operation_id: str, verdict: str, c: Posted, reason: str = Form("")) -> Response:
    c.need(*MEMBER_ROLES)
    if verdict not in ("approve", "reject"):
        raise PortalError("NOT_FOUND", "no such action", {}, 404)
    return await act(c, "/approvals", lambda: c.api.write(c.key, f"/operations/{operation_id}/{verdict}",
                                                          {"reason": reason.strip()[:500]}))


@router.get("/users")
async def users(c: Current) -> Response:
    return await users_page(c)


async def users_page(c: Ctx, created: dict[str, Any] | None = None) -> Response:
    need_admin(c)
    rows = await c.get("/users")
    policy = await c.get("/approval-policy")
    return render(c.request, "users.html", c, users=rows, rules=policy["rules"], roles=USER_ROLES, kinds=KINDS,
                  created=created)


async def _or_flash(c: Ctx, call: Any) -> Any:
    try:
        return await call
    except PortalError as exc:
        c.session.flash.append({"error": exc.as_dict()})
        return None


@router.post("/users")
async def create_user(c: Posted, label: str = Form(""), role: str = Form("")) -> Response:
    """A new user of the member; its API key is shown on this page only."""
    need_admin(c)
    created = await _or_flash(c, c.api.write(c.key, "/users", {"label": label.strip()[:100], "role": role}))
    return await users_page(c, created)


@router.post("/users/{user_id}/revoke")
async def revoke_user(user_id: str, c: Posted) -> Response:
    need_admin(c)
    await _or_flash(c, c.api.write(c.key, f"/users/{forms.parse_int(user_id, 'user')}", method="DELETE"))
    return RedirectResponse("/users", status_code=303)


async def _put_rules(c: Ctx, rules: list[dict[str, Any]]) -> None:
    await _or_flash(c, c.api.write(c.key, "/approval-policy", {"rules": rules}, method="PUT"))


@router.post("/users/policy")
async def add_rule(c: Posted, kind: str = Form(""), min_amount: str = Form(""), approvals: str = Form("1")) -> Response:
    """Adds a rule to the member's policy (amounts typed in ¥, blank: every operation of the kind)."""
    need_admin(c)
    try:
        if not kind.strip():
            raise invalid("kind: choose an operation kind", field="kind")
        rule = {"kind": kind.strip(), "approvals": forms.parse_int(approvals, "approvals"),
                "min_amount": forms.parse_amount(min_amount, "min_amount") if min_amount.strip() else None}
    except PortalError as exc:
        c.session.flash.append({"error": exc.as_dict()})
        return RedirectResponse("/users", status_code=303)
    rules = (await c.get("/approval-policy"))["rules"]
    await _put_rules(c, [*rules, rule])
    return RedirectResponse("/users", status_code=303)


@router.post("/users/policy/{index}/remove")
async def remove_rule(index: int, c: Posted) -> Response:
    need_admin(c)
    rules = (await c.get("/approval-policy"))["rules"]
    await _put_rules(c, [r for i, r in enumerate(rules) if i != index])
    return RedirectResponse("/users", status_code=303)
