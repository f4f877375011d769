"""`make bench` / `scf bench`: every benchmark of the project in one go, each on a fresh chain.

Runs, each with its own fresh anvil on a free loopback port (``SCF_RPC_URL`` points at it):

- ``scf/bench/gateway.py``   -> ``reports/bench_gateway.json`` (split-and-transfers per second
  through the gateway's HTTP API against a lean batched client and the node's batched ingest on the
  same node, same run; an interval-mined and an automining node, each fresh; repeated rounds);
- ``scf/bench/indexer.py``   -> ``reports/bench_indexer.json`` (backfill events/s of a randomized
  lifecycle beside the speed of fetching the same logs without writing; every auditor report's
  latency over HTTP on a 1,000,000-holding book);
- ``scf/bench/gas_table.py`` -> ``reports/gas.json`` (gas per contract operation).

Then writes ``reports/bench.json`` (their figures, the baseline ratios and the machine's facts) and
``docs/benchmarks.md``. Absolute times depend on the machine; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scf_core.paths import ANVIL, ROOT

REPORTS = ROOT / "reports"
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass
class Part:
    name: str
    module: str
    output: Path
    args: list[str] = field(default_factory=list)
    quick_args: list[str] = field(default_factory=list)
    fresh_chain: bool = True
    what: str = ""


PARTS = [
    # gateway and indexer start their own fresh anvils (two node modes; a large block gas limit)
    Part(
        "gateway", "scf.bench.gateway", REPORTS / "bench_gateway.json", fresh_chain=False,
        quick_args=["--ops", "150", "--repeats", "1", "--warmup", "20", "--clients", "64"],
        what="confirmed split-and-transfers per second: gateway HTTP API vs a lean batched client vs the "
        "node's batched ingest, on an interval-mined and an automining node",
    ),
    Part(
        "indexer", "scf.bench.indexer", REPORTS / "bench_indexer.json", fresh_chain=False,
        quick_args=["--events", "3000", "--txs-per-block", "300", "--repeats", "1", "--holdings", "20000",
                    "--runs", "5"],
        what="backfill events/s of a randomized lifecycle (SQLite, PostgreSQL) vs fetch-only; every auditor "
        "report's p95 through the API over HTTP on a 1,000,000-holding PostgreSQL book",
    ),
    # gas_table starts its own fresh anvil (and also writes docs/gas.md)
    Part("gas", "scf.bench.gas_table", REPORTS / "gas.json", fresh_chain=False, what="gas per operation"),
]
SOAK = Part("soak", "scf.bench.soak", REPORTS / "bench_soak.json", fresh_chain=False,
            what="steady load through the gateway and the indexer: latency over time, memory, nothing lost")

PG_ENV = "SCF_TEST_POSTGRES_URL"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # what .ci/run uses


def postgres_url() -> str | None:
    """SCF_TEST_POSTGRES_URL, or the CI's local server when it answers; None: SQLite figures only."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    from scf.devchain import port_open

    if not port_open(5432):
        return None
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_DEFAULT, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:
        return None
    return PG_DEFAULT


# --- machine facts ----------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else None


def machine_facts() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo").splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0
    )
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    commit = _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "anvil": _version([str(ANVIL), "--version"]),
        "git_commit": commit,
        # other work on the machine skews absolute figures; the ratios are measured side by side
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


# --- running the parts ------------------------------------------------------------------------


def run_part(part: Part, quick: bool, log_dir: Path) -> dict[str, Any]:
    """Run one benchmark script on a fresh dev chain; returns its JSON output (or the error)."""
    from scf import devchain

    argv = [sys.executable, "-m", part.module, *part.args, *(part.quick_args if quick else [])]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = log_dir / f"bench_{part.name}.log"
    started = time.monotonic()
    print(f"[bench] {part.name}: {' '.join(argv[1:])}", flush=True)
    if part.output.exists():
        part.output.unlink()
    chain = devchain.start(None, accounts=20) if part.fresh_chain else None
    try:
        if chain is not None:
            env["SCF_RPC_URL"] = chain.url
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                os.killpg(proc.pid, 15)
                proc.wait()
                raise
    finally:
        if chain is not None:
            chain.stop()
    elapsed = round(time.monotonic() - started, 1)
    result: dict[str, Any] = {"module": part.module, "exit_code": code, "elapsed_s": elapsed, "log": str(log)}
    if code != 0 or not part.output.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        result["error"] = f"exit {code}; no {part.output.name}" if not part.output.exists() else f"exit {code}"
        print(f"[bench] {part.name}: FAILED ({result['error']})\n{tail}", flush=True)
        return result
    result["figures"] = json.loads(part.output.read_text())
    print(f"[bench] {part.name}: done in {elapsed} s -> {part.output.relative_to(ROOT)}", flush=True)
    return result


