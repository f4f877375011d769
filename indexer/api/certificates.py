"""Certificates and their lineage (penetration) trees."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from indexer import reports
from indexer.api.deps import (
    Auditor,
    CertificateId,
    CertificateStatus,
    Conn,
    DateRange,
    Format,
    Page,
    address,
    address_query,
    csv_response,
    report_response,
    respond,
)
from indexer.api.errors import RESPONSES, NotFound

router = APIRouter(prefix="/v1/certificates", tags=["certificates"], dependencies=[Auditor], responses=RESPONSES)


@router.get("")
def list_certificates(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    debtor: Annotated[str | None, address_query("the debtor")] = None,
    holder: Annotated[str | None, address_query("a member holding any part")] = None,
    status: Annotated[CertificateStatus | None, Query(description="certificate status")] = None,
    format: Format = "json",
) -> Response:
    """Certificates, filtered by debtor, by a member holding any part, by status and by issue date."""
    items = reports.certificates(
        conn,
        debtor=address(debtor),
        holder=address(holder),
        status_=status,
        date_from=dates.date_from,
        date_to=dates.date_to,
        limit=page.limit,
        offset=page.offset,
    )
    return respond(_page(items, page), "items", format, "certificates")


@router.get("/{certificate_id}/lineage")
def certificate_lineage(conn: Conn, certificate_id: CertificateId, format: Format = "json") -> Response:
    """The tree of holdings from tier 1 down: owners, values, document hashes, creating and
    transferring transactions. CSV: one row per holding, depth first (all of them; the paginated
    form is /lineage/rows), with the tree's holdings, live value and deepest tier as columns."""
    tree = reports.lineage(conn, certificate_id)
    if tree is None:
        raise NotFound(f"certificate {certificate_id} not indexed")
    if format == "csv":
        return csv_response(reports.flatten_lineage(tree["tree"]), f"lineage-{certificate_id}", _summary(tree))
    return respond(tree, "tree", "json", "lineage")


@router.get("/{certificate_id}/lineage/rows")
def certificate_lineage_rows(
    conn: Conn,
    certificate_id: CertificateId,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    member: Annotated[str | None, address_query("only holdings this member owns now")] = None,
    format: Format = "json",
) -> Response:
    """The lineage as flat rows, depth first (the order of the tree), paginated: holdings created in
    the date range, optionally of one owner. Summary: holdings, live value and deepest tier of the
    whole tree."""
    tree = reports.lineage(conn, certificate_id)
    if tree is None:
        raise NotFound(f"certificate {certificate_id} not indexed")
    owner = address(member)
    rows = [
        r
        for r in reports.flatten_lineage(tree["tree"])
        if (owner is None or r["owner"] == owner)
        and (dates.date_from is None or r["created_at"] >= dates.date_from)
        and (dates.date_to is None or r["created_at"] < dates.date_to)
    ]
    summary = {"certificate_id": certificate_id, **_summary(tree)}
    return report_response(rows, page, format, f"lineage-{certificate_id}", summary=summary)


def _summary(tree: dict[str, Any]) -> dict[str, Any]:
    """The whole tree's figures, beside its rows."""
    return {k: tree[k] for k in ("holdings", "live_value", "max_tier")}


def _page(items: list[dict[str, object]], page: Page) -> dict[str, object]:
    return {
        "items": items,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if len(items) == page.limit else None,
    }
