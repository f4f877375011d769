"""A thin JSON-RPC client (httpx): raw dicts, batches, no middleware (web3.py is too slow for backfill)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from indexer.errors import NodeError


class RpcError(NodeError):
    """A JSON-RPC error answer."""

    def __init__(self, error: Any) -> None:
        if not isinstance(error, dict):
            error = {"message": repr(error)}
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")


def _json(reply: httpx.Response) -> Any:
    reply.raise_for_status()
    try:
        return reply.json()
    except ValueError as exc:  # HTTP 200 with a body that is not JSON (a proxy's error page, ...)
        raise NodeError(f"node answered HTTP {reply.status_code} with a body that is not JSON") from exc


def _item(data: Any, id_: int) -> Any:
    """The result of one JSON-RPC answer item; malformed items are node errors."""
    if not isinstance(data, dict):
        raise NodeError(f"malformed JSON-RPC answer for id {id_}: {str(data)[:80]}")
    if "error" in data:
        raise RpcError(data["error"])
    if data.get("id") != id_ or "result" not in data:
        raise NodeError(f"malformed JSON-RPC answer: expected id {id_} with a result, got {str(data)[:80]}")
    return data["result"]


class Rpc:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, *params: Any) -> Any:
        id_ = next(self._ids)
        body = {"jsonrpc": "2.0", "id": id_, "method": method, "params": list(params)}
        data = _json(self.client.post(self.url, json=body))
        if isinstance(data, list) and len(data) == 1:  # some gateways answer a batch of one
            data = data[0]
        return _item(data, id_)

    def batch(self, calls: list[tuple[str, list[Any]]], chunk: int = 200, errors: bool = False) -> list[Any]:
        """Results in order; with `errors`, a failed call yields its RpcError instead of raising."""
        results: list[Any] = []
        for i in range(0, len(calls), chunk):
            part = calls[i : i + chunk]
            ids = [next(self._ids) for _ in part]
            body = [{"jsonrpc": "2.0", "id": n, "method": m, "params": p} for n, (m, p) in zip(ids, part, strict=True)]
            data = _json(self.client.post(self.url, json=body))
            if not isinstance(data, list):
                # a node refusing the whole batch answers one error object
                _item(data, -1)
            by_id = {item.get("id"): item for item in data if isinstance(item, dict)}
            for n in ids:
                if n not in by_id:
                    raise NodeError(f"JSON-RPC batch answer without item {n} ({len(data)} of {len(ids)} items)")
                try:
                    results.append(_item(by_id[n], n))
                except RpcError as exc:
                    if not errors:
                        raise
                    results.append(exc)
        return results

    # --- helpers -----------------------------------------------------------------------------

    def block_number(self) -> int:
        return quantity(self.call("eth_blockNumber"))

    def chain_id(self) -> int:
        return quantity(self.call("eth_chainId"))

    def header(self, number: int) -> dict[str, Any] | None:
        return _header(self.call("eth_getBlockByNumber", hex(number), False))

    def headers(self, numbers: list[int]) -> dict[int, dict[str, Any]]:
        if not numbers:
            return {}
        got = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return {n: h for n, h in zip(numbers, map(_header, got), strict=True) if h is not None}

    def get_logs(
        self, addresses: list[str], from_block: int, to_block: int, topics: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if topics:
            query["topics"] = topics
        result = self.call("eth_getLogs", query)
        if not isinstance(result, list) or not all(isinstance(lg, dict) for lg in result):
            raise NodeError(f"eth_getLogs answered {str(result)[:80]}")
        return result


def quantity(value: Any) -> int:
    """A JSON-RPC hex quantity; anything else is a malformed answer."""
    try:
        return int(value, 16)
    except (TypeError, ValueError) as exc:
        raise NodeError(f"malformed quantity {str(value)[:40]!r}") from exc


def _header(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) for k in ("hash", "parentHash", "timestamp")
    ):
        raise NodeError(f"malformed block header {str(value)[:80]}")
    return value
