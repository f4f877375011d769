"""Holdings (ERC-3525 tokens): the caller's own, split-and-transfer, freeze / unfreeze."""

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
    GatewayDep,
    HolderDep,
    IdemKey,
    OperatorDep,
    PathUint256,
    Uint128,
    WaitDep,
    b32,
    same,
    write,
)
from chain_gateway.errors import Forbidden, NodeUnavailable, NotFound
from chain_gateway.gateway import Gateway
from chain_gateway.models import ApiKey, OperationOut, Role
from scf_core.abi import event_topic
from scf_core.rpc import RpcError

router = APIRouter(prefix="/holdings", tags=["holdings"], responses=AUTHENTICATED)

ERC721_TRANSFER = event_topic("Transfer(address,address,uint256)")
LOGS_WINDOW = 5_000  # Besu's default --rpc-max-logs-range


class SplitIn(BaseModel):
    to: Address
    value: Uint128
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
    ids = sorted(await _received_token_ids(gw, token, caller.account))
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


async def _received_token_ids(gw: Gateway, token: str, account: str) -> set[int]:
    """Every holding ever minted or moved whole to `account`: the ERC-721 `Transfer` events with
    `to` = account (all three arguments are indexed, so the node filters them by topic). A node
    that limits the block range of `eth_getLogs` (Besu: `--rpc-max-logs-range`) is asked in
    windows of LOGS_WINDOW blocks."""
    topics = [ERC721_TRANSFER, None, "0x" + "0" * 24 + account[2:].lower()]
    first = gw.manifest.deployment_block

    def query(lo: int, hi: int | None) -> tuple[str, list[Any]]:
        to_block = "latest" if hi is None else hex(hi)
        return "eth_getLogs", [{"address": token, "fromBlock": hex(lo), "toBlock": to_block, "topics": topics}]

    (logs,) = await gw.rpc.batch([query(first, None)])
    if isinstance(logs, RpcError):
        head = await gw.rpc.block_number()
        windows = [query(lo, min(lo + LOGS_WINDOW - 1, head)) for lo in range(first, head + 1, LOGS_WINDOW)]
        logs = []
        for i in range(0, len(windows), 100):
            for part in await gw.rpc.batch(windows[i : i + 100]):
                if isinstance(part, RpcError):
                    raise NodeUnavailable("the node cannot serve logs", {"message": part.message})
                logs.extend(part)
    return {int(lg["topics"][3], 16) for lg in logs if len(lg.get("topics", ())) == 4}


@router.get("/{token_id}")
async def read_holding(token_id: PathUint256, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    h = await get_holding(gw, token_id)
    if caller.role not in (Role.operator, Role.auditor) and not same(h["owner"], caller.account):
        raise Forbidden("not your holding", {"token_id": token_id})
    out = holding_out(token_id, h)
    out["redeemable"] = await operations.view(gw, "Settlement", "redeemable", [token_id])
    return out


@router.post("/{token_id}/split-transfer", status_code=202, response_model=OperationOut, responses=FINAL)
async def split_transfer(token_id: PathUint256, body: SplitIn, gw: GatewayDep, caller: HolderDep, idem: IdemKey,
                         wait: WaitDep, response: Response):
    """Split `value` off the holding into a new holding of `to` (result: new_token_id)."""
    return await write(gw, caller, "holdings.split_transfer", "CertificateToken", "splitTransfer",
                       [token_id, body.to, body.value, b32(body.document_hash)],
                       {"token_id": token_id, **body.model_dump(mode="json")}, idem, wait, response,
                       precheck=lambda: own_holding(gw, caller, token_id))


@router.post("/{token_id}/freeze", status_code=202, response_model=OperationOut, responses=FINAL)
async def freeze(token_id: PathUint256, body: FreezeIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                 wait: WaitDep, response: Response):
    return await write(gw, caller, "holdings.freeze", "CertificateToken", "freeze", [token_id, b32(body.reason_hash)],
                       {"token_id": token_id, "reason_hash": body.reason_hash}, idem, wait, response)


@router.post("/{token_id}/unfreeze", status_code=202, response_model=OperationOut, responses=FINAL)
async def unfreeze(token_id: PathUint256, body: FreezeIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                   wait: WaitDep, response: Response):
    return await write(gw, caller, "holdings.unfreeze", "CertificateToken", "unfreeze",
                       [token_id, b32(body.reason_hash)],
                       {"token_id": token_id, "reason_hash": body.reason_hash}, idem, wait, response)
