"""Settlement currency: mint / burn (the clearing agent, never the operator), balances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from chain_gateway import operations
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    CallerDep,
    ClearingAgentDep,
    GatewayDep,
    IdemKey,
    PositiveUint256,
    WaitDep,
    same,
    write,
)
from chain_gateway.errors import Forbidden
from chain_gateway.models import OperationOut, Role

router = APIRouter(prefix="/currency", tags=["currency"], responses=AUTHENTICATED)


class MintIn(BaseModel):
    to: Address
    amount: PositiveUint256


class BurnIn(BaseModel):
    account: Address
    amount: PositiveUint256


@router.post("/mint", status_code=202, response_model=OperationOut, responses=FINAL)
async def mint(body: MintIn, gw: GatewayDep, caller: ClearingAgentDep, idem: IdemKey, wait: WaitDep,
               response: Response):
    """The clearing agent mints settlement currency against a deposit it received (minor units,
    2 decimals), signed with its own key."""
    return await write(gw, caller, "currency.mint", "SettlementToken", "mint", [body.to, body.amount],
                       body.model_dump(mode="json"), idem, wait, response)


@router.post("/burn", status_code=202, response_model=OperationOut, responses=FINAL)
async def burn(body: BurnIn, gw: GatewayDep, caller: ClearingAgentDep, idem: IdemKey, wait: WaitDep,
               response: Response):
    """The clearing agent burns settlement currency when it pays a withdrawal out."""
    return await write(gw, caller, "currency.burn", "SettlementToken", "burn", [body.account, body.amount],
                       body.model_dump(mode="json"), idem, wait, response)


@router.get("/balances/{account}")
async def balance_of(account: Address, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    # the clearing agent reads the balances it mints to and burns from
    if caller.role not in (Role.operator, Role.auditor, Role.clearing_agent) and not same(account, caller.account):
        raise Forbidden("you may read only your own balance")
    bal = await operations.view(gw, "SettlementToken", "balanceOf", [account])
    return {"account": account, "balance": bal}
