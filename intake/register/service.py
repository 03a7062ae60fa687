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

from intake.register.mapping import Mapping, Owner, Record, RowError
from intake.register.presets import EXPORT_COLUMNS, EXPORT_FIELDS, EXTRA_PREFIX, TRAIL_COLUMNS, TRAIL_EXTRA
from intake.register.tables import Table, iter_chunks, write_csv, write_jsonl
from intake.schema import Status
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Department, Person, Review, UseCase

CHUNK = 500  # rows written per statement batch, and how often progress is reported
IMPORTER_NAME = "register import"
# What an import sets and so compares to tell an update from an unchanged row (and the owner).
COMPARED = (*(f for f in EXPORT_FIELDS if f != "department"), "source", "extra")
# A use case submitted in chat in another hub (`#12` in its export) is restored here under this source id.
RESTORED = "hubspoke:#{id}"
RESTORED_SOURCE = "hubspoke"
# Audit actions that move a use case's stage: its stage history.
STAGE_ACTIONS = ("stage", "closed", "withdrawn", "reopened")

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
    people_created: list[str] = []
    notes: dict[str, int] = {}
    columns: dict[str, list[str]] = {}  # each column read, and what it is read into
    ignored: list[str] = []  # columns no field reads (kept in extra)
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
    """The stored use cases the rows name, by key (and a chat use case's restored copy by its source id),
    loaded a batch of keys at a time."""
    cols = [
        UseCase.id,
        UseCase.source_id,
        UseCase.submitter_id,
        *(getattr(UseCase, c) for c in COMPARED),
        Department.key.label("dept"),
    ]
    base = select(*cols).join(Department, UseCase.department_id == Department.id)
    found: dict[str, SqlRow[Any]] = {}
    native = [rec.native_id for _, rec in records if rec.native_id is not None]
    keys = [rec.key for _, rec in records if rec.native_id is None] + [RESTORED.format(id=n) for n in native]
    for chunk in iter_chunks(keys, CHUNK):
        found.update((r.source_id, r) for r in session.execute(base.where(UseCase.source_id.in_(chunk))))
    for chunk in iter_chunks(native, CHUNK):
        rows = session.execute(base.where(UseCase.id.in_(chunk), UseCase.source_id.is_(None)))
        found.update((f"#{r.id}", r) for r in rows)
    return found


def _restore(rec: Record, existing: dict[str, SqlRow[Any]]) -> None:
    """A chat use case of another hub's export (`#12`) that is not one of this hub's own: it is imported
    as `hubspoke:#12`, so importing the file again finds it."""
    if rec.native_id is None:
        return
    restored = RESTORED.format(id=rec.native_id)
    if restored in existing or f"#{rec.native_id}" not in existing:
        rec.key, rec.values["source"] = restored, RESTORED_SOURCE


def _same(old: SqlRow[Any], rec: Record, department: str, owner_id: int | None) -> bool:
    extra = {k: v for k, v in old.extra.items() if k not in TRAIL_EXTRA.values()}  # not a register column
    fields = all(getattr(old, c) == rec.values[c] for c in COMPARED if c != "extra")
    return fields and old.dept == department and old.submitter_id == owner_id and extra == rec.values["extra"]


def _refusal(old: SqlRow[Any] | None, rec: Record, same: bool) -> str | None:
    """Why a row may not be written, if it may not; None for rows to insert, update or leave as they are."""
    if rec.native_id is not None:  # one of this hub's chat use cases (see _restore)
        return None if same else f"use case #{rec.native_id}: it was submitted in chat; an import does not change it"
    if old is not None and old.source != rec.values["source"]:
        return f"id {rec.key} belongs to a use case from {old.source or 'this hub'}"
    if not same and rec.values["status"] in NEEDS_REVIEW:
        return f"status {rec.values['status']} needs a hub review, which an import cannot open"
    return None


def _importer(session: Session, now: dt.datetime | None) -> int | None:
    """The "register import" person imported use cases are submitted by (no platform ids); created once
    (when `now` is given)."""
    found = session.scalar(
        select(Person.id)
        .where(
            Person.name == IMPORTER_NAME,
            ~Person.identities.any(),
        )
        .order_by(Person.id)
        .limit(1)
    )
    if found is not None or now is None:
        return found
    person = Person(name=IMPORTER_NAME, created_at=now)
    session.add(person)
    session.flush()
    return person.id


