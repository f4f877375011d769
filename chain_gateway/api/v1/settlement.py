"""Settlement: repay (debtor), redeem (holder), batch settle (debtor/operator), mark overdue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from chain_gateway import operations
from chain_gateway.api.v1.holdings import own_holding
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    CallerDep,
    CoreDep,
    GatewayDep,
    HolderDep,
    IdemKey,
    PathUint256,
    SettlerDep,
    SignerRoleDep,
    Uint128,
    Uint256,
    WaitDep,
    same,
    write,
)
from chain_gateway.errors import Forbidden, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, OperationOut

router = APIRouter(prefix="/settlement", tags=["settlement"], responses=AUTHENTICATED)


class RepayIn(BaseModel):
    certificate_id: Uint256
    amount: Uint128


class RedeemIn(BaseModel):
    token_id: Uint256


class BatchIn(BaseModel):
    token_ids: list[Uint256] = Field(min_length=1, max_length=500)


class OverdueIn(BaseModel):
    certificate_id: Uint256


async def _debtor(gw: Gateway, caller: ApiKey, certificate_id: int) -> None:
    c = await operations.view(gw, "CertificateToken", "certificate", [certificate_id])
    if int(c["debtor"], 16) == 0:
        raise NotFound("no such certificate", {"certificate_id": certificate_id})
    if not same(c["debtor"], caller.account):
        raise Forbidden("only the certificate's debtor repays", {"certificate_id": certificate_id})


@router.post("/repay", status_code=202, response_model=OperationOut, responses=FINAL)
async def repay(body: RepayIn, gw: GatewayDep, caller: CoreDep, idem: IdemKey, wait: WaitDep, response: Response):
    return await write(gw, caller, "settlement.repay", "Settlement", "repay", [body.certificate_id, body.amount],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: _debtor(gw, caller, body.certificate_id))


@router.post("/redeem", status_code=202, response_model=OperationOut, responses=FINAL)
async def redeem(body: RedeemIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                 response: Response):
    """Redeem what is payable on your holding now (result: redeemed)."""
    return await write(gw, caller, "settlement.redeem", "Settlement", "redeem", [body.token_id],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, body.token_id))


@router.post("/batch", status_code=202, response_model=OperationOut, responses=FINAL)
async def settle_batch(body: BatchIn, gw: GatewayDep, caller: SettlerDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    return await write(gw, caller, "settlement.settle_batch", "Settlement", "settleBatch", [body.token_ids],
                       body.model_dump(mode="json"), idem, wait, response)


@router.post("/mark-overdue", status_code=202, response_model=OperationOut, responses=FINAL)
async def mark_overdue(body: OverdueIn, gw: GatewayDep, caller: SignerRoleDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    return await write(gw, caller, "settlement.mark_overdue", "Settlement", "markOverdue", [body.certificate_id],
                       body.model_dump(mode="json"), idem, wait, response)


@router.get("/certificates/{certificate_id}")
async def settlement_account(certificate_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    a = await operations.view(gw, "Settlement", "account", [certificate_id])
    return {"certificate_id": certificate_id, "repaid": a["repaid"], "redeemed": a["redeemed"]}
