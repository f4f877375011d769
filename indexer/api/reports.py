"""Aggregate reports: exposure, tiers, financing, ageing, concentration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from indexer import reports
from indexer.api.deps import Auditor, Conn, DateRange, Format, Page, address, parse_time, respond

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=[Auditor])

Member = Annotated[str | None, Query(description="filter by member (the debtor, or the factor for financing)")]
AsOf = Annotated[str | None, Query(description="reference time (default: newest indexed block)")]


def _rows_page(rows: list[dict[str, Any]], page: Page) -> dict[str, Any]:
    items = rows[page.offset : page.offset + page.limit]
    return {
        "items": items,
        "total": len(rows),
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if page.offset + page.limit < len(rows) else None,
    }


@router.get("/exposure")
def exposure(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    member: Member = None,
    as_of: AsOf = None,
    format: Format = "json",
) -> Response:
    """Per core enterprise: issued, outstanding, financed, repaid, overdue."""
    rows = reports.exposure(
        conn, debtor=address(member), date_from=dates.date_from, date_to=dates.date_to, as_of=parse_time(as_of)
    )
    return respond(_rows_page(rows, page), "items", format, "exposure")


@router.get("/tiers")
def tiers(
    conn: Conn,
    dates: Annotated[DateRange, Depends()],
    member: Member = None,
    certificate_id: int | None = None,
    format: Format = "json",
) -> Response:
    """Suppliers reached per tier (distinct supplier holders), holdings and value per tier, of
    certificates issued in the date range."""
    rows = reports.tiers(
        conn, debtor=address(member), certificate_id=certificate_id, date_from=dates.date_from, date_to=dates.date_to
    )
    return respond({"items": rows}, "items", format, "tiers")


@router.get("/financing")
def financing(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Per factor: deals, volume, price paid, discount and average discount rate (bps a year)."""
    rows = reports.financing(conn, factor=address(member), date_from=dates.date_from, date_to=dates.date_to)
    return respond(_rows_page(rows, page), "items", format, "financing")


@router.get("/ageing")
def ageing(conn: Conn, member: Member = None, as_of: AsOf = None, format: Format = "json") -> Response:
    """Outstanding value in buckets of days to maturity, and of days overdue."""
    return respond(reports.ageing(conn, debtor=address(member), as_of=parse_time(as_of)), "buckets", format, "ageing")


@router.get("/concentration")
def concentration(
    conn: Conn,
    by: Annotated[str, Query(pattern="^(debtor|holder)$")] = "debtor",
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
    member: Member = None,
    format: Format = "json",
) -> Response:
    """Outstanding value by debtor or by holder: top-N share and HHI."""
    return respond(
        reports.concentration(conn, by=by, top=top, debtor=address(member)), "top", format, f"concentration-{by}"
    )
