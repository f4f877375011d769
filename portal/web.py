"""What every screen shares: the request context (session, language, API client), rendering,
CSRF-checked posts that flash the resulting operation or the API's error, and the menu per role."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from portal import forms, i18n
from portal.client import FINAL, Api
from portal.errors import PortalError
from portal.sessions import COOKIE, Session, Sessions
from portal.settings import PortalSettings

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(money=forms.money, day=forms.day, moment=forms.moment, when=forms.when)
templates.env.globals.update(FINAL=FINAL)

# The menu of each role: (path, label key). A later screen is a new views module plus one entry
# here; every member key also gets the dual-control screens its user role allows (see `nav_for`).
NAV: dict[str, list[tuple[str, str]]] = {
    "supplier": [("/holdings", "nav_holdings"), ("/market", "nav_market"), ("/offers", "nav_offers"),
                 ("/operations", "nav_operations")],
    "factor": [("/offers", "nav_offers_to_me"), ("/market", "nav_market"), ("/holdings", "nav_book"),
               ("/operations", "nav_operations")],
    "core_enterprise": [("/core", "nav_core"), ("/early", "nav_early"), ("/operations", "nav_operations")],
    "operator": [("/operator", "nav_operator"), ("/operations", "nav_operations")],
    "auditor": [("/audit", "nav_audit")],
    "clearing_agent": [("/clearing", "nav_clearing"), ("/operations", "nav_operations")],
}
# dual control: every member's users see the approvals inbox (checkers decide there), admins manage users
APPROVALS, USERS = ("/approvals", "nav_approvals"), ("/users", "nav_users")


def nav_for(s: Session) -> list[tuple[str, str]]:
    """The menu of a session: its role's screens, then the approvals inbox and (admins) the users."""
    if s.role == "auditor" or not s.account:
        return NAV.get(s.role, [])
    if s.user_role == "checker":
        return [APPROVALS, ("/operations", "nav_operations")]
    return NAV.get(s.role, []) + [APPROVALS] + ([USERS] if s.user_role == "admin" else [])


def home_for(s: Session) -> str:
    return nav_for(s)[0][0] if nav_for(s) else "/login"


class LoginRequired(Exception):
    pass


@dataclass
class Ctx:
    request: Request
    session: Session
    lang: str

    @property
    def api(self) -> Api:
        return self.request.app.state.api  # type: ignore[no-any-return]

    @property
    def settings(self) -> PortalSettings:
        return self.request.app.state.settings  # type: ignore[no-any-return]

    @property
    def key(self) -> str:
        return self.session.api_key

    @property
    def role(self) -> str:
        return self.session.role

    def need(self, *roles: str) -> None:
        if self.role not in roles:
            raise PortalError("FORBIDDEN", i18n.t(self.lang, "err_role"), {"role": self.role}, 403)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.api.get(self.key, path, **params)

    async def audit(self, path: str, **params: Any) -> Any:
        return await self.api.audit(self.key, path, **params)


def sessions_of(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


def lang_of(request: Request) -> str:
    return i18n.pick(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"),
                     request.app.state.settings.default_lang)


async def current(request: Request) -> Ctx:
    s = sessions_of(request).get(request.cookies.get(COOKIE))
    if s is None:
        raise LoginRequired
    return Ctx(request, s, lang_of(request))


async def posted(request: Request) -> Ctx:
    """A logged-in form post with its CSRF token (the Origin check is middleware)."""
    c = await current(request)
    form = await request.form()
    if not sessions_of(request).csrf_ok(c.session, str(form.get("csrf") or "")):
        raise PortalError("CSRF", i18n.t(c.lang, "err_csrf"), {}, 403)
    return c


Current = Annotated[Ctx, Depends(current)]
Posted = Annotated[Ctx, Depends(posted)]


def render(request: Request, name: str, ctx: Ctx | None = None, status: int = 200, **data: Any) -> Response:
    lang = ctx.lang if ctx else lang_of(request)
    session = ctx.session if ctx else None
    flash, session_flash = [], session.flash if session else []
    if session is not None:
        flash, session.flash = list(session_flash), []
    base = {
        "t": lambda key, **kw: i18n.t(lang, key, **kw),
        "hint": lambda error: i18n.hint(lang, error),
        "js_labels": i18n.js_labels(lang),
        "lang": lang,
        "session": session,
        "nav": nav_for(session) if session else [],
        "csrf": sessions_of(request).csrf(session) if session else "",
        "idem": secrets.token_urlsafe(12),  # one per rendered page: a resubmitted form is the same operation
        "flash": flash,
        "path": request.url.path,
        "explorer": request.app.state.settings.explorer_tx_url,
    }
    return templates.TemplateResponse(request, name, {**base, **data}, status_code=status)


async def act(c: Ctx, back: str, call: Callable[[], Awaitable[dict[str, Any]]]) -> Response:
    """Run a write: flash its operation (the page then follows its state) or the error; back to `back`."""
    try:
        op = await call()
        c.session.flash.append({"op": op.get("operation", op)})
    except PortalError as exc:
        c.session.flash.append({"error": exc.as_dict()})
    return RedirectResponse(back, status_code=303)


async def write(c: Ctx, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> dict[str, Any]:
    """The gateway write for the posted form; the form's one-time `idem` is the Idempotency-Key."""
    form = await c.request.form()
    return await c.api.write(c.key, path, body, idem=str(form.get("idem") or "") or None, method=method)


async def upload(value: Any) -> bytes | None:
    """The bytes of an uploaded file (None when no file was chosen)."""
    if value is None or isinstance(value, str):
        return None
    content: bytes = await value.read()
    return content or None
