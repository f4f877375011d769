"""Members: onboarding (with the member's API key, shown once), status, KYC, credit lines."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from chain_gateway import operations
from chain_gateway.auth import create_api_key, create_onboarding_key, revoke_keys
from chain_gateway.deps import (
    AUTHENTICATED,
    FINAL,
    Address,
    CallerDep,
    GatewayDep,
    IdemKey,
    KycHash,
    OperatorDep,
    Uint128,
    WaitDep,
    b32,
    operation_answer,
    same,
    write,
)
from chain_gateway.errors import Forbidden, InvalidRequest
from chain_gateway.gateway import Gateway
from chain_gateway.models import CHAIN_ROLE, OperationOut, Role

router = APIRouter(prefix="/members", tags=["members"], responses=AUTHENTICATED)
ROLE_NAMES = {v: k for k, v in CHAIN_ROLE.items()}


class OnboardIn(BaseModel):
    role: Role = Field(description="core_enterprise | supplier | factor | auditor | clearing_agent")
    kyc_hash: KycHash
    account: Address | None = Field(None, description="omit: the gateway creates a key for the member")
    label: str = Field("", max_length=100)


class OnboardOut(BaseModel):
    operation: OperationOut
    account: str
    api_key: str | None = Field(None, description="shown once; null on an idempotent replay")


class ActiveIn(BaseModel):
    active: bool


class CreditIn(BaseModel):
    limit: Uint128


class KycIn(BaseModel):
    kyc_hash: KycHash


class ApiKeyOut(BaseModel):
    account: str
    role: Role
    api_key: str


def refuse_reserved(gw: Gateway, account: str | None) -> None:
    """The operator's account, the zero address and the system contracts are never members."""
    reserved = {gw.manifest.operator.lower(), "0x" + "0" * 40}
    reserved |= {c.address.lower() for c in gw.manifest.contracts.values()}
    if account is not None and account.lower() in reserved:
        raise InvalidRequest(
            "the operator's account, the zero address and the system contracts cannot be onboarded",
            {"account": account}, code="RESERVED_ACCOUNT",
        )


@router.post("", status_code=202, response_model=OnboardOut,
             responses={200: {"model": OnboardOut, "description": "final (with ?wait=true)"}})
async def onboard(
    body: OnboardIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey, wait: WaitDep, response: Response
):
    if body.role == Role.operator:
        raise Forbidden("the operator role is not assigned by onboarding")
    refuse_reserved(gw, body.account)
    hash_args = body.model_dump(mode="json")
    if idem:
        rhash = operations.request_hash("members.onboard", hash_args)
        existing = await operations.find_idempotent(gw, caller, idem, rhash)
        if existing is not None:
            return OnboardOut(
                operation=await operation_answer(gw, existing, wait, response), account=existing.args["account"],
                api_key=None,
            )
    new_key = None
    if body.account is None:  # the gateway creates the member's key; written only if the call will pass
        gw.signers.can_create()
        new_key = Account.create()
    account = body.account or new_key.address  # type: ignore[union-attr]
    view_args: dict[str, Any] = {**hash_args, "account": account}
    op = await operations.submit(
        gw, caller, "members.onboard", "Membership", "onboard",
        [account, CHAIN_ROLE[body.role], b32(body.kyc_hash)], view_args, idem, hash_args=hash_args,
        before_store=(lambda: gw.signers.create_async(new_key)) if new_key is not None else None,
    )
    # the member's key works once the onboarding is confirmed (a failed onboarding leaves no key);
    # one key per operation (a concurrent replay with the same Idempotency-Key gets none)
    key = await run_in_threadpool(create_onboarding_key, gw.engine, op.args["account"], body.role, body.label, op.id)
    return OnboardOut(operation=await operation_answer(gw, op, wait, response), account=op.args["account"], api_key=key)


@router.get("/{account}")
async def get_member(account: Address, gw: GatewayDep, caller: CallerDep) -> dict[str, Any]:
    if caller.role not in (Role.operator, Role.auditor) and not same(caller.account, account):
        raise Forbidden("members see only themselves")
    member = await operations.view(gw, "Membership", "memberOf", [account])
    role = ROLE_NAMES.get(member["role"])
    return {
        "account": account, "role": role.value if role else None, "active": member["active"],
        "kyc_hash": member["kycHash"], "credit_limit": member["creditLimit"], "credit_used": member["creditUsed"],
    }


@router.post("/{account}/active", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_active(account: Address, body: ActiveIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                     wait: WaitDep, response: Response):
    """Suspend (active=false) or reactivate a member."""
    return await write(gw, caller, "members.set_active", "Membership", "setActive", [account, body.active],
                       {"account": account, "active": body.active}, idem, wait, response)


@router.put("/{account}/credit-limit", status_code=202, response_model=OperationOut, responses=FINAL)
async def set_credit_limit(account: Address, body: CreditIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                           wait: WaitDep, response: Response):
    return await write(gw, caller, "members.set_credit_limit", "Membership", "setCreditLimit", [account, body.limit],
                       {"account": account, "limit": body.limit}, idem, wait, response)


@router.put("/{account}/kyc", status_code=202, response_model=OperationOut, responses=FINAL)
async def update_kyc(account: Address, body: KycIn, gw: GatewayDep, caller: OperatorDep, idem: IdemKey,
                     wait: WaitDep, response: Response):
    return await write(gw, caller, "members.update_kyc", "Membership", "updateKyc", [account, b32(body.kyc_hash)],
                       {"account": account, "kyc_hash": body.kyc_hash}, idem, wait, response)


@router.post("/{account}/api-keys", status_code=201, response_model=ApiKeyOut)
async def new_api_key(account: Address, gw: GatewayDep, caller: OperatorDep) -> ApiKeyOut:
    """A new API key for an onboarded member (its role is read from the chain). Shown once."""
    member = await operations.view(gw, "Membership", "memberOf", [account])
    role = ROLE_NAMES.get(member["role"])
    if role is None:
        raise Forbidden("not a member", {"account": account})
    key, _ = await run_in_threadpool(create_api_key, gw.engine, account, role, "")
    return ApiKeyOut(account=account, role=role, api_key=key)


@router.post("/{account}/api-keys/revoke")
async def revoke_api_keys(account: Address, gw: GatewayDep, caller: OperatorDep) -> dict[str, int]:
    """Revoke every API key bound to the account (not the operator's: use the admin CLI)."""
    if same(account, gw.manifest.operator):
        raise Forbidden("the operator's keys are revoked with the admin CLI, not through the API")
    revoked = await run_in_threadpool(revoke_keys, gw.engine, account)
    gw.keys.clear()
    return {"revoked": revoked}
