"""schemathesis fuzz of the OpenAPI schema against a running gateway, every check on (no 5xx, every
status and response declared and conforming; see schemathesis.toml).

schemathesis is in the test extra of the main venv (`make install`). Run by hand with
`tests/gateway/fuzz_schemathesis.sh`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from gateway.conftest import OPERATOR_API_KEY, GatewayProcess, deploy_chain, gateway_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = os.environ.get("SCF_FUZZ_EXAMPLES", "15")


def fuzz_venv() -> Path:
    return ROOT / ".venv" / "bin" / "schemathesis"


def run_fuzz(exe: Path, url: str, key: str, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "--config-file", str(ROOT / "tests" / "gateway" / "schemathesis.toml"), "run",
         f"{url}/openapi.json", "-H", f"X-API-Key: {key}", "--checks", "all",
         "--exclude-path", "/v1/operations/stream", "-n", EXAMPLES, "--phases", "examples,coverage,fuzzing",
         "--workers", "1", "--request-timeout", "30", "--no-color", "--seed", "42",
         "--report", "junit", "--report-junit-path", str(report)],
        capture_output=True, text=True, timeout=900, cwd=str(report.parent),
    )


def test_schemathesis_all_checks_pass(tmp_path: Path) -> None:
    exe = fuzz_venv()
    chain = deploy_chain(tmp_path)
    gw = GatewayProcess(gateway_env(chain, tmp_path), log=tmp_path / "gateway.log")
    try:
        gw.start()
        r = httpx.post(f"{gw.url}/v1/members", json={"role": "supplier", "kyc_hash": "0x" + "ab" * 32},
                       headers={"X-API-Key": OPERATOR_API_KEY}, params={"wait": "true"}, timeout=30)
        supplier_key = r.json()["api_key"]
        for name, key in (("operator", OPERATOR_API_KEY), ("supplier", supplier_key)):
            result = run_fuzz(exe, gw.url, key, tmp_path / f"fuzz-{name}.xml")
            assert result.returncode == 0, name + "\n" + result.stdout[-6000:] + result.stderr[-2000:]
    finally:
        gw.stop()
        chain.chain.stop()
