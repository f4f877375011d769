"""Certificates and their lineage (penetration) trees."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response

from indexer import reports
from indexer.api.deps import Auditor, Conn, DateRange, Format, Page, address, respond

router = APIRouter(prefix="/v1/certificates", tags=["certificates"], dependencies=[Auditor])


@router.get("")
def list_certificates(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    debtor: str | None = None,
    holder: str | None = None,
    status: str | None = None,
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
def certificate_lineage(conn: Conn, certificate_id: int, format: Format = "json") -> Response:
    """The tree of holdings from tier 1 down: owners, values, document hashes, creating and
    transferring transactions. CSV: one row per holding, depth first."""
    tree = reports.lineage(conn, certificate_id)
    if tree is None:
        raise HTTPException(404, f"certificate {certificate_id} not indexed")
    if format == "csv":
        return respond({"rows": reports.flatten_lineage(tree["tree"])}, "rows", "csv", f"lineage-{certificate_id}")
    return respond(tree, "tree", "json", "lineage")


def _page(items: list[dict[str, object]], page: Page) -> dict[str, object]:
    return {
        "items": items,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if len(items) == page.limit else None,
    }
