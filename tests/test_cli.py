"""The `scf` command-line tool: every command answers --help; configuration defaults and overrides."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scf import cli
from scf_core.paths import ROOT

runner = CliRunner()

COMMANDS = [
    "config", "build", "chain", "deploy", "gateway", "indexer", "auditor-api", "portal", "reconcile", "demo", "bench",
]


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command: str) -> None:
    result = runner.invoke(cli.app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SCF_"):
            monkeypatch.delenv(key, raising=False)


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.settings import Settings as IndexerSettings

    _clean_env(monkeypatch)
    s = cli.settings()
    assert s.rpc_url == "http://127.0.0.1:8545"
    assert s.manifest == Path("var/manifest.json")
    assert s.var_dir == Path("var")
    assert s.host == "127.0.0.1"
    gw, ix = GatewaySettings(), IndexerSettings()
    assert (gw.port, ix.auditor_port, s.chain_port) == (8000, 8001, 8545)
    assert gw.rpc_url == ix.rpc_url == s.rpc_url
    assert gw.manifest == ix.manifest == Path("var/manifest.json")
    assert gw.database_url == "sqlite:///var/gateway.db"
    assert ix.database_url == "sqlite:///var/indexer.db"
    assert gw.keystore_dir == Path("var/keystore")


def test_shared_settings_flow_to_components_but_explicit_ones_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.settings import Settings as IndexerSettings

    _clean_env(monkeypatch)
    monkeypatch.setenv("SCF_RPC_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("SCF_VAR_DIR", "/tmp/scf-x")
    monkeypatch.setenv("SCF_MANIFEST", "/tmp/scf-x/m.json")
    monkeypatch.setenv("SCF_LOG_LEVEL", "debug")
    monkeypatch.setenv("SCF_INDEXER_DATABASE_URL", "postgresql+psycopg://u@db/indexer")
    monkeypatch.setenv("SCF_INDEXER_MANIFEST", "/elsewhere/m.json")
    gw, ix = GatewaySettings(), IndexerSettings()
    assert gw.rpc_url == ix.rpc_url == "http://127.0.0.1:9999"
    assert gw.database_url == "sqlite:////tmp/scf-x/gateway.db"
    assert gw.keystore_dir == Path("/tmp/scf-x/keystore")
    assert gw.manifest == Path("/tmp/scf-x/m.json")
    assert gw.log_level == "debug"
    assert ix.database_url == "postgresql+psycopg://u@db/indexer"
    assert ix.manifest == Path("/elsewhere/m.json")
    # keyword arguments (tests, embedding) win over both
    assert GatewaySettings(rpc_url="http://other").rpc_url == "http://other"


def test_every_setting_follows_the_naming_scheme() -> None:
    """One scheme: a duration ends in `_s`, the manifest is `manifest` in every section."""
    for _prefix, section in cli.sections().items():
        for name in type(section).model_fields:
            assert not name.endswith(("interval", "timeout", "backoff", "_after", "_seconds")), name
            assert name != "manifest_path", name


def test_config_command_json_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("SCF_GATEWAY_KEYSTORE_PASSPHRASE", "hunter2")
    result = runner.invoke(cli.app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["shared"]["rpc_url"] == "http://127.0.0.1:8545"
    assert data["components"]["SCF_GATEWAY_KEYSTORE_PASSPHRASE"] == "***"
    assert "hunter2" not in result.output


def test_module_entry_point_runs() -> None:
    """`python -m scf.cli` (what the Makefile calls) works from a clean interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "scf.cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "demo" in out.stdout


def test_deploy_without_key_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside dev mode there is no default operator key."""
    _clean_env(monkeypatch)
    result = runner.invoke(cli.app, ["deploy", "--rpc-url", "http://127.0.0.1:1"])
    assert result.exit_code == 2


def test_configuration_doc_lists_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/configuration.md names every variable of the shared section, the gateway, the indexer and
    the portal, with its default."""
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.settings import Settings as IndexerSettings
    from portal.settings import PortalSettings
    from scf_core.settings import Shared

    _clean_env(monkeypatch)
    doc = (ROOT / "docs" / "configuration.md").read_text()
    documented: dict[str, str] = {}  # variable -> its default cell
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`SCF_"):
            documented.setdefault(cells[0].strip("`"), cells[1])
    missing, wrong = [], []
    for prefix, model in (("SCF_", Shared), ("SCF_GATEWAY_", GatewaySettings),
                          ("SCF_INDEXER_", IndexerSettings), ("SCF_PORTAL_", PortalSettings)):
        for name, field in model.model_fields.items():
            var = f"{prefix}{name.upper()}"
            if var not in documented:
                missing.append(var)
                continue
            cell = documented[var]
            default = field.get_default(call_default_factory=True)  # a shared setting's default
            if default is None:
                ok = cell.startswith("none")
            elif default == "":
                ok = cell.startswith("empty")
            else:
                expected = str(default).lower() if isinstance(default, bool) else str(default)
                ok = cell.startswith(f"`{expected}`")
            if not ok:
                wrong.append(f"{var}: doc {cell!r}, code {default!r}")
    assert missing == [], f"add to docs/configuration.md: {missing}"
    assert wrong == [], f"defaults in docs/configuration.md differ from the code: {wrong}"


