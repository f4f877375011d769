"""One function per event. Handlers read and write rows of an in-memory `WorkSet` (loaded in bulk
for the batch, written in bulk by `indexer.store`); they never touch the database themselves."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from indexer.decode import Event
from indexer.models import (
    CERT_STATUS_NAMES,
    EARLY_STATUS_NAMES,
    EVENT_TABLES,
    OFFER_STATUS_NAMES,
    QUOTE_STATUS_NAMES,
    RECOURSE_STATUS_NAMES,
    REQUEST_STATUS_NAMES,
    ROLE_NAMES,
    STATE_TABLES,
    ZERO_ADDRESS,
)

log = logging.getLogger(__name__)
Row = dict[str, Any]
Key = tuple[str, Any]


class WorkSet:
    """State rows touched by a batch, the batch's event rows and the undo journal entries."""

    def __init__(self, journal_from: int | None) -> None:
        self.original: dict[str, dict[Any, Row | None]] = {t: {} for t in STATE_TABLES}
        self.rows: dict[str, dict[Any, Row | None]] = {t: {} for t in STATE_TABLES}
        self.events: dict[str, list[Row]] = {t: [] for t in EVENT_TABLES}
        self.undo: list[Row] = []
        # per state row, its value at the end of each block of the batch that wrote it (history)
        self.versions: dict[str, dict[Any, dict[int, Row]]] = {t: {} for t in STATE_TABLES}
        self._journaled: set[tuple[str, Any, int]] = set()
        self.journal_from = journal_from
        self.block = 0
        # per token, the last hop that delivered it as of the batch's end, among the tokens the
        # batch's hops read or delivered (`aggregates.batch_deltas`; kept by the row cache)
        self.delivered: dict[Any, Row] = {}

    def loaded(self, table: str, pk: Any) -> bool:
        return pk in self.rows[table]

    def load(self, table: str, pk: Any, row: Row | None) -> None:
        self.original[table][pk] = row
        self.rows[table][pk] = row

    def get(self, table: str, pk: Any) -> Row | None:
        rows = self.rows[table]
        if pk not in rows:
            raise KeyError(f"{table}[{pk!r}] was not prefetched")
        return rows[pk]

    def _journal(self, table: str, pk: Any) -> None:
        if self.journal_from is None or self.block < self.journal_from:
            return
        key = (table, pk, self.block)
        if key in self._journaled:
            return
        self._journaled.add(key)
        prev = self.rows[table].get(pk)
        self.undo.append(
            {
                "block_number": self.block,
                "table_name": table,
                "pk": json.dumps(pk),
                "prev": None if prev is None else json.dumps(prev),
            }
        )

    def put(self, table: str, pk: Any, row: Row) -> None:
        self._journal(table, pk)
        self.rows[table][pk] = row
        self.versions[table].setdefault(pk, {})[self.block] = row

    def update(self, table: str, pk: Any, **changes: Any) -> Row:
        old = self.get(table, pk)
        if old is None:
            raise KeyError(f"{table}[{pk!r}] does not exist")
        self._journal(table, pk)
        new = {**old, **changes}
        self.rows[table][pk] = new
        self.versions[table].setdefault(pk, {})[self.block] = new
        return new

    def add_event(self, table: str, ev: Event, **fields: Any) -> None:
        self.events[table].append(
            {
                "block_number": ev.block_number,
                "log_index": ev.log_index,
                "tx_hash": ev.tx_hash,
                "timestamp": ev.timestamp or 0,
                **fields,
            }
        )

    def changed(self, table: str) -> tuple[list[Row], list[Row]]:
        """(rows to insert, rows to update) of a state table."""
        inserts: list[Row] = []
        updates: list[Row] = []
        original = self.original[table]
        for pk, row in self.rows[table].items():
            if row is None:
                continue
            before = original.get(pk)
            if before is None:
                inserts.append(row)
            elif row is not before and row != before:
                updates.append(row)
        return inserts, updates

    def history(self, table: str) -> tuple[list[Row], list[Row]]:
        """(versions to close: pk and valid_to_block of the row's open version before the batch,
        versions to insert) of a state table: one version per block that left the row different
        from its previous state (so equal whatever the batch boundaries)."""
        close: list[Row] = []
        add: list[Row] = []
        for pk, by_block in self.versions[table].items():
            prev = self.original[table].get(pk)
            mine: list[tuple[int, Row]] = []
            for block in sorted(by_block):
                row = by_block[block]
                if row != prev:
                    mine.append((block, row))
                    prev = row
            if not mine:
                continue
            if self.original[table].get(pk) is not None:
                close.append({"b_pk": pk, "b_to": mine[0][0]})
            for i, (block, row) in enumerate(mine):
                to = mine[i + 1][0] if i + 1 < len(mine) else None
                add.append({**row, "valid_from_block": block, "valid_to_block": to})
        return close, add


