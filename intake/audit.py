"""The audit trail as a table: every event with who, when (in UTC and in the hub's zone), what and why.

`audit_rows` reads it; `write_audit` writes it as CSV (before/after as compact JSON in their cells) or
JSONL (before/after as objects). Times are to the second; the id gives the order within one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import IO, Any

from sqlalchemy import select

from intake.register.tables import write_csv, write_jsonl
from storage.db import UnitOfWork
from storage.models import AuditEvent, Person, UseCase

SYSTEM_ACTOR = "system"  # an event with no person behind it: the CLI, an import, the clock
AUDIT_COLUMNS = [
    "id",
    "action",
    "actor",
    "actor_id",
    "use_case_id",
    "use_case_title",
    "at_utc",
    "at_hub",
    "before",
    "after",
    "reason",
]
AUDIT_FORMATS = ("csv", "jsonl")


def utc_text(at: dt.datetime) -> str:
    """`2026-11-02T09:30:00Z`."""
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def zoned_text(at: dt.datetime, zone: dt.tzinfo) -> str:
    """`2026-11-02T09:30:00+00:00` in `zone`, with its offset at that moment."""
    return at.astimezone(zone).isoformat(timespec="seconds")


def reason_of(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """Why it happened, where the event says: the new state's reason, else the old one's, else nothing."""
    for state in (after, before):
        if isinstance(state, dict):
            reason = state.get("reason")
            if isinstance(reason, str) and reason.strip():
                return reason
    return ""


def audit_rows(uow: UnitOfWork, *, since: dt.datetime | None, zone: dt.tzinfo) -> list[dict[str, Any]]:
    """Every audit event from `since` (inclusive; None: all of them), in the order they were recorded."""
    query = (
        select(AuditEvent, Person.name, UseCase.title)
        .outerjoin(Person, Person.id == AuditEvent.actor_id)
        .outerjoin(UseCase, UseCase.id == AuditEvent.use_case_id)
        .order_by(AuditEvent.id)
    )
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    rows = []
    for event, actor_name, title in uow.session.execute(query):
        rows.append(
            {
                "id": event.id,
                "action": event.action,
                "actor": actor_name if actor_name is not None else SYSTEM_ACTOR,
                "actor_id": event.actor_id,
                "use_case_id": event.use_case_id,
                "use_case_title": title,
                "at_utc": utc_text(event.at),
                "at_hub": zoned_text(event.at, zone),
                "before": event.before,
                "after": event.after,
                "reason": reason_of(event.before, event.after),
            }
        )
    return rows


def compact_json(value: Any) -> str | None:
    """JSON with no spaces and UTF-8 unescaped, for one CSV cell; None stays an empty cell."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_audit(out: IO[str], rows: list[dict[str, Any]], fmt: str) -> None:
    """Write audit rows as CSV (a header, then a line per event) or JSONL (an object a line)."""
    if fmt == "jsonl":
        write_jsonl(out, rows)
    elif fmt == "csv":
        cells = ({**r, "before": compact_json(r["before"]), "after": compact_json(r["after"])} for r in rows)
        write_csv(out, AUDIT_COLUMNS, cells)
    else:
        raise ValueError(f"unknown audit format {fmt!r} (use one of {', '.join(AUDIT_FORMATS)})")
