"""Operation updates: an in-process bus feeding server-sent events, `?wait=true` and webhooks
(POST of the operation JSON, signed ``X-SCF-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)>``).

The bus delivers intermediate states (awaiting_approval / queued / submitted / mined) to the webhook
best effort, from memory; final states (confirmed / failed / rejected / expired) go through the
durable outbox (``chain_gateway.webhooks``), which the bus only wakes (``on_final``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_exponential

log = logging.getLogger("chain_gateway.events")

FINAL = frozenset({"confirmed", "failed", "rejected", "expired"})  # models.FINAL_STATES' values


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_webhook(secret: str, header: str, body: bytes, tolerance_s: int = 300) -> bool:
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), header)


def webhook_body(op: dict[str, Any]) -> bytes:
    """The POSTed JSON of an operation update (`op`: the operation's JSON)."""
    return json.dumps({"type": "operation", "operation": op}, default=str).encode()


RETRY_STATUS = frozenset({408, 429})


async def post_webhook(client: httpx.AsyncClient, url: str, secret: str, body: bytes) -> tuple[str, str]:
    """POST a signed webhook body. Returns ("ok" | "retry" | "give_up", detail): 2xx is ok; 5xx,
    408, 429 and connection errors are worth a retry; any other answer is a refusal. The detail
    never holds the URL (it may carry a token)."""
    headers = {
        "Content-Type": "application/json",
        "X-SCF-Signature": sign_webhook(secret, int(time.time()), body),
    }
    try:
        r = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return "retry", type(exc).__name__
    if 200 <= r.status_code < 300:
        return "ok", ""
    detail = f"HTTP {r.status_code}: {r.text[:200]}"
    if r.status_code >= 500 or r.status_code in RETRY_STATUS:
        return "retry", detail
    return "give_up", detail


class EventBus:
    def __init__(self, webhook_url: str | None = None, webhook_secret: str | None = None):
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._final: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._watched: set[str] = set()  # waiters registered before their operation was stored
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self._webhook_queue: asyncio.Queue[dict[str, Any]] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self.on_final: Callable[[], None] | None = None  # wakes the durable webhook outbox

    async def start(self) -> None:
        if self.webhook_url and self.webhook_secret:
            self._webhook_queue = asyncio.Queue(maxsize=100_000)
            self._webhook_task = asyncio.create_task(self._deliver())

    async def stop(self) -> None:
        if self._webhook_task:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task

    def publish(self, op: dict[str, Any]) -> None:
        for q in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(op)
        if op.get("state") in FINAL:
            self._watched.discard(op["id"])
            fut = self._final.pop(op["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(op)
            if self.on_final is not None:
                self.on_final()
        elif self._webhook_queue is not None:  # final states: the outbox, durably
            with contextlib.suppress(asyncio.QueueFull):
                self._webhook_queue.put_nowait(op)

    def wants(self, op_id: str, final: bool) -> bool:
        """Whether an update of operation `op_id` reaches anyone: a stream subscriber; for a final
        state, a waiter (`final_future`); for an intermediate one, the webhook queue."""
        if self._subscribers:
            return True
        return op_id in self._final if final else self._webhook_queue is not None

    def final_unobserved(self) -> None:
        """A final state nobody waits for: only the durable webhook outbox is woken."""
        if self.on_final is not None:
            self.on_final()

    def final_future(self, op_id: str) -> asyncio.Future[dict[str, Any]]:
        """Resolved with the operation's JSON when it reaches a final state (shared by waiters)."""
        fut = self._final.get(op_id)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._final[op_id] = fut
        return fut

    def forget(self, op_id: str) -> None:
        self._final.pop(op_id, None)
        self._watched.discard(op_id)

    def watch(self, op_id: str) -> None:
        """A waiter of the final state of an operation not stored yet (``final_future``)."""
        self.final_future(op_id)
        self._watched.add(op_id)

    def watched(self, op_id: str) -> bool:
        """Whether the operation's final state has been waited for since before it was stored
        (and has not come yet): no final state of it can have been missed."""
        return op_id in self._watched and op_id in self._final

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10_000)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(q)

    async def _deliver(self) -> None:
        assert self._webhook_queue is not None and self.webhook_url and self.webhook_secret
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                op = await self._webhook_queue.get()
                body = webhook_body(op)
                answer: tuple[str, str] = await AsyncRetrying(
                    retry=retry_if_result(lambda answer: answer[0] == "retry"),
                    stop=stop_after_attempt(5),
                    wait=wait_exponential(multiplier=0.5),  # 0.5, 1, 2, 4 s
                    retry_error_callback=lambda state: state.outcome.result() if state.outcome else ("retry", ""),
                )(post_webhook, client, self.webhook_url, self.webhook_secret, body)
                if answer[0] == "retry":
                    log.warning("webhook delivery failed for operation %s", op.get("id"))
