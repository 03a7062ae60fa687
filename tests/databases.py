"""Migrated test databases without running the migrations for every test.

The migrations run once per session: into a template SQLite file, which each test then gets a copy of
(byte for byte what `upgrade` would have written), and into PostgreSQL schemas that are lent to one test
at a time. A lent schema is renamed to the test's own schema name (its URL's search_path), so the test
sees a just-migrated, empty schema under its own name. After the test its rows are deleted and its
sequences restarted; before it is lent again it is checked to be exactly that: nothing in the catalog
changed since the migrations made it (a test that migrated it down and up again, say, gets it dropped and
the next test a newly migrated one), no row in any table, no sequence used, alembic_version at head.

`migrate(url)` is what the fixtures call where they used to call `storage.db.upgrade(url)`: a database
the pool or the template cannot fill (one already written to) is upgraded as before.
"""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from storage.db import upgrade

# --- SQLite: a template file, copied -------------------------------------------------------------


class SqliteTemplate:
    """A migrated SQLite file, made on first use; `fill(url)` copies it to the (not yet created) file of `url`."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._path: Path | None = None

    def _template(self) -> Path:
        if self._path is None:
            path = self._directory / "template.db"
            upgrade(f"sqlite:///{path}")
            # The migrations' engine is disposed, which checkpoints the WAL into the file; make sure of it,
            # so the one file is the whole database.
            with closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            self._path = path
        return self._path

    def fill(self, url: str) -> bool:
        """Copy the template to `url`'s file if it does not exist yet (True), else leave it (False)."""
        database = make_url(url).database
        if not database or database == ":memory:":
            return False
        target = Path(database)
        if target.exists() or Path(f"{target}-wal").exists():
            return False
        template = self._template()
        shutil.copyfile(template, target)
        return True


# --- PostgreSQL: migrated schemas, lent one test at a time ----------------------------------------

# The version of every catalog row that describes a schema's objects: any DDL in it (a table, column,
# index, constraint, trigger, function, sequence or type created, altered or dropped) changes this. The
# objects are found from their dependency on the schema (pg_depend's index), not by scanning pg_class.
CATALOG = """
WITH obj AS (
    SELECT classid, objid FROM pg_depend
    WHERE refclassid = 'pg_namespace'::regclass AND refobjid = CAST(:ns AS oid)
), tab AS (
    SELECT objid AS oid FROM obj WHERE classid = 'pg_class'::regclass
), rel AS (
    SELECT oid FROM tab UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM tab)
)
SELECT md5(string_agg(k, ' ' ORDER BY k)) FROM (
    SELECT 'obj ' || classid::text || ' ' || objid::text FROM obj
    UNION ALL SELECT 'class ' || oid::text || ' ' || xmin::text FROM pg_class
        WHERE oid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'att ' || attrelid::text || '.' || attnum::text || ' ' || xmin::text FROM pg_attribute
        WHERE attrelid IN (SELECT oid FROM rel)
    UNION ALL SELECT 'def ' || oid::text || ' ' || xmin::text FROM pg_attrdef
        WHERE adrelid IN (SELECT oid FROM tab)
    UNION ALL SELECT 'con ' || oid::text || ' ' || xmin::text FROM pg_constraint
        WHERE conrelid IN (SELECT oid FROM tab)
        OR contypid IN (SELECT objid FROM obj WHERE classid = 'pg_type'::regclass)
    UNION ALL SELECT 'idx ' || indexrelid::text || ' ' || xmin::text FROM pg_index
        WHERE indrelid IN (SELECT oid FROM tab)
    UNION ALL SELECT 'trg ' || oid::text || ' ' || xmin::text FROM pg_trigger
        WHERE tgrelid IN (SELECT oid FROM tab)
    UNION ALL SELECT 'proc ' || oid::text || ' ' || xmin::text FROM pg_proc
        WHERE oid IN (SELECT objid FROM obj WHERE classid = 'pg_proc'::regclass)
    UNION ALL SELECT 'type ' || oid::text || ' ' || xmin::text FROM pg_type
        WHERE oid IN (SELECT objid FROM obj WHERE classid = 'pg_type'::regclass)
    UNION ALL SELECT 'seq ' || seqrelid::text || ' ' || xmin::text FROM pg_sequence
        WHERE seqrelid IN (SELECT oid FROM tab)
    UNION ALL SELECT 'rule ' || oid::text || ' ' || xmin::text FROM pg_rewrite
        WHERE ev_class IN (SELECT oid FROM tab)
) AS catalog(k)
"""
NAMESPACE = "SELECT oid FROM pg_namespace WHERE nspname = :schema"
TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = :schema"
SEQUENCES = "SELECT sequencename FROM pg_sequences WHERE schemaname = :schema"
FOREIGN_KEYS = (
    "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
    " WHERE contype = 'f' AND connamespace = CAST(:ns AS oid)"
)


