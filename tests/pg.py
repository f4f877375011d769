"""PostgreSQL test paths: run against SCF_TEST_POSTGRES_URL (.ci/run sets it).

Without a server they skip and say why; under CI (CI=true) an unreachable server fails instead,
so a CI run never passes with the PostgreSQL paths silently skipped.
"""

import os

import pytest


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true" and os.environ.get("SCF_TEST_POSTGRES_URL"):
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)
