"""API keys: random, high-entropy, shown once; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chain_gateway.models import ApiKey, Role

KEY_PREFIX = "scf_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_api_key(engine: Engine, account: str, role: Role, label: str = "") -> tuple[str, ApiKey]:
    """Returns the plain key (to show once) and the stored row."""
    key = new_key()
    row = ApiKey(key_hash=hash_key(key), prefix=key[:10], account=account, role=role, label=label)
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return key, row


def ensure_key_hash(engine: Engine, key_hash: str, account: str, role: Role, label: str) -> None:
    with Session(engine) as s:
        if s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash)).first() is None:
            s.add(ApiKey(key_hash=key_hash, prefix="(bootstrap)", account=account, role=role, label=label))
            s.commit()


class KeyCache:
    """Authenticated keys cached in memory for `ttl` seconds (revocation through the API clears the
    cache at once; through the admin CLI it takes effect within `ttl`)."""

    def __init__(self, engine: Engine, ttl: float = 30.0):
        self.engine = engine
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    def lookup(self, key: str) -> ApiKey | None:
        h = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.exec(select(ApiKey).where(ApiKey.key_hash == h, ApiKey.revoked == False)).first()  # noqa: E712
        if row is not None:
            self._cache[h] = (now, row)
        else:
            self._cache.pop(h, None)
        return row

    def clear(self) -> None:
        self._cache.clear()
