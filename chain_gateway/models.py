"""SQLModel tables and API schemas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(enum.StrEnum):
    operator = "operator"
    core_enterprise = "core_enterprise"
    supplier = "supplier"
    factor = "factor"
    auditor = "auditor"
    clearing_agent = "clearing_agent"  # the licensed bank that mints and burns the settlement currency


# on-chain IMembership.Role values
CHAIN_ROLE = {Role.core_enterprise: 1, Role.supplier: 2, Role.factor: 3, Role.auditor: 4, Role.clearing_agent: 5}


class MemberRole(enum.StrEnum):
    """A user's role inside its member (dual control): ``admin`` manages the member's users and
    approval policy (the member's own key counts as admin), ``maker`` submits operations,
    ``checker`` approves or rejects them."""

    admin = "admin"
    maker = "maker"
    checker = "checker"


class OpState(enum.StrEnum):
    awaiting_approval = "awaiting_approval"  # stored, no nonce, not signed: waits for its checkers
    queued = "queued"
    submitted = "submitted"
    mined = "mined"
    confirmed = "confirmed"
    failed = "failed"
    rejected = "rejected"  # a checker rejected it (never signed)
    expired = "expired"  # not approved within SCF_GATEWAY_APPROVAL_TTL_S (never signed)


FINAL_STATES = (OpState.confirmed, OpState.failed, OpState.rejected, OpState.expired)
NONCE_FILL = "system.nonce_fill"  # kind of the 0-value self-transfers that fill nonce gaps


class ApiKey(SQLModel, table=True):
    __tablename__ = "gw_api_key"
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(index=True, unique=True, max_length=64)
    prefix: str = Field(max_length=16)  # first characters, to recognise a key in lists
    account: str = Field(index=True, max_length=42)
    role: Role
    label: str = ""
    revoked: bool = False
    # a member's key created by onboarding: refused until that operation is confirmed, revoked if
    # it fails
    onboarding_operation: str | None = Field(default=None, index=True, max_length=36)
    created_at: datetime = Field(default_factory=utcnow)
    # the key's user role inside its member (dual control); None: the member's own key (admin)
    member_role: MemberRole | None = None

    @property
    def user_role(self) -> MemberRole:
        return self.member_role or MemberRole.admin


class Operation(SQLModel, table=True):
    __tablename__ = "gw_operation"
    __table_args__ = (
        UniqueConstraint("api_account", "idempotency_key", name="uq_gw_op_idem"),
        # the workers' queries: a signer's queued / unfinished operations (without it SQLite scans
        # every operation of the signer, and throughput falls as the table grows)
        Index("ix_gw_op_signer_state_nonce", "signer", "state", "nonce"),
        Index("ix_gw_op_account_seq", "api_account", "seq"),
    )
    seq: int | None = Field(default=None, primary_key=True)  # submission order
    id: str = Field(index=True, unique=True, max_length=36)
    api_account: str = Field(index=True, max_length=42)  # the caller
    signer: str = Field(index=True, max_length=42)  # the account that signs (== caller)
    kind: str = Field(max_length=64)
    contract: str = Field(max_length=32)
    to_address: str = Field(max_length=42)
    data: str = Field(sa_column=Column(Text, nullable=False))  # calldata hex
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str = Field(max_length=64)
    state: OpState = Field(default=OpState.queued, index=True)
    nonce: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    gas_limit: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    gas_price: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    tx_hash: str | None = Field(default=None, index=True, max_length=66)
    tx_hashes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raw_tx: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # signed, public
    sent_at: datetime | None = None  # last broadcast (reset to re-broadcast)
    # first time the node accepted (or knew) one of the operation's signed transactions: from then
    # on it may be mined, so the operation is never failed by a refused send (never reset, except
    # when the nonce went to a foreign transaction and the operation is re-queued)
    accepted_at: datetime | None = None
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    block_hash: str | None = Field(default=None, max_length=66)
    gas_used: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # dual control: the user (API key id) who submitted it, the approvals it needs before it is
    # signed (0: none), the approvals so far, and when an unapproved operation expires
    maker_id: int | None = None
    approvals: int = 0
    approvals_required: int = 0
    approval_expires_at: datetime | None = None


@dataclass(slots=True)
class NewOperation:
    """An operation a request is creating: the columns of ``Operation`` but ``seq`` (the store
    numbers it). The group commit stores it as a plain row (``row``), and the request answers from
    it; it is never added to a session (the worker reads operations from the store), so it skips
    the ORM's per-instance bookkeeping (a table model costs ~100 us to make, this ~3)."""

    id: str
    api_account: str
    signer: str
    kind: str
    contract: str
    to_address: str
    data: str
    args: dict[str, Any]
    idempotency_key: str | None
    request_hash: str
    state: OpState
    gas_limit: int
    created_at: datetime
    updated_at: datetime
    maker_id: int | None = None
    approvals_required: int = 0
    approval_expires_at: datetime | None = None
    approvals: int = 0
    nonce: int | None = None
    gas_price: int | None = None
    tx_hash: str | None = None
    tx_hashes: list[str] = field(default_factory=list)
    raw_tx: str | None = None
    sent_at: datetime | None = None
    accepted_at: datetime | None = None
    block_number: int | None = None
    block_hash: str | None = None
    gas_used: int | None = None
    error: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    attempts: int = 0

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


class ApprovalPolicy(SQLModel, table=True):
    """A member's dual-control policy: ``rules`` is a list of ``{kind, min_amount, approvals}``."""

    __tablename__ = "gw_approval_policy"
    account: str = Field(primary_key=True, max_length=42)
    rules: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_by: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    """One checker's decision on one operation (a checker decides once: unique per operation and user)."""

    __tablename__ = "gw_approval"
    __table_args__ = (UniqueConstraint("operation_id", "user_id", name="uq_gw_approval_user"),)
    id: int | None = Field(default=None, primary_key=True)
    operation_id: str = Field(index=True, max_length=36)
    account: str = Field(index=True, max_length=42)  # the member
    user_id: int
    user_label: str = ""
    decision: str = Field(max_length=8)  # "approve" | "reject"
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class NonceState(SQLModel, table=True):
    __tablename__ = "gw_nonce"
    account: str = Field(primary_key=True, max_length=42)
    next_nonce: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class WebhookOutbox(SQLModel, table=True):
    """A final operation state (confirmed / failed) still to be POSTed to the webhook URL: inserted
    in the same transaction as the state change, deleted once the receiver answered 2xx, kept with
    ``given_up_at`` + ``last_error`` when it refused the delivery for good (4xx other than 408/429)."""

    __tablename__ = "gw_webhook_outbox"
    __table_args__ = (Index("ix_gw_webhook_outbox_due", "given_up_at", "next_attempt_at", "id"),)
    id: int | None = Field(default=None, primary_key=True)  # delivery order
    operation_id: str = Field(index=True, max_length=36)
    state: OpState  # the final state that was reached (the body is built from the current row)
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    given_up_at: datetime | None = None


class OperationOut(SQLModel):
    id: str
    kind: str
    state: OpState
    account: str
    contract: str
    args: dict[str, Any]
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    gas_used: int | None
    error: dict[str, Any] | None
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    approvals: int = 0
    approvals_required: int = 0

    @classmethod
    def of(cls, op: Operation | NewOperation) -> OperationOut:
        return cls(
            id=op.id,
            kind=op.kind,
            state=op.state,
            account=op.signer,
            contract=op.contract,
            args=op.args,
            nonce=op.nonce,
            tx_hash=op.tx_hash,
            block_number=op.block_number,
            gas_used=op.gas_used,
            error=op.error,
            result=op.result,
            created_at=op.created_at,
            updated_at=op.updated_at,
            approvals=op.approvals,
            approvals_required=op.approvals_required,
        )
