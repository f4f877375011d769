"""The platform's one JSON-RPC client: the protocol once (request ids, batches, answer validation,
error classes) and two transports: ``AsyncRpc`` (aiohttp; the gateway's hot path, with separate
lanes for sends / calls / reads) and ``Rpc`` (httpx, synchronous; the indexer, the demo and the
benchmarks).

Answers are validated here: a body that is not JSON or not a JSON-RPC answer, an item that is not
an object, has neither result nor error, or whose id is missing or repeated, is a malformed answer
(``NodeUnavailable``: retryable); an error object is an ``RpcError``. A service maps these to its
own exception root by passing its subclasses (``rpc_error=``, ``unavailable=``) to the client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
import httpx
import orjson


class RpcError(Exception):
    """The node answered a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @classmethod
    def from_error(cls, error: Any) -> RpcError:
        """From a JSON-RPC error object (anything a node sends as ``error``)."""
        if not isinstance(error, dict):
            return cls(0, repr(error))
        try:
            code = int(error.get("code", 0))
        except (TypeError, ValueError):
            code = 0
        return cls(code, str(error.get("message", "")), error.get("data"))

    @property
    def revert_data(self) -> str | None:
        """The revert data (``0x`` + selector + arguments) of a reverted call, if the node sent it."""
        data = self.data
        if isinstance(data, dict):  # some nodes nest it
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            return data
        return None


