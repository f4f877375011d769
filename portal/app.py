"""The portal's FastAPI app: ``create_app(settings)``; ``uvicorn portal.app:create_app --factory``
or ``scf portal``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal import i18n, observe
from portal.client import Api
from portal.errors import PortalError
from portal.sessions import COOKIE, Sessions
from portal.settings import PortalSettings
from portal.views import approvals, auditor, clearing, common, core, holder, market, operator
from portal.web import HERE, Ctx, LoginRequired, lang_of, render, sessions_of

log = logging.getLogger("portal")

# every asset is a file of this package: no CDN, no inline script or style
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def create_app(settings: PortalSettings | None = None) -> FastAPI:
    settings = settings or PortalSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.api.close()

    app = FastAPI(title="SCF portal", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.api = Api(settings)
    app.state.sessions = Sessions(settings.secret_bytes(), settings.session_idle_s)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (common, holder, market, core, operator, clearing, auditor, approvals):
        app.include_router(module.router)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # a cross-site form post is refused whatever it carries (the CSRF token is checked as well)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            err = PortalError("CSRF", i18n.t(lang_of(request), "err_csrf"), {"origin": origin}, 403)
            response = render(request, "error.html", status=403, error=err.as_dict())
        else:
            response = await call_next(request)
        response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"})
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    observe.install(app)  # /metrics and request ids (outermost middleware)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(PortalError)
    async def _portal(request: Request, exc: PortalError) -> Response:
        if exc.status == 401:  # the key was revoked or the member suspended: log in again
            s = sessions_of(request).get(request.cookies.get(COOKIE))
            if s:
                sessions_of(request).drop(s)
        return _error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = {"errors": [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]}
        return _error_page(request, PortalError("VALIDATION_ERROR", "invalid request", details, 422))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = "NOT_FOUND" if exc.status_code == 404 else "HTTP_ERROR"
        return _error_page(request, PortalError(code, str(exc.detail), {}, exc.status_code))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_page(request, PortalError("INTERNAL", "internal error", {}, 500))

    return app


def _error_page(request: Request, exc: PortalError) -> Response:
    s = sessions_of(request).get(request.cookies.get(COOKIE))
    ctx = Ctx(request, s, lang_of(request)) if s else None
    return render(request, "error.html", ctx, status=exc.status, error=exc.as_dict())