Handler = Callable[[WorkSet, Event], None]
HANDLERS: dict[tuple[str, str], Handler] = {}
EXTRA_KEYS: dict[tuple[str, str], Callable[[Event], Iterable[Key]]] = {}


def on(contract: str, name: str, keys: Callable[[Event], Iterable[Key]] | None = None) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(contract, name)] = fn
        if keys is not None:
            EXTRA_KEYS[(contract, name)] = keys
        return fn

    return register


_HOLDING_ARGS = ("tokenId", "_tokenId", "_fromTokenId", "_toTokenId", "newTokenId")


def keys_of(ev: Event) -> Iterable[Key]:
    """The state rows a handler may read: prefetched in bulk before the batch is applied."""
    a = ev.args
    if ev.contract == "CertificateToken" or ev.contract == "Financing" or ev.contract == "Settlement":
        for name in _HOLDING_ARGS:
            v = a.get(name)
            if v:
                yield ("holding", v)
        if "certificateId" in a:
            yield ("certificate", a["certificateId"])
        if "offerId" in a:
            yield ("financing_offer", a["offerId"])
    elif ev.contract == "Membership":
        if "account" in a and ev.name.startswith("Member"):
            yield ("member", a["account"])
        if ev.name == "CreditLineChanged":
            yield ("credit_line", a["debtor"])
    elif ev.contract == "SettlementToken" and ev.name == "Transfer":
        yield ("currency_balance", a["from"])
        yield ("currency_balance", a["to"])
    extra = EXTRA_KEYS.get((ev.contract, ev.name))
    if extra is not None:
        yield from extra(ev)


def _state(ws: WorkSet, ev: Event, key: str, value: Any) -> None:
    ws.put("system_state", key, {"key": key, "value": json.dumps(value), "updated_block": ev.block_number})


# --- Membership ----------------------------------------------------------------------------


@on("Membership", "MemberOnboarded")
def member_onboarded(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "member",
        a["account"],
        {
            "address": a["account"],
            "role": ROLE_NAMES.get(a["role"], str(a["role"])),
            "active": True,
            "kyc_hash": a["kycHash"],
            "onboarded_block": ev.block_number,
            "onboarded_at": ev.timestamp or 0,
            "updated_block": ev.block_number,
        },
    )


@on("Membership", "MemberKycUpdated")
def member_kyc_updated(ws: WorkSet, ev: Event) -> None:
    ws.update("member", ev.args["account"], kyc_hash=ev.args["kycHash"], updated_block=ev.block_number)


@on("Membership", "MemberStatusChanged")
def member_status_changed(ws: WorkSet, ev: Event) -> None:
    ws.update("member", ev.args["account"], active=ev.args["active"], updated_block=ev.block_number)


@on("Membership", "CreditLineChanged")
def credit_line_changed(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "credit_line",
        a["debtor"],
        {
            "debtor": a["debtor"],
            "limit": a["limit"],
            "used": a["used"],
            "updated_block": ev.block_number,
        },
    )


@on(
    "Membership",
    "SystemContractSet",
    keys=lambda ev: [("system_state", f"system_contract:{ev.args['account']}")],
)
def system_contract_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, f"system_contract:{ev.args['account']}", ev.args["enabled"])


@on("Membership", "SystemPaused", keys=lambda ev: [("system_state", "paused")])
def system_paused(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "paused", True)


