"""The portal's one exception root. An error from an API keeps the API's `{code, message, details}`."""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """Shown to the user as `code: message` with its details; `status` is the HTTP status."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details, "status": self.status}


def invalid(message: str, **details: Any) -> PortalError:
    """Bad form input, refused before any API is called."""
    return PortalError("INVALID_INPUT", message, details, 422)
