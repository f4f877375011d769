"""Fixtures: a real anvil dev chain with the platform deployed, and the gateway on it."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chain_gateway.main import create_app
from chain_gateway.settings import Settings
from scf import devchain
from scf_core.build import load_artifacts
from scf_core.manifest import Manifest

OPERATOR_API_KEY = "scf_test_operator_key_dev_only"
PASSPHRASE = "test-passphrase-not-a-secret"


@dataclass
class Chain:
    chain: devchain.DevChain
    manifest: Manifest
    manifest_path: Path

    @property
    def url(self) -> str:
        return self.chain.url


def deploy_chain(tmp: Path, **chain_kwargs: Any) -> Chain:
    from scf.deploy import deploy, dev_operator_key

    load_artifacts()
    chain = devchain.start(**chain_kwargs)
    try:
        manifest = deploy(chain.url, dev_operator_key())
    except Exception:
        chain.stop()
        raise
    path = tmp / "manifest.json"
    manifest.save(path)
    return Chain(chain, manifest, path)


def gateway_settings(chain: Chain, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        rpc_url=chain.url,
        manifest=chain.manifest_path,
        database_url=f"sqlite:///{tmp / 'gateway.db'}",
        keystore_dir=tmp / "keystore",
        keystore_passphrase=PASSPHRASE,
        keystore_scrypt_n=2**4,
        dev_mode=True,
        dev_operator_api_key=OPERATOR_API_KEY,
        wait_timeout_s=30,
    )
    values.update(overrides)
    return Settings(**values)


def gateway_env(chain: Chain, tmp: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_GATEWAY_")}
    env.update(
        SCF_GATEWAY_RPC_URL=chain.url,
        SCF_GATEWAY_MANIFEST=str(chain.manifest_path),
        SCF_GATEWAY_DATABASE_URL=f"sqlite:///{tmp / 'gateway.db'}",
        SCF_GATEWAY_KEYSTORE_DIR=str(tmp / "keystore"),
        SCF_GATEWAY_KEYSTORE_PASSPHRASE=PASSPHRASE,
        SCF_GATEWAY_KEYSTORE_SCRYPT_N="16",
        SCF_GATEWAY_DEV_MODE="true",
        SCF_GATEWAY_DEV_OPERATOR_API_KEY=OPERATOR_API_KEY,
        SCF_GATEWAY_LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    c = deploy_chain(tmp_path_factory.mktemp("chain"))
    yield c
    c.chain.stop()


@dataclass
class Api:
    """A TestClient plus helpers to onboard members through the API."""

    client: TestClient
    chain: Chain
    keys: dict[str, str] = field(default_factory=dict)
    clearing_agent: tuple[str, str] | None = None

    def h(self, key: str, idem: str | None = None) -> dict[str, str]:
        headers = {"X-API-Key": key}
        if idem:
            headers["Idempotency-Key"] = idem
        return headers

    @property
    def op(self) -> dict[str, str]:
        return self.h(OPERATOR_API_KEY)

    def post(self, path: str, key: str, body: Any = None, idem: str | None = None, wait: bool = True) -> Any:
        return self.client.post(path, json=body, headers=self.h(key, idem), params={"wait": "true"} if wait else None)

    def put(self, path: str, key: str, body: Any = None, wait: bool = True) -> Any:
        return self.client.put(path, json=body, headers=self.h(key), params={"wait": "true"} if wait else None)

    def get(self, path: str, key: str, **params: Any) -> Any:
        return self.client.get(path, headers=self.h(key), params=params)

    def onboard(self, role: str, credit: int = 0) -> tuple[str, str]:
        """A new member (key created by the gateway); returns (account, api_key)."""
        r = self.post("/v1/members", OPERATOR_API_KEY, {"role": role, "kyc_hash": "0x" + secrets.token_hex(32)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["operation"]["state"] == "confirmed", body
        if credit:
            r = self.put(f"/v1/members/{body['account']}/credit-limit", OPERATOR_API_KEY, {"limit": credit})
            assert r.json()["state"] == "confirmed", r.text
        return body["account"], body["api_key"]

    def clearing(self) -> tuple[str, str]:
        """(account, api_key) of this chain's clearing agent, onboarded on first use: it alone mints
        and burns the settlement currency."""
        if self.clearing_agent is None:
            self.clearing_agent = self.onboard("clearing_agent")
        return self.clearing_agent

    @property
    def clearing_key(self) -> str:
        return self.clearing()[1]

    def now(self) -> int:
        import httpx

        r = httpx.post(self.chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber",
                                             "params": ["latest", False]})
        return int(r.json()["result"]["timestamp"], 16)

    def issue(self, core_key: str, payee: str, face: int = 100_000, days: int = 90) -> dict[str, Any]:
        body = {"payee": payee, "face_value": face, "maturity": self.now() + days * 86400,
                "document_hash": "0x" + secrets.token_hex(32)}
        r = self.post("/v1/certificates", core_key, body)
        assert r.status_code == 200 and r.json()["state"] == "confirmed", r.text
        result: dict[str, Any] = r.json()["result"]
        return result


@pytest.fixture(scope="session")
def api(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("gateway")
    app = create_app(gateway_settings(chain, tmp))
    with TestClient(app) as client:
        yield Api(client, chain)


@dataclass
class Scenario:
    core: tuple[str, str]
    supplier: tuple[str, str]
    supplier2: tuple[str, str]
    factor: tuple[str, str]
    auditor: tuple[str, str]
    clearing: tuple[str, str]


@pytest.fixture(scope="session")
def members(api: Api) -> Scenario:
    return Scenario(
        core=api.onboard("core_enterprise", credit=10**12),
        supplier=api.onboard("supplier"),
        supplier2=api.onboard("supplier"),
        factor=api.onboard("factor"),
        auditor=api.onboard("auditor"),
        clearing=api.clearing(),
    )


def wait_until(predicate: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def own_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A chain of the module's own: for tests that move its clock or sign with the operator's key
    outside the session's gateway (which would find its next nonce taken)."""
    c = deploy_chain(tmp_path_factory.mktemp("own"))
    yield c
    c.chain.stop()


