"""Holdings (ERC-3525 tokens): the caller's own, split-and-transfer, freeze / unfreeze."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from chain_gateway import operations
from chain_gateway.contracts import event_topic
from chain_gateway.deps import (
    Address,
    Bytes32,
    CallerDep,
    GatewayDep,
    HolderDep,
    IdemKey,
    OperatorDep,
    Uint256,
    WaitDep,
    b32,
    same,
    write,
)
from chain_gateway.errors import Forbidden, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, OperationOut, Role
from chain_gateway.rpc import RpcError

router = APIRouter(prefix="/holdings", tags=["holdings"])
TokenId = Annotated[int, Path(ge=0, le=2**256 - 1)]

HOLDING_CREATED = event_topic("HoldingCreated(uint256,uint256,uint256,address,uint256,uint32,bytes32)")
HOLDING_TRANSFERRED = event_topic("HoldingTransferred(uint256,address,address,uint32)")


class SplitIn(BaseModel):
    to: Address
    value: Uint256
    document_hash: Bytes32


class FreezeIn(BaseModel):
    reason_hash: Bytes32


def holding_out(token_id: int, h: dict[str, Any]) -> dict[str, Any]:
    return {
        "token_id": token_id, "certificate_id": h["certificateId"], "owner": h["owner"], "value": h["value"],
        "parent_token_id": h["parentTokenId"], "tier": h["tier"], "frozen": h["frozen"],
    }


async def get_holding(gw: Gateway, token_id: int) -> dict[str, Any]:
    h = await operations.view(gw, "CertificateToken", "holding", [token_id])
    if int(h["owner"], 16) == 0 and h["value"] == 0:
        raise NotFound("no such holding", {"token_id": token_id})
    return dict(h)


async def own_holding(gw: Gateway, caller: ApiKey, token_id: int) -> dict[str, Any]:
    """403 before anything is signed when the holding is someone else's."""
    h = await get_holding(gw, token_id)
    if not same(h["owner"], caller.account):
        raise Forbidden("not your holding", {"token_id": token_id})
    return h


@router.get("")
async def my_holdings(gw: GatewayDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's live holdings, read from the chain (logs to find candidates, then views)."""
    token = gw.contracts.address("CertificateToken")
    start = hex(gw.manifest.deployment_block)
    account_topic = "0x" + "0" * 24 + caller.account[2:].lower()
    created, transferred = await gw.rpc.batch([
        ("eth_getLogs", [{"address": token, "fromBlock": start, "toBlock": "latest", "topics": [HOLDING_CREATED]}]),
        ("eth_getLogs", [{"address": token, "fromBlock": start, "toBlock": "latest",
                          "topics": [HOLDING_TRANSFERRED, None, None, account_topic]}]),
    ])
    candidates: set[int] = set()
    for logs in (created, transferred):
        if isinstance(logs, RpcError):
            raise NotFound("the node cannot serve logs", {"message": logs.message})
        for lg in logs:
            ev = gw.contracts.decode_log(lg)
            if ev is not None and (ev.name == "HoldingTransferred" or same(ev.args.get("owner", ""), caller.account)):
                candidates.add(int(ev.args["tokenId"]))
    ids = sorted(candidates)
    calls = [("eth_call", [{"to": token, "data": gw.contracts.encode("CertificateToken", "holding", [i])}, "latest"])
             for i in ids]
    out = []
    for i in range(0, len(calls), 200):
        results = await gw.rpc.batch(calls[i : i + 200])
        for token_id, res in zip(ids[i : i + 200], results, strict=True):
            if isinstance(res, RpcError):
                continue
            h = gw.contracts.decode_output("CertificateToken", "holding", res)
            if same(h["owner"], caller.account) and h["value"] > 0:
                out.append(holding_out(token_id, h))
    return out


@router.get("/{token_id}")
async def read_holding(token_id: TokenId, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    h = await get_holding(gw, token_id)
    if caller.role not in (Role.operator, Role.auditor) and not same(h["owner"], caller.account):
        raise Forbidden("not your holding", {"token_id": token_id})
    out = holding_out(token_id, h)
    out["redeemable"] = await operations.view(gw, "Settlement", "redeemable", [token_id])
    return out


@router.post("/{token_id}/split-transfer", status_code=202, response_model=OperationOut)
async def split_transfer(token_id: TokenId, body: SplitIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey,
                         wait: WaitDep, response: Response):
    """Split `value` off the holding into a new holding of `to` (result: new_token_id)."""
    return await write(gw, caller, "holdings.split_transfer", "CertificateToken", "splitTransfer",
                       [token_id, body.to, body.value, b32(body.document_hash)],
                       {"token_id": token_id, **body.model_dump(mode="json")}, idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, token_id))


@router.post("/{token_id}/freeze", status_code=202, response_model=OperationOut)
async def freeze(token_id: TokenId, body: FreezeIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                 wait: WaitDep, response: Response):
    return await write(gw, caller, "holdings.freeze", "CertificateToken", "freeze", [token_id, b32(body.reason_hash)],
                       {"token_id": token_id, "reason_hash": body.reason_hash}, idem, wait, response)


@router.post("/{token_id}/unfreeze", status_code=202, response_model=OperationOut)
async def unfreeze(token_id: TokenId, body: FreezeIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                   wait: WaitDep, response: Response):
    return await write(gw, caller, "holdings.unfreeze", "CertificateToken", "unfreeze",
                       [token_id, b32(body.reason_hash)],
                       {"token_id": token_id, "reason_hash": body.reason_hash}, idem, wait, response)
