"""Import a register into the hub, and export the hub as one. Both take a unit of work."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from pydantic import BaseModel
from sqlalchemy import Row as SqlRow
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, aliased

from intake.register.mapping import Mapping, Record, RowError
from intake.register.presets import EXPORT_COLUMNS, EXPORT_FIELDS, EXTRA_PREFIX
from intake.register.tables import Table, iter_chunks, write_csv, write_jsonl
from intake.schema import Status
from storage import repo
from storage.db import UnitOfWork
from storage.models import Department, Person, UseCase

CHUNK = 500  # rows written per statement batch, and how often progress is reported
IMPORTER_NAME = "register import"
# What an import sets and so compares to tell an update from an unchanged row.
COMPARED = (*(f for f in EXPORT_FIELDS if f != "department"), "source", "extra")

# An imported use case has no review round, so it may not claim to be waiting on one.
NEEDS_REVIEW = {Status.IN_REVIEW.value, Status.CHANGES_REQUESTED.value}

Progress = Callable[[int, int], None]


class Skip(BaseModel):
    """A row left out, with the line (or sheet row) it is on and why."""

    line: int
    reason: str


class ImportReport(BaseModel):
    """What an import did, or would do on a dry run."""

    source: str
    file: str = ""
    unit: str = "line"
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = []
    departments_created: list[str] = []
    notes: dict[str, int] = {}
    dry_run: bool = False


def _records(table: Table, mapping: Mapping, report: ImportReport) -> list[tuple[int, Record]]:
    """Every row that maps to a use case, first occurrence of each key; the rest are skips."""
    records: list[tuple[int, Record]] = []
    first: dict[str, int] = {}
    notes: Counter[str] = Counter()
    repeats: Counter[str] = Counter()  # derived keys seen more than once
    for row in table.rows:
        try:
            if row.error:
                raise RowError(row.error)
            rec = mapping.record(row.values)
        except RowError as exc:
            report.skipped.append(Skip(line=row.line, reason=exc.reason))
            continue
        if rec.key in first and rec.derived_key:
            repeats[rec.key] += 1
            rec.key = f"{rec.key}-{repeats[rec.key] + 1}"
        if rec.key in first:
            reason = f"duplicate id {rec.key} (first on {table.unit} {first[rec.key]})"
            report.skipped.append(Skip(line=row.line, reason=reason))
            continue
        first[rec.key] = row.line
        notes.update(rec.notes)
        records.append((row.line, rec))
    report.notes = dict(notes)
    return records


def _existing(session: Session, records: list[tuple[int, Record]]) -> dict[str, SqlRow[Any]]:
    """The stored use cases the rows name, by key, loaded a batch of keys at a time."""
    cols = [UseCase.id, UseCase.source_id, *(getattr(UseCase, c) for c in COMPARED), Department.key.label("dept")]
    base = select(*cols).join(Department, UseCase.department_id == Department.id)
    found: dict[str, SqlRow[Any]] = {}
    keys = [rec.key for _, rec in records if rec.native_id is None]
    for chunk in iter_chunks(keys, CHUNK):
        found.update((r.source_id, r) for r in session.execute(base.where(UseCase.source_id.in_(chunk))))
    native = [rec.native_id for _, rec in records if rec.native_id is not None]
    for chunk in iter_chunks(native, CHUNK):
        rows = session.execute(base.where(UseCase.id.in_(chunk), UseCase.source_id.is_(None)))
        found.update((f"#{r.id}", r) for r in rows)
    return found


def _same(old: SqlRow[Any], rec: Record, department: str) -> bool:
    return old.dept == department and all(getattr(old, c) == rec.values[c] for c in COMPARED)


def _refusal(old: SqlRow[Any] | None, rec: Record, same: bool) -> str | None:
    """Why a row may not be written, if it may not; None for rows to insert, update or leave as they are."""
    if rec.native_id is not None:
        if old is None:
            return f"use case #{rec.native_id}: there is none here"
        return None if same else f"use case #{rec.native_id}: it was submitted in chat; an import does not change it"
    if old is not None and old.source != rec.values["source"]:
        return f"id {rec.key} belongs to a use case from {old.source or 'this hub'}"
    if not same and rec.values["status"] in NEEDS_REVIEW:
        return f"status {rec.values['status']} needs a hub review, which an import cannot open"
    return None


def _importer(session: Session, now: dt.datetime) -> int:
    """The "register import" person imported use cases are submitted by (no platform ids), created once."""
    found = session.scalar(
        select(Person.id)
        .where(
            Person.name == IMPORTER_NAME,
            ~Person.identities.any(),
        )
        .order_by(Person.id)
        .limit(1)
    )
    if found is not None:
        return found
    person = Person(name=IMPORTER_NAME, created_at=now)
    session.add(person)
    session.flush()
    return person.id


class _Writer:
    """Stages one import's inserts and updates a batch at a time, creating departments as rows need them."""

    def __init__(self, session: Session, report: ImportReport, now: dt.datetime) -> None:
        self.s, self.report, self.now = session, report, now
        self.departments = {k: i for k, i in session.execute(select(Department.key, Department.id))}
        self.submitter_id: int | None = None
        self.inserts: list[tuple[dict[str, Any], str]] = []  # (column values, department key)
        self.updates: list[tuple[dict[str, Any], str]] = []
        self.new_departments: dict[str, str] = {}

    def _department(self, key: str, name: str) -> None:
        if key not in self.departments and key not in self.new_departments:
            self.new_departments[key] = name

    def insert(self, rec: Record, key: str, name: str) -> None:
        self._department(key, name)
        if self.submitter_id is None:
            self.submitter_id = _importer(self.s, self.now)
        row = {**rec.values, "source_id": rec.key, "submitter_id": self.submitter_id}
        self.inserts.append(({**row, "created_at": self.now, "updated_at": self.now}, key))

    def update(self, old: SqlRow[Any], rec: Record, key: str, name: str) -> None:
        self._department(key, name)
        self.updates.append(({**rec.values, "id": old.id, "updated_at": self.now}, key))

    def flush(self) -> None:
        """Create the batch's new departments, then write its rows in two statements."""
        if self.new_departments:
            added = [Department(name=n, key=k, created_at=self.now) for k, n in self.new_departments.items()]
            self.s.add_all(added)
            self.s.flush()
            self.departments.update((d.key, d.id) for d in added)
            self.report.departments_created.extend(d.name for d in added)
            self.new_departments.clear()
        for statement, rows in ((insert(UseCase), self.inserts), (update(UseCase), self.updates)):
            if rows:
                self.s.execute(statement, [{**row, "department_id": self.departments[key]} for row, key in rows])
        self.inserts, self.updates = [], []


