"""Digests on the 2025 federal inventory: building the hub's, then 500 channels' through a rate-limited fake Slack.

    .venv/bin/python bench/digest.py [--database-url URL] [--channels 500] [--workspace-rate 20]

The inventory ("individually reported" CSV, OMB preset, as `hubspoke import usecases FILE --preset
omb`) is imported into a migrated SQLite file made for the run, or with --database-url into a fresh
PostgreSQL schema, dropped after it.

The hub digest: `bot.rituals.digest.digest_notice` for the whole hub, in a read-only unit of work
(p50 of --builds after one warm-up), rendered by the Slack port (`handlers.slack.chat.render`) and
checked against Slack's limits: 50 blocks a message, 3,000 characters a section's text, 40,000 a
message's text (and validated with slack_sdk.models).

Fan-out: each of --channels channels gets one department's digest. The inventory has fewer
departments (agency / bureau) than channels, so departments, busiest first, are cycled over the
channels: channel n gets department n mod D, and the busiest departments go to two channels. Every
digest is one message (none needs more than 50 blocks), so the per-channel floor (posts after the
first, one per SLACK_POST_INTERVAL) is 0 and the floor is channels / workspace rate. All of them are
enqueued in one transaction; then one real `OutboxWorker` (OUTBOX_CONCURRENCY --concurrency, the
SlackChat port, SLACK_POST_INTERVAL 1 s) delivers them to tests/fakes' FakeSlack, in its own process,
answering each call in --latency seconds and chat.postMessage with 429 + Retry-After (whole seconds)
above one post a second to a channel or above --workspace-rate posts a second to the workspace
(after a burst of --burst, default one second's worth). Two runs: the worker reacting to 429s alone
(SLACK_WORKSPACE_RATE unset), then pacing itself (SLACK_WORKSPACE_RATE = --workspace-rate). Each run
reports the time until every row is recorded delivered, its ratio to the floor (target 1.1x), 429s
received, the most posts the fake accepted in any one second, and messages lost (queued, never
accepted) and duplicated (accepted more than once for the same channel and digest title).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from bench.harness import FakeSlackProcess, bench_database, import_inventory  # noqa: E402
from bot.outbox import OutboxWorker  # noqa: E402
from bot.rituals.digest import digest_notice  # noqa: E402
from handlers.slack.app import build_client  # noqa: E402
from handlers.slack.chat import SlackChat, render  # noqa: E402
from intake.notices import Digest  # noqa: E402
from intake.read_models import jsonable  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import UnitOfWork, make_engine, make_session_factory, read_only  # noqa: E402
from storage.models import Department, OutboxMessage, UseCase  # noqa: E402
from storage.types import utcnow  # noqa: E402
from tests.fakes.slack_api import validate_blocks  # noqa: E402

INVENTORY = REPO.parent / "shared/data/us-federal-ai-inventory-2025/2025_individually_reported_AI_use_cases.csv"
MAX_BLOCKS, MAX_SECTION, MAX_TEXT = 50, 3000, 40_000  # Slack's limits on one message
TARGET = 1.1
POST_INTERVAL = 1.0  # SLACK_POST_INTERVAL's default


@dataclass(frozen=True)
class Size:
    blocks: int
    longest_section: int  # characters of the longest section text (or field)
    text: int  # characters of the message's fallback text
    characters: int  # characters of the whole message as JSON (text and blocks)
    problems: tuple[str, ...]  # what Slack would refuse

    @property
    def within_limits(self) -> bool:
        return not self.problems


def size_of(notice: Digest) -> Size:
    """The rendered Slack message's size, and what in it Slack's limits would refuse."""
    text, blocks = render(notice)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    sections += [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    longest = max((len(s) for s in sections), default=0)
    problems = list(validate_blocks(blocks))
    if len(text) > MAX_TEXT:
        problems.append(f"text of {len(text):,} characters (max {MAX_TEXT:,})")
    if longest > MAX_SECTION:
        problems.append(f"a section of {longest:,} characters (max {MAX_SECTION:,})")
    characters = len(json.dumps({"text": text, "blocks": blocks}, ensure_ascii=False))
    return Size(len(blocks), longest, len(text), characters, tuple(problems))


def departments(uow: UnitOfWork) -> list[str]:
    """Departments with use cases, busiest first."""
    count = func.count(UseCase.id)
    rows = uow.session.execute(
        select(Department.name, count).join(UseCase, UseCase.department_id == Department.id).group_by(Department.name)
    ).all()
    return [name for name, _ in sorted(rows, key=lambda r: (-r[1], r[0]))]


def department_digest(uow: UnitOfWork, department: str, *, since: dt.datetime, now: dt.datetime) -> Digest | None:
    """One department's digest, titled with its name."""
    title = f"{department} digest, {now:%a %d %b %Y}"
    return digest_notice(uow, since=since, now=now, title=title, department=department)


