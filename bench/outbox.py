"""Outbox throughput: messages per second that 1, 2 and 4 `hubspoke worker` processes deliver, on PostgreSQL.

    python bench/outbox.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
        [--messages 10000] [--workers 1,2,4] [--latency 0.05]

For each worker count: a backlog of `--messages` notices (one per Slack channel, so Slack's one
message a second per conversation is no limit) is written to a fresh schema, then that many
`hubspoke worker` processes (OUTBOX_CONCURRENCY sends each) drain it against tests/fakes' FakeSlack,
in its own process, answering every call after `--latency` seconds. Printed per run: the time to
drain the backlog, messages per second, and what the fake received: messages lost (never
delivered) and duplicated (delivered more than once), both targets 0 for a healthy fleet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from contextlib import ExitStack  # noqa: E402

from sqlalchemy import func, insert, select  # noqa: E402

from bench.harness import FakeSlackProcess, bench_database, hubspoke_cli, hubspoke_exe, spawn  # noqa: E402
from intake.notices import BusFactorNotice  # noqa: E402
from intake.read_models import PersonView, jsonable  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from storage.types import utcnow  # noqa: E402


def text_of(n: int) -> str:
    """The fallback text Slack receives for notice `n` (see handlers/slack/blocks.build_bus_factor)."""
    return f"Bus factor of one: topic {n}"


def write_backlog(url: str, count: int) -> None:
    """`count` due posts, each to a channel of its own, written in one go."""
    engine = make_engine(url)
    expert = PersonView(id=1, name="Rita")
    now = utcnow()
    rows = [
        {
            "operation": "post",
            "platform": "slack",
            "channel": f"C{n:06d}",
            "destination": f"channel:C{n:06d}",
            "payload": jsonable(BusFactorNotice(topic=f"topic {n}", expert=expert)),
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        for start in range(0, count, 2000):
            conn.execute(insert(OutboxMessage), rows[start : start + 2000])
    engine.dispose()


def undelivered(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
                )
                or 0
            )
    finally:
        engine.dispose()


def run_once(args: argparse.Namespace, workers: int, base_env: dict[str, str], workdir: Path) -> dict[str, float]:
    """One drain: a fresh schema and fake, the backlog, `workers` worker processes; its figures."""
    with FakeSlackProcess(latency=args.latency) as fake, bench_database(args.database_url, workdir) as url:
        env = {**base_env, "SLACK_API_URL": fake.base_url, "DATABASE_URL": url}
        hubspoke_cli(env, workdir, "db", "upgrade")
        write_backlog(url, args.messages)
        start = time.perf_counter()
        with ExitStack() as stack:
            for w in range(workers):
                stack.enter_context(spawn(f"worker{w}", [hubspoke_exe(), "worker"], env, workdir))
            deadline = start + args.timeout
            left = args.messages
            while left and time.perf_counter() < deadline:
                time.sleep(0.2)
                left = undelivered(url)
            took = time.perf_counter() - start
        posted: Counter[tuple[str, str]] = fake.summary()["posted"]
    texts = Counter(text for (_, text), times in posted.items() for _ in range(times))
    expected = {text_of(n) for n in range(args.messages)}
    lost = len(expected - set(texts))
    duplicated = sum(times - 1 for text, times in texts.items() if times > 1)
    return {
        "workers": workers,
        "seconds": took,
        "per_second": (args.messages - lost) / took,
        "lost": lost,
        "duplicated": duplicated,
        "left": left,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL (a fresh schema per run, dropped after)")
    parser.add_argument("--messages", type=int, default=10_000, help="backlog size (10,000)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run (1,2,4)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake Slack takes per call (0.05)")
    parser.add_argument("--concurrency", type=int, default=8, help="OUTBOX_CONCURRENCY per worker (8)")
    parser.add_argument("--timeout", type=float, default=600, help="give up a drain after this many seconds")
    args = parser.parse_args()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUB_", "DATABASE_", "OUTBOX_"))}
    base_env.update(
        SLACK_BOT_TOKEN="xoxb-bench", HUB_CHANNEL="C_HUB", OUTBOX_CONCURRENCY=str(args.concurrency), LOG_LEVEL="WARNING"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="hubspoke-outbox-") as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            result = run_once(args, workers, base_env, Path(tmp))
            results.append(result)
            print(
                f"{workers} worker(s): {args.messages:,} messages in {result['seconds']:.1f} s "
                f"= {result['per_second']:.0f}/s; lost {result['lost']}, duplicated {result['duplicated']}",
                flush=True,
            )
    print(
        f"\noutbox drain on PostgreSQL, {os.cpu_count()} CPUs, fake Slack answering in "
        f"{args.latency * 1000:.0f} ms, OUTBOX_CONCURRENCY {args.concurrency}"
    )
    print(f"{'workers':>8}{'backlog':>9}{'drain s':>9}{'msg/s':>8}{'lost':>6}{'dup':>5}")
    for r in results:
        print(
            f"{r['workers']:>8}{args.messages:>9,}{r['seconds']:>9.1f}{r['per_second']:>8.0f}"
            f"{r['lost']:>6}{r['duplicated']:>5}"
        )
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
