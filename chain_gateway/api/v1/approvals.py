"""Dual control: a member's approval policy, the checkers' inbox, approve / reject, and the approval
records (the member's own; auditors and the operator: every member's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, Field, Strict
from starlette.concurrency import run_in_threadpool

from chain_gateway import approvals
from chain_gateway.deps import AUTHENTICATED, Address, AdminDep, CallerDep, GatewayDep, Uint128, ascii_digits, same
from chain_gateway.errors import Forbidden
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, Approval, Operation, OperationOut, OpState, Role
from chain_gateway.worker import publish

router = APIRouter(tags=["approvals"], responses=AUTHENTICATED)
Limit = Annotated[int, BeforeValidator(ascii_digits), Query(ge=1, le=1000)]
Offset = Annotated[int, BeforeValidator(ascii_digits), Query(ge=0, le=10**9)]


class Rule(BaseModel):
    kind: str = Field(max_length=64, examples=["certificates.issue"], description="operation kind")
    min_amount: Uint128 | None = Field(None, description="applies from this amount on; null: to every operation")
    approvals: Annotated[int, Strict(), Field(ge=1, le=100, description="approvals by distinct checkers")]


class Policy(BaseModel):
    rules: list[Rule] = Field(default_factory=list, max_length=200)


class ApprovalRecord(BaseModel):
    id: int
    operation_id: str
    account: str
    user_id: int
    user_label: str
    decision: str = Field(description="approve | reject")
    reason: str
    created_at: datetime

    @classmethod
    def of(cls, a: Approval) -> ApprovalRecord:
        return cls(id=a.id or 0, operation_id=a.operation_id, account=a.account, user_id=a.user_id,
                   user_label=a.user_label, decision=a.decision, reason=a.reason, created_at=a.created_at)


class Maker(BaseModel):
    id: int
    label: str


class InboxItem(BaseModel):
    id: str
    kind: str
    state: OpState
    args: dict[str, Any]
    maker: Maker | None
    approvals: int
    approvals_required: int
    expires_at: datetime | None
    created_at: datetime
    decisions: list[ApprovalRecord]


class ApproveIn(BaseModel):
    reason: str = Field("", max_length=500)


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.get("/approval-policy", response_model=Policy)
async def get_policy(gw: GatewayDep, caller: CallerDep) -> Policy:
    """The caller's member's policy (no rule: nothing needs approval)."""
    assert gw.policies is not None
    return Policy.model_validate({"rules": await run_in_threadpool(gw.policies.rules, caller.account)})


@router.put("/approval-policy", response_model=Policy)
async def put_policy(body: Policy, gw: GatewayDep, caller: AdminDep) -> Policy:
    """Replace the member's policy (admin). Operations already awaiting approval keep their count."""
    assert gw.policies is not None
    rules = approvals.check_rules([r.model_dump() for r in body.rules])
    await run_in_threadpool(gw.policies.set, caller.account, rules, caller.id)
    return Policy.model_validate({"rules": rules})


@router.get("/approvals", response_model=list[InboxItem])
async def inbox(
    gw: GatewayDep, caller: CallerDep, state: OpState = OpState.awaiting_approval, limit: Limit = 100,
    offset: Offset = 0,
) -> list[InboxItem]:
    """The member's operations that need approval, in `state` (default: awaiting), newest first."""
    def load() -> tuple[list[Operation], dict[int, ApiKey], list[Approval]]:
        ops = approvals.awaiting(gw.engine, caller.account, state, offset, limit)
        makers = approvals.makers(gw.engine, {o.maker_id for o in ops if o.maker_id is not None})
        decisions = [a for o in ops for a in approvals.records(gw.engine, None, o.id, 0, 1000)]
        return ops, makers, decisions

    ops, makers, decisions = await run_in_threadpool(load)
    items = []
    for o in ops:
        maker = makers.get(o.maker_id) if o.maker_id is not None else None
        items.append(InboxItem(
            id=o.id, kind=o.kind, state=o.state, args=o.args,
            maker=Maker(id=maker.id or 0, label=maker.label) if maker is not None else None,
            approvals=o.approvals, approvals_required=o.approvals_required, expires_at=o.approval_expires_at,
            created_at=o.created_at,
            decisions=[ApprovalRecord.of(a) for a in reversed(decisions) if a.operation_id == o.id],
        ))
    return items


@router.get("/approvals/log", response_model=list[ApprovalRecord])
async def log(
    gw: GatewayDep, caller: CallerDep, account: Address | None = None, operation_id: str | None = None,
    limit: Limit = 100, offset: Offset = 0,
) -> list[ApprovalRecord]:
    """Approval records, newest first: the caller's member's; auditors and the operator: every
    member's (or one `account`'s)."""
    if caller.role not in (Role.auditor, Role.operator):
        if account is not None and not same(account, caller.account):
            raise Forbidden("members read only their own approval records")
        account = caller.account
    rows = await run_in_threadpool(approvals.records, gw.engine, account, operation_id, offset, limit)
    return [ApprovalRecord.of(a) for a in rows]


async def _decide(gw: Gateway, caller: ApiKey, operation_id: str, approve: bool, reason: str) -> OperationOut:
    op = await run_in_threadpool(
        approvals.decide, gw.engine, operation_id, caller, approve, reason, bool(gw.settings.webhook_url)
    )
    publish(gw.bus, op)
    if op.state == OpState.queued:  # the quorum is reached: signed now
        assert gw.submitter is not None
        gw.submitter.notify(op.signer)
    return OperationOut.of(op)


@router.post("/operations/{operation_id}/approve", response_model=OperationOut)
async def approve(operation_id: str, body: ApproveIn, gw: GatewayDep, caller: CallerDep) -> OperationOut:
    """A checker of the operation's member approves it (once; not the maker). The approval reaching
    the quorum hands it to the signer (state `queued`)."""
    return await _decide(gw, caller, operation_id, True, body.reason)


@router.post("/operations/{operation_id}/reject", response_model=OperationOut)
async def reject(operation_id: str, body: RejectIn, gw: GatewayDep, caller: CallerDep) -> OperationOut:
    """A checker of the operation's member rejects it with a reason: final state `rejected`, never signed."""
    return await _decide(gw, caller, operation_id, False, body.reason)
