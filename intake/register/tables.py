"""Registers as tables: read CSV, JSONL or XLSX into rows of text, and write CSV or JSONL back out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
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


def read_table(path: Path, fmt: str | None = None, *, sheet: str | None = None, delimiter: str | None = None) -> Table:
    """Read a whole register; unreadable files raise HubError (TableError when a CSV's rows cannot be told
    apart), unreadable JSONL records become rows with an error."""
    fmt = detect_format(path, fmt)
    if not path.is_file():
        raise HubError(f"There is no file {path}.")
    try:
        if fmt == "csv":
            return _read_csv(path, delimiter_of(delimiter))
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


DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_LIKELY_DELIMITERS = (",", ";", "\t", "|")


class TableError(HubError):
    """A file whose rows cannot be told apart as it stands (a quote left open, a ragged row, the wrong
    delimiter): nothing is imported from it."""


def delimiter_of(given: str | None) -> str:
    """The character `--delimiter` names: itself, or tab / comma / semicolon / pipe by name."""
    if not given:
        return ","
    found = DELIMITER_NAMES.get(given.casefold(), given)
    if len(found) != 1 or found in '"\r\n':
        raise HubError(f"--delimiter takes one character, or tab; not '{given}'.")
    return found


def _shown(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else f"'{delimiter}'"


def _lines(text: str, start: int) -> Iterator[str]:
    """The file's lines from line `start` on, as csv counts them."""
    return itertools.islice(io.StringIO(text, newline=""), start - 1, None)


def _quote_opened(cells: list[str], start: int, *, last: bool = False) -> int | None:
    """The line a record's first (or last) multi-line cell starts on: where its quote opened."""
    found = None
    line = start
    for cell in cells:
        breaks = len(re.findall(r"\r\n|\r|\n", cell))
        if breaks:
            found = line
            if not last:
                break
        line += breaks
    return found


def _swallowed(cells: list[str], width: int, delimiter: str) -> str | None:
    """A line inside a multi-line cell that reads as a row of its own (a quote left open swallowed it)."""
    for cell in cells:
        for inner in re.split(r"\r\n|\r|\n", cell)[1:]:
            parts = next(csv.reader([inner], delimiter=delimiter), [])
            # A line of prose can hold a comma or two: with fewer than five columns, a line is taken for a
            # row only when it also starts the way ids do (one word, no spaces).
            if len(parts) == width and width >= 3 and (width >= 5 or (parts[0] and not re.search(r"\s", parts[0]))):
                return inner
    return None


def _check_delimiter(text: str, names: list[str], delimiter: str, path: Path) -> None:
    """One column read while the header line holds another likely delimiter: say which to use."""
    if len(names) != 1:
        return
    header = next(_lines(text, 1), "")
    counts = {d: header.count(d) for d in _LIKELY_DELIMITERS if d != delimiter}
    likely = max(counts, key=lambda d: counts[d])
    if counts[likely]:
        name = "tab" if likely == "\t" else likely
        raise TableError(
            f"{path.name}: line 1: only one column was found; the file looks {name}-separated: "
            f"try --delimiter {_shown(likely)}"
        )


def _read_csv(path: Path, delimiter: str = ",") -> Table:
    """Read a CSV file whole, refusing it (TableError) where a row would run into another or lose cells."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        names = _header(next(reader), path)
    except StopIteration:
        raise HubError(f"{path.name} is empty.") from None
    except csv.Error as exc:
        raise TableError(f"{path.name}: {_unreadable(text, 1, reader.line_num, delimiter, exc)}") from None
    _check_delimiter(text, names, delimiter, path)
    table = Table(columns=[n for n in names if n])
    while True:
        start = reader.line_num + 1  # a record may span lines; report the one it starts on
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TableError(f"{path.name}: {_unreadable(text, start, reader.line_num, delimiter, exc)}") from None
        if not any(c.strip() for c in cells):
            continue
        if problem := _ragged(cells, len(names), start, reader.line_num, delimiter):
            raise TableError(f"{path.name}: {problem}")
        table.rows.append(Row(start, _record(names, cells)))
    return table


def _ragged(cells: list[str], width: int, start: int, end: int, delimiter: str) -> str | None:
    """Why a record cannot be a row of the table (its cell count, or rows swallowed by an open quote)."""
    opened = _quote_opened(cells, start)
    if len(cells) != width and opened and end > start:
        return (
            f"line {opened}: a quote opened here runs on to line {end}, so lines {opened}-{end} would be "
            f"one cell (that row has {len(cells)} cells, the header has {width}); close the quote, or double "
            'a quote inside a cell ("")'
        )
    if len(cells) > width:
        return (
            f"line {start} has {len(cells)} cells, the header has {width}: is there a {_shown(delimiter)} inside "
            "a cell that is not in double quotes?"
        )
    if len(cells) < width:
        return (
            f"line {start} has {len(cells)} cells, the header has {width}: a cell left out, or a line break "
            "inside a cell that is not in double quotes?"
        )
    if opened and (inner := _swallowed(cells, width, delimiter)):
        return (
            f"line {opened}: a quote opened here runs on to line {end}, and that cell holds '{inner[:60]}', "
            'which reads as a row of its own; close the quote, or double a quote inside a cell ("")'
        )
    return None


def _unreadable(text: str, start: int, end: int, delimiter: str, exc: csv.Error) -> str:
    """What is wrong with a record csv cannot read (strictly): a quote never closed, or closed mid-cell."""
    loose = csv.reader(_lines(text, start), delimiter=delimiter)
    cells = next(loose, [])
    never_closed = "unexpected end of data" in str(exc)
    opened = _quote_opened(cells, start, last=never_closed)
    line = opened or start
    if never_closed:
        return f"line {line}: a quote opened here is never closed, so the rest of the file would be one cell"
    if "expected after" not in str(exc):
        return f"line {end}: unreadable CSV ({exc})"
    if opened:
        return (
            f"line {line}: a quote opened here runs on to line {end}, so lines {line}-{end} would be one cell; "
            'close the quote, or double a quote inside a cell ("")'
        )
    return (
        f"line {end}: a quote ends in the middle of a cell ({exc}); put the whole cell in double quotes and "
        'double each quote inside it ("")'
    )


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
