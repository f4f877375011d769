"""Durable, at-least-once webhook delivery of final operation states (confirmed / failed).

* ``set_final_state(session, op, state, webhooks)`` is the only way an operation reaches a final state: it
  sets the state and, when a webhook URL is configured, adds a ``gw_webhook_outbox`` row in the same
  session, so both are committed together (or neither is);
* ``WebhookWorker`` (started and stopped with the gateway) takes due rows in id order, POSTs the
  signed body built from the operation's current row, deletes the row on 2xx; on 5xx, 408, 429 or
  a connection error it records the error and retries the row with exponential backoff (capped at
  ``BACKOFF_CAP_S``) for as long as the row stays; any other answer is a refusal: the row is kept
  with ``given_up_at`` and ``last_error`` and a warning is logged;
* a crash between the POST and the delete sends that state again after the restart (at least
  once): receivers dedupe by operation id + state.

Intermediate states (queued / submitted / mined) stay best effort (``EventBus``, in memory)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import httpx
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from chain_gateway import metrics
from chain_gateway.events import post_webhook, webhook_body
from chain_gateway.models import FINAL_STATES, Operation, OperationOut, OpState, WebhookOutbox, utcnow

log = logging.getLogger("chain_gateway.webhooks")

BACKOFF_BASE_S = 1.0  # first retry after this long, then doubling
BACKOFF_CAP_S = 300.0
POLL_S = 1.0  # look for due rows at least this often (new final states wake the worker at once)
BATCH = 100
TIMEOUT_S = 10.0


def set_final_state(s: Session, op: Operation, state: OpState, webhooks: bool) -> None:
    """Move `op` to a final state in session `s`; with webhooks, its delivery is queued durably in
    the same transaction. The caller sets `error` / `updated_at` and commits."""
    assert state in FINAL_STATES, state
    op.state = state
    s.add(op)
    if webhooks:
        s.add(WebhookOutbox(operation_id=op.id, state=state))


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones (1, 2, 4, ... capped)."""
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(max(attempts - 1, 0), 30))


class WebhookWorker:
    def __init__(self, engine: Engine, url: str, secret: str):
        self.engine = engine
        self.url = url
        self._secret = secret
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="webhook-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            while True:
                try:
                    more = await self.deliver_due(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook outbox: unexpected error; retrying")
                    more = False
                if not more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), POLL_S)
                    self.wake.clear()

    async def deliver_due(self, client: httpx.AsyncClient) -> bool:
        """One pass over the due rows, in order. True if more may be due right away. The store is
        read and written in worker threads (never on the event loop)."""
        rows, ops = await asyncio.to_thread(self._due)
        for row in rows:
            op = ops.get(row.operation_id)
            if op is None:
                await asyncio.to_thread(self._record, row, "give_up", "the operation is not in the store")
                continue
            body = webhook_body(OperationOut.of(op).model_dump(mode="json"))
            outcome, detail = await post_webhook(client, self.url, self._secret, body)
            await asyncio.to_thread(self._record, row, outcome, detail)
            if outcome == "retry":  # the receiver is down or busy: the next rows wait for the next pass
                return False
        return len(rows) == BATCH

    def _due(self) -> tuple[list[WebhookOutbox], dict[str, Operation]]:
        with Session(self.engine, expire_on_commit=False) as s:
            rows = s.exec(
                select(WebhookOutbox)
                .where(col(WebhookOutbox.given_up_at).is_(None), col(WebhookOutbox.next_attempt_at) <= utcnow())
                .order_by(col(WebhookOutbox.id))
                .limit(BATCH)
            ).all()
            ids = list({r.operation_id for r in rows})
            ops = {op.id: op for op in s.exec(select(Operation).where(col(Operation.id).in_(ids))).all()} if ids else {}
        return list(rows), ops

    def _record(self, row: WebhookOutbox, outcome: str, detail: str) -> None:
        metrics.WEBHOOK_DELIVERIES.labels(outcome).inc()
        with Session(self.engine) as s:
            if outcome == "ok":
                s.exec(delete(WebhookOutbox).where(col(WebhookOutbox.id) == row.id))  # type: ignore[call-overload]
                s.commit()
                return
            fresh = s.get(WebhookOutbox, row.id)
            if fresh is None:
                return
            now = utcnow()
            fresh.attempts += 1
            fresh.last_error = detail[:500]
            if outcome == "retry":
                fresh.next_attempt_at = now + timedelta(seconds=backoff(fresh.attempts))
                log.info("webhook for operation %s (%s) not delivered (%s); attempt %s, next in %.0f s",
                         fresh.operation_id, fresh.state.value, detail[:100], fresh.attempts, backoff(fresh.attempts))
            else:
                fresh.given_up_at = now
                log.warning("webhook for operation %s (%s) refused by the receiver (%s): given up",
                            fresh.operation_id, fresh.state.value, detail[:200])
            s.add(fresh)
            s.commit()
