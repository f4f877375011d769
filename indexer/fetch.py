"""The indexer's JSON-RPC client (``connect``) and eth_getLogs over adaptive block ranges: halve
on "too many results" / range-limit errors, grow when quiet; back off and retry the same range
when the node rate-limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from indexer import errors
from scf_core.rpc import Rpc, RpcError

log = logging.getLogger(__name__)


def connect(url: str, timeout: float = 30.0) -> Rpc:
    """The indexer's JSON-RPC client: node errors and malformed answers raise the indexer's
    retryable ``NodeError`` (error answers: its ``RpcError``)."""
    return Rpc(url, timeout, rpc_error=errors.RpcError, unavailable=errors.NodeError)

# the range or the result is too large (geth, Besu, Erigon, Infura, Alchemy, QuickNode wordings)
_LIMIT_HINTS = (
    "too many results",
    "too many logs",
    "query returned more than",
    "range",
    "response size",
    "result size",
    "results",
    "timeout",
    "timed out",
)
# the node (or its gateway) refuses the request rate: the range is not the problem
_RATE_HINTS = (
    "rate limit",
    "rate-limit",
    "ratelimit",
    "rate limited",
    "too many requests",
    "requests per second",
    "request rate",
    "throttl",
    "exceeded its compute units",
    "capacity",
    "daily request count",
)


def is_rate_limited(exc: Exception) -> bool:
    """HTTP 429 or a JSON-RPC error that says the caller is rate-limited."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429
    if isinstance(exc, RpcError):
        message = exc.message.lower()
        return exc.code in (429, -32029) or any(h in message for h in _RATE_HINTS)
    return False


def is_limit_error(exc: Exception) -> bool:
    """The range or its result is too large (retry with a smaller range); not rate limiting."""
    if isinstance(exc, httpx.TimeoutException):
        return True
    if is_rate_limited(exc):
        return False
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
        rate_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        topics: list[Any] | None = None,
    ) -> None:
        self.rpc = rpc
        self.addresses = addresses
        self.topics = topics
        self.step = max(minimum, min(start, maximum))
        self.minimum = minimum
        self.maximum = maximum
        self.target = target
        self.rate_retries = rate_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep

    def fetch(self, from_block: int, to_block: int) -> tuple[int, list[dict[str, Any]]]:
        """Logs of [from_block, end] for some end <= to_block; returns (end, logs). Rate limiting:
        the same range again after an exponential back-off (`rate_retries` times, then raise)."""
        throttled = 0
        while True:
            end = min(to_block, from_block + self.step - 1)
            try:
                logs = self.rpc.get_logs(self.addresses, from_block, end, self.topics)
            except Exception as exc:
                if is_rate_limited(exc):
                    throttled += 1
                    if throttled > self.rate_retries:
                        raise
                    delay = min(self.max_backoff, self.backoff * 2 ** (throttled - 1))
                    log.warning("eth_getLogs rate-limited (%s); retrying in %.1f s", exc, delay)
                    self.sleep(delay)
                    continue
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

    def fetch_all(self, from_block: int, to_block: int) -> Iterator[list[dict[str, Any]]]:
        """The logs of [from_block, to_block], one adaptive range at a time."""
        while from_block <= to_block:
            end, logs = self.fetch(from_block, to_block)
            yield logs
            from_block = end + 1
