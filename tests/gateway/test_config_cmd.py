"""`scf config` never prints a credential: secret fields and every URL's user-info and secret query
values are masked."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from scf import cli

SECRETS = {
    "SCF_RPC_URL": ("https://rpcuser:rpcpw-S1@node.example:8545/rpc?token=tok-S2&chain=main", "node.example:8545"),
    "SCF_GATEWAY_RPC_URL": ("https://node.example/v1?apikey=key-S3", "node.example/v1"),
    "SCF_GATEWAY_WEBHOOK_URL": ("https://hooks.example/in?key=key-S4&team=ops", "hooks.example/in"),
    "SCF_GATEWAY_DATABASE_URL": ("postgresql+psycopg://gw:dbpw-S5@db.example/gw?password=pw-S6", "db.example/gw"),
    "SCF_INDEXER_DATABASE_URL": ("postgresql+psycopg://idx-S7@db.example/idx", "db.example/idx"),
    "SCF_INDEXER_RPC_URL": ("http://user-S8:pw-S9@10.0.0.2:8545", "10.0.0.2:8545"),
    "SCF_GATEWAY_WEBHOOK_SECRET": ("whsec-S10", None),
    "SCF_GATEWAY_KEYSTORE_PASSPHRASE": ("pass-S11", None),
    "SCF_GATEWAY_DEV_OPERATOR_API_KEY": ("scf_dev-S12", None),
    "SCF_GATEWAY_BOOTSTRAP_OPERATOR_KEY_HASH": ("hash-S13", None),
    "SCF_INDEXER_AUDITOR_KEY_HASHES": ("hash-S14", None),
}


def test_scf_config_masks_every_credential(monkeypatch: Any) -> None:
    for name, (value, _) in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SCF_GATEWAY_KEYSTORE_PASSPHRASE_FILE", "/run/secrets/gw")  # a path, shown
    for args in (["config"], ["config", "--json"]):
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 0, result.output
        for i in range(1, 15):
            assert f"-S{i}" not in result.output, (i, result.output)
        for _, host in SECRETS.values():
            if host:
                assert host in result.output
        assert "/run/secrets/gw" in result.output and "chain=main" in result.output and "team=ops" in result.output
    data = json.loads(CliRunner().invoke(cli.app, ["config", "--json"]).output)
    assert data["shared"]["rpc_url"] == "https://***@node.example:8545/rpc?token=***&chain=main"
    assert data["components"]["SCF_GATEWAY_WEBHOOK_SECRET"] == "***"


def test_mask_url_keeps_what_is_not_secret() -> None:
    assert cli.mask_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert cli.mask_url("sqlite:///var/gateway.db") == "sqlite:///var/gateway.db"
    assert cli.mask_url("https://h/p?a=1&access_token=x&flag") == "https://h/p?a=1&access_token=***&flag"
