"""Operation updates pushed as server-sent events and as signed webhooks (real uvicorn process)."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import Session, select

import chain_gateway
from chain_gateway.events import FINAL, sign_webhook, verify_webhook
from chain_gateway.main import create_app
from chain_gateway.models import FINAL_STATES, WebhookOutbox
from chain_gateway.settings import Settings
from chain_gateway.webhooks import backoff
from gateway.conftest import (
    OPERATOR_API_KEY,
    Chain,
    GatewayProcess,
    deploy_chain,
    gateway_env,
    gateway_settings,
    wait_until,
)
from gateway.test_load import h32
from scf import devchain

SECRET = "webhook-test-secret"


def test_webhook_signature_roundtrip() -> None:
    body = b'{"a": 1}'
    import time

    header = sign_webhook(SECRET, int(time.time()), body)
    assert verify_webhook(SECRET, header, body)
    assert not verify_webhook(SECRET, header, body + b" ")
    assert not verify_webhook("other", header, body)
    assert not verify_webhook(SECRET, "garbage", body)


def test_sse_and_webhook(tmp_path: Path) -> None:
    received: list[tuple[dict[str, Any], bool]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_webhook(SECRET, self.headers.get("X-SCF-Signature", ""), body)
            received.append((json.loads(body), ok))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook_port = devchain.free_port()
    server = HTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chain = deploy_chain(tmp_path)
    gw = GatewayProcess(gateway_env(chain, tmp_path, SCF_GATEWAY_WEBHOOK_URL=f"http://127.0.0.1:{hook_port}/hook",
                                    SCF_GATEWAY_WEBHOOK_SECRET=SECRET))
    try:
        gw.start()
        events: list[dict[str, Any]] = []
        ready = threading.Event()

        def listen() -> None:
            with httpx.Client(base_url=gw.url, timeout=30) as c, c.stream(
                "GET", "/v1/operations/stream", headers={"X-API-Key": OPERATOR_API_KEY}
            ) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    ready.set()
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if events[-1]["state"] == "confirmed":
                            return

        t = threading.Thread(target=listen, daemon=True)
        t.start()
        assert ready.wait(10)
        with httpx.Client(base_url=gw.url, timeout=30) as c:
            r = c.post("/v1/members", json={"role": "supplier", "kyc_hash": h32()},
                       headers={"X-API-Key": OPERATOR_API_KEY})
            assert r.status_code == 202
            op_id = r.json()["operation"]["id"]
        t.join(20)
        states = [e["state"] for e in events if e["id"] == op_id]
        assert states[0] == "queued" and states[-1] == "confirmed" and "submitted" in states
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            p["operation"]["id"] == op_id and p["operation"]["state"] == "confirmed" for p, _ in received
        ):
            time.sleep(0.1)
        mine = [(p, ok) for p, ok in received if p["operation"]["id"] == op_id]
        assert mine and all(ok for _, ok in mine)
        # the final state comes once, from the durable outbox (not ordered with the best-effort
        # intermediate states, which may arrive after it)
        assert [p["operation"]["state"] for p, _ in mine].count("confirmed") == 1
    finally:
        gw.stop()
        chain.chain.stop()
        server.shutdown()


# --- durable delivery of final states (gw_webhook_outbox), in-process on the shared dev chain -------


class Receiver:
    """A webhook receiver on 127.0.0.1 (free port). Final states are answered with the statuses of
    `final_answers` in turn (then 204); intermediate states always with 204."""

    def __init__(self, final_answers: list[int] | None = None):
        self.final_answers = list(final_answers or [])
        self.received: list[tuple[dict[str, Any], bool, int]] = []  # (payload, signature ok, status)
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verify_webhook(SECRET, self.headers.get("X-SCF-Signature", ""), body)
                payload = json.loads(body)
                with outer.lock:
                    status = 204
                    if payload["operation"]["state"] in ("confirmed", "failed") and outer.final_answers:
                        status = outer.final_answers.pop(0)
                    outer.received.append((payload, ok, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = devchain.free_port()
        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def finals(self, op_id: str) -> list[tuple[dict[str, Any], bool, int]]:
        with self.lock:
            return [r for r in self.received if r[0]["operation"]["id"] == op_id
                    and r[0]["operation"]["state"] in ("confirmed", "failed")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def outbox(settings: Settings) -> list[WebhookOutbox]:
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(WebhookOutbox)).all())
    finally:
        engine.dispose()


def onboard_op(client: TestClient) -> str:
    r = client.post("/v1/members", json={"role": "supplier", "kyc_hash": h32()},
                    headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["operation"]["state"] == "confirmed"
    return str(r.json()["operation"]["id"])


def test_webhook_final_state_retried_until_delivered_once(chain: Chain, tmp_path: Path) -> None:
    hook = Receiver(final_answers=[500, 500])
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET)
    try:
        with TestClient(create_app(settings)) as client:
            op_id = onboard_op(client)
            wait_until(lambda: any(st == 204 for _, _, st in hook.finals(op_id)), timeout=30)
            time.sleep(1.5)  # nothing more comes
            finals = hook.finals(op_id)
            assert [st for _, _, st in finals] == [500, 500, 204]
            assert all(ok for _, ok, _ in finals)  # every attempt signed
            assert all(p["operation"]["state"] == "confirmed" and p["type"] == "operation" for p, _, _ in finals)
            assert outbox(settings) == []
    finally:
        hook.close()


def test_webhook_pending_at_stop_is_delivered_after_restart(chain: Chain, tmp_path: Path) -> None:
    hook = Receiver(final_answers=[503] * 1000)  # down (busy) until told otherwise
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET)
    try:
        with TestClient(create_app(settings)) as client:
            op_id = onboard_op(client)
            wait_until(lambda: len(hook.finals(op_id)) >= 1, timeout=30)
            # the refused try is stored after the receiver answered: stop only once it is
            wait_until(lambda: any(r.attempts >= 1 for r in outbox(settings)), timeout=30)
        rows = outbox(settings)
        assert [(r.operation_id, r.state) for r in rows] == [(op_id, "confirmed")]
        assert rows[0].attempts >= 1 and rows[0].last_error and "503" in rows[0].last_error
        with hook.lock:
            hook.final_answers = []  # the receiver is back
        with TestClient(create_app(settings)):  # same store: the row left is delivered
            wait_until(lambda: any(st == 204 for _, _, st in hook.finals(op_id)), timeout=30)
            wait_until(lambda: outbox(settings) == [], timeout=10)
        delivered = [p for p, ok, st in hook.finals(op_id) if st == 204]
        assert len(delivered) == 1 and delivered[0]["operation"]["state"] == "confirmed"
        assert all(ok for _, ok, _ in hook.finals(op_id))
    finally:
        hook.close()


def test_webhook_refused_with_400_is_given_up(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = Receiver(final_answers=[400])
    settings = gateway_settings(chain, tmp_path, webhook_url=hook.url, webhook_secret=SECRET)
    caplog.set_level(logging.INFO, logger="chain_gateway")
    try:
        with TestClient(create_app(settings)) as client:
            op_id = onboard_op(client)
            wait_until(lambda: any(r.given_up_at is not None for r in outbox(settings)), timeout=30)
            time.sleep(1.5)  # never tried again
            assert [st for _, _, st in hook.finals(op_id)] == [400]
        rows = outbox(settings)
        assert len(rows) == 1 and rows[0].operation_id == op_id and rows[0].attempts == 1
        assert rows[0].last_error is not None and rows[0].last_error.startswith("HTTP 400")
        assert any("given up" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
        assert not any(SECRET in r.getMessage() for r in caplog.records)
    finally:
        hook.close()


def test_final_states_go_through_the_outbox_helper() -> None:
    """No module sets a final state except `webhooks.set_final_state` (which queues the durable delivery)."""
    pattern = re.compile(r"\.state\s*(?:,[^=\n]*)?=\s*(?:[^=\n]*,\s*)?OpState\.(?:confirmed|failed|rejected|expired)\b")
    offenders = [
        f"{path.name}:{n}"
        for path in Path(chain_gateway.__file__).parent.rglob("*.py")
        if path.name != "webhooks.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
    assert pattern.search("op.state = OpState.failed") and pattern.search("op.state, op.x = OpState.confirmed, 1")
    assert pattern.search("op.state = OpState.expired") and pattern.search("op.state = OpState.rejected")
    assert {s.value for s in FINAL_STATES} == FINAL


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(50) == 300.0


@pytest.mark.parametrize("answers, calls, warned", [(["retry", "retry", "ok"], 3, False), (["give_up"], 1, False),
                                                    (["retry"] * 5, 5, True)])
def test_intermediate_webhooks_are_retried_with_backoff(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, answers: list[str], calls: int, warned: bool
) -> None:
    """An intermediate state's best-effort webhook: a "retry" answer is tried again after 0.5, 1, 2,
    4 s, 5 tries at most, then a warning; any other answer ends it."""
    import asyncio

    import chain_gateway.events as events

    seen: list[float] = []
    sleeps: list[float] = []

    async def post(*_args: Any) -> tuple[str, str]:
        seen.append(time.monotonic())
        return answers[min(len(seen), len(answers)) - 1], ""

    real_sleep = asyncio.sleep
    loops: list[asyncio.AbstractEventLoop] = []

    async def no_sleep(seconds: float, *args: Any) -> Any:
        if asyncio.get_running_loop() not in loops:  # another test's gateway still running in a thread
            return await real_sleep(seconds, *args)
        sleeps.append(seconds)

    monkeypatch.setattr(events, "post_webhook", post)
    monkeypatch.setattr(asyncio, "sleep", no_sleep)  # tenacity's default async sleep

    async def run() -> None:
        loops.append(asyncio.get_running_loop())
        bus = events.EventBus("http://127.0.0.1:9/hook", "s")
        await bus.start()
        bus.publish({"id": "op-1", "state": "submitted"})
        for _ in range(500):  # until the delivery is done (the sleeps above return at once)
            await real_sleep(0.01)
            if len(seen) >= calls and bus._webhook_queue is not None and bus._webhook_queue.empty():
                break
        await real_sleep(0.05)
        await bus.stop()

    asyncio.run(run())
    assert len(seen) == calls
    assert sleeps == [0.5, 1.0, 2.0, 4.0][: calls - 1]
    assert any("webhook delivery failed" in r.getMessage() for r in caplog.records) == warned
