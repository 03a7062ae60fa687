"""Registers as tables: read CSV, JSONL or XLSX into rows of text, and write CSV or JSONL back out."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from intake.errors import HubError

FORMATS = ("csv", "jsonl", "xlsx")
_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".xlsm": "xlsx"}


@dataclass(frozen=True)
class Row:
    """One record of a register: where it is in the file, its cells as text, or why it could not be read."""

    line: int
    values: dict[str, str]
    error: str | None = None


@dataclass
class Table:
    """A register read into memory; `unit` is what `Row.line` counts ("line" in text files, "row" in sheets)."""

    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    unit: str = "line"


def detect_format(path: Path, given: str | None = None) -> str:
    """The format named, or the one the file's extension implies."""
    if given:
        return given
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise HubError(f"Cannot tell the format of {path.name}; say --format csv, jsonl or xlsx.") from None


def read_table(path: Path, fmt: str | None = None, *, sheet: str | None = None) -> Table:
    """Read a whole register; unreadable files raise HubError, unreadable records become rows with an error."""
    fmt = detect_format(path, fmt)
    if not path.is_file():
        raise HubError(f"There is no file {path}.")
    try:
        if fmt == "csv":
            return _read_csv(path)
        if fmt == "jsonl":
            return _read_jsonl(path)
        return _read_xlsx(path, sheet)
    except UnicodeDecodeError:
        raise HubError(f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8' and try again.") from None


def cell_text(value: Any) -> str:
    """A cell as trimmed text: numbers without a spurious .0, dates in ISO form, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _header(cells: Iterable[Any], path: Path) -> list[str]:
    names = [cell_text(c) for c in cells]
    seen = [n for n in names if n]
    if not seen:
        raise HubError(f"{path.name} has no header row naming its columns.")
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise HubError(f"{path.name} names the column {', '.join(repr(d) for d in dupes)} more than once.")
    return names


def _record(names: list[str], cells: Iterable[Any]) -> dict[str, str]:
    return {name: cell_text(cell) for name, cell in zip(names, cells, strict=False) if name}


def _read_csv(path: Path) -> Table:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            names = _header(next(reader), path)
        except StopIteration:
            raise HubError(f"{path.name} is empty.") from None
        table = Table(columns=[n for n in names if n])
        while True:
            start = reader.line_num + 1  # a record may span lines; report the one it starts on
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                table.rows.append(Row(start, {}, f"unreadable CSV ({exc})"))
                break
            if any(c.strip() for c in cells):
                table.rows.append(Row(start, _record(names, cells)))
    return table


def _flatten(obj: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": cell_text(v) for k, v in value.items()})
        else:
            flat[key] = cell_text(value)
    return flat


def _read_jsonl(path: Path) -> Table:
    table = Table(columns=[])
    columns: dict[str, None] = {}
    with path.open(encoding="utf-8-sig") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                table.rows.append(Row(number, {}, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(obj, dict):
                table.rows.append(Row(number, {}, "not a JSON object"))
                continue
            values = _flatten(obj)
            columns.update(dict.fromkeys(values))
            table.rows.append(Row(number, values))
    table.columns = list(columns)
    return table


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook  # only imported when a sheet is read

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for a bad file
        raise HubError(f"{path.name} is not an Excel workbook ({exc}).") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise HubError(f"{path.name} has no sheet '{sheet}'; it has: {', '.join(book.sheetnames)}.")
        rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
        try:
            names = _header(next(rows), path)
        except StopIteration:
            raise HubError(f"{path.name} is empty.") from None
        table = Table(columns=[n for n in names if n], unit="row")
        for number, cells in enumerate(rows, start=2):
            values = _record(names, cells)
            if any(values.values()):
                table.rows.append(Row(number, values))
        return table
    finally:
        book.close()


# --- writing -------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    """How a value is written to CSV: lists as JSON, dates in ISO form, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def write_csv(out: IO[str], columns: list[str], records: Iterable[dict[str, Any]]) -> None:
    """Write records as CSV with a header, in `columns` order."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(record.get(c)) for c in columns])


def write_jsonl(out: IO[str], records: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object a line, keys in the order given, UTF-8 text unescaped."""
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
