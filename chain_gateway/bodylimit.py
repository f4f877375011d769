"""The request body limit, enforced while the body is read (ASGI middleware).

A declared ``Content-Length`` above the limit is refused before a byte is read and before the app
(routing, authentication) runs; a body without one (chunked) is counted as it arrives and refused
at the first chunk past the limit, so an oversized body is never buffered. FastAPI reads a route's
body before it solves the route's dependencies, so authentication never runs for such a request.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chain_gateway.errors import PayloadTooLarge
from scf_core.http_errors import http_error_response


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and declared.isascii() and int(declared) > self.max_bytes:
            await http_error_response(PayloadTooLarge(self.max_bytes))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(self.max_bytes)  # rendered by the app's error handler
            return message

        await self.app(scope, limited, send)