def schema_of(url: str) -> str | None:
    """The schema a test URL's search_path names (`options=-csearch_path=...`), if any."""
    options = make_url(url).query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    for option in (options or "").split():
        if option.startswith("-csearch_path="):
            return option.split("=", 1)[1]
    return None


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresPool:
    """Test schemas (`fresh`), and migrated ones lent to one test at a time in their place (module docstring)."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url
        self._admin: Engine = create_engine(base_url)
        self._fresh: set[str] = set()  # test schemas made by fresh(), still empty as far as we know
        self._ready: list[tuple[str, str]] = []  # migrated schemas to lend: (name, catalog version when made)
        self._lent: dict[str, str] = {}  # test schema -> the catalog version of the migrated schema it is
        self._reset_sql = ""  # empties a schema the migrations made (the one first on the search_path)
        self._pristine_sql = ""  # true when it is empty, its sequences unused and alembic_version at head

    def url(self, schema: str) -> str:
        url = make_url(self._base).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def _catalog(self, conn: Connection, schema: str) -> str:
        ns = conn.execute(text(NAMESPACE), {"schema": schema}).scalar_one()
        return str(conn.execute(text(CATALOG), {"ns": ns}).scalar_one())

    def _new(self) -> tuple[str, str]:
        """A schema migrated from empty, exactly as `upgrade` migrates a test's schema."""
        schema = f"tpl_{uuid.uuid4().hex[:12]}"
        with self._admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {quote(schema)}"))
        try:
            upgrade(self.url(schema))
            with self._admin.begin() as conn:
                if not self._reset_sql:
                    self._prepare(conn, schema)
                return schema, self._catalog(conn, schema)
        except BaseException:
            with self._admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {quote(schema)} CASCADE"))
            raise

    def _prepare(self, conn: Connection, schema: str) -> None:
        """The SQL that empties a migrated schema and that checks one is as the migrations left it."""
        tables = set(conn.execute(text(TABLES), {"schema": schema}).scalars()) - {"alembic_version"}
        sequences = sorted(conn.execute(text(SEQUENCES), {"schema": schema}).scalars())
        heads = sorted(conn.execute(text(f"SELECT version_num FROM {quote(schema)}.alembic_version")).scalars())
        refs: dict[str, set[str]] = {t: set() for t in tables}  # table -> the tables that reference it
        ns = conn.execute(text(NAMESPACE), {"schema": schema}).scalar_one()
        for child, parent in conn.execute(text(FOREIGN_KEYS), {"ns": ns}):
            child, parent = child.split(".")[-1].strip('"'), parent.split(".")[-1].strip('"')
            if child != parent and parent in refs:
                refs[parent].add(child)
        order: list[str] = []  # referencing tables before the tables they reference

        def visit(table: str, path: tuple[str, ...] = ()) -> None:
            if table in order:
                return
            if table in path:
                raise RuntimeError(f"foreign keys form a cycle through {table}")
            for child in sorted(refs[table]):
                visit(child, (*path, table))
            order.append(table)

        for table in sorted(tables):
            visit(table)
        # setval, unlike ALTER SEQUENCE ... RESTART, leaves the catalog alone (and writes no new file).
        restart = (
            "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid"
            " WHERE c.relnamespace = CAST(CAST(current_schema() AS regnamespace) AS oid)"
        )
        self._reset_sql = "; ".join([f"DELETE FROM {quote(t)}" for t in order] + [restart])
        heads_sql = (
            f"(SELECT string_agg(version_num, ' ' ORDER BY version_num) FROM alembic_version) = '{' '.join(heads)}'"
        )
        checks = (
            [f"NOT EXISTS (SELECT FROM {quote(t)})" for t in sorted(tables)]
            + [f"NOT (SELECT is_called FROM {quote(seq)})" for seq in sequences]
            + [heads_sql]
        )
        self._pristine_sql = "SELECT " + " AND ".join(checks)

    def _pristine(self, conn: Connection, schema: str, version: str) -> bool:
        conn.execute(text(f"SET LOCAL search_path = {quote(schema)}"))
        return self._catalog(conn, schema) == version and bool(conn.execute(text(self._pristine_sql)).scalar())

    def fresh(self) -> str:
        """A new, empty schema for one test (as `pg_url` gives it); dropped after the test, or emptied if lent."""
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with self._admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {quote(schema)}"))
        self._fresh.add(schema)
        return schema

    def fill(self, url: str) -> bool:
        """Put a migrated schema in place of `url`'s (True); False unless it is a still empty one of fresh()'s."""
        schema = schema_of(url)
        if schema not in self._fresh:
            return False
        while True:
            lent, version = self._ready.pop() if self._ready else self._new()
            with self._admin.begin() as conn:
                if self._pristine(conn, lent, version):
                    break
                conn.execute(text(f"DROP SCHEMA {quote(lent)} CASCADE"))
        try:
            with self._admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {quote(schema)} RESTRICT"))  # fails unless it is still empty
                conn.execute(text(f"ALTER SCHEMA {quote(lent)} RENAME TO {quote(schema)}"))
        except Exception:
            self._ready.append((lent, version))
            return False
        self._fresh.discard(schema)
        self._lent[schema] = version
        return True

    def finish(self, schema: str) -> None:
        """After the test: its schema emptied back into the pool if it was lent, else dropped."""
        self._fresh.discard(schema)
        version = self._lent.pop(schema, None)
        with self._admin.begin() as conn:
            # A test may leave a session open in a transaction (the outage tests black-hole theirs):
            # end whoever still holds locks in the schema, so emptying or dropping it never waits on them.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                ),
                {"schema": schema},
            )
        if version is not None:
            ready = f"tpl_{uuid.uuid4().hex[:12]}"
            try:
                with self._admin.begin() as conn:
                    conn.execute(text(f"SET LOCAL search_path = {quote(schema)}"))
                    conn.exec_driver_sql(self._reset_sql)
                    conn.execute(text(f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(ready)}"))
            except Exception:  # a table the test dropped, say: not one to lend again
                pass
            else:
                self._ready.append((ready, version))  # checked again before it is lent (fill)
                return
        with self._admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {quote(schema)} CASCADE"))

    def close(self) -> None:
        with self._admin.begin() as conn:
            for schema, _ in self._ready:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE"))
        self._ready.clear()
        self._admin.dispose()
