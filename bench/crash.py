"""Crashes: kill -9 of `hubspoke run` right after acknowledged clicks, and of a worker mid-delivery.

    python bench/crash.py [--database-url URL] [--clicks 30] [--rounds 3]
    python bench/crash.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --messages 2000

1. Web: `--clicks` pending reviews are seeded, the same number of signed Approve clicks are sent
   (10 at a time), and the web process is killed with SIGKILL the moment the last acknowledgement
   arrives. Each click is stored as a task before its ack; a restarted `hubspoke run` decides what
   the dead one had not. Lost = clicks Slack saw acknowledged that are never decided (target 0).
2. Worker (PostgreSQL): a backlog of `--messages` notices, two `hubspoke worker` processes, a fake
   Slack answering in 50 ms; one worker is killed with SIGKILL a second in. The other takes the
   dead one's rows once their lease runs out. Lost = never delivered (target 0); duplicated = sent
   twice. A worker killed between Slack's answer and recording it can repeat only the sends it had
   in flight (at most OUTBOX_CONCURRENCY): the figure printed beside it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.harness import (  # noqa: E402
    FakeSlackProcess,
    bench_database,
    free_port,
    hubspoke_cli,
    hubspoke_exe,
    seed_reviews,
    serve,
    spawn,
)
from bench.outbox import text_of, undelivered, write_backlog  # noqa: E402
from handlers.slack.ids import Action  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import OutboxMessage, Review  # noqa: E402
from tests.fakes.signed import SignedSlack, SlackUser  # noqa: E402

SECRET = "bench-signing-secret"


def decided(url: str) -> tuple[int, int]:
    """(decisions stored, Approve tasks stored and not yet run)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            done = conn.scalar(select(func.count()).select_from(Review).where(Review.decision.is_not(None)))
            waiting = conn.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.operation == "task", OutboxMessage.delivered_at.is_(None))
            )
            return int(done or 0), int(waiting or 0)
    finally:
        engine.dispose()


def web_round(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> dict[str, int]:
    """One kill -9 of the web process: acknowledged, stored at the kill, and decided after a restart."""
    with FakeSlackProcess() as fake, bench_database(args.database_url, workdir) as url:
        env = {**env, "SLACK_API_URL": fake.base_url, "DATABASE_URL": url, "OUTBOX_IN_PROCESS": "true"}
        hubspoke_cli(env, workdir, "db", "upgrade")
        use_cases = seed_reviews(url, args.clicks)
        port = free_port()
        with serve("web", [hubspoke_exe(), "run", "--port", str(port)], env, port, workdir) as web:
            rita = SlackUser("UREV", "rita")

            def click(use_case_id: int) -> bool:
                slack = SignedSlack(f"{web.base}/slack/events", fake.hook_url, secret=SECRET)
                return slack.click(rita, Action.APPROVE, f"{use_case_id}:1").status_code == 200

            with ThreadPoolExecutor(10) as pool:
                acked = sum(pool.map(click, use_cases))
            os.kill(web.pid, signal.SIGKILL)  # the moment the last acknowledgement arrived
        done, waiting = decided(url)
        # The next start runs what the dead process had recorded but not yet decided.
        with serve("web-again", [hubspoke_exe(), "run", "--port", str(port)], env, port, workdir):
            deadline = time.monotonic() + 60
            while decided(url)[0] < acked and time.monotonic() < deadline:
                time.sleep(0.2)
        after, _ = decided(url)
    return {"acked": acked, "decided": done, "waiting": waiting, "after": after}


def worker_crash(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> dict[str, int]:
    """Kill one of two workers a second into a backlog; what arrived, lost and twice."""
    with FakeSlackProcess(latency=0.05) as fake, bench_database(args.database_url, workdir) as url:
        env = {**env, "SLACK_API_URL": fake.base_url, "DATABASE_URL": url}
        hubspoke_cli(env, workdir, "db", "upgrade")
        write_backlog(url, args.messages)
        engine = make_engine(url)
        with (
            spawn("worker-a", [hubspoke_exe(), "worker"], env, workdir) as a,
            spawn("worker-b", [hubspoke_exe(), "worker"], env, workdir),
        ):
            time.sleep(1.0)
            os.kill(a.pid, signal.SIGKILL)
            a.wait(10)
            with engine.connect() as conn:  # the rows the dead worker held when it died
                held = int(
                    conn.scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.lease_owner.like(f"%:{a.pid}:%"), OutboxMessage.delivered_at.is_(None))
                    )
                    or 0
                )
            deadline = time.monotonic() + 300
            while undelivered(url) and time.monotonic() < deadline:
                time.sleep(0.5)
            left = undelivered(url)
        engine.dispose()
        posted: Counter[tuple[str, str]] = fake.summary()["posted"]
    texts = Counter(text for (_, text), times in posted.items() for _ in range(times))
    expected = {text_of(n) for n in range(args.messages)}
    return {
        "held": held,
        "lost": len(expected - set(texts)),
        "left": left,
        "duplicated": sum(n - 1 for n in texts.values() if n > 1),
        "delivered": len(set(texts) & expected),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL for both parts; default: a SQLite file (web part only)")
    parser.add_argument("--clicks", type=int, default=30, help="acknowledged clicks before each kill (30)")
    parser.add_argument("--rounds", type=int, default=3, help="web kills to run (3)")
    parser.add_argument("--messages", type=int, default=2000, help="backlog for the worker kill (2,000)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUB_", "DATABASE_", "OUTBOX_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, HUB_CHANNEL="C_HUB", HUB_LEADS="ULEAD")
    backend = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
    ok = True
    with tempfile.TemporaryDirectory(prefix="hubspoke-crash-") as tmp:
        workdir = Path(tmp)
        print(f"kill -9 of `hubspoke run` after acknowledged Approve clicks, on {backend}:")
        for n in range(1, args.rounds + 1):
            r = web_round(args, env, workdir)
            lost = max(r["acked"] - r["after"], 0)
            ok = ok and lost == 0 and r["after"] == r["acked"]
            print(
                f"  round {n}: {r['acked']} acknowledged; at the kill {r['decided']} decided and "
                f"{r['waiting']} waiting as tasks; after a restart {r['after']} decided, lost {lost}",
                flush=True,
            )
        if backend == "postgresql":
            r = worker_crash(args, env, workdir)
            ok = ok and r["lost"] == 0 and r["left"] == 0
            print(f"kill -9 of one of two workers a second into {args.messages:,} messages (fake Slack at 50 ms):")
            print(
                f"  the dead worker held {r['held']} message(s); delivered {r['delivered']:,}, lost {r['lost']}, "
                f"duplicated {r['duplicated']} (at most the {r['held']} in flight can repeat)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
