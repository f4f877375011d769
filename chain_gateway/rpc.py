"""A small async JSON-RPC client (httpx) with batching; node outages raise NodeUnavailable."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

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
    def __init__(self, url: str, timeout: float = 30.0):
        self.url = url
        self._ids = itertools.count(1)
        self._client = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, payload: Any) -> Any:
        try:
            response = await self._client.post(self.url, json=payload)
            response.raise_for_status()
            return response.json()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            raise NodeUnavailable("the chain node is unreachable", {"reason": type(exc).__name__}) from exc

    async def call(self, method: str, *params: Any) -> Any:
        reply = await self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        if "error" in reply:
            err = reply["error"]
            raise RpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return reply.get("result")

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
