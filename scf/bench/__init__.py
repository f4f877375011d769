"""The benchmarks, run together by `scf bench` (``suite``) or one by one with ``python -m``:
``scf.bench.gateway``, ``scf.bench.indexer`` and ``scf.bench.gas_table``."""
