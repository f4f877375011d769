"""PostgreSQL test paths: run against SCF_TEST_POSTGRES_URL (.ci/run sets it).

Without a server they skip and say why; under CI (CI=true) a missing or unreachable server fails
instead, so a CI run never passes with the PostgreSQL paths silently skipped.
"""

import os
import secrets
from collections.abc import Iterator

import pytest


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def fresh_database(prefix: str) -> Iterator[str]:
    """A fresh database `<prefix>_<random>` on the server of SCF_TEST_POSTGRES_URL (its URL),
    dropped afterwards; a generator for a pytest fixture to yield from."""
    url = os.environ.get("SCF_TEST_POSTGRES_URL")
    if not url:
        unavailable("SCF_TEST_POSTGRES_URL is not set")
        return
    import psycopg

    try:
        admin = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at SCF_TEST_POSTGRES_URL is unreachable: {exc}")
        return
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
