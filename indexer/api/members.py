"""Members: list, holdings and history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from indexer import reports
from indexer.api.asof import AsOf
from indexer.api.certificates import list_response
from indexer.api.deps import MAX_ID, Auditor, Conn, DateRange, Format, MemberPath, Page, Role, address
from indexer.api.errors import RESPONSES

router = APIRouter(prefix="/v1/members", tags=["members"], dependencies=[Auditor], responses=RESPONSES)


@router.get("")
def list_members(
    conn: Conn,
    page: Annotated[Page, Depends()],
    as_of: AsOf,
    role: Annotated[Role | None, Query(description="member role")] = None,
    format: Format = "json",
) -> Response:
    """Members with role, status, KYC hash, credit line and settlement-currency balance."""
    items = reports.members(conn, role=role, limit=page.limit, offset=page.offset, at=as_of.at)
    return list_response(items, page, format, "members", as_of)


@router.get("/{member}/holdings")
def member_holdings(
    conn: Conn,
    member: MemberPath,
    page: Annotated[Page, Depends()],
    as_of: AsOf,
    include_spent: bool = False,
    certificate_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    format: Format = "json",
) -> Response:
    """Holdings of a member (live ones with value unless `include_spent`)."""
    items = reports.member_holdings(
        conn,
        address(member) or "",
        include_spent=include_spent,
        certificate_id=certificate_id,
        limit=page.limit,
        offset=page.offset,
        at=as_of.at,
    )
    return list_response(items, page, format, "holdings", as_of)


@router.get("/{member}/history")
def member_history(
    conn: Conn,
    member: MemberPath,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    format: Format = "json",
) -> Response:
    """Holdings received and passed on, financing deals, redemptions, repayments, currency moves
    (amount signed from the member's side), in chain order."""
    items = reports.member_history(
        conn,
        address(member) or "",
        date_from=dates.date_from,
        date_to=dates.date_to,
        limit=page.limit,
        offset=page.offset,
        at=as_of.at,
    )
    return list_response(items, page, format, "history", as_of)
