"""What bench/ack.py runs against: FakeSlack in a child process, server subprocesses, the database."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from intake.register import build_mapping, import_register, read_table
from storage.db import UnitOfWork, make_engine, make_session_factory, upgrade
from storage.models import OutboxMessage, Review
from storage.types import utcnow
from tests.fakes.slack_api import FakeSlack, PostLimit

# --- the fake Slack Web API, in its own process so its work never stalls the client's clock ------


def _serve_fake(
    conn: Connection,
    latency: float = 0.0,
    workspace_limit: PostLimit | None = None,
    channel_limit: PostLimit | None = None,
) -> None:
    """Child process: run FakeSlack and answer "summary" until told to "stop" (or the parent goes)."""
    # Validating Block Kit costs the fake milliseconds of CPU a call, on the cores the servers share;
    # the tests validate everything the bot sends, so the benchmark does not.
    fake = FakeSlack(
        latency=latency, validate=False, workspace_limit=workspace_limit, channel_limit=channel_limit
    ).start()
    conn.send((fake.base_url, fake.hook_url))
    try:
        while conn.poll(3600):
            if conn.recv() == "stop":
                break
            calls = list(fake.calls)  # a snapshot; the server threads only ever append
            hooks = [str(c.params.get("text", "")) for c in calls if c.method.startswith("response_url:")]
            opened = [c.params["view"] for c in calls if c.method == "views.open"]
            conn.send(
                {
                    "methods": Counter(c.method for c in calls),
                    "failures": [h for h in hooks if "went wrong" in h],
                    "already_decided": sum("already" in h.lower() for h in hooks),
                    "invalid": list(fake.invalid),
                    "last_view": opened[-1] if opened else None,
                    # every message posted, by (channel, fallback text): how often each arrived
                    "posted": Counter(
                        (str(c.params.get("channel")), str(c.params.get("text")))
                        for c in calls
                        if c.method == "chat.postMessage"
                    ),
                    # when each accepted post was answered (time.time()), for rates over time
                    "post_times": sorted(c.at for c in calls if c.method == "chat.postMessage"),
                }
            )
    finally:
        fake.stop()


class FakeSlackProcess:
    """FakeSlack on a loopback port, served by a child process; each Web API call takes `latency` seconds.

    `workspace_rate` (posts a second, after a burst of `burst`) and `channel_rate` (posts a second to
    one conversation, no burst) make chat.postMessage answer 429 with Retry-After above them.
    """

    def __init__(
        self,
        latency: float = 0.0,
        *,
        workspace_rate: float | None = None,
        burst: float | None = None,
        channel_rate: float | None = None,
    ) -> None:
        self.latency = latency
        self.workspace_limit = PostLimit(workspace_rate, burst or workspace_rate) if workspace_rate else None
        self.channel_limit = PostLimit(channel_rate) if channel_rate else None

    def __enter__(self) -> FakeSlackProcess:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve_fake,
            args=(child, self.latency, self.workspace_limit, self.channel_limit),
            daemon=True,
            name="fake-slack",
        )
        self._proc.start()
        if not self._conn.poll(30):
            self.__exit__()
            raise RuntimeError("the fake Slack API did not start")
        self.base_url, self.hook_url = self._conn.recv()
        return self

    def summary(self) -> dict[str, Any]:
        self._conn.send("summary")
        if not self._conn.poll(30):
            raise RuntimeError("the fake Slack API stopped answering")
        return cast(dict[str, Any], self._conn.recv())

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


# --- servers under test ----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema(base: str, prefix: str) -> Iterator[str | None]:
    """A URL whose search_path is a new schema (`prefix_<hex>`), dropped afterwards; None when unreachable."""
    from sqlalchemy.exc import OperationalError

    admin = create_engine(base, connect_args={"connect_timeout": 3})
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        print(f"postgres: skipped, cannot connect ({str(exc.orig).strip().splitlines()[0]})")
        admin.dispose()
        yield None
        return
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def cpu_of(pid: int) -> float:
    """User plus system CPU a process has used (Linux; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    base: str
    pid: int
    helpers: list[int] = field(default_factory=list)  # processes doing its work beside it (outbox workers)

    def cpu_seconds(self) -> float:
        """User plus system CPU the server and its helpers have used."""
        return cpu_of(self.pid) + sum(cpu_of(p) for p in self.helpers)


@contextlib.contextmanager
def spawn(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a background process (no /healthz: a worker), logging to NAME.log, and always stop it."""
    with open(workdir / f"{name}.log", "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(workdir / f'{name}.log')}")
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@contextlib.contextmanager
def serve(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Iterator[Server]:
    """Start a server subprocess, wait for its /healthz, and always stop it."""
    log_path = workdir / f"{name}.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} never became healthy:\n{tail(log_path)}")
                time.sleep(0.1)
            yield Server(base, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def hubspoke_cli(env: dict[str, str], workdir: Path, *args: str) -> None:
    done = subprocess.run([hubspoke_exe(), *args], env=env, cwd=workdir, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"hubspoke {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def hubspoke_exe() -> str:
    beside = Path(sys.executable).parent / "hubspoke"
    found = str(beside) if beside.exists() else shutil.which("hubspoke")
    if not found:
        raise SystemExit("hubspoke is not installed: activate the project's venv (. .venv/bin/activate)")
    return found


@contextlib.contextmanager
def bench_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A temporary SQLite file by default; on PostgreSQL a fresh schema, dropped afterwards."""
    if url is None:
        path = workdir / f"bench-{uuid.uuid4().hex[:10]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)
        return
    if make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield (
                make_url(url)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


class Db:
    """What the benchmark checks in Hubspoke's database between phases."""

    def __init__(self, url: str) -> None:
        self.url = url
        # A plain engine: storage.db's SQLite engine begins IMMEDIATE, which would take the bot's write lock.
        self.engine: Engine = create_engine(url)

    def _scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def pending_reviews(self) -> list[int]:
        with self.engine.connect() as conn:
            query = select(Review.use_case_id).where(Review.decision.is_(None)).order_by(Review.use_case_id)
            return list(conn.execute(query).scalars())

    def decided(self) -> int:
        return int(self._scalar(select(func.count()).select_from(Review).where(Review.decision.is_not(None))))

    def outbox_pending(self) -> int:
        undelivered = (OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))
        return int(self._scalar(select(func.count()).select_from(OutboxMessage).where(*undelivered)))

    def outbox_failed(self) -> int:
        failed = OutboxMessage.failed_at.is_not(None)
        return int(self._scalar(select(func.count()).select_from(OutboxMessage).where(failed)))

    def wait_quiet(self, decided: int | None = None, timeout: float = 180) -> None:
        """Wait until the listeners' work after ack is done and the outbox is delivered."""
        deadline = time.monotonic() + timeout
        while (decided is not None and self.decided() < decided) or self.outbox_pending():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Hubspoke did not settle: {self.decided()} decided, {self.outbox_pending()} unsent")
            time.sleep(0.2)


# --- seeding -------------------------------------------------------------------------------------

SEED_ANSWERS = {
    "problem": "Finance guesses monthly invoice volumes by hand and staffs the team wrong.",
    "department": "Finance",
    "benefit": "Right-sized team, fewer late payments",
    "success_metric": "Late payments down 30% by Q3",
    "data_sources": "ERP invoice history",
    "data_availability": "available",
    "data_sensitivity": "personal",  # medium risk: it waits for hub review
    "people_affected": "internal",
    "autonomy": "assistive",
}


def seed_reviews(url: str, count: int, reviewer: str = "UREV", spoke: str = "USPOKE") -> list[int]:
    """`count` use cases waiting for `reviewer`'s review, submitted through the services by `spoke`."""
    from bot.core import Core
    from bot.settings import Settings
    from intake import hub, people, submission
    from intake.people import SYSTEM, PersonRef
    from intake.schema import Submission
    from storage.db import UnitOfWork, make_engine, make_session_factory

    settings = Settings(_env_file=None, database_url=url)
    engine = make_engine(url)
    core = Core(settings=settings, session_factory=make_session_factory(engine))
    try:
        with UnitOfWork(core.session_factory) as u:
            actor, _ = people.resolve_actor(u, PersonRef("slack", spoke, "sam"), leads=frozenset(), now=core.now())
        core.run(hub.add_reviewer, SYSTEM, PersonRef("slack", reviewer, "Rita"), skills=["forecasting"])
        return [
            core.run(
                submission.submit_use_case,
                actor,
                Submission.model_validate({**SEED_ANSWERS, "title": f"Forecast invoice volumes {n}"}),
            ).use_case.id
            for n in range(count)
        ]
    finally:
        engine.dispose()


def import_inventory(url: str, path: Path) -> str:
    """Import the inventory with the OMB preset; a line saying what was imported and how long it took."""
    upgrade(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with UnitOfWork(make_session_factory(engine)) as uow:
            report = import_register(
                uow, read_table(path), build_mapping("omb", [], default_source="omb"), now=utcnow()
            )
        wall = time.perf_counter() - started
    finally:
        engine.dispose()
    skipped = "; ".join(f"line {s.line}: {s.reason}" for s in report.skipped)
    return f"imported {report.inserted:,} use cases in {wall:.1f} s" + (f" (skipped {skipped})" if skipped else "")
