"""Import evidence from a JSON Lines file: one item a line, idempotent, bad lines reported and skipped."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy import insert, select, update

from bot.expertise.models import ImportProblem, ImportReport
from intake.people import SLACK
from storage.db import UnitOfWork
from storage.evidence import Kind
from storage.models import Evidence, Identity, Person

CHUNK = 2000


class ImportLine(BaseModel):
    """One line: `person` is a platform (Slack) user id, or the integer id of an existing person."""

    person: int | str
    name: str | None = Field(default=None, max_length=120)
    text: str = ""
    tags: list[str] = []
    kind: str = Field(default=Kind.IMPORTED.value, min_length=1, max_length=32)
    weight: float = Field(default=1.0, ge=0)
    at: dt.datetime | None = None
    url: str | None = Field(default=None, max_length=500)

    @field_validator("person")
    @classmethod
    def _person(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not (value := value.strip()):
            raise ValueError("person is empty")
        if isinstance(value, str) and len(value) > 32:
            raise ValueError("person ids are at most 32 characters")
        return value

    @field_validator("at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # times without an offset are taken as UTC
        return value

    def source_key(self) -> str:
        """Same person, kind, text and time: the same evidence (a re-import updates it)."""
        when = self.at.isoformat() if self.at else ""
        basis = json.dumps([str(self.person), self.kind, self.text, when], ensure_ascii=False)
        return "import:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def _parse(number: int, raw: str) -> ImportLine | ImportProblem:
    try:
        item = ImportLine.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return ImportProblem(line=number, error=f"{where}: {first['msg']}" if where else first["msg"])
    if not item.text.strip() and not item.tags:
        return ImportProblem(line=number, error="text and tags are both empty")
    return item


def import_evidence(uow: UnitOfWork, lines: Iterable[str], *, now: dt.datetime) -> ImportReport:
    """Import evidence lines (see ImportLine), creating people for unknown platform ids; committed per chunk."""
    report = ImportReport(lines=0, created=0, updated=0, people_created=0)
    chunk: list[tuple[int, ImportLine]] = []
    for number, raw in enumerate(lines, start=1):
        report.lines = number
        if not raw.strip():
            continue
        parsed = _parse(number, raw)
        if isinstance(parsed, ImportProblem):
            report.problems.append(parsed)
            continue
        chunk.append((number, parsed))
        if len(chunk) >= CHUNK:
            _flush(uow, chunk, report, now)
            chunk = []
    if chunk:
        _flush(uow, chunk, report, now)
    report.problems.sort(key=lambda p: p.line)
    return report


def _people(
    uow: UnitOfWork, chunk: list[tuple[int, ImportLine]], report: ImportReport, now: dt.datetime
) -> dict[int | str, Person]:
    s = uow.session
    ids = {i.person for _, i in chunk if isinstance(i.person, int)}
    platform: dict[str, str | None] = {}
    for _, item in chunk:
        if isinstance(item.person, str):
            platform[item.person] = platform.get(item.person) or item.name
    found: dict[int | str, Person] = {}
    if ids:
        found.update({p.id: p for p in s.scalars(select(Person).where(Person.id.in_(ids)))})
    if platform:
        known = s.execute(
            select(Identity.external_id, Person)
            .join(Person, Identity.person_id == Person.id)
            .where(Identity.platform == SLACK, Identity.external_id.in_(platform))
        )
        for user_id, p in known:
            found[user_id] = p
            if p.name == user_id and platform[user_id]:
                p.name = platform[user_id] or p.name  # a placeholder name gets the real one
    new = {
        k: Person(name=v or k, created_at=now, identities=[Identity(platform=SLACK, external_id=k, created_at=now)])
        for k, v in platform.items()
        if k not in found
    }
    if new:
        s.add_all(new.values())
        s.flush()
        found.update(new)
        report.people_created += len(new)
    return found


def _flush(uow: UnitOfWork, chunk: list[tuple[int, ImportLine]], report: ImportReport, now: dt.datetime) -> None:
    s = uow.session
    people = _people(uow, chunk, report, now)
    rows: dict[str, dict[str, Any]] = {}
    undated: set[str] = set()  # lines without a time: stamped now when new, left as they were on re-import
    for number, item in chunk:
        person = people.get(item.person)
        if person is None:
            report.problems.append(ImportProblem(line=number, error=f"no person with id {item.person}"))
            continue
        key = item.source_key()
        rows[key] = {
            "person_id": person.id,
            "kind": item.kind,
            "text": item.text,
            "tags": list(dict.fromkeys(t.strip() for t in item.tags if t.strip())),
            "weight": item.weight,
            "at": item.at or now,
            "url": item.url,
            "source_key": key,
        }
        if item.at is None:
            undated.add(key)
    keyed = select(Evidence.source_key, Evidence.id).where(Evidence.source_key.in_(list(rows)))
    existing: dict[str | None, int] = {k: i for k, i in s.execute(keyed)}
    fresh = [r for k, r in rows.items() if k not in existing]
    changed = [
        {"id": existing[k], **{f: v for f, v in r.items() if not (f == "at" and k in undated)}}
        for k, r in rows.items()
        if k in existing
    ]
    if fresh:
        s.execute(insert(Evidence), fresh)
    if changed:
        s.execute(update(Evidence), changed)
    report.created += len(fresh)
    report.updated += len(changed)
    uow.commit()