def build_digests(url: str, channels: int, builds: int) -> dict[str, Any]:
    """Time the hub digest and every department's; the fan-out: (channel, notice) for each channel."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = utcnow()
    since = now - dt.timedelta(days=7)
    try:
        times = []
        hub: Digest | None = None
        for _ in range(builds + 1):  # the first is a warm-up
            started = time.perf_counter()
            with UnitOfWork(read_only(factory)) as uow:
                hub = digest_notice(uow, since=since, now=now, title=f"Portfolio digest, {now:%a %d %b %Y}")
            times.append(time.perf_counter() - started)
        assert hub is not None, "the import left the hub empty"
        started = time.perf_counter()
        with UnitOfWork(read_only(factory)) as uow:
            names = departments(uow)
            by_department = {name: department_digest(uow, name, since=since, now=now) for name in names}
        departments_took = time.perf_counter() - started
    finally:
        engine.dispose()
    sizes = [size_of(n) for n in by_department.values() if n is not None]
    fan_out = [(f"C{n:05d}", by_department[names[n % len(names)]]) for n in range(channels)]
    return {
        "hub": hub,
        "hub_first_ms": times[0] * 1000,
        "hub_p50_ms": statistics.median(times[1:]) * 1000,
        "hub_size": size_of(hub),
        "departments": len(names),
        "departments_took": departments_took,
        "department_sizes": sizes,
        "fan_out": [(channel, notice) for channel, notice in fan_out if notice is not None],
    }


def enqueue_all(url: str, fan_out: list[tuple[str, Digest]]) -> float:
    """Queue every channel's digest in one transaction; seconds it took."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with UnitOfWork(make_session_factory(engine)) as uow:
            now = utcnow()
            for channel, notice in fan_out:
                repo.enqueue(uow.session, jsonable(notice), channel=channel, at=now)
            uow.commit()
        return time.perf_counter() - started
    finally:
        engine.dispose()


