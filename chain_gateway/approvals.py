"""Dual control (maker-checker): a member's users, its approval policy, and checkers' decisions.

* A member's users are its API keys, each with a role inside the member (``models.MemberRole``):
  ``admin`` (the member's own key from onboarding counts as admin) manages users and the policy,
  ``maker`` submits operations, ``checker`` approves or rejects them.
* The policy is a list of rules ``{kind, min_amount, approvals}``: an operation of that kind (whose
  amount, the field ``AMOUNT_FIELDS[kind]``, is at least ``min_amount``; ``null``: any) needs that
  many approvals by distinct checkers; several matching rules: the largest count. No rule: none.
* An operation needing approval is stored ``awaiting_approval``: no nonce, not signed, invisible to
  the signer's worker (it takes ``queued`` ones only). The decision that reaches the quorum moves it
  to ``queued`` in the same transaction as its approval record; a rejection or the expiry
  (``SCF_GATEWAY_APPROVAL_TTL_S``) makes it final (``rejected`` / ``expired``, through
  ``webhooks.set_final_state``). Every decision first takes the operation's row (a conditional
  UPDATE: PostgreSQL's row lock, SQLite's write lock), so concurrent decisions on one operation run
  one after another and the quorum is reached exactly once; a checker decides once (unique
  ``(operation_id, user_id)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from chain_gateway.errors import Conflict, Forbidden, InvalidRequest, NotFound
from chain_gateway.models import ApiKey, Approval, ApprovalPolicy, MemberRole, Operation, OpState, utcnow
from chain_gateway.webhooks import set_final_state

log = logging.getLogger("chain_gateway.approvals")

# every write kind, with the body field a rule's `min_amount` is compared with (None: no amount)
AMOUNT_FIELDS: dict[str, str | None] = {
    "certificates.issue": "face_value", "certificates.accept": None, "certificates.reject": None,
    "holdings.split_transfer": "value", "holdings.freeze": None, "holdings.unfreeze": None,
    "financing.create_offer": "value", "financing.create_open_offer": "value", "financing.cancel_offer": None,
    "financing.accept_offer": None, "financing.request_quotes": "value", "financing.submit_quote": None,
    "financing.cancel_quote_request": None, "financing.withdraw_quote": None, "financing.accept_quote": None,
    "financing.exercise_recourse": None, "financing.settle_recourse": None, "financing.recourse_allowance": "amount",
    "settlement.repay": "amount", "settlement.redeem": None, "settlement.settle_batch": None,
    "settlement.mark_overdue": None, "settlement.offer_early_payment": "value",
    "settlement.accept_early_payment": None, "settlement.cancel_early_payment": None,
    "settlement.open_programme": "budget", "settlement.take_programme": "value", "settlement.close_programme": None,
    "currency.mint": "amount", "currency.burn": "amount",
    "members.onboard": None, "members.set_active": None, "members.set_credit_limit": "limit",
    "members.update_kyc": None,
    "system.pause": None, "system.unpause": None, "system.set_max_term": None, "system.set_grace_period": None,
    "system.set_invoices_required": None, "system.set_max_tier": None, "system.set_min_split_value": None,
    "financing.set_registration": None,
}
SWEEP_S = 1.0  # how often operations past their approval deadline are expired


def required_approvals(rules: list[dict[str, Any]], kind: str, args: dict[str, Any]) -> int:
    """The approvals an operation of `kind` with body `args` needs under `rules` (0: none)."""
    needed = 0
    field = AMOUNT_FIELDS.get(kind)
    for rule in rules:
        if rule["kind"] != kind:
            continue
        if rule.get("min_amount") is not None:
            amount = args.get(field) if field else None
            if not isinstance(amount, int) or amount < rule["min_amount"]:
                continue
        needed = max(needed, int(rule["approvals"]))
    return needed


def check_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuses unknown kinds and a `min_amount` on a kind without an amount (422)."""
    for i, rule in enumerate(rules):
        if rule["kind"] not in AMOUNT_FIELDS:
            raise InvalidRequest("unknown operation kind", {"rule": i, "kind": rule["kind"]}, code="UNKNOWN_KIND")
        if rule.get("min_amount") is not None and AMOUNT_FIELDS[rule["kind"]] is None:
            raise InvalidRequest("this kind has no amount: min_amount must be null", {"rule": i, "kind": rule["kind"]},
                                 code="NO_AMOUNT")
    return rules


class Policies:
    """Members' policies, cached in memory (one gateway process per store; changed through the API only)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def cached(self, account: str) -> list[dict[str, Any]] | None:
        """The member's rules if already read (no store round trip), else None."""
        return self._cache.get(account.lower())

    def rules(self, account: str) -> list[dict[str, Any]]:
        key = account.lower()
        if key not in self._cache:
            with Session(self.engine) as s:
                row = s.get(ApprovalPolicy, key)
                self._cache[key] = list(row.rules) if row is not None else []
        return self._cache[key]

    def set(self, account: str, rules: list[dict[str, Any]], user_id: int | None) -> list[dict[str, Any]]:
        key = account.lower()
        with Session(self.engine) as s:
            row = s.get(ApprovalPolicy, key) or ApprovalPolicy(account=key)
            row.rules, row.updated_by, row.updated_at = rules, user_id, utcnow()
            s.add(row)
            s.commit()
        self._cache[key] = list(rules)
        return rules


# --- users --------------------------------------------------------------------------------------


def list_users(engine: Engine, account: str) -> list[ApiKey]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(
            select(ApiKey).where(ApiKey.account == account, ApiKey.revoked == False)  # noqa: E712
            .order_by(col(ApiKey.id))
        ).all())


