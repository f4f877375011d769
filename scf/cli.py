"""`scf`: the platform's command-line tool.

Each part runs on its own (``scf chain``, ``scf deploy``, ``scf gateway``, ``scf indexer``,
``scf auditor-api``, ``scf reconcile``) or all together (``scf demo``); ``scf bench`` runs the
benchmarks. Configuration comes from the environment (see ``scf config`` and
docs/configuration.md); command-line options override it.

The settings root is scf_core.settings: the shared section (``SCF_*``) gives the defaults of the
gateway's (``SCF_GATEWAY_*``), the indexer's (``SCF_INDEXER_*``) and the portal's (``SCF_PORTAL_*``)
sections, so one ``SCF_RPC_URL`` and one ``SCF_MANIFEST`` configure every part.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr

from scf_core.settings import Section, Shared


def settings() -> Shared:
    return Shared()


def sections() -> dict[str, Section]:
    """Every service's section of the settings, read from the environment, by environment prefix."""
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.settings import Settings as IndexerSettings
    from portal.settings import PortalSettings

    return {"SCF_GATEWAY_": GatewaySettings(), "SCF_INDEXER_": IndexerSettings(), "SCF_PORTAL_": PortalSettings()}


app = typer.Typer(
    name="scf",
    help="Supply-chain finance on a permissioned chain: dev chain, deployment, gateway, indexer, demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# --- shared -----------------------------------------------------------------------------------


SECRET_NAMES = ("PASSPHRASE", "SECRET", "API_KEY", "KEY_HASH", "PASSWORD", "TOKEN", "PRIVATE_KEY", "OPERATOR_KEY")
SECRET_QUERY = ("token", "key", "pass", "secret", "sig", "auth", "credential", "session")
MASK = "***"


def mask_url(value: str) -> str:
    """`scheme://***@host/path?token=***`: the user-info part (user:password@) and every query value
    whose name looks secret (token, key, password, secret, signature, auth, ...) masked."""
    parts = urlsplit(value)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{name}={MASK}" if any(w in name.lower() for w in SECRET_QUERY) else f"{name}={v}" if sep else name
        for name, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return value
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "") + (
        f"#{parts.fragment}" if parts.fragment else "")


def mask_setting(key: str, value: str) -> str:
    """A setting as `scf config` prints it: a secret field masked (not its *_FILE path), a URL's
    credentials masked."""
    if value and any(w in key.upper() for w in SECRET_NAMES) and not key.upper().endswith("_FILE"):
        return MASK
    if "://" in value:
        return mask_url(value)
    return value


def setting_text(value: object) -> str:
    """A setting's value as `scf config` prints it: unset is empty, a secret is masked."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK
    return str(value)


@app.command("config")
def config_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the effective configuration (the shared section and what each service reads)."""
    data: dict[str, Any] = {
        "shared": {k: str(v) for k, v in settings().model_dump().items()},
        "components": {
            f"{prefix}{name.upper()}": setting_text(value)
            for prefix, section in sections().items()
            for name, value in section
        },
    }
    # never print secrets: secret fields masked, credentials in every URL hidden
    for values in data.values():
        for key, value in values.items():
            values[key] = mask_setting(key, value)
    if as_json:
        typer.echo(json.dumps(data, indent=1))
        return
    for section, values in data.items():
        typer.echo(f"[{section}]")
        for k, v in values.items():
            typer.echo(f"  {k} = {v}")


@app.command("build")
def build_cmd() -> None:
    """Compile the contracts (solc from npm, evmVersion paris) into build/contracts.json."""
    from scf_core import build

    build.main()


@app.command("chain")
def chain_cmd(
    port: Annotated[int | None, typer.Option(help="port on 127.0.0.1 (default SCF_CHAIN_PORT, 8545)")] = None,
    block_time: Annotated[float | None, typer.Option(help="seconds per block (default: on demand)")] = None,
    accounts: Annotated[int, typer.Option(help="funded dev accounts")] = 20,
) -> None:
    """Run a local dev chain (anvil, chain id 31337, gas price 0) until Ctrl-C."""
    import signal
    import time

    from scf import devchain

    port = port or settings().chain_port
    # Ctrl-C and SIGTERM only raise a flag, so anvil (in its own session) is stopped in every case,
    # also when the signal arrives while it is starting
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    chain = devchain.start(port, accounts=accounts, block_time=block_time, quiet=False)
    try:
        typer.echo(f"anvil listening on {chain.url} (chain id {devchain.DEV_CHAIN_ID}); Ctrl-C stops it")
        while not stopping and chain.process.poll() is None:
            time.sleep(0.1)
    finally:
        chain.stop()


@app.command("deploy")
def deploy_cmd(
    rpc_url: Annotated[str | None, typer.Option(help="JSON-RPC URL (default SCF_RPC_URL)")] = None,
    out: Annotated[Path | None, typer.Option(help="manifest path (default SCF_MANIFEST)")] = None,
    dev: Annotated[bool, typer.Option("--dev", help="operator = the dev chain's first account")] = False,
    invoices_optional: Annotated[bool, typer.Option(
        "--invoices-optional", help="do not require invoices for issuing (default: required)")] = False,
) -> None:
    """Deploy and wire the contracts; write the deployment manifest.

    The operator's key comes from SCF_OPERATOR_KEY (hex), or with --dev from the dev mnemonic.
    Invoices are required for every certificate unless --invoices-optional.
    """
    from scf import deploy

    s = settings()
    argv = ["--rpc-url", rpc_url or s.rpc_url, "--out", str(out or s.manifest)]
    if dev:
        argv.append("--dev")
    if invoices_optional:
        argv.append("--invoices-optional")
    raise typer.Exit(deploy.main(argv))


