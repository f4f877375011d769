"""The indexer's section of the settings (environment ``SCF_INDEXER_*``, see scf_core.settings) or
keyword arguments. The node, the manifest and the database default to the shared ``SCF_RPC_URL``,
``SCF_MANIFEST`` and ``SCF_VAR_DIR``."""

from __future__ import annotations

from pathlib import Path

from scf_core.settings import Section, section_config, shared, sqlite_in_var_dir


class Settings(Section):
    model_config = section_config("indexer")

    rpc_url: str = shared("rpc_url")
    manifest: Path = shared("manifest")
    database_url: str = sqlite_in_var_dir("indexer.db")
    # index only up to head - confirmations (0 on a dev chain; QBFT has immediate finality)
    confirmations: int = 0
    # blocks within this distance of the head keep an undo journal (rollback on reorg)
    reorg_window: int = 128
    # eth_getLogs range: start, bounds; halves on "too many results", doubles when quiet
    batch_blocks: int = 2000
    min_batch_blocks: int = 1
    max_batch_blocks: int = 100_000
    # grow the range while a batch brings fewer logs than this: far behind the head, batches of
    # about this many events (a state row changed many times in a batch is written once)
    target_logs_per_batch: int = 10_000
    # state rows the follower keeps in memory between batches (not read back from the database);
    # beyond this many the cache is emptied (0: no cache)
    row_cache_rows: int = 200_000
    # SQLite: the page cache of the follower's connection, in MiB (SQLite's default is 2 MiB)
    sqlite_cache_mib: int = 64
    # seconds between polls when caught up; the first retry delay after an error (doubling)
    poll_interval_s: float = 1.0
    # the longest back-off between retries when the node or the database keeps failing
    max_backoff_s: float = 30.0
    rpc_timeout_s: float = 30.0
    # sha256 hex digests of the auditors' API keys, comma-separated in the environment
    auditor_key_hashes: str = ""
    # run `alembic upgrade head` on start
    migrate: bool = True
    # PostgreSQL: the auditor API keeps recent lineage trees (encoded) per certificate, rebuilt
    # when a holding of the certificate changes; its bound in MiB per process (0: no cache)
    lineage_cache_mib: int = 64
    # port of `scf auditor-api` (the bind address is the shared SCF_HOST)
    auditor_port: int = 8001

    # observability (docs/indexer.md "Observability"): log level; log lines as JSON objects
    # ("json") or readable text ("text", for a terminal); the auditor API's GET /v1/ready answers
    # 503 when the follower's lag (head - indexed block) exceeds this many blocks
    log_level: str = "INFO"
    log_format: str = "json"
    ready_max_lag_blocks: int = 20

    def key_hashes(self) -> set[str]:
        return {h.strip().lower() for h in self.auditor_key_hashes.split(",") if h.strip()}