@on("Membership", "SystemUnpaused", keys=lambda ev: [("system_state", "paused")])
def system_unpaused(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "paused", False)


# --- CertificateToken ----------------------------------------------------------------------


@on("CertificateToken", "CertificateIssued")
def certificate_issued(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "certificate",
        a["certificateId"],
        {
            "id": a["certificateId"],
            "debtor": a["debtor"],
            "payee": a["payee"],
            "first_token_id": a["tokenId"],
            "face_value": a["faceValue"],
            "issued_at": a["issuedAt"],
            "maturity": a["maturity"],
            "status": "pending",
            "document_hash": a["documentHash"],
            "repaid_value": 0,
            "redeemed_value": 0,
            "overdue_at": None,
            "settled_at": None,
            "issued_block": ev.block_number,
            "issued_tx": ev.tx_hash,
            "updated_block": ev.block_number,
        },
    )


@on("CertificateToken", "CertificateStatusChanged")
def certificate_status_changed(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    status = CERT_STATUS_NAMES.get(a["status"], str(a["status"]))
    if ws.get("certificate", a["certificateId"]) is None:
        raise KeyError(f"status {status} of unknown certificate {a['certificateId']} (tx {ev.tx_hash})")
    changes: dict[str, Any] = {"status": status, "updated_block": ev.block_number}
    if status == "overdue":
        changes["overdue_at"] = ev.timestamp
    elif status == "settled":
        changes["settled_at"] = ev.timestamp
    ws.update("certificate", a["certificateId"], **changes)
    ws.add_event("certificate_status_change", ev, certificate_id=a["certificateId"], status=status)


def _new_holding(ev: Event, token_id: int, owner: str) -> Row:
    return {
        "token_id": token_id,
        "certificate_id": 0,
        "owner": owner,
        "value": 0,
        "initial_value": 0,
        "parent_token_id": 0,
        "tier": 0,
        "frozen": False,
        "status": "live",
        "document_hash": "0x" + "00" * 32,
        "created_block": ev.block_number,
        "created_tx": ev.tx_hash,
        "created_at": ev.timestamp or 0,
        "updated_block": ev.block_number,
    }


@on("CertificateToken", "HoldingCreated")
def holding_created(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    tid = a["tokenId"]
    row = ws.get("holding", tid) or _new_holding(ev, tid, a["owner"])
    ws.put(
        "holding",
        tid,
        {
            **row,
            "certificate_id": a["certificateId"],
            "owner": a["owner"],
            "initial_value": a["initialValue"],
            "parent_token_id": a["parentTokenId"],
            "tier": a["tier"],
            "document_hash": a["documentHash"],
            "created_block": ev.block_number,
            "created_tx": ev.tx_hash,
            "created_at": ev.timestamp or 0,
            "updated_block": ev.block_number,
        },
    )


@on("CertificateToken", "TransferValue")
def transfer_value(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    src, dst, value = a["_fromTokenId"], a["_toTokenId"], a["_value"]
    hs = ws.get("holding", src) if src else None
    hd = ws.get("holding", dst) if dst else None
    if dst and hd is None:
        hd = _new_holding(ev, dst, ZERO_ADDRESS)
        ws.put("holding", dst, hd)
    if hs is not None:
        hs = ws.update("holding", src, value=hs["value"] - value, updated_block=ev.block_number)
    # a split fills a holding created empty just before; a merge adds to a live (non-empty) one
    merge = hd is not None and src and hd["value"] > 0
    if hd is not None:
        hd = ws.update("holding", dst, value=hd["value"] + value, updated_block=ev.block_number)
    kind = "mint" if not src else "burn" if not dst else "merge" if merge else "split"
    ref = hd or hs
    ws.add_event(
        "holding_transfer",
        ev,
        kind=kind,
        certificate_id=ref["certificate_id"] if ref else 0,
        from_token_id=src,
        to_token_id=dst,
        from_owner=hs["owner"] if hs else ZERO_ADDRESS,
        to_owner=hd["owner"] if hd else ZERO_ADDRESS,
        value=value,
        tier=ref["tier"] if ref else 0,
    )


@on("CertificateToken", "Transfer")
def holding_nft_transfer(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    tid, src, dst = a["tokenId"], a["from"], a["to"]
    row = ws.get("holding", tid)
    if src == ZERO_ADDRESS:  # mint: HoldingCreated fills the rest
        ws.put(
            "holding",
            tid,
            {**(row or _new_holding(ev, tid, dst)), "owner": dst, "updated_block": ev.block_number},
        )
        return
    if row is None:
        raise KeyError(f"ERC-721 Transfer of unknown holding {tid}")
    if dst == ZERO_ADDRESS:
        ws.update("holding", tid, status="burned", updated_block=ev.block_number)
        return
    ws.update("holding", tid, owner=dst, updated_block=ev.block_number)
    ws.add_event(
        "holding_transfer",
        ev,
        kind="transfer",
        certificate_id=row["certificate_id"],
        from_token_id=tid,
        to_token_id=tid,
        from_owner=src,
        to_owner=dst,
        value=row["value"],
        tier=row["tier"] + 1,  # HoldingTransferred, next in the same transaction, confirms it
    )


@on("CertificateToken", "HoldingTransferred")
def holding_transferred(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.update("holding", a["tokenId"], owner=a["to"], tier=a["tier"], updated_block=ev.block_number)
    # the ERC-721 Transfer just before it (same transaction) recorded the move: the event's tier wins
    for row in reversed(ws.events["holding_transfer"]):
        if row["tx_hash"] != ev.tx_hash:
            break
        if row["kind"] == "transfer" and row["to_token_id"] == a["tokenId"]:
            row["tier"] = a["tier"]
            break


@on("CertificateToken", "HoldingFrozen")
def holding_frozen(ws: WorkSet, ev: Event) -> None:
    ws.update("holding", ev.args["tokenId"], frozen=ev.args["frozen"], updated_block=ev.block_number)


@on("CertificateToken", "SlotChanged")
def slot_changed(ws: WorkSet, ev: Event) -> None:
    tid = ev.args["_tokenId"]
    if ev.args["_newSlot"] == 0:
        return  # ERC-3525 burn (slot -> 0): the holding keeps its certificate; Transfer to 0 marks it burned
    if ws.get("holding", tid) is not None:
        ws.update("holding", tid, certificate_id=ev.args["_newSlot"], updated_block=ev.block_number)


@on("CertificateToken", "MaxTermSet", keys=lambda ev: [("system_state", "max_term")])
def max_term_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "max_term", ev.args["maxTermSeconds"])


@on(
    "CertificateToken",
    "SystemContractsSet",
    keys=lambda ev: [("system_state", "certificate_system_contracts")],
)
def certificate_system_contracts_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "certificate_system_contracts", [ev.args["financing"], ev.args["settlement"]])


# the registry of invoices (docs/contracts.md, Controls)


def _invoice_keys(ev: Event) -> list[Key]:
    return [("invoice", ev.args["key"])]


def _invoice_event(ws: WorkSet, ev: Event, kind: str, invoice: Row, value: int) -> None:
    ws.add_event("invoice_event", ev, key=invoice["key"], certificate_id=ev.args["certificateId"], kind=kind,
                 amount=invoice["amount"], value=value, used=invoice["used"])


@on("CertificateToken", "InvoiceBacked", keys=_invoice_keys)
def invoice_backed(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    row = ws.get("invoice", a["key"])
    if row is None:
        row = {"key": a["key"], "closed": False, "closed_at": None, "first_block": ev.block_number,
               "first_at": ev.timestamp or 0}
    row = {**row, "amount": a["amount"], "used": a["used"], "updated_block": ev.block_number}
    ws.put("invoice", a["key"], row)
    _invoice_event(ws, ev, "backed", row, a["backed"])


def _known_invoice(ws: WorkSet, ev: Event) -> Row | None:
    """The invoice's row; None (logged, the event skipped) for an invoice registered before this
    index had the invoice tables (migration 0009 on an older index: re-index to have them)."""
    row = ws.get("invoice", ev.args["key"])
    if row is None:
        log.warning("%s of invoice %s registered before the index had invoices (re-index): skipped",
                    ev.name, ev.args["key"])
    return row


@on("CertificateToken", "InvoiceReleased", keys=_invoice_keys)
def invoice_released(ws: WorkSet, ev: Event) -> None:
    if _known_invoice(ws, ev) is None:
        return
    row = ws.update("invoice", ev.args["key"], used=ev.args["used"], updated_block=ev.block_number)
    _invoice_event(ws, ev, "released", row, ev.args["released"])


@on("CertificateToken", "InvoiceClosed", keys=_invoice_keys)
def invoice_closed(ws: WorkSet, ev: Event) -> None:
    row = _known_invoice(ws, ev)
    if row is None:
        return
    if not row["closed"]:  # every settled certificate on it closes it again: the first one counts
        row = ws.update("invoice", ev.args["key"], closed=True, closed_at=ev.timestamp or 0,
                        updated_block=ev.block_number)
    _invoice_event(ws, ev, "closed", row, 0)


@on("CertificateToken", "InvoicesRequiredSet", keys=lambda ev: [("system_state", "invoices_required")])
def invoices_required_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "invoices_required", ev.args["required"])


@on("CertificateToken", "MaxTierSet", keys=lambda ev: [("system_state", "max_tier")])
def max_tier_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "max_tier", ev.args["maxTier"])


@on("CertificateToken", "MinSplitValueSet", keys=lambda ev: [("system_state", "min_split_value")])
def min_split_value_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "min_split_value", ev.args["minSplitValue"])


# --- SettlementToken -----------------------------------------------------------------------


@on("SettlementToken", "Transfer")
def currency_transfer(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    src, dst, value = a["from"], a["to"], a["value"]
    for addr, delta in ((src, -value), (dst, value)):
        if addr == ZERO_ADDRESS:
            continue
        row = ws.get("currency_balance", addr)
        balance = (row["balance"] if row else 0) + delta
        ws.put("currency_balance", addr, {"address": addr, "balance": balance, "updated_block": ev.block_number})
    ws.add_event("currency_transfer", ev, sender=src, recipient=dst, value=value)


@on(
    "SettlementToken",
    "SystemContractsSet",
    keys=lambda ev: [("system_state", "currency_system_contracts")],
)
def currency_system_contracts_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "currency_system_contracts", [ev.args["financing"], ev.args["settlement"]])


# --- Financing -----------------------------------------------------------------------------


@on("Financing", "OfferCreated")
def offer_created(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "financing_offer",
        a["offerId"],
        {
            "offer_id": a["offerId"],
            "token_id": a["tokenId"],
            "certificate_id": a["certificateId"],
            "seller": a["seller"],
            "factor": a["factor"],
            "value": a["value"],
            "price": a["price"],
            "rate_bps": a["rateBps"],
            "days_to_maturity": a["daysToMaturity"],
            "expires_at": a["expiresAt"],
            "recourse": a["recourse"],
            "document_hash": a["documentHash"],
            "status": OFFER_STATUS_NAMES[1],
            "created_block": ev.block_number,
            "created_tx": ev.tx_hash,
            "created_at": ev.timestamp or 0,
            "closed_block": None,
            "closed_tx": None,
            "kind": "direct",  # OfferOpened / QuoteAccepted, in the same transaction, say otherwise
            "invited": None,
            "tier": _tier(ws, a["tokenId"]),
            "quote_id": None,
            "registration_ref": None,
            "registered_at": None,
        },
    )


def _tier(ws: WorkSet, token_id: int) -> int:
    h = ws.get("holding", token_id)
    return int(h["tier"]) if h is not None else 0


@on("Financing", "OfferOpened")
def offer_opened(ws: WorkSet, ev: Event) -> None:
    """An open offer (its OfferCreated has no factor): to every factor, or to the listed ones."""
    factors = [str(f).lower() for f in ev.args["factors"]]
    ws.update("financing_offer", ev.args["offerId"], kind="open", invited=",".join(factors) or None)


@on("Financing", "OfferCancelled")
def offer_cancelled(ws: WorkSet, ev: Event) -> None:
    ws.update(
        "financing_offer",
        ev.args["offerId"],
        status=OFFER_STATUS_NAMES[3],
        closed_block=ev.block_number,
        closed_tx=ev.tx_hash,
    )


@on("Financing", "OfferAccepted")
def offer_accepted(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    offer = ws.update(
        "financing_offer",
        a["offerId"],
        status=OFFER_STATUS_NAMES[2],
        factor=a["factor"],  # an open offer records its buyer
        closed_block=ev.block_number,
        closed_tx=ev.tx_hash,
    )
    ws.add_event(
        "financing_deal",
        ev,
        offer_id=a["offerId"],
        certificate_id=offer["certificate_id"],
        token_id=a["tokenId"],
        new_token_id=a["newTokenId"],
        seller=a["seller"],
        factor=a["factor"],
        value=a["value"],
        price=a["price"],
        rate_bps=offer["rate_bps"],
        days_to_maturity=offer["days_to_maturity"],
        recourse=offer["recourse"],
    )


# --- Financing: the market's quotes (RFQ) and recourse --------------------------------------


def _closed(ev: Event) -> dict[str, Any]:
    return {"closed_block": ev.block_number, "closed_tx": ev.tx_hash}


def _market_update(ws: WorkSet, ev: Event, table: str, pk: Any, **changes: Any) -> None:
    """Update a market row. One made before the index followed the market (an index migrated to
    0008_market) is missing: logged and skipped, so the follower never stops on it; reconcile
    lists it, and a re-index brings the market's history."""
    if ws.get(table, pk) is None:
        log.warning(
            "%s %s of unknown %s[%s] (tx %s): skipped; re-index for the market's history",
            ev.contract,
            ev.name,
            table,
            pk,
            ev.tx_hash,
        )
        return
    ws.update(table, pk, **changes)


@on("Financing", "QuotesRequested", keys=lambda ev: [("quote_request", ev.args["requestId"])])
def quotes_requested(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "quote_request",
        a["requestId"],
        {
            "request_id": a["requestId"],
            "token_id": a["tokenId"],
            "certificate_id": a["certificateId"],
            "tier": _tier(ws, a["tokenId"]),
            "seller": a["seller"],
            "value": a["value"],
            "deadline": a["deadline"],
            "recourse": a["recourse"],
            "document_hash": a["documentHash"],
            "status": REQUEST_STATUS_NAMES[1],
            "quote_id": None,
            "offer_id": None,
            "created_block": ev.block_number,
            "created_tx": ev.tx_hash,
            "created_at": ev.timestamp or 0,
            "closed_block": None,
            "closed_tx": None,
        },
    )


@on("Financing", "QuoteRequestCancelled", keys=lambda ev: [("quote_request", ev.args["requestId"])])
def quote_request_cancelled(ws: WorkSet, ev: Event) -> None:
    _market_update(ws, ev, "quote_request", ev.args["requestId"], status=REQUEST_STATUS_NAMES[3], **_closed(ev))


@on("Financing", "QuoteSubmitted", keys=lambda ev: [("quote", ev.args["quoteId"])])
def quote_submitted(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "quote",
        a["quoteId"],
        {
            "quote_id": a["quoteId"],
            "request_id": a["requestId"],
            "factor": a["factor"],
            "rate_bps": a["rateBps"],
            "price": a["price"],
            "days_to_maturity": a["daysToMaturity"],
            "status": QUOTE_STATUS_NAMES[1],
            "created_block": ev.block_number,
            "created_tx": ev.tx_hash,
            "created_at": ev.timestamp or 0,
            "closed_block": None,
            "closed_tx": None,
        },
    )


@on("Financing", "QuoteWithdrawn", keys=lambda ev: [("quote", ev.args["quoteId"])])
def quote_withdrawn(ws: WorkSet, ev: Event) -> None:
    _market_update(ws, ev, "quote", ev.args["quoteId"], status=QUOTE_STATUS_NAMES[3], **_closed(ev))


@on(
    "Financing",
    "QuoteAccepted",
    keys=lambda ev: [("quote", ev.args["quoteId"]), ("quote_request", ev.args["requestId"])],
)
def quote_accepted(ws: WorkSet, ev: Event) -> None:
    """After the deal's OfferCreated and OfferAccepted (same transaction): the offer is the quote's."""
    a = ev.args
    _market_update(ws, ev, "quote", a["quoteId"], status=QUOTE_STATUS_NAMES[2], **_closed(ev))
    _market_update(
        ws,
        ev,
        "quote_request",
        a["requestId"],
        status=REQUEST_STATUS_NAMES[2],
        quote_id=a["quoteId"],
        offer_id=a["offerId"],
        **_closed(ev),
    )
    ws.update("financing_offer", a["offerId"], kind="quote", quote_id=a["quoteId"])


def _claim_key(ev: Event) -> list[Key]:
    return [("recourse_claim", ev.args["offerId"])]


def _claim(ws: WorkSet, ev: Event, status: str) -> Row:
    a = ev.args
    offer = ws.get("financing_offer", a["offerId"])
    return {
        "offer_id": a["offerId"],
        "token_id": a["tokenId"],
        "certificate_id": offer["certificate_id"] if offer else 0,
        "seller": a["seller"],
        "factor": a["factor"],
        "status": status,
        "claimed_value": a["value"],
        "claimed_amount": a["amount"],
        "settled_value": None,
        "settled_amount": None,
        "exercised_block": ev.block_number,
        "exercised_tx": ev.tx_hash,
        "exercised_at": ev.timestamp or 0,
        "settled_block": None,
        "settled_tx": None,
        "settled_at": None,
    }


@on("Financing", "RecourseUnpaid", keys=_claim_key)
def recourse_unpaid(ws: WorkSet, ev: Event) -> None:
    """The factor exercised recourse; the seller could not pay: a claim, unpaid."""
    ws.put("recourse_claim", ev.args["offerId"], _claim(ws, ev, RECOURSE_STATUS_NAMES[1]))


@on("Financing", "RecourseSettled", keys=_claim_key)
def recourse_settled(ws: WorkSet, ev: Event) -> None:
    """The seller bought the holding back: at once when exercised, or later for an unpaid claim."""
    a = ev.args
    claim = ws.get("recourse_claim", a["offerId"]) or _claim(ws, ev, RECOURSE_STATUS_NAMES[2])
    ws.put(
        "recourse_claim",
        a["offerId"],
        {
            **claim,
            "status": RECOURSE_STATUS_NAMES[2],
            "settled_value": a["value"],
            "settled_amount": a["amount"],
            "settled_block": ev.block_number,
            "settled_tx": ev.tx_hash,
            "settled_at": ev.timestamp or 0,
        },
    )


@on("Financing", "RegistrationSet")
def registration_set(ws: WorkSet, ev: Event) -> None:
    """The deal's registration reference (中登网), set once by its factor."""
    ws.update("financing_offer", ev.args["offerId"], registration_ref=ev.args["ref"],
              registered_at=ev.timestamp or 0)


# --- Settlement ----------------------------------------------------------------------------


@on("Settlement", "Repaid")
def repaid(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.update("certificate", a["certificateId"], repaid_value=a["totalRepaid"], updated_block=ev.block_number)
    ws.add_event(
        "repayment",
        ev,
        certificate_id=a["certificateId"],
        debtor=a["debtor"],
        amount=a["amount"],
        total_repaid=a["totalRepaid"],
    )


@on("Settlement", "Redeemed")
def redeemed(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    # the token's CertificateStatusChanged(Settled), earlier in the same transaction, sets the status
    ws.update("certificate", a["certificateId"], redeemed_value=a["totalRedeemed"], updated_block=ev.block_number)
    ws.add_event(
        "redemption",
        ev,
        certificate_id=a["certificateId"],
        token_id=a["tokenId"],
        holder=a["holder"],
        amount=a["amount"],
        total_redeemed=a["totalRedeemed"],
    )


def _early_keys(ev: Event) -> list[Key]:
    a = ev.args
    keys: list[Key] = []
    if a["offerId"]:
        keys.append(("early_payment_offer", a["offerId"]))
    if a["programmeId"]:
        keys.append(("programme", a["programmeId"]))
    return keys


@on("Settlement", "EarlyPaid", keys=_early_keys)
def early_paid(ws: WorkSet, ev: Event) -> None:
    """The debtor paid `value` of a holding early (dynamic discounting): it counts as repaid and
    redeemed at once; the burn itself arrives as the token's TransferValue, the released credit as
    CreditLineChanged. The offer it came from is accepted; a programme's budget shrinks."""
    a = ev.args
    ws.update(
        "certificate",
        a["certificateId"],
        repaid_value=a["totalRepaid"],
        redeemed_value=a["totalRedeemed"],
        updated_block=ev.block_number,
    )
    if a["offerId"]:
        _market_update(ws, ev, "early_payment_offer", a["offerId"], status=EARLY_STATUS_NAMES[2], **_closed(ev))
    if a["programmeId"]:
        p = ws.get("programme", a["programmeId"])
        remaining = p["remaining"] - a["value"] if p is not None else 0
        _market_update(ws, ev, "programme", a["programmeId"], remaining=remaining)
    ws.add_event(
        "early_payment",
        ev,
        certificate_id=a["certificateId"],
        token_id=a["tokenId"],
        tier=_tier(ws, a["tokenId"]),
        holder=a["holder"],
        debtor=a["debtor"],
        value=a["value"],
        price=a["price"],
        rate_bps=a["rateBps"],
        days_early=a["daysEarly"],
        offer_id=a["offerId"],
        programme_id=a["programmeId"],
    )


def _early_offer_key(ev: Event) -> list[Key]:
    return [("early_payment_offer", ev.args["offerId"])]


@on("Settlement", "EarlyPaymentOffered", keys=_early_offer_key)
def early_payment_offered(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "early_payment_offer",
        a["offerId"],
        {
            "offer_id": a["offerId"],
            "token_id": a["tokenId"],
            "certificate_id": a["certificateId"],
            "tier": _tier(ws, a["tokenId"]),
            "debtor": a["debtor"],
            "value": a["value"],
            "rate_bps": a["rateBps"],
            "expires_at": a["expiresAt"],
            "status": EARLY_STATUS_NAMES[1],
            "created_block": ev.block_number,
            "created_tx": ev.tx_hash,
            "created_at": ev.timestamp or 0,
            "closed_block": None,
            "closed_tx": None,
        },
    )


@on("Settlement", "EarlyPaymentCancelled", keys=_early_offer_key)
def early_payment_cancelled(ws: WorkSet, ev: Event) -> None:
    _market_update(ws, ev, "early_payment_offer", ev.args["offerId"], status=EARLY_STATUS_NAMES[3], **_closed(ev))


def _programme_key(ev: Event) -> list[Key]:
    return [("programme", ev.args["programmeId"])]


@on("Settlement", "ProgrammeOpened", keys=_programme_key)
def programme_opened(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    ws.put(
        "programme",
        a["programmeId"],
        {
            "programme_id": a["programmeId"],
            "debtor": a["debtor"],
            "rate_bps": a["rateBps"],
            "budget": a["budget"],
            "remaining": a["budget"],
            "status": "open",
            "opened_block": ev.block_number,
            "opened_tx": ev.tx_hash,
            "opened_at": ev.timestamp or 0,
            "closed_block": None,
            "closed_tx": None,
        },
    )


@on("Settlement", "ProgrammeClosed", keys=_programme_key)
def programme_closed(ws: WorkSet, ev: Event) -> None:
    a = ev.args
    _market_update(ws, ev, "programme", a["programmeId"], status="closed", remaining=a["remaining"], **_closed(ev))


@on("Settlement", "GracePeriodSet", keys=lambda ev: [("system_state", "grace_period")])
def grace_period_set(ws: WorkSet, ev: Event) -> None:
    _state(ws, ev, "grace_period", ev.args["gracePeriodSeconds"])


def apply(ws: WorkSet, events: list[Event]) -> int:
    """Apply events in chain order; returns how many had a handler."""
    n = 0
    for ev in events:
        fn = HANDLERS.get((ev.contract, ev.name))
        if fn is None:
            continue  # approvals and other events the reports do not need
        ws.block = ev.block_number
        fn(ws, ev)
        n += 1
    return n
