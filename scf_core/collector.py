"""The cyclic garbage collector tuned for a long-running service.

A gateway under load keeps tens of thousands of live objects (connections, tasks, futures,
operations, pydantic models) and allocates more for every request; with the default thresholds (a
young collection every 700 net allocations, an older one every 10 of those) the collector scanned
the live ones again and again: about 15 % of the gateway's CPU per operation (docs/benchmarks.md).
Reference counting frees almost everything; the collector is only for cycles, so it runs less
often, and what exists once the service has started (modules, ABIs, settings) is moved out of its
reach (``gc.freeze``)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG = 50_000  # net allocations between young collections (default 700)
OLDER = (50, 100)  # young collections per middle one, middle per full one (default 10, 10)


_running: list[tuple[int, int, int]] = []  # the thresholds before the first service, per service running


@contextlib.contextmanager
def service_collector() -> Iterator[None]:
    """While the service runs: what exists now is frozen, the collector runs less often; both
    undone once the last service of the process stops (a test process starts and stops many,
    some at once). A collector turned off (threshold 0) stays off."""
    old = _running[0] if _running else gc.get_threshold()
    _running.append(old)
    gc.collect()
    gc.freeze()
    if old[0]:
        gc.set_threshold(max(old[0], YOUNG), max(old[1], OLDER[0]), max(old[2], OLDER[1]))
    try:
        yield
    finally:
        _running.pop()
        if not _running:
            gc.set_threshold(*old)
            gc.unfreeze()