def test_bench_ratios_and_page() -> None:
    """`scf bench` turns the three benchmarks' JSON into ratios and a page noting machine dependence."""
    from scf.bench import suite as bench

    def side(median: float) -> dict[str, Any]:
        return {"ops_per_s": {"median": median, "min": median - 5, "max": median + 5, "runs": [median]}}

    results = {
        "gateway": {"elapsed_s": 1, "log": str(ROOT / "reports" / "g.log"),
                    "figures": {"repeats": 3,
                                "interval": {"gateway": side(450.0), "lean": side(500.0), "ingest": side(900.0)},
                                "automine": {"gateway": side(200.0), "lean": side(100.0), "ingest": side(400.0)}}},
        "indexer": {"elapsed_s": 1, "log": str(ROOT / "reports" / "i.log"),
                    "figures": {"sqlite_events_per_s": {"median": 25_000.0},
                                "fetch_only_events_per_s": {"median": 100_000.0},
                                "lineage_p95_ms": 40.0, "lineage_changed_p95_ms": 25.0,
                                "worst_report_p95_ms": 80.0, "worst_report": "tiers",
                                "queries": {"holdings": 1_000_000, "lineage_holdings": 10_000}}},
        "gas": {"elapsed_s": 1, "log": str(ROOT / "reports" / "s.log"),
                "figures": {"split_to_new_holder_gas": 120_000, "reference_split_gas": 240_000,
                            "operations": [{"operation": "issue", "gas_used": 200_000, "note": ""}]}},
    }
    rows = {r["benchmark"].split(":")[0] + ":" + r["unit"] + ":" + r["target"]: r for r in bench.ratios(results)}
    assert rows["gateway (1 s blocks):ops/s:ratio >= 1.0"]["ratio"] == 0.9
    assert rows["gateway (1 s blocks):ops/s:ratio >= 1.0"]["meets"] is False
    assert rows["gateway (1 s blocks):ops/s:>= 400 ops/s"]["ratio"] == 0.5
    assert rows["gateway (1 s blocks):ops/s:>= 400 ops/s"]["meets"] is True
    assert any(r["benchmark"].startswith("gateway (automine)") and r["ratio"] == 2.0 for r in bench.ratios(results))
    assert rows["indexer:events/s:ratio >= 0.8"]["ratio"] == 0.25
    assert rows["indexer:events/s:ratio >= 0.8"]["meets"] is False
    assert rows["indexer:ms:<= 100 ms"]["meets"] is True
    by_start = {r["benchmark"].split(" (p95")[0]: r for r in bench.ratios(results)}
    assert by_start["indexer: lineage of a 10,000-holding certificate"]["meets"] is False  # 40 ms kept
    changed = by_start["indexer: the same lineage after each change of one of its holdings"]
    assert changed["figure"] == 25.0 and changed["meets"] is True
    assert rows["gas:gas:ratio <= 1"]["ratio"] == 0.5 and rows["gas:gas:ratio <= 1"]["meets"] is True
    report = {"machine": bench.machine_facts(), "quick": False, "postgres": None, "results": results,
              "ratios": bench.ratios(results)}
    page = bench.render(report)
    assert "machine-dependent" in page
    assert "| issue | 200,000 |" in page
    assert report["machine"]["cpu_cores"] and report["machine"]["python"]
    assert bench._redact("postgresql+psycopg://u:secret@db/x") == "postgresql+psycopg://u@db/x"


def _scf(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scf.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_deploy_index_once_and_reconcile_on_a_dev_chain(tmp_path: Path) -> None:
    """`scf deploy --dev`, `scf indexer --once` and `scf reconcile` wired by the shared settings alone."""
    import os

    from scf import devchain

    with devchain.running() as chain:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}
        env.update(SCF_RPC_URL=chain.url, SCF_VAR_DIR=str(tmp_path), SCF_MANIFEST=str(tmp_path / "manifest.json"))
        out = _scf("deploy", "--dev", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert (tmp_path / "manifest.json").exists()
        from web3 import Web3

        from scf_core.manifest import Manifest

        token = Manifest.load(tmp_path / "manifest.json").contracts["CertificateToken"]
        w3 = Web3(Web3.HTTPProvider(chain.url))
        assert w3.eth.contract(address=token.address, abi=token.abi).functions.invoicesRequired().call() is True
        assert "invoices required" in out.stdout
        out = _scf("indexer", "--once", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert (tmp_path / "indexer.db").exists()
        out = _scf("reconcile", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "0 difference(s)" in out.stdout


def test_chain_command_stops_anvil_on_sigterm() -> None:
    import os
    import signal
    import time

    from scf import devchain

    port = devchain.free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scf.cli", "chain", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not devchain.port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, "scf chain did not start anvil"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while devchain.port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not devchain.port_open(port), "anvil outlived `scf chain`"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
