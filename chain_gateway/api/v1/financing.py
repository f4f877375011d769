"""Financing: a holder offers (part of) a holding to a factor; the factor accepts (DvP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from chain_gateway import operations
from chain_gateway.api.v1.holdings import own_holding
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    Bytes32,
    CallerDep,
    FactorDep,
    GatewayDep,
    HolderDep,
    IdemKey,
    PathUint256,
    QueryUint32,
    QueryUint256,
    Uint32,
    Uint64,
    Uint128,
    Uint256,
    WaitDep,
    b32,
    same,
    write,
)
from chain_gateway.errors import Forbidden, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, OperationOut, Role

router = APIRouter(prefix="/financing", tags=["financing"], responses=AUTHENTICATED)
OFFER_STATUS = ["none", "open", "accepted", "cancelled"]


class OfferIn(BaseModel):
    token_id: Uint256
    value: Uint128
    factor: Address
    rate_bps: Uint32 = Field(description="annual discount rate in basis points")
    expires_at: Uint64 = Field(description="unix seconds")
    recourse: bool = False
    document_hash: Bytes32


def offer_out(offer_id: int, o: dict[str, Any]) -> dict[str, Any]:
    st = o["status"]
    return {
        "offer_id": offer_id, "token_id": o["tokenId"], "seller": o["seller"], "factor": o["factor"],
        "value": o["value"], "price": o["price"], "rate_bps": o["rateBps"], "expires_at": o["expiresAt"],
        "recourse": o["recourse"], "status": OFFER_STATUS[st] if st < len(OFFER_STATUS) else st,
        "document_hash": o["documentHash"],
    }


async def get_offer(gw: Gateway, offer_id: int) -> dict[str, Any]:
    o = await operations.view(gw, "Financing", "offer", [offer_id])
    if o["status"] == 0:
        raise NotFound("no such offer", {"offer_id": offer_id})
    return dict(o)


@router.post("/offers", status_code=202, response_model=OperationOut, responses=FINAL)
async def create_offer(body: OfferIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    """Offer `value` of one of your holdings to a factor (result: offer_id, price)."""
    return await write(gw, caller, "financing.create_offer", "Financing", "createOffer",
                       [body.token_id, body.value, body.factor, body.rate_bps, body.expires_at, body.recourse,
                        b32(body.document_hash)],
                       body.model_dump(mode="json"), idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, body.token_id))


@router.get("/offers/{offer_id}")
async def read_offer(offer_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    o = await get_offer(gw, offer_id)
    parties = (o["seller"], o["factor"])
    if caller.role not in (Role.operator, Role.auditor) and not any(same(p, caller.account) for p in parties):
        raise Forbidden("not a party to this offer", {"offer_id": offer_id})
    return offer_out(offer_id, o)


async def _party(gw: Gateway, caller: ApiKey, offer_id: int, field: str) -> None:
    o = await get_offer(gw, offer_id)
    if field == "factor" and o["status"] != 1:
        return  # no longer open: the contract's verdict (FinancingOfferNotOpen, 409), as it checks that first
    if field == "factor" and int(o["factor"], 16) == 0:  # an open offer (market): invited factors only
        if not await operations.view(gw, "Financing", "isInvited", [offer_id, caller.account]):
            raise Forbidden("not invited to this open offer", {"offer_id": offer_id})
        return
    if not same(o[field], caller.account):
        raise Forbidden(f"only the offer's {field} may do this", {"offer_id": offer_id})


@router.post("/offers/{offer_id}/cancel", status_code=202, response_model=OperationOut, responses=FINAL)
async def cancel_offer(offer_id: PathUint256, gw: GatewayDep, caller: HolderDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    return await write(gw, caller, "financing.cancel_offer", "Financing", "cancelOffer", [offer_id],
                       {"offer_id": offer_id}, idem, wait, response,
                       precheck=lambda: _party(gw, caller, offer_id, "seller"))


@router.post("/offers/{offer_id}/accept", status_code=202, response_model=OperationOut, responses=FINAL)
async def accept_offer(offer_id: PathUint256, gw: GatewayDep, caller: FactorDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    """The factor buys: delivery of the holding versus payment (result: new_token_id, price)."""
    return await write(gw, caller, "financing.accept_offer", "Financing", "acceptOffer", [offer_id],
                       {"offer_id": offer_id}, idem, wait, response,
                       precheck=lambda: _party(gw, caller, offer_id, "factor"))


@router.get("/quote")
async def quote(gw: GatewayDep, caller: CallerDep, value: QueryUint256, rate_bps: QueryUint32,
                maturity: QueryUint256) -> dict[str, Any]:
    price, days = await operations.view(gw, "Financing", "quote", [value, rate_bps, maturity])
    return {"value": value, "rate_bps": rate_bps, "maturity": maturity, "price": price, "days_to_maturity": days}
