"""Aggregate reports: exposure, tiers, financing, ageing, concentration; the market's: market
(open offers and quote requests), rates, early payments, recourse.

Every report takes the same parameters: `member`, `date_from` / `date_to`, `limit` / `offset`
(over its rows) and `format=json|csv`. JSON: the rows (under `items`, `buckets` for ageing, `top`
for concentration) with `total`, `limit`, `offset`, `next_offset` and the report's summary
figures. CSV: the rows of the page, the summary figures repeated as columns on every row (so a
saved file keeps them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from indexer import reports
from indexer.api.asof import AsOf
from indexer.api.deps import (
    MAX_ID,
    Auditor,
    Conn,
    DateRange,
    Format,
    Page,
    address,
    address_query,
    report_response,
)
from indexer.api.errors import RESPONSES

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[Auditor], responses=RESPONSES)

Member = Annotated[str | None, address_query("filter by member (the debtor; factor or seller for financing)")]


@router.get("/exposure")
def exposure(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Per core enterprise, certificates issued in the date range: issued, outstanding (face -
    redeemed), unpaid by the debtor (face - repaid), financed, repaid, overdue, matured unpaid."""
    rows = reports.exposure(
        conn,
        debtor=address(member),
        date_from=dates.date_from,
        date_to=dates.date_to,
        as_of=as_of.time,
        at=as_of.at,
    )
    summary = {"as_of": as_of.time, **as_of.summary()}
    return report_response(rows, page, format, "exposure", summary=summary)


@router.get("/tiers")
def tiers(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Member = None,
    certificate_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    format: Format = "json",
) -> Response:
    """Suppliers reached per tier (from the history: every arrival of a holding at a tier),
    holders, holdings and value received per tier, and value held there now; certificates issued
    in the date range."""
    rows = reports.tiers(
        conn,
        debtor=address(member),
        certificate_id=certificate_id,
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    return report_response(rows, page, format, "tiers", summary=as_of.summary())


@router.get("/financing")
def financing(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Member = None,
    seller: Annotated[str | None, address_query("only deals of this seller")] = None,
    factor: Annotated[str | None, address_query("only deals of this factor")] = None,
    format: Format = "json",
) -> Response:
    """Per factor, deals in the date range: deals, volume, price paid, discount and average
    discount rate (bps a year)."""
    rows = reports.financing(
        conn,
        member=address(member),
        seller=address(seller),
        factor=address(factor),
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    return report_response(rows, page, format, "financing", summary=as_of.summary())


@router.get("/ageing")
def ageing(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Outstanding value of certificates issued in the date range, in buckets of days to
    maturity and of days overdue (as seen at the time of the block reported)."""
    rep = reports.ageing(
        conn,
        debtor=address(member),
        as_of=as_of.time,
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    rep.update(as_of.summary())
    buckets = rep.pop("buckets")
    return report_response(buckets, page, format, "ageing", rows_key="buckets", summary=rep)


@router.get("/concentration")
def concentration(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    by: Annotated[Literal["debtor", "holder"], Query(description="group by debtor or by holder")] = "debtor",
    top: Annotated[int, Query(ge=1, le=10_000, description="N of the top-N rows and share")] = 10,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Outstanding value by debtor or by holder (certificates issued in the date range): the
    top-N rows (paginated), top-N share, HHI, parties and total."""
    rep: dict[str, Any] = reports.concentration(
        conn,
        by=by,
        top=top,
        debtor=address(member),
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    rep.update(as_of.summary())
    rows = rep.pop("top")
    return report_response(rows, page, format, f"concentration-{by}", rows_key="top", summary=rep)


MarketState = Literal["open", "expired", "accepted", "cancelled"]
OfferKind = Literal["direct", "open", "quote"]


@router.get("/market")
def market(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Annotated[str | None, address_query("only this seller's offers and requests")] = None,
    certificate_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    tier: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="the holding's tier when offered")] = None,
    state: Annotated[MarketState | None, Query(description="state at the block reported")] = None,
    format: Format = "json",
) -> Response:
    """Open offers (to every factor or a list) and quote requests created in the date range, by
    certificate and tier: value, rate offered or best (lowest) rate quoted with its price, quotes
    received, buyer, state (`expired`: open past its expiry or deadline at the block reported)."""
    rows = reports.market(
        conn,
        seller=address(member),
        certificate_id=certificate_id,
        tier=tier,
        state=state,
        date_from=dates.date_from,
        date_to=dates.date_to,
        now=as_of.time,
        at=as_of.at,
    )
    summary = {
        "open_offers": sum(1 for r in rows if r["kind"] == "open_offer"),
        "quote_requests": sum(1 for r in rows if r["kind"] == "quote_request"),
        "open_value": sum(r["value"] for r in rows if r["state"] == "open"),
        **as_of.summary(),
    }
    return report_response(rows, page, format, "market", summary=summary)


@router.get("/rates")
def rates(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    by: Annotated[Literal["tier", "factor"], Query(description="group by the seller's tier or by factor")] = "tier",
    kind: Annotated[OfferKind | None, Query(description="only deals made so: direct, open offer, quote")] = None,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Discount rates achieved per tier or per factor, deals in the date range: deals, volume,
    paid, min / max / volume-weighted / simple average annual rate (bps), days to maturity."""
    rows = reports.rates(
        conn,
        by=by,
        member=address(member),
        kind=kind,
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    return report_response(rows, page, format, f"rates-{by}", summary=as_of.summary())


@router.get("/early-payments")
def early_payments(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Annotated[str | None, address_query("only this debtor's or holder's payments")] = None,
    format: Format = "json",
) -> Response:
    """Early payments by the debtor (dynamic discounting) per debtor and holder, paid in the date
    range: value settled early, paid, discount saved, value-weighted days early and rate."""
    rows = reports.early_payments(
        conn, member=address(member), date_from=dates.date_from, date_to=dates.date_to, at=as_of.at
    )
    summary = {
        "value": sum(r["value"] for r in rows),
        "paid": sum(r["paid"] for r in rows),
        "discount": sum(r["discount"] for r in rows),
        **as_of.summary(),
    }
    return report_response(rows, page, format, "early-payments", summary=summary)


@router.get("/recourse")
def recourse(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Annotated[str | None, address_query("only claims of this seller or factor")] = None,
    status: Annotated[Literal["unpaid", "settled"] | None, Query(description="claim status")] = None,
    format: Format = "json",
) -> Response:
    """Recourse claims exercised in the date range, one row each: the deal, what was claimed,
    settled (bought back) or unpaid, with totals."""
    rows = reports.recourse(
        conn,
        member=address(member),
        status_=status,
        date_from=dates.date_from,
        date_to=dates.date_to,
        at=as_of.at,
    )
    summary = {**reports.recourse_summary(rows), **as_of.summary()}
    return report_response(rows, page, format, "recourse", summary=summary)
