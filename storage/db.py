"""Engines, sessions, the unit of work, and schema migrations."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "hubspoke_read_only"


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
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (see below) instead of pysqlite's lazy implicit BEGIN.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if parsed.database and parsed.database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the lock up front (IMMEDIATE), so two of them queue on busy_timeout
            # instead of failing with "database is locked" when a read lock cannot be upgraded.
            # Read-only sessions (see read_only) begin deferred and, under WAL, never wait.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

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
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if statement_timeout:

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(statement_timeout * 1000)}")
            dbapi_connection.commit()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (services return plain data anyway)."""
    return sessionmaker(engine, expire_on_commit=False)


def read_only(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for reads: on SQLite they do not take the write lock."""
    bind = factory.kw["bind"]
    return sessionmaker(bind.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


class UnitOfWork:
    """One transaction: rolls back on exit unless `commit()` was called."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session

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
