"""The holdings' part of recent lineages (PostgreSQL), per certificate with the stamp it was built
at (`reports.lineage_stamp`): while a certificate's holdings do not change, its lineage is served
without rebuilding it (~1 ms of index probe instead of ~50 ms of building for 10,000 holdings);
when some change, only those are read again (`reports.lineage_changed`) and put in place in the
kept tree (`reports.LineageTree`), if the block of its stamp is still on the indexed chain (else
it is built again). Bounded in bytes, least recently used first out; per process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection

from indexer import reports

ENTRY_BYTES = 256  # what an entry costs beside its tree (dict slot, tuple, stamp), for the bound
NODE_BYTES = 400  # what a kept holding costs beside its JSON text (object headers, its ints and
# Decimal, list and dict slots of the tree's pieces and positions), for the bound


Entry = tuple[Any, reports.LineageTree, bytes]  # (stamp, tree, its document)


def cost(tree: reports.LineageTree, encoded: bytes) -> int:
    """The bytes an entry is counted for: its document, its nodes' text and their overhead."""
    return len(encoded) + tree.text_bytes + NODE_BYTES * len(tree.nodes) + ENTRY_BYTES


class LineageCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._trees: OrderedDict[int, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # sync routes run on a thread pool

    def holdings(self, conn: Connection, certificate_id: int) -> bytes:
        """`reports.lineage_tree_json` of the certificate: the tree kept at its current stamp, or
        one made in one snapshot (REPEATABLE READ): the kept tree with the holdings changed since
        its stamp read again, or built from scratch; stamped with that snapshot's stamp and kept.
        Ends the connection's current transaction."""
        stamp = reports.lineage_stamp(conn, certificate_id)
        kept = self._entry(certificate_id)
        if kept is not None and kept[0] == stamp:
            return kept[2]
        conn.commit()  # end the request's read transaction: the build reads a snapshot of its own
        with conn.execution_options(isolation_level="REPEATABLE READ").begin():
            stamp = reports.lineage_stamp(conn, certificate_id)
            tree = self._since(conn, certificate_id, kept, stamp)
            if tree is None:
                tree = reports.LineageTree.build(reports.lineage_nodes(conn, certificate_id))
        encoded = tree.encode()
        self.put(certificate_id, stamp, tree, encoded)
        return encoded

    @staticmethod
    def _since(conn: Connection, certificate_id: int, kept: Entry | None, stamp: Any) -> reports.LineageTree | None:
        """The kept tree brought to `stamp` by reading only the holdings changed after its own
        stamp's block, when that block is still the indexed chain's (a reorg below it: None).
        Exact: the state up to that block is unchanged, and every change after it is a version
        above it (holdings never leave a certificate; token ids only grow)."""
        if kept is None or kept[0][0] is None or stamp[0] is None:
            return None
        (block, block_hash), tree = kept[0], kept[1]
        if stamp[0] < block or reports.block_hash(conn, block) != block_hash:
            return None
        changed = reports.lineage_changed(conn, certificate_id, block)
        rows = reports.lineage_nodes(conn, certificate_id, changed)
        if len(rows) != len(changed):  # a version without its holding: not ours to patch
            return None
        return tree.updated(rows)

    def _entry(self, certificate_id: int) -> Entry | None:
        """The certificate's entry (stamp, tree, document), now the most recently used; or None."""
        with self._lock:
            got = self._trees.get(certificate_id)
            if got is not None:
                self._trees.move_to_end(certificate_id)
            return got

    def get(self, certificate_id: int, stamp: Any) -> bytes | None:
        """The document kept at `stamp`, or None (never built, evicted, or built at another stamp)."""
        got = self._entry(certificate_id)
        return got[2] if got is not None and got[0] == stamp else None

    def put(self, certificate_id: int, stamp: Any, tree: reports.LineageTree, encoded: bytes) -> None:
        """Keep `tree` and its document (made at `stamp`) in place of the certificate's older one,
        then evict the least recently used until within the bound (an entry over it is not kept)."""
        with self._lock:
            old = self._trees.pop(certificate_id, None)
            if old is not None:
                self._bytes -= cost(old[1], old[2])
            size = cost(tree, encoded)
            if size > self.max_bytes:
                return
            self._trees[certificate_id] = (stamp, tree, encoded)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, t, e) = self._trees.popitem(last=False)
                self._bytes -= cost(t, e)

    @property
    def size_bytes(self) -> int:
        return self._bytes
