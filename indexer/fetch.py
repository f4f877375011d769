"""eth_getLogs over adaptive block ranges: halve on "too many results" / range-limit errors,
grow when quiet."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from indexer.rpc import Rpc, RpcError

log = logging.getLogger(__name__)

_LIMIT_HINTS = (
    "too many",
    "limit",
    "range",
    "exceed",
    "query returned more than",
    "response size",
    "timeout",
    "timed out",
)


def is_limit_error(exc: Exception) -> bool:
    if isinstance(exc, httpx.TimeoutException):
        return True
    if isinstance(exc, RpcError):
        return exc.code in (-32005, -32602, -32614) or any(h in exc.message.lower() for h in _LIMIT_HINTS)
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (413, 502, 503, 504)
    return False


class LogFetcher:
    def __init__(
        self,
        rpc: Rpc,
        addresses: list[str],
        *,
        start: int = 2000,
        minimum: int = 1,
        maximum: int = 100_000,
        target: int = 10_000,
    ) -> None:
        self.rpc = rpc
        self.addresses = addresses
        self.step = max(minimum, min(start, maximum))
        self.minimum = minimum
        self.maximum = maximum
        self.target = target

    def fetch(self, from_block: int, to_block: int) -> tuple[int, list[dict[str, Any]]]:
        """Logs of [from_block, end] for some end <= to_block; returns (end, logs)."""
        while True:
            end = min(to_block, from_block + self.step - 1)
            try:
                logs = self.rpc.get_logs(self.addresses, from_block, end)
            except Exception as exc:
                if not is_limit_error(exc) or self.step <= self.minimum:
                    raise
                self.step = max(self.minimum, self.step // 2)
                log.info("eth_getLogs limit (%s); range now %d blocks", exc, self.step)
                continue
            if len(logs) < self.target // 2 and end - from_block + 1 == self.step:
                self.step = min(self.maximum, self.step * 2)
            elif len(logs) > self.target and self.step > self.minimum:
                self.step = max(self.minimum, self.step // 2)
            return end, logs
