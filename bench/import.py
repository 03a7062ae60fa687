"""Import the whole 2025 US federal AI use-case inventory, then import it again, on SQLite and PostgreSQL.

    python bench/import.py [--file CSV] [--postgres-url URL]

Each run reads the CSV and imports it with the OMB preset in one unit of work, as `hubspoke import
usecases FILE --preset omb` does. The first run inserts every row into an empty database; the second
finds every row unchanged. Printed per run: wall time, rows per second, and the process's peak RSS
so far; then the peak Python allocation (tracemalloc) of one more first import, run apart because
tracing slows everything it measures. The target is under 10 s per run; the exit status is 1 when a
run misses it. PostgreSQL runs in a schema made for the run and dropped after it (URL from
--postgres-url, else TEST_DATABASE_URL, else the local default), and is skipped when unreachable.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from bench.harness import postgres_schema  # noqa: E402
from intake.register import build_mapping, import_register, read_table  # noqa: E402
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade  # noqa: E402
from storage.types import utcnow  # noqa: E402

INVENTORY = REPO.parent / "shared/data/us-federal-ai-inventory-2025/2025_individually_reported_AI_use_cases.csv"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_S = 10.0


def peak_rss_mib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def import_once(url: str, path: Path) -> tuple[float, str]:
    """Read and import the file once; the wall time and the counts."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        table = read_table(path)
        with UnitOfWork(make_session_factory(engine)) as uow:
            report = import_register(uow, table, build_mapping("omb", [], default_source="omb"), now=utcnow())
        wall = time.perf_counter() - started
    finally:
        engine.dispose()
    counts = f"{report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged, "
    return wall, counts + f"{len(report.skipped)} skipped"


def bench(name: str, url: str, path: Path, rows: int) -> bool:
    """A first import and a re-import; True when both are under the target."""
    upgrade(url)
    ok = True
    for run in ("import", "re-import"):
        wall, counts = import_once(url, path)
        ok &= wall < TARGET_S
        print(
            f"{name:<10} {run:<9} {wall:6.2f} s  {rows / wall:8,.0f} rows/s  "
            f"peak RSS {peak_rss_mib():6.1f} MiB  ({counts})"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=INVENTORY, help="the OMB inventory CSV")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)
    args = parser.parse_args()
    if not args.file.is_file():
        print(f"no inventory at {args.file}; pass --file", file=sys.stderr)
        return 2
    rows = len(read_table(args.file).rows)
    print(f"{args.file.name}: {rows:,} rows; target under {TARGET_S:.0f} s a run\n")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= bench("sqlite", f"sqlite:///{tmp}/bench.db", args.file, rows)
        traced = f"sqlite:///{tmp}/traced.db"
        upgrade(traced)
        tracemalloc.start()
        import_once(traced, args.file)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    with postgres_schema(args.postgres_url, "bench_import") as url:
        if url:
            ok &= bench("postgres", url, args.file, rows)
    print(f"\ntracemalloc peak of a first import (SQLite): {peak / 2**20:.1f} MiB")
    print(f"peak RSS of this process: {peak_rss_mib():.1f} MiB")
    print("target met" if ok else f"TARGET MISSED: a run took {TARGET_S:.0f} s or more")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
