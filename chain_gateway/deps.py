"""FastAPI dependencies (``Annotated`` aliases) and shared request/response types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import Depends, Header, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, Field

from chain_gateway import operations
from chain_gateway.errors import Forbidden, Unauthenticated
from chain_gateway.gateway import Gateway
from chain_gateway.models import FINAL_STATES, ApiKey, Operation, OperationOut, Role


def get_gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (or Authorization: Bearer)")


def current_key(
    request: Request, gw: GatewayDep, x_api_key: Annotated[str | None, Security(api_key_header)] = None
) -> ApiKey:
    key = x_api_key
    authorization = request.headers.get("authorization")
    if not key and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise Unauthenticated("an API key is required (X-API-Key or Authorization: Bearer)")
    row = gw.keys.lookup(key)
    if row is None:
        raise Unauthenticated("unknown or revoked API key")
    return row


CallerDep = Annotated[ApiKey, Depends(current_key)]


def require(*roles: Role) -> Callable[[ApiKey], ApiKey]:
    def check(caller: CallerDep) -> ApiKey:
        if caller.role not in roles:
            raise Forbidden(
                "this call is not allowed for your role",
                {"role": caller.role.value, "allowed": [r.value for r in roles]},
            )
        return caller

    return check


OperatorDep = Annotated[ApiKey, Depends(require(Role.operator))]
CoreDep = Annotated[ApiKey, Depends(require(Role.core_enterprise))]
SupplierDep = Annotated[ApiKey, Depends(require(Role.supplier))]
FactorDep = Annotated[ApiKey, Depends(require(Role.factor))]
HolderDep = Annotated[ApiKey, Depends(require(Role.supplier, Role.factor))]
SettlerDep = Annotated[ApiKey, Depends(require(Role.core_enterprise, Role.operator))]
SignerRoleDep = Annotated[
    ApiKey, Depends(require(Role.operator, Role.core_enterprise, Role.supplier, Role.factor))
]
def idempotency_key(
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=200, description="same key + same body = same operation"),
    ] = None,
) -> str | None:
    return key or None  # an empty header is no key


IdemKey = Annotated[str | None, Depends(idempotency_key)]


class WaitParams(BaseModel):
    wait: bool = Field(False, description="wait for the final state (confirmed or failed)")
    timeout: float | None = Field(None, gt=0, le=600, description="seconds to wait (default: server setting)")


WaitDep = Annotated[WaitParams, Query()]


def _checksum(value: str) -> str:
    return str(to_checksum_address(value))


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "11" * 20]), AfterValidator(_checksum)]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32])]
Uint256 = Annotated[int, Field(ge=0, le=2**256 - 1)]
PositiveId = Annotated[int, Field(ge=0, le=2**256 - 1)]
Uint64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
Uint32 = Annotated[int, Field(ge=0, le=2**32 - 1)]


def b32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


async def finish(gw: Gateway, op: Operation, wait: WaitParams, response: Response) -> OperationOut:
    out = OperationOut.of(op)
    if wait.wait:
        out = await operations.wait_final(gw, op, wait.timeout or gw.settings.wait_timeout_s)
    response.status_code = 200 if out.state in FINAL_STATES else 202
    return out


async def write(
    gw: Gateway,
    caller: ApiKey,
    kind: str,
    contract: str,
    fn: str,
    call_args: list[Any],
    view_args: dict[str, Any],
    idem: str | None,
    wait: WaitParams,
    response: Response,
    precheck: Callable[[], Awaitable[Any]] | None = None,
) -> OperationOut:
    """Submit a write; ``precheck`` (ownership checks) runs unless this is an idempotent replay."""
    if idem:
        existing = operations.find_idempotent(gw, caller, idem, operations.request_hash(kind, view_args))
        if existing is not None:
            return await finish(gw, existing, wait, response)
    op = await operations.submit(gw, caller, kind, contract, fn, call_args, view_args, idem, precheck=precheck)
    return await finish(gw, op, wait, response)


def same(a: str, b: str) -> bool:
    return a.lower() == b.lower()
