"""Server-side sessions. The browser holds only a random session id (HttpOnly, SameSite=Strict
cookie); the API key stays in this process's memory and is never logged or rendered. CSRF tokens
are an HMAC of the session id under the portal's secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

COOKIE = "scf_portal"


@dataclass
class Session:
    sid: str
    api_key: str = field(repr=False)
    role: str
    account: str | None
    user_role: str = "admin"  # the user's role inside its member (dual control): admin, maker, checker
    seen: float = field(default_factory=time.monotonic)
    flash: list[dict[str, Any]] = field(default_factory=list)


class Sessions:
    def __init__(self, secret: bytes, idle_s: int) -> None:
        self._secret = secret
        self._idle_s = idle_s
        self._by_id: dict[str, Session] = {}

    def create(self, api_key: str, role: str, account: str | None, user_role: str = "admin") -> Session:
        self._expire()
        s = Session(secrets.token_urlsafe(32), api_key, role, account, user_role)
        self._by_id[s.sid] = s
        return s

    def get(self, sid: str | None) -> Session | None:
        s = self._by_id.get(sid or "")
        if s is None:
            return None
        if time.monotonic() - s.seen > self._idle_s:
            self._by_id.pop(s.sid, None)
            return None
        s.seen = time.monotonic()
        return s

    def drop(self, s: Session) -> None:
        self._by_id.pop(s.sid, None)

    def csrf(self, s: Session) -> str:
        return hmac.new(self._secret, b"csrf:" + s.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, s: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf(s), token or "")

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [k for k, v in self._by_id.items() if now - v.seen > self._idle_s]:
            del self._by_id[sid]
