"""The encoded holdings' part of recent lineages (PostgreSQL), per certificate with the stamp it
was built at (`reports.lineage_stamp`): while a certificate's holdings do not change, its lineage
is served without rebuilding it (~1 ms of index probe instead of ~50 ms of building for 10,000
holdings). Bounded in bytes, least recently used first out; per process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection

from indexer import reports

ENTRY_BYTES = 256  # what an entry costs beside its tree (dict slot, tuple, stamp), for the bound


class LineageCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._trees: OrderedDict[int, tuple[Any, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # sync routes run on a thread pool

    def holdings(self, conn: Connection, certificate_id: int) -> bytes:
        """`reports.lineage_tree_json` of the certificate: the tree kept at its current stamp, or one
        built in one snapshot (REPEATABLE READ), stamped with that snapshot's stamp, and kept.
        Ends the connection's current transaction."""
        tree = self.get(certificate_id, reports.lineage_stamp(conn, certificate_id))
        if tree is None:
            conn.commit()  # end the request's read transaction: the build reads a snapshot of its own
            with conn.execution_options(isolation_level="REPEATABLE READ").begin():
                stamp = reports.lineage_stamp(conn, certificate_id)
                tree = reports.lineage_tree_json(conn, certificate_id)
            self.put(certificate_id, stamp, tree)
        return tree

    def get(self, certificate_id: int, stamp: Any) -> bytes | None:
        """The tree built at `stamp`, or None (never built, evicted, or built at another stamp)."""
        with self._lock:
            got = self._trees.get(certificate_id)
            if got is None or got[0] != stamp:
                return None
            self._trees.move_to_end(certificate_id)
            return got[1]

    def put(self, certificate_id: int, stamp: Any, tree: bytes) -> None:
        """Keep `tree` (built at `stamp`) in place of the certificate's older one, then evict the
        least recently used until within the bound (a tree over the bound is not kept)."""
        with self._lock:
            old = self._trees.pop(certificate_id, None)
            if old is not None:
                self._bytes -= len(old[1]) + ENTRY_BYTES
            if len(tree) + ENTRY_BYTES > self.max_bytes:
                return
            self._trees[certificate_id] = (stamp, tree)
            self._bytes += len(tree) + ENTRY_BYTES
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._trees.popitem(last=False)
                self._bytes -= len(evicted) + ENTRY_BYTES

    @property
    def size_bytes(self) -> int:
        return self._bytes
