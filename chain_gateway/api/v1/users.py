"""A member's users (dual control): each with its own API key and a role inside the member (admin,
maker, checker); managed by the member's admin (its own key counts as admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from chain_gateway import approvals
from chain_gateway.auth import create_api_key
from chain_gateway.deps import AUTHENTICATED, AdminDep, GatewayDep, ascii_digits
from chain_gateway.errors import Conflict
from chain_gateway.models import ApiKey, MemberRole

router = APIRouter(prefix="/users", tags=["users"], responses=AUTHENTICATED)
UserId = Annotated[int, BeforeValidator(ascii_digits), Path(ge=1, le=2**63 - 1)]


class UserIn(BaseModel):
    label: str = Field(min_length=1, max_length=100, description="who the user is (shown to checkers and auditors)")
    role: MemberRole = Field(description="admin | maker | checker")


class UserOut(BaseModel):
    id: int
    label: str
    role: MemberRole
    account: str
    created_at: datetime

    @classmethod
    def of(cls, k: ApiKey) -> UserOut:
        return cls(id=k.id or 0, label=k.label, role=k.user_role, account=k.account, created_at=k.created_at)


class NewUserOut(UserOut):
    api_key: str = Field(description="shown once")


@router.get("", response_model=list[UserOut])
async def list_users(gw: GatewayDep, caller: AdminDep) -> list[UserOut]:
    """The member's users (live API keys), oldest first."""
    return [UserOut.of(k) for k in await run_in_threadpool(approvals.list_users, gw.engine, caller.account)]


@router.post("", status_code=201, response_model=NewUserOut)
async def create_user(body: UserIn, gw: GatewayDep, caller: AdminDep) -> NewUserOut:
    """A new user of the caller's member with its own API key (shown once), working at once."""
    key, row = await run_in_threadpool(
        lambda: create_api_key(gw.engine, caller.account, caller.role, body.label, member_role=body.role)
    )
    return NewUserOut(**UserOut.of(row).model_dump(), api_key=key)


@router.delete("/{user_id}", response_model=UserOut)
async def revoke_user(user_id: UserId, gw: GatewayDep, caller: AdminDep) -> UserOut:
    """Revoke a user's API key (not the caller's own)."""
    if user_id == caller.id:
        raise Conflict("an admin cannot revoke its own key", {"id": user_id})
    row = await run_in_threadpool(approvals.revoke_user, gw.engine, caller.account, user_id)
    gw.keys.clear()
    return UserOut.of(row)
