"""System: health, deployment info, the caller's profile and balances, pause, terms."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictBool

from chain_gateway import operations, readiness
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    CallerDep,
    GatewayDep,
    IdemKey,
    OperatorDep,
    Uint32,
    Uint256,
    WaitDep,
    errors,
    write,
)
from chain_gateway.errors import NodeUnavailable
from chain_gateway.models import OperationOut, Role
from scf_core.http_errors import ErrorOut

router = APIRouter(tags=["system"], responses=AUTHENTICATED)
health_router = APIRouter(tags=["system"])


class MaxTermIn(BaseModel):
    max_term_seconds: Uint256


class GraceIn(BaseModel):
    grace_period_seconds: Uint256


class InvoicesRequiredIn(BaseModel):
    required: StrictBool


class MaxTierIn(BaseModel):
    max_tier: Uint32 = Field(description="deepest tier a holding may reach (1 = the payee's); 0 = no cap")


class MinSplitValueIn(BaseModel):
    min_split_value: Uint256 = Field(description="smallest value a split may move or leave behind (minor "
                                                 "units); 0 = no minimum")


@health_router.get("/health", responses=errors(413))
async def health(gw: GatewayDep) -> dict[str, Any]:
    """Liveness: always 200; `node` tells whether the chain answers."""
    node: dict[str, Any]
    try:
        head = await gw.rpc.block_number()
        node = {"ok": True, "block": head}
    except NodeUnavailable:
        node = {"ok": False, "block": None}
    # signing: false while the gateway does not hold its store's instance lock (nothing is signed)
    lock_error = gw.submitter.lock_error if gw.submitter else None
    return {"status": "ok", "node": node, "signing": {"ok": lock_error is None, "error": lock_error}}


@health_router.get("/ready", responses={**errors(413), 503: {
    "model": ErrorOut, "description": "not ready: `details.checks` names what failed"}})
async def ready(gw: GatewayDep) -> dict[str, Any]:
    """Readiness: the node answers on the manifest's chain id, the store takes a write, this
    gateway holds the store's lock and every signer worker runs. 503 otherwise."""
    return await readiness.answer(gw)


@router.get("/system/info")
async def info(gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    paused = await operations.view(gw, "Membership", "paused", [])
    invoices_required = await operations.view(gw, "CertificateToken", "invoicesRequired", [])
    max_tier = await operations.view(gw, "CertificateToken", "maxTier", [])
    min_split_value = await operations.view(gw, "CertificateToken", "minSplitValue", [])
    return {
        "chain_id": gw.manifest.chain_id, "operator": gw.manifest.operator, "paused": paused,
        "invoices_required": invoices_required, "max_tier": max_tier, "min_split_value": min_split_value,
        "contracts": {n: c.address for n, c in gw.manifest.contracts.items()},
        "confirmations": gw.settings.confirmations,
    }


@router.get("/me")
async def me(gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    """The caller's account, role, currency balance and credit line, and the user the key belongs to
    (`user.role` inside the member: admin, maker or checker)."""
    balance = await operations.view(gw, "SettlementToken", "balanceOf", [caller.account])
    out: dict[str, Any] = {"account": caller.account, "role": caller.role.value, "balance": balance,
                           "signer": gw.signers.has(caller.account),
                           "user": {"id": caller.id, "label": caller.label, "role": caller.user_role.value}}
    if caller.role != Role.operator:
        m = await operations.view(gw, "Membership", "memberOf", [caller.account])
        out.update(active=m["active"], credit_limit=m["creditLimit"], credit_used=m["creditUsed"])
    return out


@router.post("/system/pause", status_code=202, response_model=OperationOut, responses=FINAL)
async def pause(gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep, response: Response):
    return await write(gw, caller, "system.pause", "Membership", "pause", [], {}, idem, wait, response)


@router.post("/system/unpause", status_code=202, response_model=OperationOut, responses=FINAL)
async def unpause(gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep, response: Response):
    return await write(gw, caller, "system.unpause", "Membership", "unpause", [], {}, idem, wait, response)


@router.put("/system/max-term", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_max_term(body: MaxTermIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    return await write(gw, caller, "system.set_max_term", "CertificateToken", "setMaxTerm", [body.max_term_seconds],
                       body.model_dump(), idem, wait, response)


@router.put("/system/grace-period", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_grace_period(body: GraceIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep,
                           response: Response):
    return await write(gw, caller, "system.set_grace_period", "Settlement", "setGracePeriod",
                       [body.grace_period_seconds], body.model_dump(), idem, wait, response)


@router.put("/system/invoices-required", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_invoices_required(body: InvoicesRequiredIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                                wait: WaitDep, response: Response):
    """Require invoices for every new certificate (true: a plain issue is 409 `INVOICES_REQUIRED`) or not."""
    return await write(gw, caller, "system.set_invoices_required", "CertificateToken", "setInvoicesRequired",
                       [body.required], body.model_dump(), idem, wait, response)


@router.put("/system/max-tier", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_max_tier(body: MaxTierIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep,
                       response: Response):
    """Cap the tiers (2025 notice): a split or transfer creating a holding deeper than `max_tier` reverts
    `CertificateTierTooDeep` (422 CONTRACT_REVERT naming it). 0 (the default) = no cap."""
    return await write(gw, caller, "system.set_max_tier", "CertificateToken", "setMaxTier", [body.max_tier],
                       body.model_dump(), idem, wait, response)


@router.put("/system/min-split-value", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_min_split_value(body: MinSplitValueIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                              wait: WaitDep, response: Response):
    """The smallest split: moving or leaving less reverts `CertificateSplitTooSmall` /
    `CertificateSplitRemainderTooSmall`. 0 (the default) = no minimum."""
    return await write(gw, caller, "system.set_min_split_value", "CertificateToken", "setMinSplitValue",
                       [body.min_split_value], body.model_dump(mode="json"), idem, wait, response)
