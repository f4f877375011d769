"""SQL tables (SQLModel). Addresses are lowercase hex, hashes 0x-prefixed hex, amounts integer
minor units (2 decimals), timestamps unix seconds of the block.

State tables (one row per entity, updated in place, journaled for reorg rollback):
Member, CreditLine, Certificate, Holding, FinancingOffer, CurrencyBalance, SystemState, Invoice; the
market's QuoteRequest, Quote, EarlyPaymentOffer, Programme, RecourseClaim.
Event tables (append-only, primary key (block_number, log_index), deleted above the common
ancestor on reorg): HoldingTransfer, FinancingDeal, Repayment, Redemption, CurrencyTransfer,
CertificateStatusChange, EarlyPayment, InvoiceEvent.
Bookkeeping: Block, Checkpoint, UndoLog.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Dialect, Index, Numeric, String, Table, text
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

ZERO_ADDRESS = "0x" + "0" * 40

ROLE_NAMES = {0: "none", 1: "core_enterprise", 2: "supplier", 3: "factor", 4: "auditor", 5: "clearing_agent"}
CERT_STATUS_NAMES = {0: "none", 1: "pending", 2: "active", 3: "rejected", 4: "overdue", 5: "settled"}
OFFER_STATUS_NAMES = {0: "none", 1: "open", 2: "accepted", 3: "cancelled"}
# the market's enums (IFinancing.RequestStatus, QuoteStatus, RecourseStatus; ISettlement.EarlyPaymentStatus)
REQUEST_STATUS_NAMES = {0: "none", 1: "open", 2: "accepted", 3: "cancelled"}
QUOTE_STATUS_NAMES = {0: "none", 1: "open", 2: "accepted", 3: "withdrawn"}
EARLY_STATUS_NAMES = {0: "none", 1: "open", 2: "accepted", 3: "cancelled"}
RECOURSE_STATUS_NAMES = {0: "none", 1: "unpaid", 2: "settled"}
# how an offer came about: to one factor, open to every factor or a list, or an accepted quote
OFFER_KINDS = ("direct", "open", "quote")


# the widest amount the contracts accept: settlement-currency amounts and balances are uint256
AMOUNT_MAX = 2**256 - 1


class Amount(TypeDecorator[int]):
    """An exact non-negative integer up to 2**256 - 1 (78 digits): NUMERIC(78, 0) on PostgreSQL;
    on SQLite canonical decimal TEXT (SQLite's NUMERIC affinity would turn big integers into REAL).
    Python sees `int` either way. SQL arithmetic over amounts goes through `indexer.reports.Exact`
    (SQLite: the exact functions `indexer.db` registers on every connection)."""

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(78))
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = int(value)
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


def big(**kw: Any) -> Any:
    """An integer column for token ids, blocks and times (BIGINT)."""
    return Field(sa_type=BigInteger, **kw)  # type: ignore[call-overload]


def amount_field(**kw: Any) -> Any:
    """An amount column: exact up to 2**256 - 1 (`Amount`)."""
    return Field(sa_type=Amount, **kw)  # type: ignore[call-overload]


# --- bookkeeping ---------------------------------------------------------------------------


class IndexerModel(SQLModel, registry=registry()):
    """Base of the indexer's tables: their own metadata, apart from the gateway's (own database)."""


class Block(IndexerModel, table=True):
    number: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    hash: str = Field(max_length=66)
    parent_hash: str | None = Field(default=None, max_length=66)
    timestamp: int = big(default=0, index=True)  # `as_of` (a time) -> block


class Checkpoint(IndexerModel, table=True):
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    chain_id: int = big()
    block_number: int = big()
    block_hash: str | None = Field(default=None, max_length=66)
    # every block above journal_floor - 1 has its undo rows: rollback possible to >= floor - 1
    journal_floor: int | None = big(default=None)
    events: int = big(default=0)
    # the chain guard: the hash of the deployment block on the chain indexed (a node serving
    # another chain, e.g. a restarted dev node with the same addresses, is refused)
    deployment_block_hash: str | None = Field(default=None, max_length=66)
    # the first block the `*_version` history covers ("as of" queries): the deployment block for
    # an index built since migration 0006; an older index's checkpoint block at that migration
    history_from_block: int | None = big(default=None)


class IndexerStatus(IndexerModel, table=True):
    """The follower's own view, for `/health`: the node's head it last saw, its last error (kept
    after recovery, with `failures` back at 0), consecutive failures, when it last wrote."""

    __tablename__ = "indexer_status"
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    head: int | None = big(default=None)
    indexed_block: int | None = big(default=None)
    failures: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    last_error_at: int | None = big(default=None)
    updated_at: int = big(default=0)
    # since the follower started (a restart resets them: Prometheus counter semantics)
    reorgs: int = big(default=0)
    errors: int = big(default=0)


class UndoLog(IndexerModel, table=True):
    __tablename__ = "undo_log"
    id: int | None = Field(default=None, primary_key=True)
    block_number: int = big(index=True)
    table_name: str = Field(max_length=40)
    pk: str  # JSON of the primary key value
    prev: str | None = None  # JSON of the row before the block, null = row did not exist


# --- state tables --------------------------------------------------------------------------


class Member(IndexerModel, table=True):
    address: str = Field(primary_key=True, max_length=42)
    role: str = Field(max_length=20, index=True)
    active: bool = True
    kyc_hash: str = Field(max_length=66)
    onboarded_block: int = big()
    onboarded_at: int = big()
    updated_block: int = big()


class CreditLine(IndexerModel, table=True):
    __tablename__ = "credit_line"
    debtor: str = Field(primary_key=True, max_length=42)
    limit: int = amount_field()
    used: int = amount_field()
    updated_block: int = big()


class Certificate(IndexerModel, table=True):
    id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    debtor: str = Field(max_length=42, index=True)
    payee: str = Field(max_length=42, index=True)
    first_token_id: int = big()
    face_value: int = amount_field()
    issued_at: int = big(index=True)
    maturity: int = big(index=True)
    status: str = Field(max_length=12, index=True)
    document_hash: str = Field(max_length=66)
    repaid_value: int = amount_field(default=0)
    redeemed_value: int = amount_field(default=0)
    overdue_at: int | None = big(default=None)
    settled_at: int | None = big(default=None)
    issued_block: int = big()
    issued_tx: str = Field(max_length=66)
    updated_block: int = big()


class Holding(IndexerModel, table=True):
    token_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    certificate_id: int = big(index=True)
    owner: str = Field(max_length=42, index=True)
    value: int = amount_field(default=0)
    initial_value: int = amount_field(default=0)
    parent_token_id: int = big(default=0)
    tier: int = 0
    frozen: bool = False
    # live: exists on chain (value may be 0 after splits); burned: ERC-721 burn
    status: str = Field(default="live", max_length=8)
    document_hash: str = Field(default="0x" + "00" * 32, max_length=66)
    created_block: int = big()
    created_tx: str = Field(max_length=66)
    created_at: int = big()
    updated_block: int = big()


class FinancingOffer(IndexerModel, table=True):
    __tablename__ = "financing_offer"
    offer_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    token_id: int = big(index=True)
    certificate_id: int = big(index=True)
    seller: str = Field(max_length=42, index=True)
    factor: str = Field(max_length=42, index=True)
    value: int = amount_field()
    price: int = amount_field()
    rate_bps: int
    days_to_maturity: int
    expires_at: int = big()
    recourse: bool
    document_hash: str = Field(max_length=66)
    status: str = Field(max_length=10)
    created_block: int = big()
    created_tx: str = Field(max_length=66)
    created_at: int = big()
    closed_block: int | None = big(default=None)
    closed_tx: str | None = Field(default=None, max_length=66)
    # the deal's registration at the receivables registry (中登网): hash of its number, set once
    registration_ref: str | None = Field(default=None, max_length=66)
    registered_at: int | None = big(default=None)
    # the market (migration 0008): direct / open (OfferOpened) / quote (QuoteAccepted); an open
    # offer's invited factors, comma-separated (NULL: every factor); the seller's holding's tier
    # when offered; the accepted quote of a quote deal
    kind: str = Field(default="direct", max_length=8, sa_column_kwargs={"server_default": "direct"})
    invited: str | None = None
    tier: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    quote_id: int | None = big(default=None)


class QuoteRequest(IndexerModel, table=True):
    """A request for quotes (RFQ) on `value` of a holding, open until `deadline`."""

    __tablename__ = "quote_request"
    request_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    token_id: int = big(index=True)
    certificate_id: int = big(index=True)
    tier: int  # the holding's tier when requested
    seller: str = Field(max_length=42, index=True)
    value: int = amount_field()
    deadline: int = big()
    recourse: bool
    document_hash: str = Field(max_length=66)
    status: str = Field(max_length=10)  # open, accepted, cancelled
    quote_id: int | None = big(default=None)  # the accepted quote
    offer_id: int | None = big(default=None)  # its deal (an accepted offer)
    created_block: int = big()
    created_tx: str = Field(max_length=66)
    created_at: int = big()
    closed_block: int | None = big(default=None)
    closed_tx: str | None = Field(default=None, max_length=66)


class Quote(IndexerModel, table=True):
    """A factor's firm quote on a request: its rate and the price fixed when quoted."""

    quote_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    request_id: int = big(index=True)
    factor: str = Field(max_length=42, index=True)
    rate_bps: int
    price: int = amount_field()
    days_to_maturity: int
    status: str = Field(max_length=10)  # open, accepted, withdrawn
    created_block: int = big()
    created_tx: str = Field(max_length=66)
    created_at: int = big()
    closed_block: int | None = big(default=None)
    closed_tx: str | None = Field(default=None, max_length=66)


class EarlyPaymentOffer(IndexerModel, table=True):
    """The debtor's offer to pay `value` of a holding early at `rate_bps` a year."""

    __tablename__ = "early_payment_offer"
    offer_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    token_id: int = big(index=True)
    certificate_id: int = big(index=True)
    tier: int  # the holding's tier when offered
    debtor: str = Field(max_length=42, index=True)
    value: int = amount_field()
    rate_bps: int
    expires_at: int = big()
    status: str = Field(max_length=10)  # open, accepted, cancelled
    created_block: int = big()
    created_tx: str = Field(max_length=66)
    created_at: int = big()
    closed_block: int | None = big(default=None)
    closed_tx: str | None = Field(default=None, max_length=66)


class Programme(IndexerModel, table=True):
    """A debtor's standing early-payment programme: `remaining` of `budget` (face value) left."""

    programme_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    debtor: str = Field(max_length=42, index=True)
    rate_bps: int
    budget: int = amount_field()
    remaining: int = amount_field()
    status: str = Field(max_length=8)  # open, closed
    opened_block: int = big()
    opened_tx: str = Field(max_length=66)
    opened_at: int = big()
    closed_block: int | None = big(default=None)
    closed_tx: str | None = Field(default=None, max_length=66)


class RecourseClaim(IndexerModel, table=True):
    """Recourse exercised on deal `offer_id`: unpaid (the seller could not pay yet; what was
    claimed then) or settled (bought back: the value and amount of the buy-back)."""

    __tablename__ = "recourse_claim"
    offer_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    token_id: int = big()
    certificate_id: int = big(index=True)
    seller: str = Field(max_length=42, index=True)
    factor: str = Field(max_length=42, index=True)
    status: str = Field(max_length=8)  # unpaid, settled
    claimed_value: int = amount_field()
    claimed_amount: int = amount_field()
    settled_value: int | None = amount_field(default=None)
    settled_amount: int | None = amount_field(default=None)
    exercised_block: int = big()
    exercised_tx: str = Field(max_length=66)
    exercised_at: int = big()
    settled_block: int | None = big(default=None)
    settled_tx: str | None = Field(default=None, max_length=66)
    settled_at: int | None = big(default=None)


class CurrencyBalance(IndexerModel, table=True):
    __tablename__ = "currency_balance"
    address: str = Field(primary_key=True, max_length=42)
    balance: int = amount_field(default=0)
    updated_block: int = big()


class SystemState(IndexerModel, table=True):
    __tablename__ = "system_state"
    key: str = Field(primary_key=True, max_length=80)
    value: str
    updated_block: int = big()


class Invoice(IndexerModel, table=True):
    """An invoice of the registry (one invoice, one certificate), by its canonical key: its amount
    (fixed at its first registration), the value backed by the certificates that count, and
    whether a settled certificate closed it."""

    key: str = Field(primary_key=True, max_length=66)
    amount: int = amount_field()
    used: int = amount_field()
    closed: bool = False
    closed_at: int | None = big(default=None)
    first_block: int = big()
    first_at: int = big()
    updated_block: int = big()


# --- event tables --------------------------------------------------------------------------


class _EventRow(IndexerModel):
    block_number: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    tx_hash: str = Field(max_length=66)
    timestamp: int = big(index=True)


class HoldingTransfer(_EventRow, table=True):
    """Value flow between holdings (ERC-3525 TransferValue) and whole-holding transfers (ERC-721).

    kind: mint (value into a new holding), split (value into a new holding from its parent), merge
    (value into an existing holding), burn (value redeemed or rejected), transfer (the whole holding
    changed owner).

    tier: the tier of the receiving holding right after the event (for a burn: of the burned one);
    with the holding's creation (mint/split) and every whole transfer, the history of who held a
    holding at which tier (`reports.tiers`)."""

    __tablename__ = "holding_transfer"
    kind: str = Field(max_length=8)
    certificate_id: int = big(index=True)
    from_token_id: int = big(index=True)
    to_token_id: int = big(index=True)
    from_owner: str = Field(max_length=42, index=True)
    to_owner: str = Field(max_length=42, index=True)
    value: int = amount_field()
    tier: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class FinancingDeal(_EventRow, table=True):
    __tablename__ = "financing_deal"
    offer_id: int = big(index=True)
    certificate_id: int = big(index=True)
    token_id: int = big()
    new_token_id: int = big()
    seller: str = Field(max_length=42, index=True)
    factor: str = Field(max_length=42, index=True)
    value: int = amount_field()
    price: int = amount_field()
    rate_bps: int
    days_to_maturity: int
    recourse: bool


class Repayment(_EventRow, table=True):
    certificate_id: int = big(index=True)
    debtor: str = Field(max_length=42, index=True)
    amount: int = amount_field()
    total_repaid: int = amount_field()


class Redemption(_EventRow, table=True):
    certificate_id: int = big(index=True)
    token_id: int = big(index=True)
    holder: str = Field(max_length=42, index=True)
    amount: int = amount_field()
    total_redeemed: int = amount_field()


class CurrencyTransfer(_EventRow, table=True):
    __tablename__ = "currency_transfer"
    sender: str = Field(max_length=42, index=True)
    recipient: str = Field(max_length=42, index=True)
    value: int = amount_field()


class CertificateStatusChange(_EventRow, table=True):
    __tablename__ = "certificate_status_change"
    certificate_id: int = big(index=True)
    status: str = Field(max_length=12)


class EarlyPayment(_EventRow, table=True):
    """`value` of a holding paid early by its debtor (`price` = value - discount), from an offer
    or a programme (the other id 0); `tier`: the holding's tier then."""

    __tablename__ = "early_payment"
    certificate_id: int = big(index=True)
    token_id: int = big()
    tier: int
    holder: str = Field(max_length=42, index=True)
    debtor: str = Field(max_length=42, index=True)
    value: int = amount_field()
    price: int = amount_field()
    rate_bps: int
    days_early: int
    offer_id: int = big()
    programme_id: int = big()


class InvoiceEvent(_EventRow, table=True):
    """An invoice's backing of one certificate: kind `backed` (InvoiceBacked: `value` = backed),
    `released` (InvoiceReleased, the certificate rejected: `value` = released), `closed`
    (InvoiceClosed, the certificate settled: `value` 0); `used` = the invoice's used value after."""

    __tablename__ = "invoice_event"
    key: str = Field(max_length=66, index=True)
    certificate_id: int = big(index=True)
    kind: str = Field(max_length=8)
    amount: int = amount_field()
    value: int = amount_field()
    used: int = amount_field()


def _t(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


Index("ix_holding_cert_parent", _t(Holding).c.certificate_id, _t(Holding).c.parent_token_id)
# the market report's order, each kind read up to its page's end (migration 0011_report_latency)
_OPEN_OFFER = text("kind = 'open'")
Index("ix_financing_offer_market", *(_t(FinancingOffer).c[c] for c in ("certificate_id", "tier", "created_block",
      "offer_id")), postgresql_where=_OPEN_OFFER, sqlite_where=_OPEN_OFFER)
Index("ix_quote_request_market", *(_t(QuoteRequest).c[c] for c in ("certificate_id", "tier", "created_block",
      "request_id")))
# the market's and the deals' totals of the whole book (migration 0013_report_totals)
Index("ix_financing_offer_market_state", _t(FinancingOffer).c.status, _t(FinancingOffer).c.expires_at,
      postgresql_include=["value"], postgresql_where=_OPEN_OFFER, sqlite_where=_OPEN_OFFER)
Index("ix_quote_request_market_state", _t(QuoteRequest).c.status, _t(QuoteRequest).c.deadline,
      postgresql_include=["value"])
_REGISTERED = text("registration_ref IS NOT NULL")
Index("ix_financing_offer_registered", _t(FinancingOffer).c.offer_id, postgresql_where=_REGISTERED,
      sqlite_where=_REGISTERED)

STATE_TABLES: dict[str, Table] = {
    _t(m).name: _t(m)
    for m in (
        Member,
        CreditLine,
        Certificate,
        Holding,
        FinancingOffer,
        CurrencyBalance,
        SystemState,
        Invoice,
        QuoteRequest,
        Quote,
        EarlyPaymentOffer,
        Programme,
        RecourseClaim,
    )
}
EVENT_TABLES: dict[str, Table] = {
    _t(m).name: _t(m)
    for m in (
        HoldingTransfer,
        FinancingDeal,
        Repayment,
        Redemption,
        CurrencyTransfer,
        CertificateStatusChange,
        EarlyPayment,
        InvoiceEvent,
    )
}
PK: dict[str, str] = {name: next(iter(t.primary_key.columns)).name for name, t in STATE_TABLES.items()}


def _version_table(state: Table) -> Table:
    """`<table>_version`: every state a row of `state` had, with the blocks it held for:
    valid_from_block <= B < valid_to_block (NULL: still current). Written by `indexer.store` in
    the batch's transaction, one row per (entity, block that changed it); a reorg deletes the
    versions above the common ancestor and reopens the ones it closed."""
    cols = [
        Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key, autoincrement=False)
        for c in state.columns
    ]
    t = Table(
        f"{state.name}_version",
        IndexerModel.metadata,
        *cols,
        Column("valid_from_block", BigInteger, primary_key=True, autoincrement=False),
        Column("valid_to_block", BigInteger, nullable=True),
    )
    Index(f"ix_{t.name}_valid_from_block", t.c.valid_from_block)
    return t


# the history of every state table (migration 0006 creates the same, from the state tables)
VERSION_TABLES: dict[str, Table] = {name: _version_table(t) for name, t in STATE_TABLES.items()}
# as-of lookups by certificate (lineage, certificate filters; with the block: the newest version
# of a certificate's holdings, `reports.lineage_stamp`, migration 0015) and by owner (member holdings)
Index("ix_holding_version_cert_block", VERSION_TABLES["holding"].c.certificate_id,
      VERSION_TABLES["holding"].c.valid_from_block)
Index("ix_holding_version_owner", VERSION_TABLES["holding"].c.owner)


# --- report aggregates (migration 0010_report_speed) ---------------------------------------
#
# Maintained by `indexer.aggregates` in the batch's transaction (and on reorg rollback), so that
# the whole-book reports need not scan a million holdings; always equal to a from-scratch
# computation over the state and event tables (rows that fall to zero are deleted, so the tables
# do not depend on batch boundaries).


class TierReceiver(IndexerModel, table=True):
    """Per tier and receiver: arrivals of holdings there (`holding_transfer` kinds mint, split,
    transfer) and the value that arrived (`reports.tiers`)."""

    __tablename__ = "agg_tier_receiver"
    tier: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    owner: str = Field(primary_key=True, max_length=42)
    arrivals: int = big(default=0)
    value_received: int = amount_field(default=0)


class TierHeld(IndexerModel, table=True):
    """Per tier: the value of live holdings there now (`reports.tiers` value_held)."""

    __tablename__ = "agg_tier_held"
    tier: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    value: int = amount_field(default=0)


class HolderOutstanding(IndexerModel, table=True):
    """Per holder: the value of its live holdings in open (pending, active, overdue) certificates
    (`reports.concentration` by holder)."""

    __tablename__ = "agg_holder_outstanding"
    owner: str = Field(primary_key=True, max_length=42)
    value: int = amount_field(default=0)


class WideAmount(Amount):
    """A sum of amounts times rates (bps): up to 90 digits on PostgreSQL (SQLite: decimal TEXT)."""

    impl = Numeric(90, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(90))
        return dialect.type_descriptor(Numeric(90, 0))


class DealCertificate(IndexerModel, table=True):
    """Per certificate: its financing deals, their value and price (`reports.exposure` financed)."""

    __tablename__ = "agg_deal_certificate"
    certificate_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    deals: int = big(default=0)
    financed: int = amount_field(default=0)
    financed_price: int = amount_field(default=0)


class DealParties(IndexerModel, table=True):
    """Per factor and seller: financing deals, volume, price paid, sum of rate x value, of rates
    and of days to maturity (`reports.financing` of the whole history)."""

    __tablename__ = "agg_deal_parties"
    factor: str = Field(primary_key=True, max_length=42)
    seller: str = Field(primary_key=True, max_length=42)
    deals: int = big(default=0)
    volume: int = amount_field(default=0)
    paid: int = amount_field(default=0)
    rate_value: int = Field(default=0, sa_type=WideAmount)  # type: ignore[call-overload]
    rate_sum: int = big(default=0)
    days_sum: int = big(default=0)


class DealRates(IndexerModel, table=True):
    """Per tier (the offer's: the seller's holding's when offered), factor, kind of offer and rate:
    financing deals, volume, price paid and sum of days to maturity (`reports.rates`; migration
    0012_split_rate_aggregates)."""

    __tablename__ = "agg_deal_rate"
    tier: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    factor: str = Field(primary_key=True, max_length=42)
    kind: str = Field(primary_key=True, max_length=8)
    rate_bps: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    deals: int = big(default=0)
    volume: int = amount_field(default=0)
    paid: int = amount_field(default=0)
    days_sum: int = big(default=0)


class TierSellers(IndexerModel, table=True):
    """Per kind of offer (and `*`: every kind), tier and seller: financing deals (`reports.rates`
    sellers per tier)."""

    __tablename__ = "agg_deal_tier_seller"
    kind: str = Field(primary_key=True, max_length=8)
    tier: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seller: str = Field(primary_key=True, max_length=42)
    deals: int = big(default=0)


class FactorSellers(IndexerModel, table=True):
    """Per kind of offer (and `*`: every kind), factor and seller: financing deals (`reports.rates`
    sellers per factor)."""

    __tablename__ = "agg_deal_factor_seller"
    kind: str = Field(primary_key=True, max_length=8)
    factor: str = Field(primary_key=True, max_length=42)
    seller: str = Field(primary_key=True, max_length=42)
    deals: int = big(default=0)


class SplitCount(IndexerModel, table=True):
    """Per holding: the splits off it (`holding_transfer` kind split; `reports.abnormal_splits`
    many_splits)."""

    __tablename__ = "agg_split_count"
    token_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    splits: int = big(index=True)


class ChainHop(IndexerModel, table=True):
    """Per hop (`holding_transfer` split or transfer) that continues a fast chain: it leaves the
    holding the previous hop (`prev_*`, the last one that delivered it) delivered, within
    `aggregates.CHAIN_SECONDS` of it; `hops`: the chain's hops up to this one (>= 2). A function of
    the hops up to it: a reorg deletes the rows above the ancestor (`reports.abnormal_splits`)."""

    __tablename__ = "agg_chain_hop"
    block_number: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})  # type: ignore[call-overload]
    log_index: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    prev_block_number: int = big()
    prev_log_index: int
    hops: int = Field(index=True)


Index("ix_agg_chain_hop_prev", _t(ChainHop).c.prev_block_number, _t(ChainHop).c.prev_log_index)
# small_value findings: the splits below a value (PostgreSQL; SQLite compares decimal TEXT by length)
_SPLIT = text("kind = 'split'")
Index("ix_holding_transfer_split_value", _t(HoldingTransfer).c.value, postgresql_where=_SPLIT, sqlite_where=_SPLIT)

AGG_TABLES: dict[str, Table] = {
    _t(m).name: _t(m)
    for m in (TierReceiver, TierHeld, HolderOutstanding, DealCertificate, DealParties, DealRates, TierSellers,
              FactorSellers, SplitCount, ChainHop)
}
BLOCK = _t(Block)
CHECKPOINT = _t(Checkpoint)
STATUS = _t(IndexerStatus)
UNDO = _t(UndoLog)
# tables whose content must equal a fresh index of the same chain (tests, reconcile)
DOMAIN_TABLES: dict[str, Table] = {
    **STATE_TABLES,
    **EVENT_TABLES,
    **{t.name: t for t in VERSION_TABLES.values()},
    **AGG_TABLES,
}
