"""The running service's state: settings, store, node, contracts, signers, submitter, event bus."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from chain_gateway import metrics, schema
from chain_gateway.approvals import Expiry, Policies
from chain_gateway.auth import KeyCache, ensure_key_hash
from chain_gateway.contracts import ContractSet
from chain_gateway.db import InstanceLock, make_engine
from chain_gateway.errors import NodeUnavailable
from chain_gateway.events import EventBus
from chain_gateway.models import Role
from chain_gateway.settings import Settings
from chain_gateway.signer import DEV_CHAIN_IDS, SignerRegistry
from chain_gateway.submitter import Submitter
from chain_gateway.webhooks import WebhookWorker
from chain_gateway.worker import publish
from scf_core.apikeys import hash_key
from scf_core.manifest import Manifest
from scf_core.rpc import AsyncRpc, RpcError

log = logging.getLogger("chain_gateway")


@dataclass
class Gateway:
    settings: Settings
    manifest: Manifest
    engine: Engine
    rpc: AsyncRpc
    contracts: ContractSet
    signers: SignerRegistry
    bus: EventBus
    keys: KeyCache
    submitter: Submitter | None = None
    chain_id: int = 0
    instance_lock: InstanceLock | None = None
    webhooks: WebhookWorker | None = None  # durable delivery of final states
    policies: Policies | None = None  # members' dual-control policies
    expiry: Expiry | None = None  # expires operations awaiting approval past their deadline
    inserter: Any = None  # operations.Inserter (group commit of new operations), made on first use
    # the last eth_estimateGas figure of each kind of call (operations.simulate_gas)
    gas_estimates: dict[tuple[str, str, int], int] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Gateway:
        if not settings.manifest.is_file():
            raise RuntimeError(f"no deployment manifest at {settings.manifest} (SCF_GATEWAY_MANIFEST or SCF_MANIFEST)")
        manifest = Manifest.load(settings.manifest)
        schema.upgrade(settings.database_url)  # alembic upgrade head, one transaction
        engine = make_engine(settings.database_url)
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        return cls(
            settings=settings,
            manifest=manifest,
            engine=engine,
            rpc=AsyncRpc(settings.rpc_url, timeout=settings.rpc_timeout_s, unavailable=NodeUnavailable,
                         on_failure=metrics.count_node_error),
            contracts=ContractSet.from_manifest(manifest),
            signers=SignerRegistry(settings),
            bus=EventBus(settings.webhook_url, secret),
            keys=KeyCache(engine),
            chain_id=manifest.chain_id,
            policies=Policies(engine),
        )

    def bootstrap_keys(self) -> None:
        s = self.settings
        operator = self.manifest.operator
        if s.bootstrap_operator_key_hash:
            ensure_key_hash(self.engine, s.bootstrap_operator_key_hash.lower(), operator, Role.operator, "bootstrap")
        if s.dev_operator_api_key is not None:
            if not s.dev_mode:
                raise RuntimeError("SCF_GATEWAY_DEV_OPERATOR_API_KEY is only allowed with SCF_GATEWAY_DEV_MODE=true")
            key_hash = hash_key(s.dev_operator_api_key.get_secret_value())
            ensure_key_hash(self.engine, key_hash, operator, Role.operator, "dev")

    async def check_chain(self) -> None:
        """Refuse to start on the wrong chain: the node's eth_chainId must be the manifest's (every
        transaction is signed for the manifest's chain id), and dev mode (the well-known anvil
        mnemonic as signers) needs a dev chain id."""
        try:
            node_chain_id = await self.rpc.chain_id()
        except (NodeUnavailable, RpcError, ValueError, TypeError) as exc:
            raise RuntimeError(
                "cannot read eth_chainId from the node at SCF_GATEWAY_RPC_URL: refusing to start "
                "(the node's chain id is checked against the manifest's on start)"
            ) from exc
        if node_chain_id != self.manifest.chain_id:
            raise RuntimeError(
                f"chain id mismatch: the node at SCF_GATEWAY_RPC_URL is chain {node_chain_id}, the manifest "
                f"{self.settings.manifest} is for chain {self.manifest.chain_id}: refusing to start"
            )
        if self.settings.dev_mode and node_chain_id not in DEV_CHAIN_IDS:
            raise RuntimeError(
                f"SCF_GATEWAY_DEV_MODE=true on chain {node_chain_id}: dev mode (the anvil mnemonic's well-known "
                f"keys as signers) is refused unless the chain id is a dev chain's {DEV_CHAIN_IDS}"
            )

    async def start(self) -> None:
        try:
            await self.check_chain()
        except BaseException:
            await self.rpc.close()
            self.engine.dispose()
            raise
        self.instance_lock = InstanceLock(self.engine, self.settings.database_url)
        self.instance_lock.acquire()
        self.bootstrap_keys()
        await self.bus.start()
        if self.bus.webhook_url and self.bus.webhook_secret:
            self.webhooks = WebhookWorker(self.engine, self.bus.webhook_url, self.bus.webhook_secret)
            self.bus.on_final = self.webhooks.wake.set
            await self.webhooks.start()  # rows left by a previous run are delivered now
        self.submitter = Submitter(
            self.settings, self.engine, self.rpc, self.signers, self.contracts, self.bus, self.chain_id,
            self.instance_lock,
        )
        await self.submitter.start()
        self.expiry = Expiry(self.engine, bool(self.settings.webhook_url), lambda op: publish(self.bus, op))
        self.expiry.start()

    async def stop(self) -> None:
        if self.expiry:
            await self.expiry.stop()
        if self.submitter:
            await self.submitter.stop()
        if self.webhooks:
            await self.webhooks.stop()
        await self.bus.stop()
        await self.rpc.close()
        if self.instance_lock is not None:
            self.instance_lock.release()
        self.engine.dispose()