class _Owners:
    """Who owns the use cases an import writes: the person a row names, found by e-mail or else by name
    (case aside), added once however many rows name them; rows naming nobody, the register import."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.s, self.now = session, now
        self.by_email: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        people = session.execute(select(Person.id, Person.name, Person.email).order_by(Person.id.desc()))
        for person_id, name, email in people:  # newest first, so the oldest of two namesakes wins
            if email:
                self.by_email[email.lower()] = person_id
            if name:
                self.by_name[name.casefold()] = person_id
        self.importer = _importer(session, None)

    @staticmethod
    def _nobody(owner: Owner | None) -> bool:
        return owner is None or (owner.email is None and owner.name.casefold() == IMPORTER_NAME)

    def find(self, owner: Owner | None) -> int | None:
        """The person already here who owns a row (None: they are still to be added)."""
        if owner is None or self._nobody(owner):
            return self.importer
        if owner.email:
            return self.by_email.get(owner.email)
        return self.by_name.get(owner.name.casefold())

    def add(self, owners: list[Owner | None]) -> list[str]:
        """Add the people these rows name who are not here yet; their names. Those with an e-mail come
        first, so a bare name in another row finds one of them (gerardo.nixon@… is Gerardo Nixon)."""
        if self.importer is None and any(self._nobody(o) for o in owners):
            self.importer = _importer(self.s, self.now)
        named = [o for o in owners if o is not None and not self._nobody(o)]
        made: list[str] = []
        for batch in ([o for o in named if o.email], [o for o in named if not o.email]):
            new: dict[str, Owner] = {}
            for owner in batch:  # the first spelling of a name is the one kept
                if self.find(owner) is None:
                    new.setdefault(owner.key, owner)
            people = [Person(name=o.name, email=o.email, created_at=self.now) for o in new.values()]
            if not people:
                continue
            self.s.add_all(people)
            self.s.flush()
            for person in people:  # in id order: a name names the oldest person who has it, as in __init__
                if person.email:
                    self.by_email[person.email] = person.id
                self.by_name.setdefault(person.name.casefold(), person.id)
            made += [p.name for p in people]
        return made


class _Writer:
    """Stages one import's inserts and updates a batch at a time, creating departments and owners as rows
    need them."""

    def __init__(self, session: Session, report: ImportReport, now: dt.datetime, *, evidence: bool = True) -> None:
        self.s, self.report, self.now = session, report, now
        self.evidence = evidence  # their owners' `owned` evidence for "who knows" (not on a dry run)
        self.departments = {k: i for k, i in session.execute(select(Department.key, Department.id))}
        self.owners = _Owners(session, now)
        # (column values, department key, owner)
        self.inserts: list[tuple[dict[str, Any], str, Owner | None]] = []
        self.updates: list[tuple[dict[str, Any], str, Owner | None]] = []
        self.new_departments: dict[str, str] = {}

    def _department(self, key: str, name: str) -> None:
        if key not in self.departments and key not in self.new_departments:
            self.new_departments[key] = name

    def insert(self, rec: Record, key: str, name: str) -> None:
        self._department(key, name)
        extra = {**rec.values["extra"], **{TRAIL_EXTRA[c]: trail for c, trail in rec.trail.items()}}
        row = {**rec.values, "extra": extra, "source_id": rec.key, "created_at": self.now, "updated_at": self.now}
        self.inserts.append((row, key, rec.owner))

    def update(self, old: SqlRow[Any], rec: Record, key: str, name: str) -> None:
        """Change a stored use case to what its row says; a trail restored with it stays."""
        self._department(key, name)
        kept = {k: v for k, v in old.extra.items() if k in TRAIL_EXTRA.values()}
        row = {**rec.values, "extra": {**rec.values["extra"], **kept}, "id": old.id, "updated_at": self.now}
        self.updates.append((row, key, rec.owner))

    def flush(self) -> None:
        """Create the batch's new departments and people, then write its rows in two statements."""
        if self.new_departments:
            added = [Department(name=n, key=k, created_at=self.now) for k, n in self.new_departments.items()]
            self.s.add_all(added)
            self.s.flush()
            self.departments.update((d.key, d.id) for d in added)
            self.report.departments_created.extend(d.name for d in added)
            self.new_departments.clear()
        self.report.people_created.extend(self.owners.add([o for _, _, o in [*self.inserts, *self.updates]]))
        for statement, rows in ((insert(UseCase), self.inserts), (update(UseCase), self.updates)):
            if rows:
                values = [
                    {**row, "department_id": self.departments[key], "submitter_id": self.owners.find(owner)}
                    for row, key, owner in rows
                ]
                self.s.execute(statement, values)
        if self.evidence and (
            keys := [row["source_id"] for row, _, _ in self.inserts] + [row["id"] for row, _, _ in self.updates]
        ):
            self._owned(keys)
        self.inserts, self.updates = [], []

    def _owned(self, keys: list[Any]) -> None:
        """The batch's owners become findable for what their use cases are about (storage.evidence)."""
        ids = [k for k in keys if isinstance(k, int)]
        sources = [k for k in keys if isinstance(k, str)]
        for chunk in iter_chunks(sources, CHUNK):
            ids += self.s.scalars(select(UseCase.id).where(UseCase.source_id.in_(chunk)))
        evidence.for_imported(self.s, ids, self.now)


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
    mapping = mapping.for_header(table.columns)
    mapping.check(table.columns, file_name or "the file")
    s = uow.session
    report = ImportReport(source=mapping.source, file=file_name, unit=table.unit, read=len(table.rows), dry_run=dry_run)
    report.columns = mapping.reads(table.columns)
    report.ignored = [c for c in table.columns if c not in report.columns]
    records = _records(table, mapping, report)
    existing = _existing(s, records)
    writer = _Writer(s, report, now, evidence=not dry_run)
    for done, chunk in enumerate(iter_chunks(records, CHUNK), start=1):
        for line, rec in chunk:
            _restore(rec, existing)
            key = repo.department_key(rec.department)
            old = existing.get(rec.key)
            same = old is not None and _same(old, rec, key, writer.owners.find(rec.owner))
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
        fields = {"source", "file", "inserted", "updated", "departments_created", "people_created"}
        repo.audit(s, action="register_imported", actor_id=None, after=report.model_dump(include=fields), at=now)
    uow.commit()
    return report