@pytest.fixture(scope="module")
def own_api(own_chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A gateway of the module's own on the module's own chain."""
    tmp = tmp_path_factory.mktemp("own_api")
    with TestClient(create_app(gateway_settings(own_chain, tmp))) as client:
        yield Api(client, own_chain)


def rpc(url: str, method: str, *params: Any) -> Any:
    import httpx

    r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30)
    body = r.json()
    if "error" in body:
        raise RuntimeError(body["error"])
    return body["result"]


class GatewayProcess:
    """The gateway as a real uvicorn process (`uvicorn chain_gateway.main:app`)."""

    def __init__(self, env: dict[str, str], port: int | None = None, log: Path | None = None):
        self.env = env
        self.port = port or devchain.free_port()
        self.log = log
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        import subprocess
        import sys

        import httpx

        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "chain_gateway.main:app", "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", "warning", "--no-access-log"],
            env=self.env, stdout=out, stderr=out, cwd=str(Path(__file__).resolve().parents[2]),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("gateway did not start")

    def kill(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except Exception:
                self.kill()


class SendFault:
    """Makes the gateway's node refuse `eth_sendRawTransaction` with `message` while it is set (the
    gateway's JSON-RPC client is wrapped in place). With `forward`, the transaction reaches the node
    first (the node has it, only the reply is an error)."""

    def __init__(self, client: TestClient, message: str | None = None, forward: bool = False):
        self.rpc = client.app.state.gateway.rpc  # type: ignore[attr-defined]
        self.original = self.rpc.batch
        self.message = message
        self.forward = forward
        self.refused = 0
        self.rpc.batch = self.batch

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        from scf_core.rpc import RpcError

        message = self.message
        if message is None or all(method != "eth_sendRawTransaction" for method, _ in calls):
            return await self.original(calls)
        out: list[Any] = []
        for method, params in calls:
            if method != "eth_sendRawTransaction":
                out += await self.original([(method, params)])
                continue
            if self.forward:
                await self.original([(method, params)])
            self.refused += 1
            out.append(RpcError(-32000, message))
        return out

    def remove(self) -> None:
        self.rpc.batch = self.original
