#!/usr/bin/env bash
# Fuzz the gateway's OpenAPI schema with schemathesis (in the test extra of .venv).
# Starts a dev chain and a gateway, runs schemathesis with the "not a server error" check.
#   tests/gateway/fuzz_schemathesis.sh            # 15 examples per operation
#   SCF_FUZZ_EXAMPLES=100 tests/gateway/fuzz_schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec .venv/bin/python -m pytest -q -s tests/gateway/test_fuzz.py "$@"
