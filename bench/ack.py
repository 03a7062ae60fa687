"""Time to Slack's HTTP response: `hubspoke run` against a bare Bolt app making the same Slack calls, on loopback.

    python bench/ack.py [--requests N] [--concurrency 50] [--database-url URL]

Signed `/usecase` commands and Approve clicks go, with the same client, to `hubspoke run` and to
bench/bare_bolt.py (Bolt on Starlette + uvicorn; `/usecase` acks and opens a modal, Approve acks
and updates the message). Slack's Web API is tests/fakes' FakeSlack in its own process; each timed
Approve decides a real pending review (recorded before the ack, decided by the outbox), seeded
first through the services. On PostgreSQL a `hubspoke worker` process delivers the outbox, as in
production; on SQLite `hubspoke run` delivers it itself. The target is Hubspoke's p99 within 1.2x
of the bare app's, with no errors. Exit status 1 when anything errored: a non-2xx answer, a
transport error, or an error after the ack (told to the person, logged, or an outbox message
that failed). About 1.5 minutes with the defaults on 2 CPUs; `--requests 300` takes about 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench.harness, and the loopback fakes in tests/fakes

import httpx  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.harness import (  # noqa: E402
    Db,
    FakeSlackProcess,
    Server,
    bench_database,
    free_port,
    hubspoke_cli,
    hubspoke_exe,
    seed_reviews,
    serve,
    spawn,
    tail,
)
from handlers.slack.ids import Action, Command  # noqa: E402
from tests.fakes.signed import SignedSlack, SlackUser  # noqa: E402

TARGET_RATIO = 1.2
SPOKE = SlackUser("USPOKE", "sam")
REVIEWER = SlackUser("UREV", "rita")
KINDS = ("command", "approve")
Send = Callable[[SignedSlack, int], Awaitable[httpx.Response]]


# --- the client --------------------------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds to the HTTP response
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    server_cpu: float = math.nan  # server CPU seconds for this run, work after the ack included

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def drive(
    slacks: list[SignedSlack], send: Send, count: int, *, check: Callable[[httpx.Response], str | None] | None = None
) -> Run:
    """Send `count` requests, one in flight per client in `slacks`, each signed just before it goes."""
    run = Run()
    todo = iter(range(count))

    async def worker(slack: SignedSlack) -> None:
        for i in todo:  # one shared iterator: each index is sent exactly once
            start = time.perf_counter()
            try:
                response = await send(slack, i)
            except httpx.HTTPError as exc:
                run.errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                continue
            run.latencies.append(time.perf_counter() - start)
            problem = None if response.is_success else f"HTTP {response.status_code}: {response.text[:80]}"
            if problem is None and check is not None:
                problem = check(response)
            if problem:
                run.errors[problem] += 1
            else:
                run.ok += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(slack) for slack in slacks))
    run.wall = time.perf_counter() - began
    return run


class Clients:
    """One HTTP client per request in flight, all made before any timing.

    Making an httpx client costs tens of milliseconds (it loads CA certificates), and one pooled
    client with 50 connections spends more CPU per request than the bare app does; either would
    be measured as server latency.
    """

    def __init__(self, count: int, hook_url: str, secret: str) -> None:
        self.hook_url, self.secret = hook_url, secret
        self.clients = [httpx.AsyncClient(timeout=30) for _ in range(count)]

    def to(self, base: str) -> list[SignedSlack]:
        # SignedSlack only calls `client.post(...)`; with an AsyncClient its methods return awaitables.
        url = f"{base}/slack/events"
        return [SignedSlack(url, self.hook_url, secret=self.secret, client=cast(httpx.Client, c)) for c in self.clients]

    async def reconnect(self, base: str) -> None:
        """Reopen every keep-alive connection (uvicorn closes idle ones after 5 s) before timing."""
        for client in self.clients:
            await client.aclose()
        self.clients = [httpx.AsyncClient(timeout=30) for _ in self.clients]
        await asyncio.gather(*(c.get(f"{base}/healthz") for c in self.clients))

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients))


def send_command(slack: SignedSlack, _: int) -> Awaitable[httpx.Response]:
    return cast(Awaitable[httpx.Response], slack.command(SPOKE, Command.USECASE))


def send_approve(use_case_ids: list[int]) -> Send:
    def send(slack: SignedSlack, i: int) -> Awaitable[httpx.Response]:
        return cast(Awaitable[httpx.Response], slack.click(REVIEWER, Action.APPROVE, f"{use_case_ids[i]}:1"))

    return send


# --- the benchmark -------------------------------------------------------------------------------


async def measure(
    args: argparse.Namespace, fake: FakeSlackProcess, db: Db, servers: dict[str, Server], secret: str
) -> dict[tuple[str, str], Run]:
    """Seed, then per server and kind: warm up, let Hubspoke settle, and time `--requests` requests."""
    n, w = args.requests, args.warmup
    results: dict[tuple[str, str], Run] = {}
    clients = Clients(args.concurrency, fake.hook_url, secret)
    try:
        t = time.perf_counter()
        seed_reviews(db.url, w + n, reviewer=REVIEWER.id, spoke=SPOKE.id)
        submitted = time.perf_counter() - t
        db.wait_quiet()
        pending = db.pending_reviews()
        if len(pending) < w + n:
            raise RuntimeError(f"only {len(pending)} reviews are pending")
        print(
            f"seeded {len(pending)} reviews: submitted in {submitted:.1f}s, "
            f"outbox delivered after {time.perf_counter() - t:.1f}s",
            flush=True,
        )

        for target in ("bare bolt", "hubspoke"):
            for kind in KINDS:
                warm: Send = send_command
                timed: Send = send_command
                if kind == "approve" and target == "hubspoke":  # each click decides a review of its own
                    warm, timed = send_approve(pending[:w]), send_approve(pending[w:])
                elif kind == "approve":  # the bare app decides nothing; it gets the same clicks
                    warm = timed = send_approve(pending)
                server = servers[target]
                await drive(clients.to(server.base), warm, w)
                if target == "hubspoke":
                    db.wait_quiet(decided=w if kind == "approve" else None)
                await clients.reconnect(server.base)
                gc.collect()
                cpu = server.cpu_seconds()
                gc.disable()  # a collection in the client would be timed as server latency
                try:
                    results[target, kind] = run = await drive(clients.to(server.base), timed, n)
                finally:
                    gc.enable()
                if target == "hubspoke":  # count the work these requests left behind after their ack too
                    db.wait_quiet(decided=db.decided() if kind == "approve" else None)
                run.server_cpu = server.cpu_seconds() - cpu
                print(
                    f"  {target:9} {kind:7} p50 {run.percentile(50):7.1f} ms  p99 {run.percentile(99):7.1f} ms",
                    flush=True,
                )
    finally:
        await clients.aclose()
    return results


def report(results: dict[tuple[str, str], Run], late: dict[str, Any], args: argparse.Namespace, db_url: str) -> bool:
    """Print the table and the verdict; True when nothing errored."""
    backend = make_url(db_url).get_backend_name()
    print(
        f"\ntime to the HTTP response, {args.requests} signed requests per row at concurrency {args.concurrency}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), Hubspoke on {backend}"
    )
    head = (
        f"{'server':<11}{'kind':<9}{'ok':>6}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>7}"
        f"{'CPU ms/req':>12}"
    )
    print(head + "\n" + "-" * len(head))
    for (target, kind), run in results.items():
        print(
            f"{target:<11}{kind:<9}{run.ok:>6}{sum(run.errors.values()):>8}{run.percentile(50):>9.1f}"
            f"{run.percentile(99):>9.1f}{run.percentile(100):>9.1f}{args.requests / run.wall:>7.0f}"
            f"{1000 * run.server_cpu / args.requests:>12.2f}"
        )
    print(
        "CPU ms/req: the server's processes' CPU (web, and the worker on PostgreSQL) from the first timed "
        "request until the work they left after the ack (outbox, modals) was done"
    )
    for (target, kind), run in results.items():
        for problem, times in run.errors.most_common(5):
            print(f"  {target} {kind}: {times} x {problem}")
    print(
        f"after the ack: {len(late['failures'])} errors told to people, {late['already_decided']} 'already decided', "
        f"{late['outbox_failed']} outbox messages failed, {len(late['invalid'])} invalid Block Kit payloads, "
        f"{len(late['logged_errors'])} ERROR lines in Hubspoke's log"
    )
    for failure in late["failures"][:3] + late["invalid"][:3] + late["logged_errors"][:3]:
        print(f"  {failure[:200]}")
    calls = ", ".join(f"{m} {c}" for m, c in sorted(late["methods"].items()) if not m.startswith("response_url:"))
    print(f"Slack Web API calls received by the fake: {calls}")
    print()
    met = True
    for kind in KINDS:
        ratio = results["hubspoke", kind].percentile(99) / results["bare bolt", kind].percentile(99)
        met = met and ratio <= TARGET_RATIO
        print(
            f"p99 Hubspoke / bare Bolt, {kind:<8}{ratio:6.2f}x   target <= {TARGET_RATIO}x: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
        )
    errors = sum(sum(r.errors.values()) for r in results.values())
    clean = errors == 0 and not any(late[k] for k in ("failures", "invalid", "outbox_failed", "logged_errors"))
    print(f"errors: {'none' if clean else 'YES'}; overall: {'target met' if met and clean else 'target NOT met'}")
    return clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per server and kind (1000)")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight (50)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed requests first, per server and kind (100)")
    parser.add_argument(
        "--database-url",
        help="Hubspoke's database (default: a temporary SQLite file); "
        "on PostgreSQL the benchmark works in a fresh schema and drops it after",
    )
    args = parser.parse_args()
    secret = secrets.token_hex(16)
    with (
        tempfile.TemporaryDirectory(prefix="hubspoke-bench-") as tmp,
        FakeSlackProcess() as fake,
        bench_database(args.database_url, Path(tmp)) as db_url,
    ):
        workdir = Path(tmp)  # the servers' cwd, so no stray .env file changes their settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUB_", "DATABASE_URL"))}
        env.update(
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=fake.base_url,
            DATABASE_URL=db_url,
            HUB_CHANNEL="C_HUB",
            HUB_LEADS="ULEAD",
            # The seeded cards all go to one hub channel; paced at Slack's 1 a second they would take
            # minutes to drain before timing starts. The fake has no such limit.
            SLACK_POST_INTERVAL="0",
        )
        hubspoke_cli(env, workdir, "db", "upgrade")
        hubspoke_cli(env, workdir, "hub", "department", "add", "Finance")
        hub_port, bare_port = free_port(), free_port()
        db = Db(db_url)
        try:
            separate_worker = make_url(db_url).get_backend_name() != "sqlite"
            with (
                serve("hubspoke", [hubspoke_exe(), "run", "--port", str(hub_port)], env, hub_port, workdir) as hub,
                spawn("worker", [hubspoke_exe(), "worker"], env, workdir)
                if separate_worker
                else contextlib.nullcontext() as worker,
                serve(
                    "bare",
                    [sys.executable, str(REPO / "bench" / "bare_bolt.py"), "--port", str(bare_port)],
                    env,
                    bare_port,
                    workdir,
                ) as bare,
            ):
                if worker is not None:
                    hub.helpers.append(worker.pid)
                try:
                    results = asyncio.run(measure(args, fake, db, {"hubspoke": hub, "bare bolt": bare}, secret))
                except Exception:
                    for name in ("hubspoke", "bare", "worker"):
                        print(f"--- the end of {name}'s log\n{tail(workdir / f'{name}.log')}", file=sys.stderr)
                    raise
                late = {**fake.summary(), "outbox_failed": db.outbox_failed()}
            logged = (workdir / "hubspoke.log").read_text(errors="replace").splitlines()
            if (workdir / "worker.log").exists():
                logged += (workdir / "worker.log").read_text(errors="replace").splitlines()
            late["logged_errors"] = [line for line in logged if " ERROR " in line or line.startswith("Traceback")]
        finally:
            db.engine.dispose()
        return 0 if report(results, late, args, db_url) else 1


if __name__ == "__main__":
    sys.exit(main())
