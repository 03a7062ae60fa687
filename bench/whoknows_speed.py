"""Speed of the expertise index at 10,000 people and 200,000 evidence items, on SQLite and PostgreSQL.

    python bench/whoknows_speed.py                       # SQLite, and PostgreSQL when TEST_DATABASE_URL is set
    python bench/whoknows_speed.py --people 2000 --items 40000 --queries 100   # a quicker look

Evidence is synthetic with a real vocabulary: each item is a title and a run of words from the
android.stackexchange questions, with their tags, spread over people with a long tail (a few people
have hundreds of items, most a handful) and over three years. Each database is fresh (a temporary
SQLite file; a PostgreSQL database created and dropped), migrated like production and filled through
the real importer. Queries are short topics (1 to 3 words from titles and tags), asked through the same
service `whoknows` and the Slack layer call, recording who was suggested, as the bot does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.se_android import load
from bot.expertise.importer import import_evidence
from bot.expertise.index import ExpertiseIndex
from bot.expertise.scoring import STOP_WORDS
from bot.expertise.taxonomy import words
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
KINDS = ["imported"] * 6 + ["submitted", "reviewed", "built", "showcase", "retro", "declared_skill"]


def corpus(seed: int) -> tuple[list[list[str]], list[list[str]], list[str]]:
    """Word lists of titles and bodies, tag lists, from the android data."""
    questions, _ = load()
    qs = sorted(questions.values(), key=lambda q: int(q.id))
    return [q.title.split() for q in qs], [q.body.split() for q in qs], [" ".join(q.tags) for q in qs]


def items(people: int, count: int, seed: int) -> Iterator[str]:
    """`count` JSON lines of synthetic evidence over `people` people (a long tail of activity)."""
    rnd = random.Random(seed)
    titles, bodies, tags = corpus(seed)
    weights = [1 / (i + 1) ** 0.8 for i in range(people)]
    owners = rnd.choices(range(people), weights=weights, k=count)
    for n, owner in enumerate(owners):
        q = rnd.randrange(len(titles))
        body = bodies[rnd.randrange(len(bodies))]
        start = rnd.randrange(max(len(body) - 40, 1))
        text = " ".join(titles[q] + body[start : start + rnd.randint(10, 40)])
        at = NOW - dt.timedelta(days=rnd.uniform(0, 3 * 365))
        yield json.dumps(
            {
                "person": f"U{owner:07d}",
                "name": f"Person {owner}",
                "text": text,
                "tags": tags[q].split(),
                "kind": rnd.choice(KINDS),
                "weight": round(rnd.uniform(1, 3), 2),
                "at": at.isoformat(),
                "url": f"https://example.org/e/{n}",
            }
        )


def queries(n: int, seed: int) -> list[str]:
    """Short topics: one to three words from a title, or a tag."""
    rnd = random.Random(seed + 1)
    titles, _, tags = corpus(seed)
    out = []
    while len(out) < n:
        if rnd.random() < 0.3:
            out.append(rnd.choice(rnd.choice(tags).split() or ["android"]).replace("-", " "))
            continue
        useful = [w for w in words(" ".join(rnd.choice(titles))) if w not in STOP_WORDS and len(w) > 2]
        if useful:
            k = rnd.randint(1, min(3, len(useful)))
            start = rnd.randrange(len(useful) - k + 1)
            out.append(" ".join(useful[start : start + k]))
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, label: str, args: argparse.Namespace) -> None:
    """Build a fresh index at `url`, then time the queries against it."""
    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with UnitOfWork(factory) as uow:
        report = import_evidence(uow, items(args.people, args.items, args.seed), now=NOW)
    build = time.perf_counter() - started
    assert report.created == args.items and not report.problems, report
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    rss_build = peak_rss_mb()
    index = ExpertiseIndex()
    asked = queries(args.queries, args.seed)
    for q in asked[:20]:  # warm caches
        with UnitOfWork(factory) as uow:
            index.find_experts(uow, q, top=5, record_asks=False, now=NOW)
    times, found = [], 0
    for q in asked:
        t0 = time.perf_counter()
        with UnitOfWork(factory) as uow:
            result = index.find_experts(uow, q, top=5, asker_id=None, now=NOW)
        times.append((time.perf_counter() - t0) * 1000)
        found += bool(result.experts)
    engine.dispose()
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(
        f"{label:<11} build {build:6.1f} s ({report.people_created} people, {report.created} items) | "
        f"{len(times)} queries ({found} with answers): p50 {statistics.median(times):5.1f} ms, "
        f"p95 {p95:5.1f} ms, max {times[-1]:6.1f} ms | peak RSS {rss_build:.0f} MB after build, "
        f"{peak_rss_mb():.0f} MB after queries"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres", default=os.environ.get("TEST_DATABASE_URL"), help="server URL (a fresh database is made)"
    )
    args = parser.parse_args()
    print(
        f"{args.people} people, {args.items} evidence items, {args.queries} queries, top 5 (peak RSS is this process)"
    )
    with tempfile.TemporaryDirectory(prefix="whoknows-speed-") as tmp:
        run(f"sqlite:///{Path(tmp) / 'speed.db'}", "SQLite", args)
    if args.postgres:
        name = f"hubspoke_speed_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(args.postgres).set(database=name).render_as_string(hide_password=False), "PostgreSQL", args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
