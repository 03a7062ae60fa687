"""Forgetting a person: their personal data goes, the portfolio's history stays whole.

Kept: the Person row, because use cases, reviews, audit rows and the outbox refer to it by id. It is
renamed to a placeholder ("Former member 12") and loses its e-mail, time zone, department and roles
(lead, reviewer, away), so it is never routed to nor shown as anyone.

Removed outright: their identities (platform ids; their next visit, if any, makes a new person),
declared skills, every evidence row about them (what "who knows" ranks people by) and the records of
their being suggested as an expert.

Rewritten: free text stays, because it is the hub's business content (a use case's title and problem
describe the work, not the person), but the person is taken out of it. Everywhere the hub keeps text,
each occurrence of their name, their e-mail or one of their platform ids (a Slack mention `<@U123>`
as a whole) becomes the placeholder: use cases (title, problem, benefit, success metric, data sources,
topic, triage reasons, imported `extra` columns), review rounds (the reason, the answers snapshot, the
changes listed), audit rows' before/after JSON, other people's evidence, expert-search queries, and the
payloads of queued and sent messages. A person embedded in that JSON (a use case's submitter in its
`submitted` audit row) also loses their handles and time zone. Links are the exception: a link that
contains their name, e-mail or id is removed rather than rewritten (a rewritten address points
nowhere); every other link stays. Hub settings are left alone: they hold choices, not prose.

Matching is whole words and case-insensitive. Terms under three characters, and terms that are one of
the hub's own words (a status, a stage, a risk tier...), are not matched: rewriting them would damage
ordinary text and the stored states. `forget_person(..., dry_run=True)` reports what would change,
terms included, so an operator can check before anything is written.

Messages still queued to them are marked failed ("person forgotten"). Reviews they still hold stay
assigned and are counted, for a lead to reassign. The hub's last lead cannot be forgotten. One audit
row, `person_forgotten`, records who did it and the person's id, with counts and nothing personal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from intake import schema
from intake.errors import HubError, NotAllowed, NotFound
from intake.people import PLATFORMS, PersonRef, find, ref_from_handle
from intake.read_models import Actor
from storage import repo, vectors
from storage.db import UnitOfWork
from storage.models import (
    AuditEvent,
    Evidence,
    ExpertAsk,
    Identity,
    OutboxMessage,
    Person,
    PersonSkill,
    Review,
    UseCase,
)

PLACEHOLDER = "Former member {id}"
FORGOTTEN = "person forgotten"  # last_error of the messages that were still queued to them
ACTION = "person_forgotten"
MIN_TERM = 3
LAST_LEAD = "They are the hub's only lead: add another lead first (hubspoke hub lead add ID), then forget them."
CONFIGURED_LEAD = "They are listed in HUB_LEADS: take them out of it (and restart) first, or they lead again."
_CHUNK = 500  # rows read at a time while rewriting a table

# The hub's own vocabulary, stored as words in states and notices: never rewritten, whoever is called so.
_VOCABULARY = frozenset(
    word
    for enum in vars(schema).values()
    if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum
    for member in enum
    for word in (member.value.casefold(), member.value.replace("_", " ").casefold())
)


@dataclass(frozen=True)
class Email:
    """A person as named by their e-mail address."""

    address: str


Target = PersonRef | Email | int


@dataclass(frozen=True)
class ForgetReport:
    """What forgetting a person removed and rewrote (or would, on a dry run)."""

    person_id: int
    placeholder: str
    email: bool  # an e-mail address was removed
    identities: int
    skills: int
    evidence: int
    expert_asks: int
    outbox_failed: int
    rewritten: dict[str, int]  # rows whose text named them, by table: {"audit_events": 3, "use_cases": 1}
    links: int  # links naming them, removed from use cases
    open_reviews: int  # undecided reviews still assigned to them
    # What was matched in text (their name, e-mail and platform ids): for the operator's confirmation only.
    terms: list[str] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, Any]:
        """The counts, nothing personal: what the audit row records."""
        removed = {
            "email": int(self.email),
            "identities": self.identities,
            "skills": self.skills,
            "evidence": self.evidence,
            "expert_asks": self.expert_asks,
            "links": self.links,
        }
        return {"removed": removed, "outbox_failed": self.outbox_failed, "rewritten": dict(self.rewritten)}


def target_from_text(text: str) -> Target:
    """Who an operator means: a person id (`12`), an e-mail, or a platform id (`slack:U123`, `teams:29:…`, `U123`)."""
    clean = text.strip()
    if not clean:
        raise HubError("Name the person: a person id, an e-mail, or a platform id like slack:U123.")
    platform, sep, rest = clean.partition(":")
    if sep and platform.lower() in PLATFORMS and rest:
        return PersonRef(platform.lower(), rest)
    if clean.isascii() and clean.isdigit():
        return int(clean)
    if "@" in clean:
        return Email(clean.lower())
    return ref_from_handle(clean)


def find_target(session: Session, who: Target | str) -> Person:
    """The person `who` names; NotFound when nobody is."""
    target = target_from_text(who) if isinstance(who, str) else who
    if isinstance(target, PersonRef):
        person = find(session, target)
        missing = f"Nobody is known as {target.platform}:{target.external_id}."
    elif isinstance(target, Email):
        person = session.scalar(select(Person).where(Person.email == target.address))
        missing = f"Nobody has the e-mail {target.address}."
    else:
        person = session.get(Person, target)
        missing = f"There is no person {target}."
    if person is None:
        raise NotFound(missing)
    return person


def placeholder_for(person_id: int) -> str:
    return PLACEHOLDER.format(id=person_id)


def identifying_terms(person: Person) -> list[str]:
    """What names this person in text: their name, e-mail and platform ids, longest first."""
    candidates = [person.email or "", *(i.external_id for i in person.identities)]
    if person.name != placeholder_for(person.id):
        candidates.insert(0, person.name)
    terms: dict[str, str] = {}
    for candidate in candidates:
        term = " ".join(candidate.split())
        if len(term) >= MIN_TERM and term.casefold() not in _VOCABULARY:
            terms.setdefault(term.casefold(), term)
    return sorted(terms.values(), key=len, reverse=True)


class Scrubber:
    """Replaces a person's terms in text and JSON with their placeholder."""

    def __init__(self, person_id: int, terms: list[str]) -> None:
        self.person_id = person_id
        self.placeholder = placeholder_for(person_id)
        # Slack mentions go whole (`<@U123>`, `<@U123|rita>`), before any plain term can match inside one.
        parts = [rf"<@{re.escape(t)}(?:\|[^>]*)?>" for t in terms]
        parts += [rf"(?<!\w){re.escape(t)}(?!\w)" for t in terms]
        self.pattern = re.compile("|".join(parts), re.IGNORECASE) if terms else None

    def mentions(self, text: str) -> bool:
        return self.pattern is not None and self.pattern.search(text) is not None

    def text(self, text: str) -> str:
        return self.pattern.sub(self.placeholder, text) if self.pattern is not None else text

    def json(self, value: Any) -> Any:
        """`value` with every string rewritten, and this person's embedded records emptied of handles."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            out = {k: self.json(v) for k, v in value.items()}
            if out.get("id") == self.person_id and "handles" in out:  # a PersonView of them
                out["handles"] = {}
                out.update({k: v for k, v in (("name", self.placeholder), ("tz", None)) if k in out})
            return out
        return value


Fix = Callable[[str, Any], Any]


Column = InstrumentedAttribute[Any]


def _rewrite(
    session: Session, key: Column, columns: list[Column], fix: Fix, changed_ids: list[int] | None = None
) -> int:
    """Apply `fix(column name, value)` to `columns` of every row, a chunk at a time; rows changed (their keys added
    to `changed_ids` when given)."""
    model = key.class_
    limits = {c.key: c.type.length for c in columns if isinstance(c.type, String) and c.type.length}
    changed, last = 0, None
    while True:
        query = select(key, *columns).order_by(key).limit(_CHUNK)
        if last is not None:
            query = query.where(key > last)
        rows = session.execute(query).all()
        if not rows:
            return changed
        for row in rows:
            values = {}
            for column, old in zip(columns, row[1:], strict=True):
                new = fix(column.key, old)
                if isinstance(new, str) and column.key in limits:
                    new = new[: limits[column.key]]
                if new != old:
                    values[column.key] = new
            if values:
                session.execute(
                    update(model).where(key == row[0]).values(values).execution_options(synchronize_session=False)
                )
                changed += 1
                if changed_ids is not None:
                    changed_ids.append(row[0])
        last = rows[-1][0]


def _rewrite_text(session: Session, scrub: Scrubber) -> tuple[dict[str, int], int]:
    """Take the person out of every text the hub keeps; rows changed by kind, and links removed."""
    links_removed = 0

    def plain(_: str, value: Any) -> Any:
        if value is None or scrub.pattern is None:
            return value
        return scrub.text(value) if isinstance(value, str) else scrub.json(value)

    def use_case(name: str, value: Any) -> Any:
        nonlocal links_removed
        if name != "links" or scrub.pattern is None:
            return plain(name, value)
        kept = [link for link in value or [] if not (isinstance(link, str) and scrub.mentions(link))]
        links_removed += len(value or []) - len(kept)
        return kept

    def evidence(name: str, value: Any) -> Any:
        if name == "url":
            return None if isinstance(value, str) and scrub.mentions(value) else value
        return plain(name, value)

    u, r = UseCase, Review
    use_case_ids: list[int] = []
    evidence_ids: list[int] = []
    text_columns = [u.title, u.problem, u.benefit, u.success_metric, u.data_sources, u.topic_area]
    rewritten = {
        "audit_events": _rewrite(session, AuditEvent.id, [AuditEvent.before, AuditEvent.after], plain),
        "use_cases": _rewrite(
            session, u.id, [*text_columns, u.triage_reasons, u.extra, u.links], use_case, use_case_ids
        ),
        "reviews": _rewrite(session, r.id, [r.reason, r.submission, r.changes], plain),
        "evidence": _rewrite(session, Evidence.id, [Evidence.text, Evidence.url], evidence, evidence_ids),
        "expert_searches": _rewrite(session, ExpertAsk.id, [ExpertAsk.query], plain),
        "messages": _rewrite(session, OutboxMessage.id, [OutboxMessage.payload], plain),
    }
    # Embeddings of a rewritten text came from the words taken out: gone too (the next sync embeds the new text).
    vectors.drop(session, vectors.USE_CASE, use_case_ids)
    vectors.drop(session, vectors.EVIDENCE, evidence_ids)
    return {kind: n for kind, n in rewritten.items() if n}, links_removed


def _count(session: Session, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).where(where)) or 0)


def _check(session: Session, actor: Actor | None, person: Person, configured: frozenset[str]) -> None:
    if actor is not None and not actor.is_lead:
        raise NotAllowed("Only hub leads can forget people.")
    if person.is_lead:
        others = _count(session, Person.is_lead.is_(True) & (Person.id != person.id))
        if not others:
            raise HubError(LAST_LEAD)
    if any(i.external_id in configured for i in person.identities):
        raise HubError(CONFIGURED_LEAD)


def forget_person(
    uow: UnitOfWork,
    actor: Actor | None,
    who: Target | str,
    *,
    configured: frozenset[str] = frozenset(),
    dry_run: bool = False,
    now: dt.datetime,
) -> ForgetReport:
    """Remove a person's personal data, keeping their id (and so the portfolio's history); see the module.

    `actor` None is the hub itself (the CLI); otherwise a lead. `who` is a Target, or text as an operator
    writes it (target_from_text). `configured` are the HUB_LEADS ids: a person listed there is refused,
    since they would be made a lead again on sight. `dry_run` reports and writes nothing.
    """
    s = uow.session
    person = find_target(s, who)
    _check(s, actor, person, configured)
    pid = person.id
    terms = identifying_terms(person)
    had_email = person.email is not None
    open_reviews = _count(s, (Review.reviewer_id == pid) & Review.decision.is_(None))

    person.name = placeholder_for(pid)
    person.email = person.tz = person.department_id = None
    person.is_lead = person.is_reviewer = person.away = False
    s.flush()
    vectors.drop(s, vectors.EVIDENCE, s.scalars(select(Evidence.id).where(Evidence.person_id == pid)))
    removed = {
        model: s.execute(delete(model).where(column == pid)).rowcount  # type: ignore[attr-defined]
        for model, column in (
            (Identity, Identity.person_id),
            (PersonSkill, PersonSkill.person_id),
            (Evidence, Evidence.person_id),
            (ExpertAsk, ExpertAsk.person_id),
        )
    }
    s.expire(person, ["identities", "skills"])
    queued = (OutboxMessage.person_id == pid) & OutboxMessage.delivered_at.is_(None) & OutboxMessage.failed_at.is_(None)
    failed = s.execute(
        update(OutboxMessage)
        .where(queued)
        .values(failed_at=now, last_error=FORGOTTEN)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    rewritten, links = _rewrite_text(s, Scrubber(pid, terms))

    report = ForgetReport(
        person_id=pid,
        placeholder=person.name,
        email=had_email,
        identities=int(removed[Identity]),
        skills=int(removed[PersonSkill]),
        evidence=int(removed[Evidence]),
        expert_asks=int(removed[ExpertAsk]),
        outbox_failed=int(failed),
        rewritten=rewritten,
        links=links,
        open_reviews=open_reviews,
        terms=terms,
        dry_run=dry_run,
    )
    if dry_run:
        return report  # the unit of work rolls everything back
    actor_id = (actor.person_id or None) if actor is not None else None
    repo.audit(s, action=ACTION, actor_id=actor_id, after={"person": pid, **report.counts()}, at=now)
    uow.commit()
    return report