def _uvicorn(target: str, host: str, port: int, *, factory: bool) -> None:
    import uvicorn

    uvicorn.run(target, host=host, port=port, factory=factory, log_level=settings().log_level.lower())


@app.command("gateway")
def gateway_cmd(
    host: Annotated[str | None, typer.Option(help="bind address (default SCF_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default SCF_GATEWAY_PORT, 8000)")] = None,
) -> None:
    """Serve the chain gateway's HTTP API (uvicorn). Configured by SCF_GATEWAY_* variables."""
    from chain_gateway.settings import Settings as GatewaySettings

    target, factory = GATEWAY_APP
    _uvicorn(target, host or settings().host, port or GatewaySettings().port, factory=factory)


@app.command("indexer")
def indexer_cmd(
    once: Annotated[bool, typer.Option("--once", help="index up to the head, then exit")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every indexed range")] = False,
) -> None:
    """Follow the chain into SQL (SCF_INDEXER_* variables); Ctrl-C or SIGTERM stops it."""
    from indexer import cli as indexer_cli

    raise typer.Exit(indexer_cli.main((["-v"] if verbose else []) + ["sync" if once else "run"]))


@app.command("auditor-api")
def auditor_api_cmd(
    host: Annotated[str | None, typer.Option(help="bind address (default SCF_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default SCF_INDEXER_AUDITOR_PORT, 8001)")] = None,
) -> None:
    """Serve the indexer's read-only auditor API (uvicorn)."""
    from indexer.settings import Settings as IndexerSettings

    target, factory = AUDITOR_APP
    _uvicorn(target, host or settings().host, port or IndexerSettings().auditor_port, factory=factory)


@app.command("portal")
def portal_cmd(
    host: Annotated[str | None, typer.Option(help="bind address (default SCF_PORTAL_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default SCF_PORTAL_PORT, 8002)")] = None,
) -> None:
    """Serve the web portal (uvicorn). Configured by SCF_PORTAL_* variables; it reaches the gateway at
    SCF_PORTAL_GATEWAY_URL and the auditor API at SCF_PORTAL_AUDITOR_URL (default: SCF_HOST with
    SCF_GATEWAY_PORT / SCF_INDEXER_AUDITOR_PORT)."""
    from chain_gateway.settings import Settings as GatewaySettings
    from indexer.settings import Settings as IndexerSettings
    from portal.settings import PortalSettings

    host_ = settings().host
    os.environ.setdefault("SCF_PORTAL_GATEWAY_URL", f"http://{host_}:{GatewaySettings().port}")
    os.environ.setdefault("SCF_PORTAL_AUDITOR_URL", f"http://{host_}:{IndexerSettings().auditor_port}")

    ps = PortalSettings()
    target, factory = PORTAL_APP
    _uvicorn(target, host or ps.host, port or ps.port, factory=factory)


@app.command("reconcile")
def reconcile_cmd() -> None:
    """Compare the indexer's SQL with the chain at the indexed block; exit 1 on any difference."""
    raise typer.Exit(run_reconcile())


@app.command("demo")
def demo_cmd(
    keep: Annotated[bool, typer.Option("--keep", help="keep the run's directory under var/")] = False,
    workdir: Annotated[Path | None, typer.Option(help="directory for databases, keystores, logs")] = None,
    audit: Annotated[bool, typer.Option(hidden=True, help="start the indexer and print the audit")] = True,
    serve: Annotated[bool, typer.Option("--serve", help="afterwards keep the stack up (API keys shown) "
                                        "until Ctrl-C")] = False,
) -> None:
    """Play a whole supply chain on a fresh local chain through the gateway; print the audit."""
    from scf import demo

    raise typer.Exit(demo.run(workdir=workdir, keep=keep, audit=audit, serve=serve))


@app.command("bench")
def bench_cmd(
    only: Annotated[
        list[str] | None, typer.Option(help="run only these parts: gateway, indexer, gas (repeatable)")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="smaller runs (smoke test of the harness)")] = False,
    soak: Annotated[
        float | None, typer.Option(help="instead: the soak, steady load through gateway and indexer for MINUTES")
    ] = None,
) -> None:
    """Run the gateway and indexer benchmarks and the gas table; write reports/bench.json and
    docs/benchmarks.md. With --soak MINUTES: the soak alone (reports/bench_soak.json)."""
    from scf.bench import suite

    if soak is not None:
        raise typer.Exit(suite.soak(soak))
    raise typer.Exit(suite.main(only=only, quick=quick, write_doc=not quick))


# --- the components' entry points (resolved where they live) ----------------------------------

GATEWAY_APP = ("chain_gateway.app:create_app", True)
AUDITOR_APP = ("indexer.api.main:create_app", True)
PORTAL_APP = ("portal.app:create_app", True)


def run_reconcile() -> int:
    from indexer import cli as indexer_cli

    return int(indexer_cli.main(["reconcile"]) or 0)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
