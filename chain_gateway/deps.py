"""FastAPI dependencies (``Annotated`` aliases) and shared request/response types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool

from chain_gateway import operations
from chain_gateway.errors import Forbidden, StoreLockLost, Unauthenticated
from chain_gateway.gateway import Gateway
from chain_gateway.models import FINAL_STATES, ApiKey, MemberRole, NewOperation, Operation, OperationOut, Role
from scf_core.abi import checksum_address
from scf_core.apikeys import parse_key
from scf_core.http_errors import ErrorOut

ERROR_STATUSES = {
    400: "the body cannot be parsed (e.g. not UTF-8)", 401: "no, unknown or revoked API key",
    403: "outside the caller's role or not the caller's",
    404: "no such resource", 409: "a conflict (Idempotency-Key reused, a contract state conflict)",
    413: "the request body is too large", 422: "invalid request (or the call would revert)",
    503: "the chain node is unavailable, or this gateway lost its store lock (nothing stored)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of error answers (all ``{code, message, details}``)."""
    return {s: {"model": ErrorOut, "description": ERROR_STATUSES[s]} for s in statuses}


# every authenticated route may answer these (the body limit applies to every request)
AUTHENTICATED = errors(400, 401, 403, 404, 409, 413, 422, 503)
# a write answers 202 with the operation, or 200 once final with ?wait=true
FINAL: dict[int | str, dict[str, Any]] = {200: {"model": OperationOut, "description": "final (with ?wait=true)"}}


# Dependencies are `async def` (run on the event loop): FastAPI runs a plain `def` dependency in a
# worker thread, a thread hop per dependency per request that queued behind the store's work under load.


async def get_gateway(request: Request) -> Gateway:
    gw: Gateway = request.app.state.gateway
    return gw


GatewayDep = Annotated[Gateway, Depends(get_gateway)]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def store_lock_held(request: Request) -> None:
    """Every write route (the /v1 router's dependency): refused with 503 ``STORE_LOCK_LOST``, nothing
    stored, while this process does not hold the store's instance lock (checked afresh, as before a
    signing step: a regained lock re-syncs the signers first). Reads still answer."""
    gw: Gateway = request.app.state.gateway
    sub = gw.submitter
    if request.method not in WRITE_METHODS or sub is None:
        return
    await sub.may_sign()
    if sub.lock_error is not None:
        raise StoreLockLost(sub.lock_error["message"], {"lock": "lost", "retry": "once the lock is held again"})


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (or Authorization: Bearer)")


async def current_key(
    request: Request, gw: GatewayDep, x_api_key: Annotated[str | None, Security(api_key_header)] = None
) -> ApiKey:
    key = parse_key(request.headers)  # `x_api_key` declares the header in OpenAPI
    if not key:
        raise Unauthenticated("an API key is required (X-API-Key or Authorization: Bearer)")
    # a key authenticated recently comes from memory; otherwise the store lookup runs in a worker thread
    row = gw.keys.cached(key) or await run_in_threadpool(gw.keys.lookup, key)
    if row is None:
        raise Unauthenticated("unknown or revoked API key")
    return row


CallerDep = Annotated[ApiKey, Depends(current_key)]


def require(*roles: Role) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    async def check(caller: CallerDep) -> ApiKey:
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
ClearingAgentDep = Annotated[ApiKey, Depends(require(Role.clearing_agent))]  # mints and burns the currency
SignerRoleDep = Annotated[
    ApiKey, Depends(require(Role.operator, Role.core_enterprise, Role.supplier, Role.factor))
]


async def member_admin(caller: CallerDep) -> ApiKey:
    """The member's admin (its own key, or a user with the admin role): manages users and policy."""
    if caller.user_role != MemberRole.admin:
        raise Forbidden("only the member's admin manages its users and approval policy",
                        {"user_role": caller.user_role.value})
    return caller


AdminDep = Annotated[ApiKey, Depends(member_admin)]


async def idempotency_key(
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
    """Answers are checksummed; a mixed-case input must pass its EIP-55 checksum (all-lowercase and
    all-uppercase hex carry none and are accepted as they are)."""
    checksummed = checksum_address(value.lower())  # remembered (~40 us of keccak each otherwise)
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and value != checksummed:
        raise PydanticCustomError(
            "ADDRESS_CHECKSUM", "mixed-case address fails its EIP-55 checksum (expected {expected})",
            {"expected": checksummed},
        )
    return checksummed


def _nonzero_hash(value: str) -> str:
    if int(value, 16) == 0:
        raise PydanticCustomError("ZERO_KYC_HASH", "the KYC hash must not be zero")
    return value


def _nonzero_amount(value: int) -> int:
    if value == 0:
        raise PydanticCustomError("ZERO_AMOUNT", "the amount must be greater than 0")
    return value


def ascii_digits(value: Any) -> Any:
    """Path and query integers: ASCII digits only (no sign, space, underscore, other scripts' digits),
    at most 78 of them (2**256 - 1 has 78)."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 78):
        raise PydanticCustomError("int_parsing", "expected an unsigned integer in ASCII digits (0-9)")
    return value


def _uint(bits: int, minimum: int = 0) -> Any:
    """JSON Schema of an unsigned integer (exact bounds, see main._exact_bounds)."""
    return WithJsonSchema({"type": "integer", "minimum": minimum, "maximum": 2**bits - 1})


Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "11" * 20]), AfterValidator(_checksum)]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32])]
KycHash = Annotated[Bytes32, AfterValidator(_nonzero_hash)]
# JSON integers in bodies: strict (no "7", true, 7.0, 1e2), bounded by the contracts' types
Uint256 = Annotated[int, Strict(), Field(ge=0, le=2**256 - 1), _uint(256)]
Uint128 = Annotated[int, Strict(), Field(ge=0, le=2**128 - 1), _uint(128)]  # values stored as uint128
Uint64 = Annotated[int, Strict(), Field(ge=0, le=2**64 - 1), _uint(64)]
Uint32 = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1), _uint(32)]
PositiveUint256 = Annotated[Uint256, AfterValidator(_nonzero_amount), _uint(256, 1)]  # mint / burn amounts
# integers in paths and queries: ASCII digits, bounded
PathUint256 = Annotated[int, BeforeValidator(ascii_digits), Path(ge=0, le=2**256 - 1), _uint(256)]
QueryUint256 = Annotated[int, BeforeValidator(ascii_digits), Query(ge=0, le=2**256 - 1), _uint(256)]
QueryUint32 = Annotated[int, BeforeValidator(ascii_digits), Query(ge=0, le=2**32 - 1), _uint(32)]


def b32(value: str) -> bytes:
    return bytes.fromhex(value[2:])


async def operation_answer(gw: Gateway, op: Operation | NewOperation, wait: WaitParams, response: Response
                           ) -> OperationOut:
    """The answer to a write: the operation (after waiting for a final state with `?wait=true`),
    200 when final, 202 while pending."""
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
        existing = await operations.find_idempotent(gw, caller, idem, operations.request_hash(kind, view_args))
        if existing is not None:
            return await operation_answer(gw, existing, wait, response)
    op = await operations.submit(gw, caller, kind, contract, fn, call_args, view_args, idem, precheck=precheck,
                                 watch=wait.wait)
    return await operation_answer(gw, op, wait, response)


def same(a: str, b: str) -> bool:
    return a.lower() == b.lower()
