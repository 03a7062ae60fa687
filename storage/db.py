"""Engines, sessions, the unit of work, and schema migrations."""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "hubspoke_read_only"
BACKGROUND = "hubspoke_background"  # outbox work: on SQLite it lets a waiting request's write go first
HOLDS_WRITER = "hubspoke_holds_writer"
CHECKED_IN_AT = "hubspoke_checked_in_at"
PING_AFTER_IDLE = 10.0  # seconds a pooled connection may sit before it is checked on checkout


class WriterQueue:
    """SQLite's one writer, as a lock where requests go before background work (the outbox) waiting with them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._urgent_waiting = 0

    def acquire(self, *, urgent: bool, timeout: float) -> bool:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                free = self._cond.wait_for(
                    lambda: not self._held and (urgent or self._urgent_waiting == 0), timeout=timeout
                )
                if free:
                    self._held = True
                return free
            finally:
                if urgent:
                    self._urgent_waiting -= 1
                    if not self._held or self._urgent_waiting == 0:
                        self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


def make_engine(
    url: str, *, connect_timeout: float | None = None, statement_timeout: float | None = None, **kwargs: Any
) -> Engine:
    """An engine for `url`, with SQLite's WAL, foreign keys and write-safe transactions.

    `connect_timeout` and `statement_timeout` (seconds) bound how long a call can wait on a database
    that has stopped answering: on PostgreSQL the connect timeout, TCP keepalives and a TCP user
    timeout (a black-holed server is given up on), and `statement_timeout` for each query; on SQLite
    the busy timeout. Without them (migrations) statements may run as long as they need.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy_ms = int((statement_timeout or 30) * 1000)
        # Enough pooled connections for every thread that may hold one (listeners, outbox senders), so
        # none is opened and closed per request (each new one re-runs the PRAGMAs below).
        kwargs.setdefault("pool_size", 40)
        kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (see below) instead of pysqlite's lazy implicit BEGIN.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the
                # process being killed (kill -9 included); only a power cut can lose the last ones.
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        # SQLite has one writer at a time. Within this process writers queue on a lock, woken the moment
        # it is free; left to SQLite's busy handler they would poll with sleeps of up to 100 ms, and a
        # request could wait seconds behind the outbox. Other processes (the CLI) still meet busy_timeout.
        writer = WriterQueue()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the lock up front (IMMEDIATE), so two of them queue instead of failing with
            # "database is locked" when a read lock cannot be upgraded. Read-only sessions (see
            # read_only) begin deferred and, under WAL, never wait.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
                return
            urgent = not conn.get_execution_options().get(BACKGROUND)
            if not writer.acquire(urgent=urgent, timeout=busy_ms / 1000):
                raise OperationalError("BEGIN IMMEDIATE", {}, TimeoutError("database is locked (writer queue)"))
            conn.info[HOLDS_WRITER] = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                _release(conn.info)
                raise

        def _release(info: dict[str, Any]) -> None:
            if info.pop(HOLDS_WRITER, False):
                writer.release()

        event.listen(engine, "commit", lambda conn: _release(conn.info))
        event.listen(engine, "rollback", lambda conn: _release(conn.info))
        event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))  # never leak it
        return engine
    connect_args: dict[str, Any] = {}
    if connect_timeout:
        wait = max(1, math.ceil(connect_timeout))
        connect_args.update(
            connect_timeout=wait,
            keepalives=1,
            keepalives_idle=wait,
            keepalives_interval=1,
            keepalives_count=3,
            tcp_user_timeout=wait * 1000,
        )
        kwargs.setdefault("pool_timeout", wait)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    # Pessimistic disconnect handling, but only for connections idle long enough to have gone stale (a
    # ping on every checkout is a round trip on every request). One that died sooner fails its query,
    # and SQLAlchemy then replaces every pooled connection (a disconnect invalidates the pool).
    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(CHECKED_IN_AT)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError("stale connection") from exc

    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_connection: Any, record: Any) -> None:
        record.info[CHECKED_IN_AT] = time.monotonic()

    if statement_timeout:

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(statement_timeout * 1000)}")
            dbapi_connection.commit()

    return engine


# Where a deployment delivers, kept in its sessions' info (configure_delivery): "platforms" it has a
# sender for, most preferred first; "hub_platforms" those with a hub channel.
PLATFORMS = "platforms"
HUB_PLATFORMS = "hub_platforms"
HUB_CALENDAR = "hub_calendar"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (services return plain data anyway)."""
    # `info` is shared with the background and read-only factories derived from this one.
    return sessionmaker(engine, expire_on_commit=False, info={})


def configure_delivery(factory: sessionmaker[Session], platforms: Sequence[str], hub_platforms: Sequence[str]) -> None:
    """Say where this deployment delivers: the platforms it sends to (preferred first), those with a hub channel.

    The outbox addresses people and the hub by it (storage.repo.enqueue).
    """
    info = factory.kw.setdefault("info", {})
    info[PLATFORMS] = tuple(platforms)
    info[HUB_PLATFORMS] = tuple(hub_platforms)


def configure_calendar(factory: sessionmaker[Session], config: Any) -> None:
    """Say which hub calendar (working hours, holidays, zone) messages to people wait for (intake.calendar)."""
    factory.kw.setdefault("info", {})[HUB_CALENDAR] = config


def configure_llm(factory: sessionmaker[Session], enabled: bool) -> None:
    """Say whether saved use cases ask the LLM for its view of their risk (intake.submission.LLM_ASSIST)."""
    factory.kw.setdefault("info", {})["llm_assist"] = enabled


# Derived factories, one per factory, kept only while the factory itself is alive (a test suite
# builds hundreds of factories; holding them would keep each one's engine and its connections open).
_DERIVED: weakref.WeakKeyDictionary[sessionmaker[Session], dict[str, sessionmaker[Session]]] = (
    weakref.WeakKeyDictionary()
)


def _derived(factory: sessionmaker[Session], option: str) -> sessionmaker[Session]:
    made = _DERIVED.setdefault(factory, {})
    if option not in made:
        bind = factory.kw["bind"]
        info = factory.kw.setdefault("info", {})  # shared: configure_delivery reaches every derived factory
        made[option] = sessionmaker(bind.execution_options(**{option: True}), expire_on_commit=False, info=info)
    return made[option]


def background(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for work nobody is waiting on (outbox delivery): on SQLite, requests' writes go first."""
    return _derived(factory, BACKGROUND)


def read_only(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reads: on SQLite they do not take the write lock."""
    return _derived(factory, READ_ONLY)


class UnitOfWork:
    """One transaction: rolls back on exit unless `commit()` was called."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session
        # Writes that must commit with whatever the service commits (marking the task that ran it done).
        self.before_commit: list[Callable[[Session], None]] = []

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.session.begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.session.in_transaction():
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        for hook in self.before_commit:
            hook(self.session)
        self.before_commit.clear()
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads


def is_embedded(url: str) -> bool:
    """True for the embedded SQLite default (migrations apply on start)."""
    return make_url(url).get_backend_name() == "sqlite"