# --- export --------------------------------------------------------------------------------


def _at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _trails(session: Session) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every use case's decision trail (a dict per review round) and stage history (a dict per move)."""
    reviewer, decider, mover = aliased(Person), aliased(Person), aliased(Person)
    rounds = (
        select(
            Review.use_case_id,
            Review.round,
            reviewer.name.label("reviewer"),
            decider.name.label("decided_by"),
            Review.decision,
            Review.decided_at,
            Review.reason,
        )
        .outerjoin(reviewer, Review.reviewer_id == reviewer.id)
        .outerjoin(decider, Review.decided_by_id == decider.id)
        .order_by(Review.use_case_id, Review.round)
    )
    trails: dict[str, dict[int, list[dict[str, Any]]]] = {c: {} for c in TRAIL_COLUMNS}
    for r in session.execute(rounds):
        entry = {"round": r.round, "reviewer": r.reviewer, "decided_by": r.decided_by, "decision": r.decision}
        entry |= {"decided_at": _at(r.decided_at), "reason": r.reason}
        trails["decisions"].setdefault(r.use_case_id, []).append(entry)
    moves = (
        select(AuditEvent.use_case_id, AuditEvent.after, AuditEvent.at, mover.name.label("by"))
        .outerjoin(mover, AuditEvent.actor_id == mover.id)
        .where(AuditEvent.action.in_(STAGE_ACTIONS), AuditEvent.use_case_id.is_not(None))
        .order_by(AuditEvent.id)
    )
    for r in session.execute(moves):
        if stage := (r.after or {}).get("stage"):
            trails["stage_history"].setdefault(r.use_case_id, []).append({"stage": stage, "at": _at(r.at), "by": r.by})
    return trails


def export_use_cases(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Every use case, oldest first, as the export's columns plus `extra` (the register's own columns); the
    trail is the one restored with it (from another hub's export), then this hub's own."""
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
            submitter.email.label("submitter_email"),
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
    trails = _trails(uow.session)
    records: list[dict[str, Any]] = []
    for r in uow.session.execute(query):
        extra = dict(r.extra)
        record = {c: getattr(r, c) for c in EXPORT_COLUMNS if c not in TRAIL_COLUMNS}
        for column in TRAIL_COLUMNS:
            record[column] = [*extra.pop(TRAIL_EXTRA[column], []), *trails[column].get(r.id, [])]
        records.append({**record, "extra": extra})
    return records


def write_export(out: IO[str], records: list[dict[str, Any]], fmt: str) -> None:
    """CSV: the fixed columns, then `extra.NAME` columns sorted by name; JSONL: `extra` as an object."""
    names = sorted({k for r in records for k in r["extra"]})
    if fmt == "jsonl":
        write_jsonl(out, ({**r, "extra": {k: r["extra"][k] for k in sorted(r["extra"])}} for r in records))
        return
    columns = [*EXPORT_COLUMNS, *(EXTRA_PREFIX + n for n in names)]
    flat = ({**r, **{EXTRA_PREFIX + k: v for k, v in r["extra"].items()}} for r in records)
    write_csv(out, columns, flat)
