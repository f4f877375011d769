"""How the dev node's block time grows with its state: the median time of ``evm_mine`` (an empty
block) on a fresh anvil as accounts (``anvil_setBalance``) or one contract's storage slots
(``anvil_setStorageAt``) are added. It explains the soak's latency growth (docs/benchmarks.md):
anvil up to 1.7.x rebuilds its whole state trie for every block it mines.

    .venv/bin/python -m scf.bench.node_growth [--sizes 0,120000,240000] [--out reports/node_growth.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from scf import devchain

CONTRACT = "0x" + "11" * 20
BATCH = 1_000


def mine_ms(client: httpx.Client, url: str, samples: int = 5) -> float:
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []}).raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 1)


def grow(client: httpx.Client, url: str, kind: str, n: int) -> None:
    """Adds `n` accounts or storage slots, in JSON-RPC batches."""
    for start in range(0, n, BATCH):
        calls = [
            {"jsonrpc": "2.0", "id": i, "method": "anvil_setBalance", "params": ["0x" + os.urandom(20).hex(), "0x1"]}
            if kind == "accounts" else
            {"jsonrpc": "2.0", "id": i, "method": "anvil_setStorageAt",
             "params": [CONTRACT, "0x" + os.urandom(32).hex(), "0x" + "1".rjust(64, "0")]}
            for i in range(min(BATCH, n - start))
        ]
        r = client.post(url, json=calls)
        r.raise_for_status()
        errors = [a["error"] for a in r.json() if "error" in a]
        if errors:
            raise RuntimeError(f"the node refused {len(errors)} of {len(calls)} calls: {errors[0]}")


def measure(kind: str, sizes: list[int]) -> list[dict[str, Any]]:
    rows = []
    with devchain.running() as chain, httpx.Client(timeout=600) as client:
        if kind == "storage_slots":
            client.post(chain.url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setCode",
                                         "params": [CONTRACT, "0x00"]}).raise_for_status()
        made = 0
        for size in sorted(sizes):
            grow(client, chain.url, kind, size - made)
            made = size
            rows.append({kind: size, "evm_mine_median_ms": mine_ms(client, chain.url)})
            print(json.dumps(rows[-1]), flush=True)
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
