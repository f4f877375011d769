"""The one client of the two APIs: the gateway's /v1 (every role) and the indexer's auditor API.
Every call carries the logged-in user's API key; errors become PortalError with the API's
`{code, message, details}` (the auditor API's `{detail}` bodies are mapped to the same shape)."""

from __future__ import annotations

from typing import Any

import httpx

from portal.errors import PortalError
from portal.settings import PortalSettings

FINAL = ("confirmed", "failed", "rejected", "expired")


class Api:
    def __init__(self, settings: PortalSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        timeout = httpx.Timeout(settings.api_timeout_s)
        self.gateway = httpx.AsyncClient(base_url=settings.gateway_url.rstrip("/") + "/v1", timeout=timeout,
                                         transport=transport)
        self.auditor = httpx.AsyncClient(base_url=settings.auditor_url.rstrip("/"), timeout=timeout,
                                         transport=transport)

    async def close(self) -> None:
        await self.gateway.aclose()
        await self.auditor.aclose()

    # --- gateway ---------------------------------------------------------------------------------

    async def get(self, key: str, path: str, **params: Any) -> Any:
        return _body(await self._send(self.gateway, "GET", path, key, params=params))

    async def write(self, key: str, path: str, body: dict[str, Any] | None = None, *, idem: str | None = None,
                    method: str = "POST") -> dict[str, Any]:
        """A write: answers the operation (202, not waited for: the page follows its state)."""
        headers = {"Idempotency-Key": f"portal-{idem}"} if idem else {}
        data = _body(await self._send(self.gateway, method, path, key, json=body or {}, headers=headers))
        return dict(data)

    # --- auditor API -----------------------------------------------------------------------------

    async def audit(self, key: str, path: str, **params: Any) -> Any:
        return _body(await self._send(self.auditor, "GET", path, key, params=_clean(params)))

    async def audit_csv(self, key: str, path: str, **params: Any) -> tuple[bytes, str]:
        return await self.audit_file(key, path, "csv", 'attachment; filename="report.csv"', **params)

    async def audit_file(self, key: str, path: str, fmt: str, disposition: str, **params: Any) -> tuple[bytes, str]:
        """The auditor API's answer as bytes in `fmt` (csv, json) and its Content-Disposition
        (`disposition` when it sends none)."""
        r = await self._send(self.auditor, "GET", path, key, params={**_clean(params), "format": fmt})
        return r.content, r.headers.get("content-disposition", disposition)

    async def auditor_accepts(self, key: str) -> bool:
        try:
            await self.audit(key, "/v1/reports/ageing", limit=1)
        except PortalError as exc:
            if exc.status in (401, 403):
                return False
            raise
        return True

    async def _send(self, client: httpx.AsyncClient, method: str, path: str, key: str, **kw: Any) -> httpx.Response:
        headers = {"X-API-Key": key, **kw.pop("headers", {})}
        try:
            r = await client.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            which = "gateway" if client is self.gateway else "auditor API"
            raise PortalError("SERVICE_UNAVAILABLE", f"the {which} cannot be reached", {"error": type(exc).__name__},
                              503) from exc
        if r.status_code >= 400:
            raise _error(r)
        return r


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v not in (None, "")}


def _body(r: httpx.Response) -> Any:
    return r.json()


def _error(r: httpx.Response) -> PortalError:
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "code" in body and "message" in body:
        return PortalError(str(body["code"]), str(body["message"]), body.get("details") or {}, r.status_code)
    if isinstance(body, dict) and "detail" in body:  # the auditor API's HTTPException bodies
        detail = body["detail"]
        message = detail if isinstance(detail, str) else "invalid request"
        details = {} if isinstance(detail, str) else {"errors": detail}
        code = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 422: "VALIDATION_ERROR"}.get(
            r.status_code, "HTTP_ERROR")
        return PortalError(code, message, details, r.status_code)
    return PortalError("HTTP_ERROR", f"HTTP {r.status_code}", {}, r.status_code)
