"""The portal's section of the settings (environment ``SCF_PORTAL_*``, see scf_core.settings)."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr

from scf_core.settings import Section, section_config


class PortalSettings(Section):
    model_config = section_config("portal")

    # the gateway (its /v1 API) and the indexer's auditor API, reached over HTTP
    gateway_url: str = "http://127.0.0.1:8000"
    auditor_url: str = "http://127.0.0.1:8001"
    # loopback by default; anything else only behind a TLS-terminating proxy (then cookie_secure)
    host: str = "127.0.0.1"
    port: int = 8002
    # signs the CSRF tokens; generated at start when unset (sessions then end with the process)
    session_secret: SecretStr | None = None
    session_idle_s: int = 1800
    cookie_secure: bool = False
    default_lang: str = "zh"
    # a block explorer's transaction page, e.g. "https://explorer.example/tx/{tx}" (else the
    # lineage page lists the transactions itself)
    explorer_tx_url: str | None = None
    api_timeout_s: float = 30.0
    # early-payment offers and programmes: how many of the newest are read (the gateway lists neither)
    market_scan: int = 100
    # the CSV of a report and the regulator's export are read from the auditor API in pages of this
    # many rows (its largest) and sent whole
    export_page_rows: int = Field(default=10_000, ge=1, le=10_000)

    def secret_bytes(self) -> bytes:
        if self.session_secret is not None:
            return self.session_secret.get_secret_value().encode()
        return secrets.token_bytes(32)