def revoke_user(engine: Engine, account: str, user_id: int) -> ApiKey:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(ApiKey, user_id)
        if row is None or row.account != account or row.revoked:
            raise NotFound("no such user", {"id": user_id})
        row.revoked = True
        s.add(row)
        s.commit()
        return row


# --- decisions ----------------------------------------------------------------------------------


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _take(s: Session, op_id: str) -> Operation | None:
    """The operation, its row taken first when it awaits approval (a conditional UPDATE: the row lock
    on PostgreSQL, the write lock on SQLite), read afresh after."""
    s.exec(update(Operation).where(  # type: ignore[call-overload]
        col(Operation.id) == op_id, col(Operation.state) == OpState.awaiting_approval
    ).values(updated_at=utcnow()))
    return s.exec(select(Operation).where(Operation.id == op_id).execution_options(populate_existing=True)).first()


def _expire(s: Session, op: Operation, webhooks: bool) -> None:
    op.error = {"code": "APPROVAL_EXPIRED", "message": "not approved in time: never signed"}
    op.updated_at = utcnow()
    set_final_state(s, op, OpState.expired, webhooks)


def decide(engine: Engine, op_id: str, user: ApiKey, approve: bool, reason: str, webhooks: bool) -> Operation:
    """A checker's decision on an operation of its member (see the module's docstring). Returns the
    operation as it stands after it (``queued`` once the quorum is reached)."""
    if user.user_role != MemberRole.checker:
        raise Forbidden("only a checker approves or rejects operations", {"role": user.user_role.value})
    with Session(engine, expire_on_commit=False) as s:
        op = _take(s, op_id)
        if op is None or op.api_account.lower() != user.account.lower():
            raise NotFound("no such operation of your member", {"id": op_id})
        if op.state != OpState.awaiting_approval:
            raise Conflict("the operation is not awaiting approval", {"id": op_id, "state": op.state.value},
                           code="NOT_AWAITING_APPROVAL")
        if op.approval_expires_at is not None and _aware(op.approval_expires_at) <= utcnow():
            _expire(s, op, webhooks)
            s.commit()
            raise Conflict("the operation's approval time has passed", {"id": op_id, "state": "expired"},
                           code="NOT_AWAITING_APPROVAL")
        if op.maker_id == user.id:
            raise Forbidden("the maker cannot approve or reject its own operation", {"id": op_id},
                            code="SELF_APPROVAL")
        if s.exec(select(Approval.id).where(Approval.operation_id == op_id, Approval.user_id == user.id)).first():
            raise Conflict("you already decided on this operation", {"id": op_id}, code="ALREADY_DECIDED")
        s.add(Approval(operation_id=op_id, account=op.api_account, user_id=user.id or 0, user_label=user.label,
                       decision="approve" if approve else "reject", reason=reason))
        op.updated_at = utcnow()
        if not approve:
            op.error = {"code": "REJECTED", "message": reason}
            set_final_state(s, op, OpState.rejected, webhooks)
        else:
            op.approvals += 1
            if op.approvals >= op.approvals_required:
                op.state = OpState.queued  # the worker signs it now
            s.add(op)
        try:
            s.commit()
        except IntegrityError as exc:  # the same checker, concurrently
            raise Conflict("you already decided on this operation", {"id": op_id}, code="ALREADY_DECIDED") from exc
        return op


def expire_due(engine: Engine, webhooks: bool) -> list[Operation]:
    """Moves every operation past its approval deadline to ``expired``; returns them."""
    with Session(engine, expire_on_commit=False) as s:
        ids = s.exec(select(Operation.id).where(
            Operation.state == OpState.awaiting_approval, col(Operation.approval_expires_at) <= utcnow()
        )).all()
    expired: list[Operation] = []
    for op_id in ids:
        with Session(engine, expire_on_commit=False) as s:
            op = _take(s, op_id)
            if op is not None and op.state == OpState.awaiting_approval:
                _expire(s, op, webhooks)
                s.commit()
                expired.append(op)
    return expired


def records(engine: Engine, account: str | None, operation_id: str | None, offset: int, limit: int) -> list[Approval]:
    """Approval records, newest first (`account` None: every member's)."""
    q = select(Approval)
    if account is not None:
        q = q.where(Approval.account == account)
    if operation_id is not None:
        q = q.where(Approval.operation_id == operation_id)
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(q.order_by(col(Approval.id).desc()).offset(offset).limit(limit)).all())


def awaiting(engine: Engine, account: str, state: OpState, offset: int, limit: int) -> list[Operation]:
    """The member's operations in `state` that went through approval, newest first."""
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(
            select(Operation).where(Operation.api_account == account, Operation.state == state,
                                    Operation.approvals_required > 0)
            .order_by(col(Operation.seq).desc()).offset(offset).limit(limit)
        ).all())


def makers(engine: Engine, ids: set[int]) -> dict[int, ApiKey]:
    if not ids:
        return {}
    with Session(engine, expire_on_commit=False) as s:
        return {k.id: k for k in s.exec(select(ApiKey).where(col(ApiKey.id).in_(ids))).all() if k.id is not None}


def expiry(ttl_s: float) -> datetime:
    return utcnow() + timedelta(seconds=ttl_s)


class Expiry:
    """Expires operations past their approval deadline every ``SWEEP_S`` (started with the gateway)."""

    def __init__(self, engine: Engine, webhooks: bool, on_expired: Any):
        self.engine = engine
        self.webhooks = webhooks
        self.on_expired = on_expired  # called with each expired operation (publishes it)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="approval-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        while True:
            try:
                for op in await asyncio.to_thread(expire_due, self.engine, self.webhooks):
                    log.info("operation %s expired awaiting approval", op.id)
                    self.on_expired(op)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("approval expiry: unexpected error; retrying")
            await asyncio.sleep(SWEEP_S)
