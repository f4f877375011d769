"""Tests of chain_gateway (imported by pytest as the package `gateway`)."""

import sys
from pathlib import Path

# plain `pytest` (not `python -m pytest`) with an editable install made before chain_gateway existed
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