def undelivered(factory: Any) -> int:
    """Rows neither delivered nor failed, read without taking SQLite's write lock."""
    with UnitOfWork(read_only(factory)) as uow:
        query = select(func.count()).select_from(OutboxMessage)
        waiting = (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
        return int(uow.session.scalar(query.where(*waiting)) or 0)


def busiest_second(times: list[float]) -> int:
    """The most posts accepted in any one second (a window starting at each accepted post)."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def deliver(args: argparse.Namespace, url: str, fan_out: list[tuple[str, Digest]], paced: bool) -> dict[str, Any]:
    """One delivery run: a fresh fake, the fan-out queued in one go, one worker until all is delivered."""
    limits = {"workspace_rate": args.workspace_rate, "burst": args.burst, "channel_rate": 1 / POST_INTERVAL}
    with FakeSlackProcess(latency=args.latency, **limits) as fake:
        queued = enqueue_all(url, fan_out)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        chat = SlackChat(build_client("xoxb-bench", fake.base_url), "C_HUB", post_interval=POST_INTERVAL)
        worker = OutboxWorker(
            factory,
            {chat.platform: chat},
            concurrency=args.concurrency,
            post_rates={chat.platform: args.workspace_rate if paced else None},
        )
        started = time.perf_counter()
        worker.start()
        try:
            left = len(fan_out)
            while left and time.perf_counter() - started < args.timeout:
                time.sleep(0.1)
                left = undelivered(factory)
            took = time.perf_counter() - started
        finally:
            worker.stop()
            engine.dispose()
        summary = fake.summary()
    # Each channel is sent one digest, whose title names its department: the channel and the message's
    # fallback text (which begins with the title) tell one outbox row from every other.
    posted: Counter[tuple[str, str]] = summary["posted"]
    expected = {(channel, render(notice)[0]) for channel, notice in fan_out}
    return {
        "mode": f"paced at {args.workspace_rate:g}/s" if paced else "429s alone",
        "queued_s": queued,
        "seconds": took,
        "left": left,
        "rate_limited": summary["methods"].get("chat.postMessage:429", 0),
        "busiest": busiest_second(summary["post_times"]),
        "lost": len(expected - set(posted)),
        "duplicated": sum(times - 1 for key, times in posted.items() if times > 1),
        "outcomes": dict(worker.counts),
    }


def run(args: argparse.Namespace, database: str, url: str) -> list[dict[str, Any]]:
    print(f"{database}: {import_inventory(url, INVENTORY)}", flush=True)
    built = build_digests(url, args.channels, args.builds)
    hub: Size = built["hub_size"]
    print(
        f"{database}: hub digest built in {built['hub_p50_ms']:.1f} ms p50 of {args.builds} "
        f"(first {built['hub_first_ms']:.1f} ms); {hub.blocks} blocks, longest section {hub.longest_section:,} "
        f"characters, text {hub.text:,}, whole message {hub.characters:,}; "
        + ("within Slack's limits" if hub.within_limits else f"OVER Slack's limits: {'; '.join(hub.problems)}"),
        flush=True,
    )
    sizes: list[Size] = built["department_sizes"]
    over = [s for s in sizes if not s.within_limits]
    print(
        f"{database}: {built['departments']} department digests built in {built['departments_took']:.1f} s "
        "(digest_notice narrowed to each); "
        f"largest {max(s.blocks for s in sizes)} blocks, {max(s.characters for s in sizes):,} characters; "
        f"{len(over)} over Slack's limits",
        flush=True,
    )
    results = []
    for paced in (run == "paced" for run in args.runs.split(",")):
        result = deliver(args, url, built["fan_out"], paced)
        result["database"] = database
        result["messages"] = len(built["fan_out"])
        results.append(result)
        floor = result["messages"] / args.workspace_rate
        print(
            f"{database}, {result['mode']}: {result['messages']} digests queued in {result['queued_s']:.2f} s, "
            f"delivered in {result['seconds']:.1f} s (floor {floor:.1f} s, {result['seconds'] / floor:.2f}x); "
            f"429s {result['rate_limited']}, busiest second {result['busiest']}, lost {result['lost']}, "
            f"duplicated {result['duplicated']}, worker outcomes {result['outcomes']}",
            flush=True,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL (a fresh schema, dropped after); default a SQLite file")
    parser.add_argument("--channels", type=int, default=500, help="channels given a department's digest (500)")
    parser.add_argument("--workspace-rate", type=float, default=20.0, help="posts a second the fake allows (20)")
    parser.add_argument("--burst", type=float, help="posts the fake allows at once (default: a second's worth)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes per call (0.05)")
    parser.add_argument("--concurrency", type=int, default=8, help="OUTBOX_CONCURRENCY (8)")
    parser.add_argument("--builds", type=int, default=5, help="timed builds of the hub digest (5)")
    parser.add_argument("--runs", default="alone,paced", help="delivery runs: 429s alone, paced (alone,paced)")
    parser.add_argument("--timeout", type=float, default=600, help="give up a delivery run after this many seconds")
    args = parser.parse_args()
    # Each 429 logs a warning; the table counts them.
    logging.getLogger("bot.outbox").setLevel(logging.ERROR)
    database = "PostgreSQL" if args.database_url else "SQLite"
    with (
        tempfile.TemporaryDirectory(prefix="hubspoke-digest-") as tmp,
        bench_database(args.database_url, Path(tmp)) as url,
    ):
        results = run(args, database, url)
    floor = results[-1]["messages"] / args.workspace_rate
    print(
        f"\n{args.channels} channels, one digest each; fake Slack: 1 post/s a channel, {args.workspace_rate:g}/s "
        f"the workspace (burst {args.burst or args.workspace_rate:g}), {args.latency * 1000:.0f} ms a call; "
        f"OUTBOX_CONCURRENCY {args.concurrency}, {os.cpu_count()} CPUs"
    )
    head = f"{'database':<11}{'worker':<16}{'time s':>8}{'floor s':>9}{'ratio':>7}{'429s':>6}{'max/s':>7}"
    print(f"{head}{'lost':>6}{'dup':>5}")
    for r in results:
        ratio = r["seconds"] / floor
        print(
            f"{r['database']:<11}{r['mode']:<16}{r['seconds']:>8.1f}{floor:>9.1f}{ratio:>6.2f}x"
            f"{r['rate_limited']:>6}{r['busiest']:>7}{r['lost']:>6}{r['duplicated']:>5}"
        )
    last = results[-1]
    met = last["seconds"] / floor <= TARGET and last["lost"] == 0 and last["duplicated"] == 0
    verdict = "met" if met else "NOT met"
    print(f"target ({last['mode']}): within {TARGET}x of the floor, none lost, none duplicated: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
