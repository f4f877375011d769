"""Every custom error the platform declares is asserted, with its arguments, by some revert test."""

import re
from pathlib import Path

from errors import _load_errors

PREFIXES = ("Membership", "Certificate", "Financing", "Settlement")


def test_every_custom_error_has_a_revert_test():
    declared = {name for name in _load_errors() if name.startswith(PREFIXES)}
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in sorted(here.glob("test_*.py")))
    asserted = set(re.findall(r'err\(\s*"(\w+)"', text))
    assert sorted(declared - asserted) == []

