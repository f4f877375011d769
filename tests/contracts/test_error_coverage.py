"""Every custom error the platform declares is asserted, with its arguments, by some revert test."""

import re
from pathlib import Path

from errors import _load_errors

PREFIXES = ("Membership", "Certificate", "Financing", "Settlement")
# declared but never raised (none today): each must be absent from the contracts' reverts
UNUSED: set[str] = set()


def test_every_custom_error_has_a_revert_test():
    declared = {name for name in _load_errors() if name.startswith(PREFIXES)}
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in sorted(here.glob("test_*.py")))
    asserted = set(re.findall(r'err\(\s*"(\w+)"', text))
    assert sorted(declared - asserted - UNUSED) == []
    assert declared >= UNUSED, "an error listed as unused is gone: drop it from UNUSED"


def test_no_unused_error_is_raised_by_the_contracts():
    sources = "".join(p.read_text() for p in (Path(__file__).parents[2] / "contracts").glob("*.sol"))
    for name in UNUSED:
        assert f"revert {name}(" not in sources
