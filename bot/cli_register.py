"""`hubspoke import usecases` and `hubspoke export usecases`: bring a register in, write the hub out."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import IO

from intake.register import (
    FIELDS,
    FORMATS,
    PRESETS,
    ImportReport,
    build_mapping,
    detect_format,
    export_use_cases,
    import_register,
    read_table,
    write_export,
)
from intake.register.service import CHUNK

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


def format_report(report: ImportReport) -> str:
    """The summary a person reads after an import: counts, notes, then every skipped row and why."""
    lines = [f"{report.file or 'register'} ({report.source}): {report.read:,} rows read"]
    counts = [
        ("inserted", report.inserted),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("skipped", len(report.skipped)),
    ]
    width = max(len(f"{n:,}") for _, n in counts)
    lines += [f"  {n:>{width},} {what}" for what, n in counts]
    if report.departments_created:
        lines.append(f"  {len(report.departments_created):,} new departments")
    lines += [f"{n:,} rows had {note}" for note, n in report.notes.items()]
    lines += [f"skipped {report.unit} {s.line}: {s.reason}" for s in report.skipped]
    if report.dry_run:
        lines.append("Dry run: nothing was written.")
    return "\n".join(lines)


def cmd_import_usecases(args: argparse.Namespace) -> int:
    """Import a register of use cases; print what was inserted, updated, unchanged and skipped."""
    from bot.cli import _core, _settings

    path = Path(args.file)
    fmt = detect_format(path, args.format)
    mapping = build_mapping(
        args.preset, args.map, id_column=args.id_column, source=args.source, default_source=path.stem
    )
    table = read_table(path, fmt, sheet=args.sheet)
    core = _core(_settings())
    progress = ProgressLine(sys.stderr) if len(table.rows) > CHUNK else None
    report = core.run(import_register, table, mapping, dry_run=args.dry_run, progress=progress, file_name=path.name)
    print(format_report(report))
    return 0


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
    uc.add_argument("--dry-run", action="store_true", help="show what would happen; write nothing")
    uc.set_defaults(func=cmd_import_usecases)

    exp = sub.add_parser("export", help="write the hub out as a register").add_subparsers(dest="what", required=True)
    out = exp.add_parser("usecases", help="every use case as CSV or JSONL, with register ids")
    out.add_argument("--format", choices=("csv", "jsonl"), help="default: from --output's extension, else csv")
    out.add_argument("--output", "-o", help="a file to write (default: stdout)")
    out.set_defaults(func=cmd_export_usecases)