# --- ratios against the baselines and targets -------------------------------------------------


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _row(benchmark: str, figure: float | None, unit: str, baseline: float | None, target: str,
         meets: bool | None) -> dict[str, Any]:
    ratio = round(figure / baseline, 3) if figure is not None and baseline else None
    return {"benchmark": benchmark, "figure": figure, "unit": unit, "baseline": baseline, "ratio": ratio,
            "target": target, "meets": meets}


def ratios(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each figure against its baseline measured in the same run (ratio = figure / baseline)."""
    rows: list[dict[str, Any]] = []
    gw = results.get("gateway", {}).get("figures")
    if gw:
        for mode, label in (("interval", "1 s blocks"), ("automine", "automine")):
            r = gw.get(mode)
            if not r:
                continue
            gateway, lean = _num(r["gateway"]["ops_per_s"]["median"]), _num(r["lean"]["ops_per_s"]["median"])
            row = _row(f"gateway ({label}): confirmed split-and-transfers/s vs lean batched client (median of "
                       f"{gw.get('repeats')})", gateway, "ops/s", lean, "ratio >= 1.0" if mode == "interval" else "-",
                       None)
            if mode == "interval" and row["ratio"] is not None:
                row["meets"] = row["ratio"] >= 1.0
            rows.append(row)
            ingest = _num(r["ingest"]["ops_per_s"]["median"])
            rows.append(_row(f"gateway ({label}): confirmed split-and-transfers/s vs the node's batched ingest",
                             gateway, "ops/s", ingest, ">= 400 ops/s" if mode == "interval" else "-",
                             (gateway or 0) >= 400 if mode == "interval" else None))
    ix = results.get("indexer", {}).get("figures")
    if ix:
        fetch = _num((ix.get("fetch_only_events_per_s") or {}).get("median"))
        for key, label in (("sqlite_events_per_s", "SQLite"), ("postgres_events_per_s", "PostgreSQL")):
            value = _num((ix.get(key) or {}).get("median"))
            if value is not None:
                row = _row(f"indexer: backfill into {label} vs fetching the same logs only (median)", value,
                           "events/s", fetch, "ratio >= 0.8", None)
                row["meets"] = None if row["ratio"] is None else row["ratio"] >= 0.8
                rows.append(row)
        q = ix.get("queries") or {}
        book = f"{int(q.get('holdings') or 0):,}-holding book (PostgreSQL), over HTTP"
        lineage = _num(ix.get("lineage_p95_ms"))
        if lineage is not None:
            size = f"{int(q.get('lineage_holdings') or 0):,}"
            rows.append(_row(f"indexer: lineage of a {size}-holding certificate (p95; tree kept while unchanged), "
                             f"{book}", lineage, "ms", 30.0, "<= 30 ms", lineage <= 30))
            changed = _num(ix.get("lineage_changed_p95_ms"))
            if changed is not None:  # the kept tree patched with the changed holding
                rows.append(_row(f"indexer: the same lineage after each change of one of its holdings (p95), {book}",
                                 changed, "ms", 30.0, "<= 30 ms", changed <= 30))
            built = _num(ix.get("lineage_built_p95_ms"))
            if built is not None:  # a tree not kept (first request, evicted, a reorg below its stamp)
                rows.append(_row(f"indexer: the same lineage built from scratch on every request (p95; no tree "
                                 f"kept), {book}", built, "ms", 30.0, "<= 30 ms", built <= 30))
        worst = _num(ix.get("worst_report_p95_ms"))
        if worst is not None:
            rows.append(_row(f"indexer: slowest other auditor report ({ix.get('worst_report')}, p95), {book}",
                             worst, "ms", 100.0, "<= 100 ms", worst <= 100))
    gas = results.get("gas", {}).get("figures")
    if gas:
        split, ref = _num(gas.get("split_to_new_holder_gas")), _num(gas.get("reference_split_gas"))
        if split is not None:
            rows.append(_row("gas: split-and-transfer to a new holder vs ERC-3525 reference transferFrom", split,
                             "gas", ref, "ratio <= 1", None if ref is None else split <= ref))
    return rows


# --- the page ---------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _flatten(data: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(data, list) and data and all(not isinstance(x, dict | list) for x in data):
        yield prefix, ", ".join(_fmt(x) for x in data)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, data


def _gas_table(gas: Any) -> list[str]:
    """A gas table: rows of {operation/name, gas...} or a mapping name -> gas."""
    rows: list[dict[str, Any]] = []
    if isinstance(gas, dict):
        inner = gas.get("operations") or gas.get("rows") or gas.get("gas")
        if isinstance(inner, list):
            rows = [r for r in inner if isinstance(r, dict)]
        elif isinstance(inner, dict):
            rows = [{"operation": k, **(v if isinstance(v, dict) else {"gas": v})} for k, v in inner.items()]
        else:
            rows = [{"operation": k, **(v if isinstance(v, dict) else {"gas": v})} for k, v in gas.items()
                    if not isinstance(v, list)]
    elif isinstance(gas, list):
        rows = [r for r in gas if isinstance(r, dict)]
    if not rows:
        return []
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return lines


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        "# Benchmarks",
        "",
        "Produced by `make bench` (`scf bench`, `scf/bench/suite.py`): each benchmark runs on fresh",
        "local dev chains (anvil, gas price 0) started for it alone; the figures below are",
        f"copied from `reports/bench.json` of the run of {m['date']}.",
        "",
        "> **Absolute times are machine-dependent**: they were measured on the machine described",
        "> below and will differ on yours. Compare the **ratios** (each figure against its baseline",
        "> measured in the same run on the same node) and re-run `make bench` to reproduce.",
        "",
        "## Machine",
        "",
    ]
    load = m.get("load_average_1m_at_start")
    if load is not None and m.get("cpu_cores") and load > 0.5 * m["cpu_cores"]:
        out += [f"This run shared the machine with other work (load average {load} on {m['cpu_cores']} cores):",
                "its absolute figures are pessimistic; ratios measured side by side are less affected.", ""]
    out += [
        "| fact | value |",
        "|---|---|",
    ]
    out += [f"| {k} | {_fmt(v)} |" for k, v in m.items()]
    out += ["", "## Figures against baselines and targets", ""]
    if report["ratios"]:
        out += ["| benchmark | figure | baseline | ratio | target | meets |", "|---|---|---|---|---|---|"]
        for r in report["ratios"]:
            out.append(
                f"| {r['benchmark']} | {_fmt(r['figure'])} {r['unit']} | {_fmt(r['baseline'])} | "
                f"{_fmt(r['ratio'])} | {r['target']} | {_fmt(r['meets'])} |"
            )
        out += ["", "ratio = figure / baseline. Baselines are measured in the same run on the same node (the",
                "lean batched client, the node's batched ingest, the fetch-only pass, the reference contract) or",
                "are the issue's target (latencies)."]
    else:
        out.append("(no figures: see the failures below)")
    for part in [*PARTS, SOAK]:
        res = report["results"].get(part.name)
        if res is None:
            continue
        out += ["", f"## {part.name}: {part.what}", "",
                f"`python -m {part.module}` -> `{part.output.relative_to(ROOT)}`, {res['elapsed_s']} s."]
        if "error" in res:
            out += ["", f"**Did not complete**: {res['error']} (log: `{Path(res['log']).relative_to(ROOT)}`)."]
            continue
        figures = res["figures"]
        gas_lines = _gas_table(figures) if part.name == "gas" else []
        if gas_lines:
            out += [""] + gas_lines
        else:
            samples = figures.get("samples") if isinstance(figures, dict) else None
            # every round's figures are in the spreads' `runs`; the raw rounds stay in the JSON
            flat = {k: v for k, v in figures.items() if k != "samples"} if samples else figures
            if isinstance(flat, dict):
                flat = {k: ({kk: vv for kk, vv in v.items() if kk != "rounds"} if isinstance(v, dict) else v)
                        for k, v in flat.items()}
            out += ["", "| figure | value |", "|---|---|"]
            out += [f"| `{k}` | {_fmt(v)} |" for k, v in _flatten(flat)]
            if samples:  # the soak's samples over time, one row each
                cols = list(samples[0])
                out += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                out += ["| " + " | ".join(_fmt(x.get(c)) for c in cols) + " |" for x in samples]
    out += [
        "",
        "## Reproducing",
        "",
        "```bash",
        "make bench                      # all three, then this page and reports/bench.json",
        ".venv/bin/scf bench --only gas  # one part (gateway | indexer | gas)",
        ".venv/bin/scf bench --soak 10   # the soak (10 minutes), added to this page",
        "```",
        "",
        "The gateway benchmark starts two fresh anvils of its own (1 s blocks as QBFT mines, and automine), the",
        "indexer benchmark one; each side of a comparison runs in alternating rounds on the same node, and the",
        "figures are medians with min-max over the rounds.",
        "",
        "The indexer's PostgreSQL figures (backfill and the 1,000,000-holding query book) need a server:",
        "`SCF_TEST_POSTGRES_URL` (default: `postgresql+psycopg://postgres@127.0.0.1:5432/test` when it",
        f"answers). This run: {report.get('postgres') or 'no PostgreSQL, SQLite figures only'}.",
        "",
    ]
    return "\n".join(out)


def _redact(url: str | None) -> str | None:
    """A database URL without its password."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


def soak(minutes: float) -> int:
    """`scf bench --soak MINUTES`: the soak alone (reports/bench_soak.json; the page is not rewritten)."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    part = Part(SOAK.name, SOAK.module, SOAK.output, args=["--minutes", str(minutes)], fresh_chain=False,
                what=SOAK.what)
    result = run_part(part, False, REPORTS)
    if "error" in result:
        return 1
    figures = result["figures"]
    summary = REPORTS / "bench.json"
    if summary.exists():  # the page of the last full run, with the soak added
        report = json.loads(summary.read_text())
        report["results"]["soak"] = result
        summary.write_text(json.dumps(report, indent=1, default=str))
        DOC.write_text(render(report))
    print(json.dumps({k: v for k, v in figures.items() if k != "samples"}, indent=1))
    return 0 if figures.get("nothing_lost") else 1


def main(only: list[str] | None = None, quick: bool = False, write_doc: bool = True) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    parts = [p for p in PARTS if not only or p.name in only]
    unknown = set(only or []) - {p.name for p in PARTS}
    if unknown:
        print(f"unknown part(s): {', '.join(sorted(unknown))}; choose from gateway, indexer, gas", file=sys.stderr)
        return 2
    machine = machine_facts()
    pg = postgres_url()
    if pg:
        os.environ[PG_ENV] = pg
    results: dict[str, dict[str, Any]] = {}
    for part in parts:
        missing = not (ROOT / (part.module.replace(".", "/") + ".py")).exists()
        if missing:
            results[part.name] = {"module": part.module, "exit_code": None, "elapsed_s": 0,
                                  "log": str(REPORTS / f"bench_{part.name}.log"),
                                  "error": f"{part.module} is not in this checkout"}
            print(f"[bench] {part.name}: {part.module} missing, skipped", flush=True)
            continue
        results[part.name] = run_part(part, quick, REPORTS)
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    report = {"machine": machine, "quick": quick, "postgres": _redact(pg), "results": results,
              "ratios": ratios(results)}
    (REPORTS / "bench.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"[bench] wrote {(REPORTS / 'bench.json').relative_to(ROOT)}")
    if write_doc:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(render(report))
        print(f"[bench] wrote {DOC.relative_to(ROOT)}")
    failed = [name for name, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=[p.name for p in PARTS])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    a = parser.parse_args()
    sys.exit(main(only=a.only, quick=a.quick, write_doc=not a.no_doc))
