"""Aggregate reports: exposure, tiers, financing, ageing, concentration; the market's: market
(open offers and quote requests), rates, early payments, recourse; the controls': invoice usage,
abnormal splitting, deals with their registration, the regulator's export.

Every report takes the same parameters: `member`, `date_from` / `date_to`, `limit` / `offset`
(over its rows) and `format=json|csv`. JSON: the rows (under `items`, `buckets` for ageing, `top`
for concentration) with `total`, `limit`, `offset`, `next_offset` and the report's summary
figures. CSV: the rows of the page, the summary figures repeated as columns on every row (so a
saved file keeps them). The page, date range and as-of parameters come in one dependency
(`indexer.api.asof.Report`); reports with a row per item are paged by the database."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Response

from indexer import reports
from indexer.api.asof import Report, ReportParams
from indexer.api.deps import (
    MAX_ID,
    Auditor,
    Conn,
    Format,
    address,
    address_query,
    csv_response,
    json_response,
    report_response,
)
from indexer.api.errors import RESPONSES

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[Auditor], responses=RESPONSES)

Member = Annotated[str | None, address_query("filter by member (the debtor; factor or seller for financing)")]


def _paged(q: ReportParams, fmt: str, name: str, totals: dict[str, Any], rows: list[dict[str, Any]],
           count: str = "rows") -> Response:
    """A report the database paged: `rows` is the page, `totals` the figures of every row (the
    summary), `totals[count]` their number (`rows`: a count only, left out of the summary)."""
    n = totals.pop(count) if count == "rows" else totals[count]
    return report_response(rows, q.page, fmt, name, summary={**totals, **q.as_of.summary()}, total=n)


@router.get("/exposure")
def exposure(
    conn: Conn,
    q: Report,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Per core enterprise, certificates issued in the date range: issued, outstanding (face -
    redeemed), unpaid by the debtor (face - repaid), financed, repaid, overdue, matured unpaid."""
    rows = reports.exposure(
        conn,
        debtor=address(member),
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        as_of=q.as_of.time,
        at=q.as_of.at,
    )
    summary = {"as_of": q.as_of.time, **q.as_of.summary()}
    return report_response(rows, q.page, format, "exposure", summary=summary)


@router.get("/tiers")
def tiers(
    conn: Conn,
    q: Report,
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
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        at=q.as_of.at,
    )
    return report_response(rows, q.page, format, "tiers", summary=q.as_of.summary())


@router.get("/financing")
def financing(
    conn: Conn,
    q: Report,
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
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        at=q.as_of.at,
    )
    return report_response(rows, q.page, format, "financing", summary=q.as_of.summary())


