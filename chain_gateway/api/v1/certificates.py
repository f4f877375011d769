"""Certificates: issue (core enterprise), accept / reject (payee), read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from chain_gateway import operations
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    Bytes32,
    CallerDep,
    CoreDep,
    GatewayDep,
    IdemKey,
    PathUint256,
    SupplierDep,
    Uint64,
    Uint128,
    WaitDep,
    b32,
    write,
)
from chain_gateway.models import OperationOut

router = APIRouter(prefix="/certificates", tags=["certificates"], responses=AUTHENTICATED)
STATUS = ["none", "pending", "active", "rejected", "overdue", "settled"]


class IssueIn(BaseModel):
    payee: Address
    face_value: Uint128
    maturity: Uint64
    document_hash: Bytes32


@router.post("", status_code=202, response_model=OperationOut, responses=FINAL)
async def issue(body: IssueIn, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep, response: Response):
    """Issue a certificate (result: certificate_id, token_id). face_value in minor units (2 decimals)."""
    return await write(gw, caller, "certificates.issue", "CertificateToken", "issue",
                       [body.payee, body.face_value, body.maturity, b32(body.document_hash)],
                       body.model_dump(mode="json"), idem, wait, response)


@router.post("/{certificate_id}/accept", status_code=202, response_model=OperationOut, responses=FINAL)
async def accept(certificate_id: PathUint256, gw: GatewayDep, caller: SupplierDep, idem: IdemKey, wait: WaitDep,
                 response: Response):
    return await write(gw, caller, "certificates.accept", "CertificateToken", "accept", [certificate_id],
                       {"certificate_id": certificate_id}, idem, wait, response)


@router.post("/{certificate_id}/reject", status_code=202, response_model=OperationOut, responses=FINAL)
async def reject(certificate_id: PathUint256, gw: GatewayDep, caller: SupplierDep, idem: IdemKey, wait: WaitDep,
                 response: Response):
    return await write(gw, caller, "certificates.reject", "CertificateToken", "reject", [certificate_id],
                       {"certificate_id": certificate_id}, idem, wait, response)


@router.get("/{certificate_id}")
async def get_certificate(certificate_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    c = await operations.view(gw, "CertificateToken", "certificate", [certificate_id])
    if int(c["debtor"], 16) == 0:
        from chain_gateway.errors import NotFound

        raise NotFound("no such certificate", {"certificate_id": certificate_id})
    status = c["status"]
    return {
        "certificate_id": certificate_id, "debtor": c["debtor"], "issued_at": c["issuedAt"],
        "maturity": c["maturity"], "status": STATUS[status] if status < len(STATUS) else status,
        "face_value": c["faceValue"], "redeemed_value": c["redeemedValue"], "document_hash": c["documentHash"],
    }
