"""A thin JSON-RPC client (httpx): raw dicts, batches, no middleware (web3.py is too slow for backfill)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        reply = self.client.post(self.url, json=body)
        reply.raise_for_status()
        data = reply.json()
        if "error" in data:
            raise RpcError(data["error"])
        return data["result"]

    def batch(self, calls: list[tuple[str, list[Any]]], chunk: int = 200, errors: bool = False) -> list[Any]:
        """Results in order; with `errors`, a failed call yields its RpcError instead of raising."""
        results: list[Any] = []
        for i in range(0, len(calls), chunk):
            part = calls[i : i + chunk]
            ids = [next(self._ids) for _ in part]
            body = [{"jsonrpc": "2.0", "id": n, "method": m, "params": p} for n, (m, p) in zip(ids, part, strict=True)]
            reply = self.client.post(self.url, json=body)
            reply.raise_for_status()
            by_id = {item["id"]: item for item in reply.json()}
            for n in ids:
                item = by_id[n]
                if "error" in item:
                    if not errors:
                        raise RpcError(item["error"])
                    results.append(RpcError(item["error"]))
                    continue
                results.append(item["result"])
        return results

    # --- helpers -----------------------------------------------------------------------------

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def header(self, number: int) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call("eth_getBlockByNumber", hex(number), False)
        return result

    def headers(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        if not numbers:
            return {}
        got = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return {n: h for n, h in zip(numbers, got, strict=True) if h is not None}

    def get_logs(
        self, addresses: list[str], from_block: int, to_block: int, topics: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if topics:
            query["topics"] = topics
        result: list[dict[str, Any]] = self.call("eth_getLogs", query)
        return result
