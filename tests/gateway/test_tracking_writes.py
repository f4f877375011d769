"""The tracking pass's store writes: with one confirmation (the default), a receipt is final at once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from gateway.conftest import Api


def test_one_confirmation_stores_mined_and_confirmed_in_one_write(own_api: Api) -> None:
    """No UPDATE stores the `mined` state on its own (it and `confirmed` are one write), yet the
    event stream still sees `mined` before `confirmed`. On a chain of its own: no other gateway's
    operations or writes are seen."""
    api = own_api
    gw = api.client.app.state.gateway  # type: ignore[attr-defined]
    assert gw.settings.confirmations == 1
    states: list[Any] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE GW_OPERATION"):
            rows = parameters if executemany else [parameters]
            for row in rows:
                values = row.values() if isinstance(row, dict) else row
                states.extend(str(v) for v in values if str(v) in ("mined", "confirmed", "OpState.mined"))

    queue: asyncio.Queue[dict[str, Any]] = gw.bus.subscribe()
    event.listen(gw.engine, "before_cursor_execute", seen)
    try:
        account, _ = api.onboard("supplier")
    finally:
        event.remove(gw.engine, "before_cursor_execute", seen)
        gw.bus.unsubscribe(queue)
    assert "confirmed" in states and "mined" not in states and "OpState.mined" not in states, states
    published: list[str] = []
    while not queue.empty():
        op = queue.get_nowait()
        if op["kind"] == "members.onboard" and op["args"].get("role") == "supplier":
            published.append(op["state"])
    assert published[-2:] == ["mined", "confirmed"], published
