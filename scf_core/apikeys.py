"""API keys, as every HTTP API of the platform takes them: ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``; stored only as sha256 hex digests."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

KEY_PREFIX = "scf_"


def hash_key(key: str) -> str:
    """The stored form of an API key (sha256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def parse_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries (``X-API-Key``, else ``Authorization: Bearer``); an empty one is none.
    ``headers``: case-insensitive (Starlette's ``request.headers``)."""
    key = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or None
