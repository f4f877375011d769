"""The gateway's section of the settings (environment ``SCF_GATEWAY_*``, see scf_core.settings).

The node, the manifest, the database and the keystores default to the shared ``SCF_RPC_URL``,
``SCF_MANIFEST`` and ``SCF_VAR_DIR``. No secret has a default."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator

from scf_core.settings import Section, in_var_dir, section_config, shared, sqlite_in_var_dir


class Settings(Section):
    model_config = section_config("gateway")

    # chain
    rpc_url: str = shared("rpc_url")
    manifest: Path = shared("manifest")
    # storage
    database_url: str = sqlite_in_var_dir("gateway.db")
    # keys: encrypted keystore files (eth-account v3 JSON, scrypt) named <address>.json
    keystore_dir: Path = in_var_dir("keystore")
    # passphrase for the keystore files; or a file holding it (e.g. a mounted secret);
    # a per-account file <keystore_dir>/<address>.pass overrides both
    keystore_passphrase: SecretStr | None = None
    keystore_passphrase_file: Path | None = None
    # scrypt cost of keystore files created by the gateway (2**18 in production; tests lower it)
    keystore_scrypt_n: int = 2**18
    # dev mode: the anvil mnemonic's accounts are signers, account 0 is the operator
    dev_mode: bool = False
    # sha256 hex of the operator's API key, bootstrapped on start (see `python -m chain_gateway.admin`)
    bootstrap_operator_key_hash: str | None = None
    # in dev mode only: a plain operator API key bootstrapped on start
    dev_operator_api_key: SecretStr | None = None

    # transactions
    confirmations: int = 1
    # permissioned networks run free gas (Besu min-gas-price 0; anvil --gas-price 0): members' keys
    # hold no ether. Set gas_price_from_node on a network that charges gas.
    gas_price_wei: int = 0
    gas_price_from_node: bool = False
    gas_multiplier: float = 1.25
    gas_extra: int = 20_000
    fee_bump_percent: int = 20
    resend_after_s: float = 10.0  # re-broadcast an unmined transaction after this long
    bump_after_s: float = 30.0  # then re-sign it at the same nonce with a higher fee
    poll_interval_s: float = 0.05
    # transactions signed and sent per worker step (and items per JSON-RPC batch of sends and of
    # receipts; nodes allow 1,000-1,024 by default): on 1 s blocks 100 held a signer to ~360 ops/s
    max_batch: int = 400
    # send a signer's transactions as one JSON-RPC batch (then checked: the node's pending nonce
    # must reach past the batch, else the rest is sent again one at a time, in nonce order);
    # off: one request each, in nonce order
    send_batch: bool = True
    node_retry_s: float = 0.5

    # API
    wait_timeout_s: float = 60.0
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    log_level: str = shared("log_level")
    # port of `scf gateway` (the bind address is the shared SCF_HOST)
    port: int = 8000
    # request bodies above this many bytes are refused (413) while they are read, before authentication
    max_body_bytes: int = 1_048_576

    # dual control: an operation awaiting its checkers' approvals expires after this long (never signed)
    approval_ttl_s: float = 86_400.0

    # a consumed nonce with no evidence of which transaction used it (no receipt, not found in the
    # blocks) for this long shows NONCE_UNRESOLVED on the operation (it keeps waiting, never re-signed)
    evidence_alert_s: float = 60.0
    # time allowed for one JSON-RPC request to the node (a slower answer is a transient node error)
    rpc_timeout_s: float = 30.0
    # how often the block of the latest confirmation is checked to still be on chain (lost blocks,
    # a reorg deeper than the confirmation depth)
    reorg_check_s: float = 5.0

    # observability (docs/gateway.md "Observability"): log lines as JSON objects ("json") or
    # readable text ("text", for a terminal); GET /metrics (unauthenticated: bind the gateway to
    # loopback or protect /metrics at the proxy; false: no /metrics route)
    log_format: str = "json"
    metrics_enabled: bool = True

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("SCF_GATEWAY_WEBHOOK_URL needs SCF_GATEWAY_WEBHOOK_SECRET: webhooks are always signed")
        return self
