"""The JSON log lines every logger writes during a test (formatted as emitted): a generator for a
pytest fixture to yield from."""

import io
import logging
from collections.abc import Iterator

from scf_core.logs import JsonFormatter


def captured_json_logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
