"""Operation updates pushed as server-sent events and as signed webhooks (real uvicorn process)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx

from chain_gateway.events import sign_webhook, verify_webhook
from gateway.conftest import OPERATOR_API_KEY, GatewayProcess, deploy_chain, gateway_env
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
        assert mine[-1][0]["operation"]["state"] == "confirmed"
    finally:
        gw.stop()
        chain.chain.stop()
        server.shutdown()
