"""The outbox worker: claims due rows and sends several at once, renewing its leases while it does.

Runs as its own process (`hubspoke worker`, as many as load needs) or, on the embedded SQLite
default, inside `hubspoke run`. Sends to different conversations run concurrently, up to
`concurrency`; one conversation gets one message at a time (see claims). On PostgreSQL it LISTENs
for the NOTIFY every enqueue sends, so a new message goes out at once on any worker; otherwise it
is woken in-process after each commit, and polls every `interval` seconds for retries and pacing.
Given a platform's workspace-wide rate, its posts are spaced to it across the senders (bot.outbox.pacing).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from bot.chat import ChatPort, TaskPort
from bot.outbox import claims
from bot.outbox.delivery import Work, buckets_of, deliver_claimed, read_work
from bot.outbox.pacing import post_rates as post_rates_for
from storage.db import UnitOfWork, read_only
from storage.repo import OUTBOX_CHANNEL
from storage.types import utcnow

log = logging.getLogger(__name__)

PAUSES_TTL = 1.0  # seconds another worker's rate-limit pause may go unseen here (its next send would 429 anyway)


_niced = threading.local()


def lower_priority(nice: int) -> None:
    """Give this thread `nice` less CPU priority (Linux: threads are scheduled alone), once per thread.

    Delivery is work nobody is waiting on in the way a person waits on an acknowledgement: where a
    worker shares cores with the web process, the requests go first.
    """
    if nice <= 0 or getattr(_niced, "done", False):
        return
    _niced.done = True
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):  # not Linux, or not allowed: run at the same priority
        pass


def worker_name() -> str:
    """A lease owner unique to this worker: host, process and a random suffix."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    """Background threads that deliver the outbox: a claimer, senders, a lease keeper and (PostgreSQL) a listener."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        ports: ChatPort | Mapping[str | None, ChatPort | TaskPort],
        *,
        concurrency: int = 8,
        interval: float = 0.5,
        clock: Callable[[], dt.datetime] = utcnow,
        nice: int = 0,
        post_rates: Mapping[str, float | None] | None = None,
    ) -> None:
        """`post_rates` (platform -> posts a second, e.g. {"slack": SLACK_WORKSPACE_RATE}) paces each
        platform's posts across this worker's senders; a platform not in it is not limited here."""
        self._factory = factory
        # One port takes every platform's rows (one platform per process); a mapping routes by platform.
        self._ports: dict[str | None, ChatPort | TaskPort] = (
            {None: ports} if not isinstance(ports, Mapping) else {k: v for k, v in ports.items()}
        )
        self._concurrency = concurrency
        self._interval = interval
        self._nice = nice
        self._clock = clock
        self.owner = worker_name()
        self._inflight: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._senders = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="hubspoke-send")
        # Per set of buckets: when the pauses were read, and when each paused operation may go again.
        self._pauses: dict[tuple[tuple[str, str], ...], tuple[float, dict[str, dt.datetime]]] = {}
        self._resume_in: float | None = None  # seconds from the last claim round until a pause ends
        self._pause_seen = threading.Event()
        self._paces = post_rates_for(post_rates)
        self.counts: dict[str, int] = {}

    def start(self) -> None:
        """Start delivering in the background."""
        targets: list[tuple[str, Callable[[], None]]] = [("claim", self._claim_loop), ("lease", self._lease_loop)]
        if self._factory.kw["bind"].dialect.name == "postgresql":
            targets.append(("listen", self._listen_loop))
        for name, target in targets:
            thread = threading.Thread(target=target, name=f"hubspoke-outbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        paced = "".join(f", {p} posts at most {r.per_second:g}/s" for p, r in self._paces.items())
        log.info("outbox worker %s delivering, %d at a time%s", self.owner, self._concurrency, paced)

    def wake(self) -> None:
        """Look for work now rather than at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, let the sends in flight finish and record their results."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._senders.shutdown(wait=False)
        while self.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.busy():  # their leases expire and another worker takes them (see claims.LEASE)
            log.warning("outbox worker %s stopped with %d send(s) unfinished", self.owner, self.busy())
        for pace in self._paces.values():
            pace.close()

    def busy(self) -> int:
        """How many sends are in flight."""
        with self._lock:
            return len(self._inflight)

    # --- threads ---------------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        lower_priority(self._nice)
        failures = 0
        while not self._stop.is_set():
            # Claim in batches: once half the slots are free (a claim costs about as much as a send), or
            # when nothing is in flight at all, so a lone new message still goes at once.
            if self.busy() > 0 and self._concurrency - self.busy() < max(1, self._concurrency // 2):
                self._wake.wait(self._interval)
                self._wake.clear()
                continue
            try:
                claimed = self._claim_round()
                failures = 0
            except Exception:
                failures += 1
                log.exception("outbox: claiming failed (database unavailable?); retrying")
                claimed = 0
                self._stop.wait(min(self._interval * 2**failures, 10.0))
                continue
            if claimed and self.busy() <= self._concurrency // 2:
                continue  # there may be more to claim right away
            # A paused bucket's rows go the moment its pause ends, not at the next poll after it.
            wait = self._interval if self._resume_in is None else min(self._interval, self._resume_in)
            self._wake.wait(wait)
            self._wake.clear()

    def _claim_round(self) -> int:
        claimed = 0
        self._resume_in = None
        for platform, port in self._ports.items():
            free = self._concurrency - self.busy()
            if free <= 0:
                break
            now = self._clock()
            buckets = buckets_of(port)
            batch = claims.claim(
                self._factory,
                platform=platform,
                owner=self.owner,
                now=now,
                limit=free,
                post_interval=port.post_interval,
                buckets=buckets,
                paused=self._paused(buckets, now),
                read=read_work,
            )
            for message_id, work in batch:
                with self._lock:
                    self._inflight.add(message_id)
                self._senders.submit(self._send, port, message_id, work)
            claimed += len(batch)
        return claimed

    def _paused(self, buckets: dict[str, str], now: dt.datetime) -> set[str]:
        """Operations paused now: pauses are read at most every PAUSES_TTL seconds (one this worker records is
        seen at once), and each ends when its Retry-After said, not when the copy read here is next refreshed."""
        key = tuple(sorted(buckets.items()))
        cached = self._pauses.get(key)
        if cached is None or time.monotonic() - cached[0] > PAUSES_TTL or self._pause_seen.is_set():
            self._pause_seen.clear()
            with UnitOfWork(read_only(self._factory)) as uow:
                cached = (time.monotonic(), claims.pause_ends(uow.session, buckets, now))
            self._pauses[key] = cached
        ends = {op: until for op, until in cached[1].items() if until > now}
        if ends:
            resume_in = (min(ends.values()) - now).total_seconds()
            self._resume_in = resume_in if self._resume_in is None else min(self._resume_in, resume_in)
        return set(ends)

    def _send(self, port: ChatPort | TaskPort, message_id: int, work: Work | None) -> None:
        lower_priority(self._nice)
        try:
            pace = self._paces.get(port.platform)
            outcome = deliver_claimed(
                self._factory, port, message_id, self.owner, clock=self._clock, work=work, pace=pace
            )
            if outcome == "paused":
                self._pause_seen.set()
            with self._lock:
                self.counts[outcome] = self.counts.get(outcome, 0) + 1
        except Exception:  # deliver_claimed records its own failures; this is the database failing too
            log.exception("outbox message %s: no result recorded; its lease will expire", message_id)
        finally:
            with self._lock:
                self._inflight.discard(message_id)
            self._wake.set()  # its conversation may have a next message

    def _lease_loop(self) -> None:
        period = claims.LEASE.total_seconds() / 3
        while not self._stop.wait(period):
            with self._lock:
                held = list(self._inflight)
            try:
                claims.renew(self._factory, held, self.owner, self._clock())
            except Exception:
                log.warning("outbox: could not renew %d lease(s)", len(held), exc_info=True)

    def _listen_loop(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self._factory.kw["bind"].url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._wake.set()  # catch up on anything committed before we listened
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.25, stop_after=1):
                            self._wake.set()
            except Exception as exc:
                log.warning("outbox: LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
                self._stop.wait(5.0)
