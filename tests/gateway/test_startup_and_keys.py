"""Start-up refusals (wrong chain, dev mode off a dev chain), a key the gateway cannot decrypt, and
onboarding keys that work only once the onboarding is confirmed."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from chain_gateway.main import create_app
from chain_gateway.models import ApiKey
from gateway.conftest import (
    OPERATOR_API_KEY,
    PASSPHRASE,
    Api,
    Chain,
    SendFault,
    deploy_chain,
    gateway_settings,
    rpc,
    wait_until,
)
from scf import devchain
from scf_core.paths import ANVIL


def manifest_for_chain(chain: Chain, tmp: Path, chain_id: int) -> Path:
    data = json.loads(chain.manifest_path.read_text())
    data["chain_id"] = chain_id
    path = tmp / f"manifest-{chain_id}.json"
    path.write_text(json.dumps(data))
    return path


def test_chain_id_mismatch_refuses_to_start(chain: Chain, tmp_path: Path) -> None:
    settings = gateway_settings(chain, tmp_path, manifest=manifest_for_chain(chain, tmp_path, 4242))
    with (
        pytest.raises(RuntimeError, match=r"chain id mismatch: .* chain 31337, the manifest .* chain 4242"),
        TestClient(create_app(settings)),
    ):
        pass
    # nothing was left locked or half started: the right manifest starts on the same store
    with TestClient(create_app(gateway_settings(chain, tmp_path))) as client:
        assert client.get("/v1/health").status_code == 200


def test_dev_mode_is_refused_off_a_dev_chain(chain: Chain, tmp_path: Path) -> None:
    """A node whose chain id is not a dev chain's (31337, 1337): dev mode (the anvil mnemonic's
    well-known keys as signers) refuses to start; without dev mode the gateway starts."""
    port = devchain.free_port()
    node = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "4242"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    other = devchain.DevChain(node, port)
    try:
        wait_until(lambda: devchain.port_open(port), 30, 0.05)
        manifest = manifest_for_chain(chain, tmp_path, 4242)
        settings = gateway_settings(chain, tmp_path, rpc_url=other.url, manifest=manifest)
        with pytest.raises(RuntimeError, match=r"DEV_MODE=true on chain 4242"), TestClient(create_app(settings)):
            pass
        settings = gateway_settings(chain, tmp_path, rpc_url=other.url, manifest=manifest, dev_mode=False,
                                    dev_operator_api_key=None)
        with TestClient(create_app(settings)) as client:
            assert client.get("/v1/health").status_code == 200
    finally:
        other.stop()


@pytest.fixture
def own(tmp_path: Path):
    c = deploy_chain(tmp_path)
    try:
        yield c
    finally:
        c.chain.stop()


def test_a_key_that_cannot_be_decrypted_is_a_visible_error(own: Chain, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong passphrase: the operation stays queued with a SIGNER_LOCKED error (no secret in it),
    scrypt is not re-run every poll, and the operation goes through once the passphrase is right.
    Encryption (onboarding) and decryption run off the event loop."""
    threads: list[int] = []
    for name in ("encrypt", "decrypt"):
        original = getattr(Account, name)

        def recording(*args: object, _original: object = original, **kwargs: object) -> object:
            threads.append(threading.get_ident())
            return _original(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(Account, name, recording)
    settings = gateway_settings(own, tmp_path)
    with TestClient(create_app(settings)) as client:
        api = Api(client, own)
        core, core_key = api.onboard("core_enterprise", credit=10**9)
        sup, _ = api.onboard("supplier")
        loop_thread = client.portal.call(threading.get_ident)  # type: ignore[union-attr]
        assert threads and loop_thread not in threads  # the new members' keys were encrypted off the loop
    wrong = "not-the-passphrase-" + PASSPHRASE
    pass_file = settings.keystore_dir / f"{core.lower()}.pass"
    pass_file.write_text(wrong)
    threads.clear()
    with TestClient(create_app(settings)) as client:
        api = Api(client, own)
        body = {"payee": sup, "face_value": 1000, "maturity": api.now() + 86400, "document_hash": "0x" + "ab" * 32}
        r = api.post("/v1/certificates", core_key, body, wait=False)
        assert r.status_code == 202, r.text
        op_id = r.json()["id"]
        op = wait_until(lambda: (o := api.get(f"/v1/operations/{op_id}", core_key).json())["error"] and o, 10)
        assert op["state"] == "queued" and op["error"]["code"] == "SIGNER_LOCKED", op
        assert wrong not in json.dumps(op) and PASSPHRASE not in json.dumps(op)
        time.sleep(1.0)  # 20 polls: the decryption is not retried
        assert len(threads) == 1 and threads[0] != client.portal.call(threading.get_ident)  # type: ignore[union-attr]
        assert api.get(f"/v1/operations/{op_id}", core_key).json()["state"] == "queued"
        # the passphrase fixed: the next attempt (brought forward here) decrypts and the operation goes through
        pass_file.unlink()
        worker = client.app.state.gateway.submitter.workers[core.lower()]  # type: ignore[attr-defined]

        def retry_now() -> None:
            worker.unlock_retry_at = 0.0
            worker.wake.set()

        client.portal.call(retry_now)  # type: ignore[union-attr]
        done = api.get(f"/v1/operations/{op_id}", core_key, wait="true", timeout=20).json()
        assert done["state"] == "confirmed" and done["error"] is None, done


def test_onboarding_key_works_only_once_the_onboarding_is_confirmed(own: Chain, tmp_path: Path) -> None:
    with TestClient(create_app(gateway_settings(own, tmp_path))) as client:
        api = Api(client, own)
        rpc(own.url, "evm_setAutomine", False)
        r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "auditor", "kyc_hash": "0x" + "01" * 32}, wait=False)
        assert r.status_code == 202, r.text
        body = r.json()
        key, op_id = body["api_key"], body["operation"]["id"]
        wait_until(lambda: api.get(f"/v1/operations/{op_id}", OPERATOR_API_KEY).json()["state"] == "submitted")
        refused = api.get("/v1/me", key)
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHENTICATED"
        assert "not active" in refused.json()["message"] and refused.json()["details"]["operation_id"] == op_id
        assert api.get("/v1/operations", key).status_code == 401  # an auditor key reads nothing yet
        rpc(own.url, "evm_setAutomine", True)
        rpc(own.url, "evm_mine")
        assert api.get(f"/v1/operations/{op_id}", OPERATOR_API_KEY, wait="true").json()["state"] == "confirmed"
        me = api.get("/v1/me", key)
        assert me.status_code == 200 and me.json()["role"] == "auditor" and me.json()["account"] == body["account"]

        # an onboarding that fails (the node refuses its transaction): its key never works
        fault = SendFault(client, "insufficient funds for gas * price + value")
        r = api.post("/v1/members", OPERATOR_API_KEY, {"role": "auditor", "kyc_hash": "0x" + "02" * 32})
        fault.remove()
        body = r.json()
        assert body["operation"]["state"] == "failed" and body["api_key"], body
        refused = api.get("/v1/me", body["api_key"])
        assert refused.status_code == 401 and refused.json()["message"] == "unknown or revoked API key"
        with Session(client.app.state.gateway.engine) as s:  # type: ignore[attr-defined]
            row = s.exec(select(ApiKey).where(ApiKey.onboarding_operation == body["operation"]["id"])).one()
            assert row.revoked
