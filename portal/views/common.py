"""Login, logout, language, the caller's operations (with live states), and reads shared by screens."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from portal import i18n
from portal.errors import PortalError
from portal.sessions import COOKIE
from portal.web import Ctx, Current, Posted, home_for, lang_of, render, sessions_of

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    s = sessions_of(request).get(request.cookies.get(COOKIE))
    return RedirectResponse(home_for(s) if s else "/login", status_code=303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login")
async def login(request: Request, api_key: str = Form(...)) -> Response:
    """The API key the gateway issued (or an auditor key of the indexer's API) opens a session."""
    key = api_key.strip()
    lang = lang_of(request)
    api = request.app.state.api
    role, account, user_role, error = "", None, "admin", None
    if key:
        try:
            me = await api.get(key, "/me")
            role, account = me["role"], me["account"]
            user_role = (me.get("user") or {}).get("role", "admin")
        except PortalError as exc:
            error = exc
        if not role:  # not the gateway's (or the gateway is down): an auditor key of the indexer's API?
            try:
                role = "auditor" if await api.auditor_accepts(key) else ""
            except PortalError as exc:
                error = error or exc
    if not role:  # the gateway's reason when it gave one (e.g. a key whose onboarding is not confirmed yet)
        if error is None or error.status == 403:
            error = PortalError("UNAUTHENTICATED", i18n.t(lang, "err_login"), {}, 401)
        return render(request, "login.html", status=error.status, error=error.as_dict())
    s = sessions_of(request).create(key, role, account, user_role)
    response = RedirectResponse(home_for(s), status_code=303)
    settings = request.app.state.settings
    response.set_cookie(COOKIE, s.sid, httponly=True, samesite="strict", secure=settings.cookie_secure,
                        path="/", max_age=settings.session_idle_s)
    return response


@router.post("/logout")
async def logout(c: Posted) -> Response:
    sessions_of(c.request).drop(c.session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/lang/{code}")
async def set_language(request: Request, code: str, next: str = "/") -> Response:
    """A display preference only (no state changes), kept in a cookie."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, code, httponly=True, samesite="strict", path="/", max_age=365 * 86400)
    return response


@router.get("/operations")
async def operations(c: Current) -> Response:
    ops = await c.get("/operations", limit=50) if c.session.account else []
    return render(c.request, "operations.html", c, ops=ops)


@router.get("/ops/{operation_id}.json")
async def operation_state(operation_id: str, c: Current) -> Response:
    """The live state of one operation, for the page's poller."""
    try:
        op = await c.get(f"/operations/{operation_id}")
    except PortalError as exc:
        return JSONResponse({"error": exc.as_dict()}, status_code=exc.status)
    keep = ("id", "kind", "state", "tx_hash", "block_number", "error", "result")
    result = {k: v for k, v in (op.get("result") or {}).items() if k != "events"}
    return JSONResponse({**{k: op.get(k) for k in keep}, "result": result})


async def my_operations(c: Ctx, kind: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The caller's confirmed operations of one kind, newest first (every page of the list)."""
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await c.get("/operations", state="confirmed", limit=limit, offset=offset)
        out += [op for op in page if op["kind"] == kind]
        if len(page) < limit:
            return out
        offset += limit


async def gather_ok(calls: list[Any]) -> list[Any]:
    """Concurrent reads; a read that fails (e.g. a burned holding: 404) gives None."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, PortalError):
            raise r
    return [None if isinstance(r, BaseException) else r for r in results]


async def newest_id(c: Ctx, path: str) -> int:
    """The highest id of a gateway collection whose ids count up from 1 and which has no list
    (`path` has one `{}` for the id): exponential then binary search, where 404 = not yet and
    200 / 403 (someone else's) = exists."""

    async def exists(n: int) -> bool:
        try:
            await c.get(path.format(n))
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


async def newest(c: Ctx, path: str, count: int) -> list[dict[str, Any]]:
    """The newest `count` items of such a collection that the caller may read, newest first."""
    top = await newest_id(c, path)
    return [x for x in await gather_ok([c.get(path.format(i)) for i in range(top, max(0, top - count), -1)]) if x]
