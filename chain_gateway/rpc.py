"""A small async JSON-RPC client (aiohttp) with batching; node outages raise NodeUnavailable."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp

from chain_gateway import metrics
from chain_gateway.errors import NodeUnavailable


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @property
    def revert_data(self) -> str | None:
        data = self.data
        if isinstance(data, dict):  # some nodes nest it
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return data
        return None


SEND_METHODS = frozenset({"eth_sendRawTransaction"})
CALL_METHODS = frozenset({"eth_call", "eth_estimateGas"})


def lane_of(methods: list[str]) -> str:
    """Sends, calls/simulations and other reads go to the node through separate lanes (in-flight
    limits and connection pools), so slow answers of one kind never hold up the others."""
    if any(m in SEND_METHODS for m in methods):
        return "send"
    if methods and all(m in CALL_METHODS for m in methods):
        return "call"
    return "read"


class _Lane:
    def __init__(self) -> None:
        self.pending: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self.inflight = 0
        self.session: aiohttp.ClientSession | None = None


class Rpc:
    """Concurrent ``call``s are coalesced: per lane (``lane_of``: sends, calls/simulations, other
    reads) at most ``max_inflight`` HTTP requests are in flight and calls made meanwhile leave
    together as one JSON-RPC batch (fewer round trips under load). Every request has ``timeout``
    seconds; each lane has its own connection pool."""

    def __init__(self, url: str, timeout: float = 30.0, max_inflight: int = 4, max_batch: int = 200):
        self.url = url
        self._ids = itertools.count(1)
        self.timeout = timeout
        self.max_inflight = max_inflight
        self.max_batch = max_batch
        self._lanes = {name: _Lane() for name in ("send", "call", "read")}
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_ok = time.monotonic()  # when the node last answered (a JSON body, HTTP < 400)

    async def close(self) -> None:
        for lane in self._lanes.values():
            if lane.session is not None:
                await lane.session.close()

    async def _post(self, payload: Any, lane: str = "read") -> Any:
        pool = self._lanes[lane]
        if pool.session is None or pool.session.closed:
            pool.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16))
        try:
            async with pool.session.post(self.url, json=payload,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status >= 400:
                    metrics.NODE_ERRORS.labels(metrics.node_error_kind(status=response.status)).inc()
                    raise NodeUnavailable("the chain node answered an HTTP error", {"status": response.status})
                body = await response.json(content_type=None)
            if not isinstance(body, dict | list):
                raise ValueError("not a JSON-RPC answer")
            self.last_ok = time.monotonic()
            return body
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            metrics.NODE_ERRORS.labels(metrics.node_error_kind(exc)).inc()
            raise NodeUnavailable("the chain node is unreachable", {"reason": type(exc).__name__}) from exc

    async def call(self, method: str, *params: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        name = lane_of([method])
        lane = self._lanes[name]
        lane.pending.append(({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}, fut))
        if lane.inflight < self.max_inflight:
            self._flush_next(name)
        reply = await fut
        if "error" in reply:
            err = reply["error"]
            raise RpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return reply.get("result")

    def _flush_next(self, name: str) -> None:
        lane = self._lanes[name]
        if not lane.pending:
            return
        chunk, lane.pending = lane.pending[: self.max_batch], lane.pending[self.max_batch :]
        lane.inflight += 1
        task = asyncio.create_task(self._flush(name, chunk))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, name: str, chunk: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        lane = self._lanes[name]
        try:
            if len(chunk) == 1:
                replies = [await self._post(chunk[0][0], name)]
            else:
                replies = await self._post([payload for payload, _ in chunk], name)
                if isinstance(replies, dict):  # the node refused the batch as a whole
                    replies = [dict(replies, id=payload["id"]) for payload, _ in chunk]
            by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
            for payload, fut in chunk:
                if not fut.done():
                    fut.set_result(by_id.get(payload["id"], {"error": {"code": -1, "message": "missing reply"}}))
        except BaseException as exc:
            for _, fut in chunk:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else NodeUnavailable("cancelled"))
            if not isinstance(exc, Exception):
                raise
        finally:
            lane.inflight -= 1
            while lane.pending and lane.inflight < self.max_inflight:
                self._flush_next(name)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; a failed call's slot holds its RpcError."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        reply = await self._post(payload, lane_of([m for m, _ in calls]))
        if isinstance(reply, dict):  # the node refused the batch as a whole
            err = reply.get("error", {})
            raise RpcError(int(err.get("code", 0)), str(err.get("message", "batch refused")), err.get("data"))
        by_id = {r.get("id"): r for r in reply if isinstance(r, dict)}
        out: list[Any] = []
        for i in ids:
            r = by_id.get(i, {"error": {"code": -1, "message": "missing reply"}})
            if "error" in r:
                e = r["error"]
                out.append(RpcError(int(e.get("code", 0)), str(e.get("message", "")), e.get("data")))
            else:
                out.append(r.get("result"))
        return out

    # helpers
    async def chain_id(self) -> int:
        return int(await self.call("eth_chainId"), 16)

    async def block_number(self) -> int:
        return int(await self.call("eth_blockNumber"), 16)

    async def nonce(self, address: str, block: str = "pending") -> int:
        return int(await self.call("eth_getTransactionCount", address, block), 16)

    async def gas_price(self) -> int:
        return int(await self.call("eth_gasPrice"), 16)

    async def eth_call(self, tx: dict[str, Any], block: str = "latest") -> str:
        result: str = await self.call("eth_call", tx, block)
        return result
