"""A small async JSON-RPC client (aiohttp) with batching; node outages raise NodeUnavailable."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp

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


class Rpc:
    """Concurrent ``call``s are coalesced: at most ``max_inflight`` HTTP requests are in flight and
    calls made meanwhile leave together as one JSON-RPC batch (fewer round trips under load)."""

    def __init__(self, url: str, timeout: float = 30.0, max_inflight: int = 2, max_batch: int = 200):
        self.url = url
        self._ids = itertools.count(1)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self.max_inflight = max_inflight
        self.max_batch = max_batch
        self._pending: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_ok = time.monotonic()  # when the node last answered (a JSON body, HTTP < 400)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, payload: Any) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), connector=aiohttp.TCPConnector(limit=16)
            )
        try:
            async with self._session.post(self.url, json=payload) as response:
                if response.status >= 400:
                    raise NodeUnavailable("the chain node answered an HTTP error", {"status": response.status})
                body = await response.json(content_type=None)
            self.last_ok = time.monotonic()
            return body
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise NodeUnavailable("the chain node is unreachable", {"reason": type(exc).__name__}) from exc

    async def call(self, method: str, *params: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}, fut))
        if self._inflight < self.max_inflight:
            self._flush_next()
        reply = await fut
        if "error" in reply:
            err = reply["error"]
            raise RpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return reply.get("result")

    def _flush_next(self) -> None:
        if not self._pending:
            return
        chunk, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._inflight += 1
        task = asyncio.create_task(self._flush(chunk))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, chunk: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        try:
            if len(chunk) == 1:
                replies = [await self._post(chunk[0][0])]
            else:
                replies = await self._post([payload for payload, _ in chunk])
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
            self._inflight -= 1
            while self._pending and self._inflight < self.max_inflight:
                self._flush_next()

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in order; a failed call's slot holds its RpcError."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        reply = await self._post(payload)
        if isinstance(reply, dict):  # the node refused the batch as a whole
            err = reply.get("error", {})
            raise RpcError(int(err.get("code", 0)), str(err.get("message", "batch refused")), err.get("data"))
        by_id = {r.get("id"): r for r in reply}
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
