"""The indexer: the platform's chain copied into SQL, reorg-safe, and the auditors' API on top.

Pipeline (ethereum-etl / Ponder style): ``fetch`` (eth_getLogs over adaptive ranges) ->
``decode`` (topic0 -> static ABI decoder) -> ``handlers`` (one function per event, mutating an
in-memory working set) -> ``store`` (bulk Core writes + undo journal + checkpoint, one transaction).
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
