"""Certificates and their lineage (penetration) trees."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from indexer import reports
from indexer.api.asof import AsOf, Moment
from indexer.api.deps import (
    Auditor,
    CertificateId,
    CertificateStatus,
    Conn,
    DateRange,
    Format,
    Lineages,
    Page,
    address,
    address_query,
    csv_response,
    json_response,
    report_response,
)
from indexer.api.errors import RESPONSES, NotFound

router = APIRouter(prefix="/v1/certificates", tags=["certificates"], dependencies=[Auditor], responses=RESPONSES)


@router.get("")
def list_certificates(
    conn: Conn,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
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
        at=as_of.at,
    )
    return list_response(items, page, format, "certificates", as_of)


@router.get("/{certificate_id}/lineage")
def certificate_lineage(
    conn: Conn, trees: Lineages, certificate_id: CertificateId, as_of: AsOf, format: Format = "json"
) -> Response:
    """The tree of holdings from tier 1 down: owners, values, document hashes, creating and
    transferring transactions. CSV: one row per holding, depth first (all of them; the paginated
    form is /lineage/rows), with the tree's holdings, live value and deepest tier as columns."""
    if format == "json" and as_of.at is None and conn.dialect.name == "postgresql":
        # the same document, built faster, its holdings' part kept while they do not change
        body = reports.lineage_json(conn, certificate_id, as_of.summary(), trees.holdings)
        if body is None:
            raise NotFound(f"certificate {certificate_id} not indexed", as_of.summary())
        return Response(body, media_type="application/json")
    tree = _lineage(conn, certificate_id, as_of)
    if format == "csv":
        return csv_response(reports.flatten_lineage(tree["tree"]), f"lineage-{certificate_id}", _summary(tree))
    return json_response(tree)


@router.get("/{certificate_id}/lineage/rows")
def certificate_lineage_rows(
    conn: Conn,
    certificate_id: CertificateId,
    page: Annotated[Page, Depends()],
    dates: Annotated[DateRange, Depends()],
    as_of: AsOf,
    member: Annotated[str | None, address_query("only holdings this member owns (as of the block)")] = None,
    format: Format = "json",
) -> Response:
    """The lineage as flat rows, depth first (the order of the tree), paginated: holdings created in
    the date range, optionally of one owner. Summary: holdings, live value and deepest tier of the
    whole tree."""
    got = reports.lineage_page(conn, certificate_id, owner=address(member), date_from=dates.date_from,
                               date_to=dates.date_to, limit=page.limit, offset=page.offset, at=as_of.at)
    if got is None:
        raise NotFound(f"certificate {certificate_id} not indexed", as_of.summary())
    figures, total, rows = got
    summary = {"certificate_id": certificate_id, **figures, **as_of.summary()}
    return report_response(rows, page, format, f"lineage-{certificate_id}", summary=summary, total=total)


def _lineage(conn: Conn, certificate_id: int, as_of: Moment) -> dict[str, Any]:
    tree = reports.lineage(conn, certificate_id, at=as_of.at)
    if tree is None:
        raise NotFound(f"certificate {certificate_id} not indexed", as_of.summary())  # details: which block
    tree.update(as_of.summary())
    return tree


def _summary(tree: dict[str, Any]) -> dict[str, Any]:
    """The whole tree's figures (and the block it reflects), beside its rows."""
    return {k: tree[k] for k in ("holdings", "live_value", "max_tier", "as_of_block", "as_of_time")}


def list_response(items: list[dict[str, Any]], page: Page, fmt: str, name: str, as_of: Moment) -> Response:
    """A list page: JSON with the block it reflects; CSV rows with it as extra columns."""
    if fmt == "csv":
        return csv_response(items, name, as_of.summary())
    return json_response({**_page(items, page), **as_of.summary()})


def _page(items: list[dict[str, object]], page: Page) -> dict[str, object]:
    return {
        "items": items,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": page.offset + page.limit if len(items) == page.limit else None,
    }
