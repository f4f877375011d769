"""API keys: random, high-entropy, shown once; only their sha256 is stored."""

from __future__ import annotations

import threading
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from chain_gateway.errors import Unauthenticated
from chain_gateway.models import ApiKey, MemberRole, Operation, OpState, Role
from scf_core.apikeys import hash_key, new_key


def create_api_key(
    engine: Engine, account: str, role: Role, label: str = "", onboarding_operation: str | None = None,
    member_role: MemberRole | None = None,
) -> tuple[str, ApiKey]:
    """Returns the plain key (to show once) and the stored row. With ``onboarding_operation`` the key
    is refused until that operation is confirmed (and revoked if it fails); ``member_role``: a user of
    the member (dual control; None: the member's own key, its admin)."""
    key = new_key()
    row = ApiKey(key_hash=hash_key(key), prefix=key[:10], account=account, role=role, label=label,
                 onboarding_operation=onboarding_operation, member_role=member_role)
    with Session(engine, expire_on_commit=False) as s:
        s.add(row)
        s.commit()
    return key, row


def has_api_key_for(engine: Engine, operation_id: str) -> bool:
    """Whether a key was already created for this onboarding operation."""
    with Session(engine) as s:
        return s.exec(select(ApiKey.id).where(ApiKey.onboarding_operation == operation_id)).first() is not None


def revoke_keys(engine: Engine, account: str) -> int:
    """Revokes every live key bound to `account`; returns how many."""
    with Session(engine) as s:
        rows = s.exec(select(ApiKey).where(ApiKey.account == account, ApiKey.revoked == False)).all()  # noqa: E712
        for r in rows:
            r.revoked = True
            s.add(r)
        s.commit()
        return len(rows)


_onboarding_keys = threading.Lock()


def create_onboarding_key(engine: Engine, account: str, role: Role, label: str, operation_id: str) -> str | None:
    """The member's key for an onboarding operation, created once (check and insert under one lock,
    in one worker thread): None when the operation already has one (a concurrent replay with the same
    Idempotency-Key)."""
    with _onboarding_keys:
        if has_api_key_for(engine, operation_id):
            return None
        key, _ = create_api_key(engine, account, role, label, onboarding_operation=operation_id)
        return key


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

    def cached(self, key: str) -> ApiKey | None:
        """The key's row if it was authenticated less than `ttl` seconds ago (no store read: safe
        to call on the event loop); None: ask ``lookup``."""
        hit = self._cache.get(hash_key(key))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def lookup(self, key: str) -> ApiKey | None:
        h = hash_key(key)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.exec(select(ApiKey).where(ApiKey.key_hash == h, ApiKey.revoked == False)).first()  # noqa: E712
            if row is not None and row.onboarding_operation is not None:
                row = self._check_onboarded(s, row)
        if row is not None:
            self._cache[h] = (now, row)
        else:
            self._cache.pop(h, None)
        return row

    @staticmethod
    def _check_onboarded(s: Session, row: ApiKey) -> ApiKey:
        """A key waiting for its onboarding operation: active once it is confirmed, revoked if it
        failed (or was rejected or expired awaiting approval), refused (401) meanwhile."""
        op = s.exec(select(Operation).where(Operation.id == row.onboarding_operation)).first()
        state = op.state if op is not None else OpState.failed
        if state == OpState.confirmed:
            return row
        if state in (OpState.failed, OpState.rejected, OpState.expired):
            row.revoked = True
            s.add(row)
            s.commit()
            raise Unauthenticated("unknown or revoked API key")
        raise Unauthenticated(
            "this API key is not active until its onboarding operation is confirmed",
            {"operation_id": row.onboarding_operation, "state": state.value},
        )

    def clear(self) -> None:
        self._cache.clear()