class NodeUnavailable(Exception):
    """Retryable: the node is unreachable, answered an HTTP error, or its answer is malformed."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


# --- the protocol ---------------------------------------------------------------------------------


def request(id_: int, method: str, params: Iterable[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}


def answers(
    body: Any,
    ids: list[int],
    rpc_error: type[RpcError] = RpcError,
    unavailable: type[NodeUnavailable] = NodeUnavailable,
) -> list[Any]:
    """The answer to the requests ``ids``, in their order: each slot holds the result, the item's
    ``RpcError``, or a ``NodeUnavailable`` (the item is missing, repeated or malformed). Raises
    ``rpc_error`` when the node refused the whole request with one error object and
    ``unavailable`` when ``body`` is no JSON-RPC answer at all."""
    if isinstance(body, dict):
        if "error" in body and (len(ids) != 1 or body.get("id") != ids[0]):  # the whole request refused
            raise rpc_error.from_error(body["error"])
        body = [body]
    if not isinstance(body, list):
        raise unavailable("malformed JSON-RPC answer", {"answer": str(body)[:80]})
    by_id: dict[Any, Any] = {}
    repeated: set[Any] = set()
    for item in body:
        if isinstance(item, dict) and isinstance(item.get("id"), int | str):
            if item["id"] in by_id:
                repeated.add(item["id"])
            by_id[item["id"]] = item
    out: list[Any] = []
    for id_ in ids:
        item = by_id.get(id_)
        if item is None:
            out.append(unavailable(f"JSON-RPC answer without item {id_} ({len(body)} of {len(ids)} items)"))
        elif id_ in repeated:
            out.append(unavailable(f"JSON-RPC answer with item {id_} repeated"))
        elif "error" in item:
            out.append(rpc_error.from_error(item["error"]))
        elif "result" not in item:
            out.append(unavailable(f"malformed JSON-RPC answer for id {id_}: {str(item)[:80]}"))
        else:
            out.append(item["result"])
    return out


def quantity(value: Any, unavailable: type[NodeUnavailable] = NodeUnavailable) -> int:
    """A JSON-RPC hex quantity; anything else is a malformed answer."""
    try:
        return int(value, 16)
    except (TypeError, ValueError) as exc:
        raise unavailable(f"malformed quantity {str(value)[:40]!r}") from exc


# --- synchronous transport (httpx) ----------------------------------------------------------------


class Rpc:
    """Raw dicts, batches, no middleware (web3.py is too slow for backfill). HTTP errors and
    timeouts raise httpx's exceptions (callers tell rate limits and oversized ranges apart)."""

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        *,
        rpc_error: type[RpcError] = RpcError,
        unavailable: type[NodeUnavailable] = NodeUnavailable,
    ) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout)
        self.rpc_error = rpc_error
        self.unavailable = unavailable
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.client.close()

    def _post(self, payload: Any) -> Any:
        reply = self.client.post(self.url, json=payload)
        reply.raise_for_status()
        try:
            return orjson.loads(reply.content)  # several times faster than json on eth_getLogs answers
        except ValueError as exc:  # (orjson.JSONDecodeError is one) HTTP 200 with a body that is not JSON
            raise self.unavailable(f"node answered HTTP {reply.status_code} with a body that is not JSON") from exc

    def call(self, method: str, *params: Any) -> Any:
        id_ = next(self._ids)
        (result,) = answers(self._post(request(id_, method, params)), [id_], self.rpc_error, self.unavailable)
        if isinstance(result, Exception):
            raise result
        return result

    def batch(self, calls: list[tuple[str, list[Any]]], chunk: int = 200, errors: bool = False) -> list[Any]:
        """Results in order; with ``errors``, a failed call yields its RpcError instead of raising.
        A malformed answer (an item missing, ...) always raises."""
        results: list[Any] = []
        for i in range(0, len(calls), chunk):
            part = calls[i : i + chunk]
            ids = [next(self._ids) for _ in part]
            payload = [request(n, m, p) for n, (m, p) in zip(ids, part, strict=True)]
            got = answers(self._post(payload), ids, self.rpc_error, self.unavailable)
            for res in got:
                if isinstance(res, RpcError) and errors:
                    continue
                if isinstance(res, RpcError | NodeUnavailable):
                    raise res
            results += got
        return results

    # --- helpers ---------------------------------------------------------------------------------

    def block_number(self) -> int:
        return quantity(self.call("eth_blockNumber"), self.unavailable)

    def chain_id(self) -> int:
        return quantity(self.call("eth_chainId"), self.unavailable)

    def header(self, number: int) -> dict[str, Any] | None:
        return self._header(self.call("eth_getBlockByNumber", hex(number), False))

    def headers(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        if not numbers:
            return {}
        got = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return {n: h for n, h in zip(numbers, map(self._header, got), strict=True) if h is not None}

    def get_logs(
        self, addresses: list[str], from_block: int, to_block: int, topics: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if topics:
            query["topics"] = topics
        result = self.call("eth_getLogs", query)
        if not isinstance(result, list) or not all(isinstance(lg, dict) for lg in result):
            raise self.unavailable(f"eth_getLogs answered {str(result)[:80]}")
        return result

    def _header(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) for k in ("hash", "parentHash", "timestamp")
        ):
            raise self.unavailable(f"malformed block header {str(value)[:80]}")
        return value


# --- asynchronous transport (aiohttp) with lanes --------------------------------------------------

SEND_METHODS = frozenset({"eth_sendRawTransaction"})
CALL_METHODS = frozenset({"eth_call", "eth_estimateGas"})
JSON_HEADERS = {"Content-Type": "application/json"}


def _dumps(payload: Any) -> bytes:
    """A request body: orjson, or the stdlib for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload).encode()


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


class AsyncRpc:
    """Concurrent ``call``s are coalesced: per lane (``lane_of``: sends, calls/simulations, other
    reads) at most ``max_inflight`` HTTP requests are in flight and calls made meanwhile leave
    together as one JSON-RPC batch (fewer round trips under load). Every request has ``timeout``
    seconds; each lane has its own connection pool. Node outages (unreachable, HTTP errors, not
    JSON) raise ``unavailable``; an item missing from an answer or malformed is a transient
    ``RpcError`` (code -1) in its slot, as a node's own error would be."""

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        max_inflight: int = 4,
        max_batch: int = 200,
        *,
        rpc_error: type[RpcError] = RpcError,
        unavailable: type[NodeUnavailable] = NodeUnavailable,
        on_failure: Callable[[BaseException | None, int | None], None] | None = None,
    ) -> None:
        self.url = url
        self._ids = itertools.count(1)
        self.timeout = timeout
        # told of every failed request (the exception, or the HTTP status): the caller's metrics
        self.on_failure = on_failure
        self.max_inflight = max_inflight
        self.max_batch = max_batch
        self.rpc_error = rpc_error
        self.unavailable = unavailable
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
            # orjson both ways: the stdlib's json was a visible share of the gateway's CPU per operation
            async with pool.session.post(self.url, data=_dumps(payload), headers=JSON_HEADERS,
                                         timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if response.status >= 400:
                    if self.on_failure:
                        self.on_failure(None, response.status)
                    raise self.unavailable("the chain node answered an HTTP error", {"status": response.status})
                body = orjson.loads(await response.read())
            if not isinstance(body, dict | list):
                raise ValueError("not a JSON-RPC answer")
            self.last_ok = time.monotonic()
            return body
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            if self.on_failure:
                self.on_failure(exc, None)
            raise self.unavailable("the chain node is unreachable", {"reason": type(exc).__name__}) from exc

    def _answers(self, body: Any, ids: list[int]) -> list[Any]:
        return [
            r if isinstance(r, RpcError) or not isinstance(r, NodeUnavailable)
            else self.rpc_error(-1, "missing reply", {"reason": r.message})
            for r in answers(body, ids, self.rpc_error, self.unavailable)
        ]

    async def call(self, method: str, *params: Any) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        name = lane_of([method])
        lane = self._lanes[name]
        lane.pending.append((request(next(self._ids), method, params), fut))
        if lane.inflight < self.max_inflight:
            self._flush_next(name)
        result = await fut
        if isinstance(result, RpcError):
            raise result
        return result

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
            payload: Any = chunk[0][0] if len(chunk) == 1 else [p for p, _ in chunk]
            results = self._answers(await self._post(payload, name), [p["id"] for p, _ in chunk])
            for (_, fut), result in zip(chunk, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
        except BaseException as exc:
            for _, fut in chunk:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else self.unavailable("cancelled"))
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
        payload = [request(i, m, p) for i, (m, p) in zip(ids, calls, strict=True)]
        return self._answers(await self._post(payload, lane_of([m for m, _ in calls])), ids)

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
