"""`hubspoke import usecases` and `hubspoke export usecases`: bring a register in, write the hub out."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot import cli_audit
from intake.errors import HubError
from intake.register import (
    FIELDS,
    FORMATS,
    PRESETS,
    ImportReport,
    Mapping,
    Table,
    TableError,
    build_mapping,
    detect_format,
    export_use_cases,
    import_register,
    read_table,
    write_export,
)
from intake.register.service import CHUNK

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.settings import Settings

IMPORT_EPILOG = "\n".join(
    [
        "presets: omb (the US federal AI use-case inventory), hubspoke (this hub's own export)",
        "fields for --map FIELD=COLUMN (FIELD=COL1,COL2 joins several columns):",
        *(f"  {name:<18} {what}" for name, what in FIELDS.items()),
    ]
)


class ProgressLine:
    """Progress on stderr: one line rewritten in place on a terminal, a line per batch otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        text = f"importing: {done:,}/{total:,} rows"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done >= total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


SCAN_HINT = (
    "Next: hubspoke similar --scan finds their likely duplicates across departments, for the portfolio, receipts "
    "and review cards (it notifies nobody)."
)


def counted(n: int, thing: str, things: str | None = None) -> str:
    """`1 row`, `2 rows`: a count with its noun in the right number."""
    return f"{n:,} {thing if n == 1 else things or thing + 's'}"


def format_report(report: ImportReport) -> str:
    """The summary a person reads after an import: counts, the columns read and ignored, notes, then every
    skipped row and why."""
    lines = [f"{report.file or 'register'} ({report.source}): {counted(report.read, 'row')} read"]
    counts = [
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("skipped", len(report.skipped)),
    ]
    width = max(len(f"{n:,}") for _, n in counts)
    lines += [f"  {n:>{width},} {what}" for what, n in counts]
    if report.departments_created:
        lines.append(f"  {counted(len(report.departments_created), 'new department')}")
    if report.people_created:
        lines.append(f"  {counted(len(report.people_created), 'new person', 'new people')}")
    if report.columns:
        lines.append("columns read: " + ", ".join(f"{c} → {' + '.join(u)}" for c, u in report.columns.items()))
    if report.ignored:
        lines.append("columns ignored (kept in extra): " + ", ".join(report.ignored))
    lines += [f"{counted(n, 'row')} had {note}" for note, n in report.notes.items()]
    lines += [f"skipped {report.unit} {s.line}: {s.reason}" for s in report.skipped]
    if report.dry_run:
        lines.append("Dry run: nothing was written.")
    return "\n".join(lines)


def cmd_import_usecases(args: argparse.Namespace) -> int:
    """Import a register of use cases; print what was inserted, updated, unchanged and skipped.

    A file whose rows cannot be told apart is refused (exit status 2) before the database is opened.
    """
    from bot.cli import _core, _settings

    path = Path(args.file)
    fmt = detect_format(path, args.format)
    mapping = build_mapping(
        args.preset, args.map, id_column=args.id_column, source=args.source, default_source=path.stem
    )
    try:
        table = read_table(path, fmt, sheet=args.sheet, delimiter=args.delimiter)
    except TableError as exc:
        print(f"hubspoke: {exc.message}\nNothing was imported.", file=sys.stderr)
        return 2
    progress = ProgressLine(sys.stderr) if len(table.rows) > CHUNK else None
    if args.dry_run:
        report = dry_run_import(_settings(), table, mapping, progress=progress, file_name=path.name)
    else:
        core = _core(_settings())
        report = core.run(import_register, table, mapping, progress=progress, file_name=path.name)
    print(format_report(report))
    if not report.dry_run and (report.inserted or report.updated):
        print(SCAN_HINT)
    return 0


def dry_run_import(
    settings: Settings, table: Table, mapping: Mapping, *, progress: ProgressLine | None, file_name: str
) -> ImportReport:
    """What an import would do, writing nothing: not even a database file, nor a migration of one."""
    from storage.db import UnitOfWork
    from storage.types import utcnow

    with UnitOfWork(dry_run_database(settings)) as uow:
        return import_register(uow, table, mapping, now=utcnow(), dry_run=True, progress=progress, file_name=file_name)


def dry_run_database(settings: Settings) -> sessionmaker[Session]:
    """The database a dry run compares the file with: the configured one when it exists and is current
    (a dry run migrates nothing), else an empty one in memory (a SQLite file not made yet has no rows)."""
    from sqlalchemy.engine import make_url

    from storage.db import is_current, make_engine, make_session_factory

    url = make_url(settings.database_url)
    file = url.database if url.database and url.database != ":memory:" else None
    if url.get_backend_name() == "sqlite" and (file is None or not Path(file).is_file()):
        return _empty_database()
    engine = make_engine(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout,
        statement_timeout=settings.database_statement_timeout,
    )
    if not is_current(engine):
        engine.dispose()
        raise HubError(
            "The database schema is not current, and a dry run does not migrate it: run `hubspoke db upgrade`."
        )
    return make_session_factory(engine)


def _empty_database() -> sessionmaker[Session]:
    """A migrated SQLite database in memory, gone when the command ends."""
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from storage.db import alembic_config, make_session_factory

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    with engine.begin() as conn:
        config = alembic_config("sqlite://")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return make_session_factory(engine)


def cmd_export_usecases(args: argparse.Namespace) -> int:
    """Write every use case out as CSV or JSONL (UTF-8), to a file or stdout."""
    from bot.cli import _core, _settings

    suffix = Path(args.output).suffix.lower() if args.output else ""
    fmt = args.format or ("jsonl" if suffix in (".jsonl", ".ndjson") else "csv")
    records = _core(_settings()).read(export_use_cases)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            write_export(out, records, fmt)
        print(f"exported {len(records):,} use cases to {args.output}", file=sys.stderr)
    else:
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            write_export(out, records, fmt)
        finally:
            out.flush()
            out.detach()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import usecases` and `export usecases` to the `hubspoke` command."""
    imp = sub.add_parser("import", help="bring in an existing register").add_subparsers(dest="what", required=True)
    uc = imp.add_parser(
        "usecases",
        help="import use cases from CSV, JSONL or XLSX",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    uc.add_argument("file", help="the register: .csv (UTF-8), .jsonl or .xlsx")
    uc.add_argument("--preset", choices=sorted(PRESETS), help="a known register format")
    uc.add_argument(
        "--map", action="append", default=[], metavar="FIELD=COLUMN", help="read FIELD from COLUMN (repeatable)"
    )
    uc.add_argument("--id-column", help="the column holding each row's id in the register (default: id)")
    uc.add_argument("--source", help="the register's name, stored on every row (default: the file's name)")
    uc.add_argument("--format", choices=FORMATS, help="default: from the file's extension")
    uc.add_argument("--sheet", help="the sheet to read from an .xlsx (default: the first)")
    uc.add_argument("--delimiter", help="what separates a CSV's cells: one character, or tab (default: ,)")
    uc.add_argument("--dry-run", action="store_true", help="show what would happen; write nothing")
    uc.set_defaults(func=cmd_import_usecases)

    exp = sub.add_parser("export", help="write the hub out as a register").add_subparsers(dest="what", required=True)
    out = exp.add_parser("usecases", help="every use case as CSV or JSONL, with register ids")
    out.add_argument("--format", choices=("csv", "jsonl"), help="default: from --output's extension, else csv")
    out.add_argument("--output", "-o", help="a file to write (default: stdout)")
    out.set_defaults(func=cmd_export_usecases)
    cli_audit.add_audit_export(exp)
