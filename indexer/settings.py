"""Settings from the environment (prefix ``SCF_INDEXER_``) or keyword arguments."""

from __future__ import annotations

import hashlib

from pydantic_settings import BaseSettings, SettingsConfigDict


def hash_key(key: str) -> str:
    """The stored form of an auditor API key (sha256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCF_INDEXER_", extra="ignore")

    rpc_url: str = "http://127.0.0.1:8545"
    manifest_path: str = "var/manifest.json"
    database_url: str = "sqlite:///var/indexer.db"
    # index only up to head - confirmations (0 on a dev chain; QBFT has immediate finality)
    confirmations: int = 0
    # blocks within this distance of the head keep an undo journal (rollback on reorg)
    reorg_window: int = 128
    # eth_getLogs range: start, bounds; halves on "too many results", doubles when quiet
    batch_blocks: int = 2000
    min_batch_blocks: int = 1
    max_batch_blocks: int = 100_000
    # grow the range while a batch brings fewer logs than this
    target_logs_per_batch: int = 10_000
    # seconds between polls when caught up; the first retry delay after an error (doubling)
    poll_interval: float = 1.0
    # the longest back-off between retries when the node or the database keeps failing
    max_backoff: float = 30.0
    rpc_timeout: float = 30.0
    # sha256 hex digests of the auditors' API keys, comma-separated in the environment
    auditor_key_hashes: str = ""
    # run `alembic upgrade head` on start
    migrate: bool = True

    # observability (docs/indexer.md "Observability"): log level; log lines as JSON objects
    # ("json") or readable text ("text", for a terminal); the auditor API's GET /v1/ready answers
    # 503 when the follower's lag (head - indexed block) exceeds this many blocks
    log_level: str = "INFO"
    log_format: str = "json"
    ready_max_lag_blocks: int = 20

    def key_hashes(self) -> set[str]:
        return {h.strip().lower() for h in self.auditor_key_hashes.split(",") if h.strip()}
