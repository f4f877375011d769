"""Operations: read one, list the caller's own, and a server-sent event stream of updates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from chain_gateway import operations
from chain_gateway.deps import AUTHENTICATED, CallerDep, GatewayDep, WaitDep, ascii_digits
from chain_gateway.models import OperationOut, OpState, Role

router = APIRouter(prefix="/operations", tags=["operations"], responses=AUTHENTICATED)


@router.get("", response_model=list[OperationOut])
async def list_operations(
    gw: GatewayDep,
    caller: CallerDep,
    state: OpState | None = None,
    limit: Annotated[int, BeforeValidator(ascii_digits), Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, BeforeValidator(ascii_digits), Query(ge=0, le=10**9)] = 0,
) -> list[OperationOut]:
    """The caller's own operations, newest first."""
    return [OperationOut.of(r) for r in await operations.list_for(gw, caller, state, offset, limit)]


@router.get("/stream")
async def stream(request: Request, gw: GatewayDep, caller: CallerDep) -> StreamingResponse:
    """Server-sent events: one `operation` event per state change of the caller's operations
    (operator and auditor: all operations)."""
    everyone = caller.role in (Role.operator, Role.auditor)
    account = caller.account.lower()

    async def events() -> AsyncIterator[str]:
        q = gw.bus.subscribe()
        try:
            yield ": connected\n\n"
            while True:
                try:
                    op = await asyncio.wait_for(q.get(), 15)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if everyone or str(op.get("account", "")).lower() == account:
                    yield f"event: operation\nid: {op['id']}:{op['state']}\ndata: {json.dumps(op)}\n\n"
        finally:
            gw.bus.unsubscribe(q)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/{operation_id}", response_model=OperationOut)
async def get_operation(operation_id: str, gw: GatewayDep, caller: CallerDep, wait: WaitDep) -> OperationOut:
    op = await operations.get_for(gw, caller, operation_id)
    if wait.wait:
        return await operations.wait_final(gw, op, wait.timeout or gw.settings.wait_timeout_s)
    return OperationOut.of(op)
