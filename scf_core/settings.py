"""The settings root: one naming scheme for every part of the platform.

Every setting comes from an environment variable named ``SCF_<SECTION>_<FIELD>`` (the shared
section has no section name: ``SCF_<FIELD>``); durations end in ``_s``; a path has the same name in
every section (``manifest``, ``database_url``, ``keystore_dir``).

- :class:`Shared` (``SCF_*``): what every part reads — the node, the deployment manifest, the
  directory of the local state, the bind address, the log level;
- each service has its section, a :class:`Section` in its own package (``chain_gateway.settings``
  ``SCF_GATEWAY_*``, ``indexer.settings`` ``SCF_INDEXER_*``, ``portal.settings`` ``SCF_PORTAL_*``).

A section's field declared with :func:`shared`, :func:`in_var_dir` or :func:`sqlite_in_var_dir`
takes its default from the shared section, here in one place: one ``SCF_RPC_URL`` and one
``SCF_MANIFEST`` configure every part unless a section's own variable (``SCF_GATEWAY_RPC_URL``...)
is set. Secrets are ``SecretStr``
without defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Shared(BaseSettings):
    """Settings every part reads (environment prefix ``SCF_``)."""

    model_config = SettingsConfigDict(env_prefix="SCF_", extra="ignore")

    # the chain: JSON-RPC endpoint of the node (anvil locally, a Besu node in production)
    rpc_url: str = "http://127.0.0.1:8545"
    # where `scf deploy` writes the deployment manifest and the gateway and indexer read it
    manifest: Path = Path("var/manifest.json")
    # working directory of the local SQLite databases and keystores
    var_dir: Path = Path("var")
    # bind address of the gateway and the auditor API; loopback unless behind a TLS-terminating proxy
    host: str = "127.0.0.1"
    # port of `scf chain` (the local anvil dev chain)
    chain_port: int = 8545
    log_level: str = "info"


def section_config(name: str) -> SettingsConfigDict:
    """The configuration of the section `name`: variables ``SCF_<NAME>_<FIELD>``."""
    return SettingsConfigDict(env_prefix=f"SCF_{name.upper()}_", extra="ignore")


class Section(BaseSettings):
    """Base of a service's section; a subclass sets ``model_config = section_config("<name>")``."""

    model_config = section_config("section")


def shared(name: str) -> Any:
    """A section field whose default is the shared setting `name` (read when the section is)."""
    return Field(default_factory=lambda: getattr(Shared(), name))


def in_var_dir(name: str) -> Any:
    """A section path field whose default is `name` in the shared ``SCF_VAR_DIR``."""
    return Field(default_factory=lambda: Shared().var_dir / name)


def sqlite_in_var_dir(name: str) -> Any:
    """A section database URL whose default is the SQLite file `name` in the shared ``SCF_VAR_DIR``."""
    return Field(default_factory=lambda: f"sqlite:///{(Shared().var_dir / name).as_posix()}")
