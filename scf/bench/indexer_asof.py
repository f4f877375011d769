"""As-of query cost on `scf.bench.indexer`'s synthetic PostgreSQL book (default 1,000,000
holdings) with a history of 2 versions per holding, certificate and member (an earlier closed
version + the current one): each report now, as of the head and as of the middle block (median of
3 runs after a warm-up). Needs SCF_TEST_POSTGRES_URL (a throw-away database is created and dropped).

    python -m scf.bench.indexer_asof [HOLDINGS]
"""

from __future__ import annotations

import statistics
import sys
import time

from sqlalchemy import text

from indexer import reports
from indexer.db import make_engine, upgrade
from indexer.models import STATE_TABLES
from scf.bench.indexer import SYNTHETIC, pg_admin_url, pg_database


def main() -> None:
    holdings = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    admin = pg_admin_url()
    if admin is None:
        sys.exit(2)
    with pg_database(admin) as url:
        upgrade(url)
        eng = make_engine(url)
        certs = 1 + max(0, (holdings - 10_000 + 98) // 99)
        t0 = time.perf_counter()
        with eng.begin() as conn:
            for stmt in SYNTHETIC.split(";\n"):
                if stmt.strip() and not stmt.strip().startswith("--") or "INSERT" in stmt:
                    conn.execute(text(stmt), {"certs": certs, "holdings": holdings})
            for name in ("holding", "certificate", "member"):
                cols = ", ".join(f'"{c.name}"' for c in STATE_TABLES[name].columns)
                ub = "updated_block"
                # an older version (closed at updated_block) and the current one
                conn.execute(
                    text(
                        f"INSERT INTO {name}_version ({cols}, valid_from_block, valid_to_block) "
                        f"SELECT {cols}, 0, {ub} FROM {name} WHERE {ub} > 0"
                    )
                )
                conn.execute(
                    text(
                        f"INSERT INTO {name}_version ({cols}, valid_from_block, valid_to_block) "
                        f"SELECT {cols}, {ub}, NULL FROM {name}"
                    )
                )
            head = int(conn.execute(text("SELECT max(token_id) FROM holding")).scalar_one())
            conn.execute(text("INSERT INTO block (number, hash, timestamp) VALUES (:n, '0x', 1800000000)"), {"n": head})
            conn.execute(
                text(
                    "INSERT INTO checkpoint (id, chain_id, block_number, events, history_from_block) "
                    "VALUES (1, 1, :n, 0, 0)"
                ),
                {"n": head},
            )
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"book + history generated in {time.perf_counter() - t0:.1f} s", flush=True)
        with eng.connect() as conn:
            n = {
                t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in ("holding", "holding_version", "certificate_version")
            }
            print(n, flush=True)
            for label, at in (("now", None), ("as of head", head), ("as of middle", head // 2)):
                for rep, fn in (
                    ("exposure", lambda at=at: reports.exposure(conn, at=at)),
                    ("ageing", lambda at=at: reports.ageing(conn, at=at)),
                    ("concentration_holder", lambda at=at: reports.concentration(conn, by="holder", at=at)),
                    ("tiers", lambda at=at: reports.tiers(conn, at=at)),
                    ("lineage_10k", lambda at=at: reports.lineage(conn, 1, at=at)),
                    ("member_holdings", lambda at=at: reports.member_holdings(conn, "0x" + "0" * 38 + "41", at=at)),
                ):
                    ts = []
                    for _ in range(4):
                        s = time.perf_counter()
                        fn()
                        ts.append((time.perf_counter() - s) * 1000)
                    print(f"{label:13} {rep:22} median {statistics.median(ts[1:]):8.1f} ms", flush=True)
        eng.dispose()


if __name__ == "__main__":
    main()
