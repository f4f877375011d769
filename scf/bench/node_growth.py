"""How the dev node's block time grows with its state: the median time of ``evm_mine`` (an empty
block) on a fresh anvil as accounts (``anvil_setBalance``) or one contract's storage slots
(``anvil_setStorageAt``) are added. It explains the soak's latency growth (docs/benchmarks.md):
anvil up to 1.7.x rebuilds its whole state trie for every block it mines.

    .venv/bin/python -m scf.bench.node_growth [--sizes 0,120000,240000] [--out reports/node_growth.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from scf import devchain
from scf_core.rpc import Rpc

CONTRACT = "0x" + "11" * 20
FIRST_ACCOUNT = 2**159  # the added accounts are FIRST_ACCOUNT + 0, 1, ...; the slots 0, 1, ...


def account(i: int) -> str:
    return "0x" + (FIRST_ACCOUNT + i).to_bytes(20, "big").hex()


def slot(i: int) -> str:
    return "0x" + i.to_bytes(32, "big").hex()


def mine_ms(rpc: Rpc, samples: int = 5) -> float:
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        rpc.call("evm_mine")
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def grow(rpc: Rpc, kind: str, start: int, end: int) -> None:
    """Adds accounts or storage slots number `start` to `end` - 1 (balance / value 1), in JSON-RPC
    batches; a call the node refuses raises."""
    calls = [("anvil_setBalance", [account(i), "0x1"]) if kind == "accounts" else
             ("anvil_setStorageAt", [CONTRACT, slot(i), "0x" + "1".rjust(64, "0")])
             for i in range(start, end)]
    rpc.batch(calls, chunk=1_000)


def measure(kind: str, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    with devchain.running() as chain:
        rpc = Rpc(chain.url, timeout=600)
        try:
            if kind == "storage_slots":
                rpc.call("anvil_setCode", CONTRACT, "0x00")
            made = 0
            for size in sorted(sizes):
                grow(rpc, kind, made, size)
                made = size
                rows.append({kind: size, "evm_mine_median_ms": mine_ms(rpc)})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            rpc.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="0,30000,60000,120000,240000,480000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    report = {"node": "anvil (fresh, nothing else mined)", "samples_per_size": 5,
              "accounts": measure("accounts", sizes), "storage_slots": measure("storage_slots", sizes)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