@router.get("/ageing")
def ageing(
    conn: Conn,
    q: Report,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Outstanding value of certificates issued in the date range, in buckets of days to
    maturity and of days overdue (as seen at the time of the block reported)."""
    rep = reports.ageing(
        conn,
        debtor=address(member),
        as_of=q.as_of.time,
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        at=q.as_of.at,
    )
    rep.update(q.as_of.summary())
    buckets = rep.pop("buckets")
    return report_response(buckets, q.page, format, "ageing", rows_key="buckets", summary=rep)


@router.get("/concentration")
def concentration(
    conn: Conn,
    q: Report,
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
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        at=q.as_of.at,
    )
    rep.update(q.as_of.summary())
    rows = rep.pop("top")
    return report_response(rows, q.page, format, f"concentration-{by}", rows_key="top", summary=rep)


MarketState = Literal["open", "expired", "accepted", "cancelled"]
OfferKind = Literal["direct", "open", "quote"]


@router.get("/market")
def market(
    conn: Conn,
    q: Report,
    member: Annotated[str | None, address_query("only this seller's offers and requests")] = None,
    certificate_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    tier: Annotated[int | None, Query(ge=0, le=2**31 - 1, description="the holding's tier when offered")] = None,
    state: Annotated[MarketState | None, Query(description="state at the block reported")] = None,
    format: Format = "json",
) -> Response:
    """Open offers (to every factor or a list) and quote requests created in the date range, by
    certificate and tier: value, rate offered or best (lowest) rate quoted with its price, quotes
    received, buyer, state (`expired`: open past its expiry or deadline at the block reported)."""
    mq = reports.MarketQuery(seller=address(member), certificate_id=certificate_id, tier=tier, state=state,
                             date_from=q.dates.date_from, date_to=q.dates.date_to, now=q.as_of.time, at=q.as_of.at)
    totals = reports.market_totals(conn, mq)
    return _paged(q, format, "market", totals, reports.market(conn, mq, limit=q.page.limit, offset=q.page.offset))


@router.get("/rates")
def rates(
    conn: Conn,
    q: Report,
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
        date_from=q.dates.date_from,
        date_to=q.dates.date_to,
        at=q.as_of.at,
    )
    return report_response(rows, q.page, format, f"rates-{by}", summary=q.as_of.summary())


@router.get("/early-payments")
def early_payments(
    conn: Conn,
    q: Report,
    member: Annotated[str | None, address_query("only this debtor's or holder's payments")] = None,
    format: Format = "json",
) -> Response:
    """Early payments by the debtor (dynamic discounting) per debtor and holder, paid in the date
    range: value settled early, paid, discount saved, value-weighted days early and rate."""
    filters: dict[str, Any] = dict(member=address(member), date_from=q.dates.date_from, date_to=q.dates.date_to,
                                   at=q.as_of.at)
    totals = reports.early_payment_totals(conn, **filters)
    rows = reports.early_payments(conn, **filters, limit=q.page.limit, offset=q.page.offset)
    return _paged(q, format, "early-payments", totals, rows)


@router.get("/recourse")
def recourse(
    conn: Conn,
    q: Report,
    member: Annotated[str | None, address_query("only claims of this seller or factor")] = None,
    status: Annotated[Literal["unpaid", "settled"] | None, Query(description="claim status")] = None,
    format: Format = "json",
) -> Response:
    """Recourse claims exercised in the date range, one row each: the deal, what was claimed,
    settled (bought back) or unpaid, with totals."""
    filters: dict[str, Any] = dict(member=address(member), status_=status, date_from=q.dates.date_from,
                                   date_to=q.dates.date_to, at=q.as_of.at)
    totals = reports.recourse_totals(conn, **filters)
    rows = reports.recourse(conn, **filters, limit=q.page.limit, offset=q.page.offset)
    return _paged(q, format, "recourse", totals, rows, count="claims")


InvoiceKey = Annotated[str | None, Query(pattern="^0x[0-9a-fA-F]{64}$",
                                         description="one invoice: its canonical key (0x + 64 hex digits)")]
CertificateFilter = Annotated[int | None, Query(ge=0, le=MAX_ID, description="only this certificate")]
Amount = Annotated[int, Query(ge=0, le=2**256 - 1)]
InvoiceState = Literal["closed", "used_up", "partly_used", "released"]
Finding = Literal["many_splits", "small_value", "fast_chain"]
assert get_args(InvoiceState) == reports.INVOICE_STATES and get_args(Finding) == reports.FINDINGS


@router.get("/invoices")
def invoice_usage(
    conn: Conn,
    q: Report,
    key: InvoiceKey = None,
    certificate_id: CertificateFilter = None,
    state: Annotated[InvoiceState | None, Query(description="only invoices in this state")] = None,
    format: Format = "json",
) -> Response:
    """Invoice usage (one invoice, one certificate): per invoice first registered in the date range,
    its key, amount, used, available, state and the certificates backing on it (`id:backed`)."""
    filters: dict[str, Any] = dict(key=key.lower() if key else None, certificate_id=certificate_id,
                                   date_from=q.dates.date_from, date_to=q.dates.date_to, at=q.as_of.at)
    if state is not None:  # the state is known row by row: every row, paged here
        rows = reports.invoices(conn, **filters, state=state)
        summary = {"invoices": len(rows), "total_used": sum(r["used"] for r in rows), **q.as_of.summary()}
        return report_response(rows, q.page, format, "invoices", summary=summary)
    totals = reports.invoice_totals(conn, **filters)
    rows = reports.invoices(conn, **filters, limit=q.page.limit, offset=q.page.offset)
    return _paged(q, format, "invoices", totals, rows, count="invoices")


@router.get("/abnormal-splits")
def abnormal_splits(
    conn: Conn,
    q: Report,
    max_splits: Annotated[int, Query(ge=0, le=MAX_ID, description="a holding split more often is a finding")
                          ] = reports.MAX_SPLITS,
    min_value: Annotated[Amount, Query(description="a split moving less is a finding (minor units)")
                         ] = reports.MIN_VALUE,
    max_seconds: Annotated[int, Query(ge=0, le=MAX_ID, description="most seconds between two hops of a fast chain")
                           ] = reports.MAX_SECONDS,
    min_hops: Annotated[int, Query(ge=2, le=1000, description="hops of a fast chain at least")] = reports.MIN_HOPS,
    finding: Annotated[Finding | None, Query(description="only this kind of finding")] = None,
    certificate_id: CertificateFilter = None,
    member: Annotated[str | None, address_query("hops this member sent or received")] = None,
    format: Format = "json",
) -> Response:
    """Abnormal splitting in the date range: holdings split more than `max_splits` times, splits
    below `min_value`, fast chains (`min_hops` hops or more, each within `max_seconds` of the
    previous). The thresholds used and the counts per finding are in the summary."""
    rows = reports.abnormal_splits(conn, max_splits=max_splits, min_value=min_value, max_seconds=max_seconds,
                                   min_hops=min_hops, certificate_id=certificate_id, member=address(member),
                                   date_from=q.dates.date_from, date_to=q.dates.date_to, at=q.as_of.at)
    counts = {f: sum(1 for r in rows if r["finding"] == f) for f in reports.FINDINGS}
    if finding is not None:
        rows = [r for r in rows if r["finding"] == finding]
    summary = {"max_splits": max_splits, "min_value": min_value, "max_seconds": max_seconds, "min_hops": min_hops,
               **{f"{f}_count": n for f, n in counts.items()}, **q.as_of.summary()}
    return report_response(rows, q.page, format, "abnormal-splits", summary=summary)


@router.get("/deals")
def registered_deals(
    conn: Conn,
    q: Report,
    member: Annotated[str | None, address_query("deals of this seller or factor")] = None,
    registered: Annotated[bool | None, Query(description="only deals with (true) or without (false) registration")
                          ] = None,
    certificate_id: CertificateFilter = None,
    format: Format = "json",
) -> Response:
    """Financing deals in the date range with their registration reference (中登网)."""
    filters: dict[str, Any] = dict(member=address(member), registered=registered, certificate_id=certificate_id,
                                   date_from=q.dates.date_from, date_to=q.dates.date_to, at=q.as_of.at)
    counts = reports.deals_summary(conn, **filters)
    rows = reports.deals(conn, **filters, limit=q.page.limit, offset=q.page.offset)
    return _paged(q, format, "deals", counts, rows, count="deals")


@router.get("/regulator/{dataset}")
def regulator_export(
    conn: Conn,
    dataset: Literal["certificates", "transfers", "deals"],
    q: Report,
    format: Format = "json",
) -> Response:
    """The regulator's export (docs/indexer.md, "regulator layout"): certificates, transfers or
    deals, one page (`limit`, `offset`) in chain order, fixed columns. JSON: `{layout, dataset,
    columns, rows, limit, offset, next_offset, as_of_block, as_of_time}`; CSV: the columns as header."""
    rows = reports.regulator_export(conn, dataset, date_from=q.dates.date_from, date_to=q.dates.date_to,
                                    limit=q.page.limit, offset=q.page.offset, at=q.as_of.at)
    columns = reports.REGULATOR_COLUMNS[dataset]
    if format == "csv":
        return csv_response(rows, f"regulator-{dataset}", columns=columns)
    return json_response({
        "layout": reports.REGULATOR_LAYOUT, "dataset": dataset, "columns": list(columns), "rows": rows,
        "limit": q.page.limit, "offset": q.page.offset,
        "next_offset": q.page.offset + q.page.limit if len(rows) == q.page.limit else None, **q.as_of.summary(),
    })
