"""A fault-injecting JSON-RPC proxy for tests: an HTTP server on 127.0.0.1 in front of a node
(anvil), answering like a misbehaving node, RPC provider or load balancer would.

    proxy = FaultProxy(chain.url).start()          # point the service under test at proxy.url
    rule = proxy.add("eth_sendRawTransaction", "error", forward=True, message="internal error")
    proxy.add(("eth_getTransactionReceipt", "eth_getTransactionByHash"), "null", per_key_s=3)
    proxy.add("eth_call", "delay", delay_s=5)
    proxy.add("*", "http_status", status=502, times=3)
    ...
    rule.hits                                      # how many items the rule answered
    proxy.seen["eth_call"]                         # items per method that reached the proxy
    proxy.largest["eth_sendRawTransaction"]        # most items of that method in one request
    proxy.remove(rule); proxy.clear(); proxy.stop()

Rules are checked in the order they were added; the first *active* rule whose method matches
answers the item (a batch's items are matched one by one). A rule is active while it has hits
left (``times``), before its end (``duration_s`` after it was added) and, with ``match``, when
``match(params)`` is true. With ``per_key_s`` a rule applies to each distinct first parameter (a
transaction hash, say) for that many seconds after it first matched that value: "this node lags:
it knows a transaction only 3 s after it was first asked for it". ``probability`` (with the
proxy's seeded random generator) makes a rule hit only some of the matching items.

Item actions (the other items of a batch are forwarded as usual):
  "error"       answer ``{"error": {"code", "message"}}``; with ``forward=True`` the item reaches
                the node first (the node acted, only the answer is an error)
  "null"        answer ``{"result": null}`` (``forward=True``: after forwarding)
  "result"      answer ``{"result": value}`` (``forward=True``: after forwarding)
  "delay"       forward, then answer after ``delay_s`` seconds (the whole HTTP answer waits)
  "drop"        forward, then leave the item out of the answer (a batch answer missing an item; a
                single request gets an empty batch ``[]``)
  "forward"     forward as usual: the rule only counts (``hits``) the items its ``match`` selects
Request actions (the whole HTTP request, once any of its items matches):
  "http_status" answer HTTP ``status`` (e.g. 502) with a short text body
  "non_json"    answer HTTP 200 with a body that is not JSON
  "reset"       close the connection without an answer
With ``forward=True`` a request action forwards the request to the node first.

Forwarding keeps the request's shape: a batch's forwarded items go to the node as one batch, in
order. The proxy runs its own event loop in a daemon thread, so it serves synchronous tests and
the service's event loop alike; ``stop()`` closes it.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

ITEM_ACTIONS = ("error", "null", "result", "delay", "drop", "forward")
REQUEST_ACTIONS = ("http_status", "non_json", "reset")


@dataclass
class Rule:
    methods: tuple[str, ...]  # "*" matches every method
    action: str
    forward: bool = False
    message: str = "internal error"
    code: int = -32603
    value: Any = None
    delay_s: float = 0.0
    status: int = 502
    times: int | None = None
    duration_s: float | None = None
    per_key_s: float | None = None
    probability: float = 1.0
    match: Callable[[list[Any]], bool] | None = None
    hits: int = 0
    added_at: float = field(default_factory=time.monotonic)
    first_seen: dict[str, float] = field(default_factory=dict)

    def applies(self, method: str, params: list[Any], rng: random.Random) -> bool:
        if "*" not in self.methods and method not in self.methods:
            return False
        now = time.monotonic()
        if self.times is not None and self.hits >= self.times:
            return False
        if self.duration_s is not None and now - self.added_at > self.duration_s:
            return False
        if self.match is not None and not self.match(params):
            return False
        if self.per_key_s is not None:
            key = json.dumps(params[:1], sort_keys=True)
            first = self.first_seen.setdefault(key, now)
            if now - first > self.per_key_s:
                return False
        if self.probability < 1.0 and rng.random() >= self.probability:
            return False
        self.hits += 1
        return True


class FaultProxy:
    def __init__(self, upstream: str, seed: int = 1):
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.seen: Counter[str] = Counter()
        self.largest: Counter[str] = Counter()
        self.port = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- rules --------------------------------------------------------------------------------

    def add(self, methods: str | tuple[str, ...], action: str, **kwargs: Any) -> Rule:
        if action not in ITEM_ACTIONS + REQUEST_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        rule = Rule((methods,) if isinstance(methods, str) else tuple(methods), action, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        with self._lock:
            if rule in self.rules:
                self.rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _rule_for(self, method: str, params: list[Any]) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.applies(method, params, self._rng):
                    return rule
        return None

    # --- server -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="faultproxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _forward(self, payload: Any) -> Any:
        assert self._session is not None
        async with self._session.post(self.upstream, json=payload) as r:
            return await r.json(content_type=None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        batch = isinstance(body, list)
        items: list[dict[str, Any]] = body if batch else [body]
        rules: list[Rule | None] = []
        per_request = Counter(str(item.get("method", "")) for item in items)
        for method, n in per_request.items():
            self.largest[method] = max(self.largest[method], n)
        for item in items:
            method = str(item.get("method", ""))
            self.seen[method] += 1
            rules.append(self._rule_for(method, list(item.get("params") or [])))
        request_rule = next((r for r in rules if r is not None and r.action in REQUEST_ACTIONS), None)
        if request_rule is not None:
            if request_rule.forward:
                await self._forward(body)
            return await self._request_fault(request, request_rule)
        to_forward = [item for item, rule in zip(items, rules, strict=True)
                      if rule is None or rule.forward or rule.action in ("delay", "drop", "forward")]
        replies: dict[Any, Any] = {}
        if to_forward:
            forwarded = await self._forward(to_forward if batch else to_forward[0])
            for reply in forwarded if isinstance(forwarded, list) else [forwarded]:
                if isinstance(reply, dict):
                    replies[reply.get("id")] = reply
        delay = max((r.delay_s for r in rules if r is not None and r.action == "delay"), default=0.0)
        if delay:
            await asyncio.sleep(delay)
        out: list[Any] = []
        for item, rule in zip(items, rules, strict=True):
            rid = item.get("id")
            if rule is None or rule.action in ("delay", "forward"):
                missing = {"jsonrpc": "2.0", "id": rid, "error": {"code": -1, "message": "no reply"}}
                out.append(replies.get(rid, missing))
            elif rule.action == "drop":
                continue
            elif rule.action == "error":
                out.append({"jsonrpc": "2.0", "id": rid, "error": {"code": rule.code, "message": rule.message}})
            elif rule.action == "null":
                out.append({"jsonrpc": "2.0", "id": rid, "result": None})
            elif rule.action == "result":
                out.append({"jsonrpc": "2.0", "id": rid, "result": rule.value})
        return web.json_response(out if batch or not out else out[0])

    async def _request_fault(self, request: web.Request, rule: Rule) -> web.StreamResponse:
        if rule.action == "http_status":
            return web.Response(status=rule.status, text=f"injected HTTP {rule.status}")
        if rule.action == "non_json":
            return web.Response(status=200, text="<html>upstream hiccup</html>", content_type="text/html")
        transport = request.transport  # "reset": the connection closes without an answer
        if transport is not None:
            transport.abort()
        return web.Response(status=500)