def import_register(
    uow: UnitOfWork,
    table: Table,
    mapping: Mapping,
    *,
    now: dt.datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    file_name: str = "",
) -> ImportReport:
    """Insert new rows, update changed ones, count unchanged and skipped ones; roll back on a dry run."""
    mapping.check(table.columns, file_name or "the file")
    s = uow.session
    report = ImportReport(source=mapping.source, file=file_name, unit=table.unit, read=len(table.rows), dry_run=dry_run)
    records = _records(table, mapping, report)
    existing = _existing(s, records)
    writer = _Writer(s, report, now)
    for done, chunk in enumerate(iter_chunks(records, CHUNK), start=1):
        for line, rec in chunk:
            key = repo.department_key(rec.department)
            old = existing.get(rec.key)
            same = old is not None and _same(old, rec, key)
            if reason := _refusal(old, rec, same):
                report.skipped.append(Skip(line=line, reason=reason))
            elif same:
                report.unchanged += 1
            elif old is None:
                writer.insert(rec, key, rec.department)
                report.inserted += 1
            else:
                writer.update(old, rec, key, rec.department)
                report.updated += 1
        writer.flush()
        if progress:
            progress(min(done * CHUNK, len(records)), len(records))
    report.skipped.sort(key=lambda skip: skip.line)
    if dry_run:
        s.rollback()
        return report
    if report.inserted or report.updated:
        after = report.model_dump(include={"source", "file", "inserted", "updated", "departments_created"})
        repo.audit(s, action="register_imported", actor_id=None, after=after, at=now)
    uow.commit()
    return report


# --- export --------------------------------------------------------------------------------


def export_use_cases(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every use case, oldest first, as the export's columns plus `extra` (the register's own columns)."""
    submitter, reviewer = aliased(Person), aliased(Person)
    fields = [getattr(UseCase, f) for f in EXPORT_FIELDS if f != "department"]
    query = (
        select(
            UseCase.id,
            UseCase.source,
            UseCase.source_id,
            *fields,
            Department.name.label("department"),
            submitter.name.label("submitter"),
            reviewer.name.label("reviewer"),
            UseCase.created_at,
            UseCase.updated_at,
            UseCase.extra,
        )
        .join(Department, UseCase.department_id == Department.id)
        .join(submitter, UseCase.submitter_id == submitter.id)
        .outerjoin(reviewer, UseCase.reviewer_id == reviewer.id)
        .order_by(UseCase.id)
    )
    return [{**{c: getattr(r, c) for c in EXPORT_COLUMNS}, "extra": dict(r.extra)} for r in uow.session.execute(query)]


def write_export(out: IO[str], records: list[dict[str, Any]], fmt: str) -> None:
    """CSV: the fixed columns, then `extra.NAME` columns sorted by name; JSONL: `extra` as an object."""
    names = sorted({k for r in records for k in r["extra"]})
    if fmt == "jsonl":
        write_jsonl(out, ({**r, "extra": {k: r["extra"][k] for k in sorted(r["extra"])}} for r in records))
        return
    columns = [*EXPORT_COLUMNS, *(EXTRA_PREFIX + n for n in names)]
    flat = ({**r, **{EXTRA_PREFIX + k: v for k, v in r["extra"].items()}} for r in records)
    write_csv(out, columns, flat)
