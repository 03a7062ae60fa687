"""Showcases: who is invited to present, what they answered, the agenda, and who presented (showcase evidence).

A showcase is one occurrence of a `showcase` schedule (bot.rituals.showcase_job runs its phases). The owners of
use cases that recently reached deployment or monitoring, or had a retro written, are invited; each answers
Yes, Not this time, or nominates a colleague, who is invited in their place. Leads may invite anyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake import calendar
from intake.errors import HubError, NotAllowed, NotFound
from intake.notices import Presenter, ShowcaseInvitation
from intake.people import PersonRef, person_for
from intake.read_models import Actor, PersonView, jsonable
from intake.schema import Stage
from storage import evidence, repo
from storage.db import UnitOfWork
from storage.models import AuditEvent, Person, Retro, Showcase, ShowcaseInvite, UseCase

MAX_INVITES = 8  # a showcase of an hour: a handful of ten-minute slots
SHIPPED = (Stage.DEPLOYMENT.value, Stage.MONITORING.value)
YES, NO, NOMINATED = "yes", "no", "nominated"


@dataclass(frozen=True)
class InviteView:
    """An invitation and its answer, as a lead reads them."""

    id: int
    person: PersonView
    use_case_id: int | None
    title: str | None
    answer: str | None
    nominee: PersonView | None
    answered_at: dt.datetime | None


@dataclass(frozen=True)
class ShowcaseView:
    """A showcase as `/hub showcase` shows it: when, where, and every invitation's answer."""

    id: int
    schedule: str
    at: dt.datetime
    channel: str
    invites: list[InviteView]
    recorded_at: dt.datetime | None

    @property
    def presenters(self) -> list[InviteView]:
        return [i for i in self.invites if i.answer == YES]


def ensure_showcase(session: Session, schedule: str, at: dt.datetime, channel: str, now: dt.datetime) -> Showcase:
    """The showcase of `schedule` at `at`, made the first time a phase of it runs."""
    found = session.scalar(select(Showcase).where(Showcase.schedule == schedule, Showcase.at == at))
    if found is None:
        found = Showcase(schedule=schedule, at=at, channel=channel, created_at=now)
        session.add(found)
        session.flush()
    return found


def candidates(session: Session, since: dt.datetime, now: dt.datetime) -> list[tuple[int, int]]:
    """(owner, use case) worth showing: shipped or with a retro written since `since`, newest first, one per owner."""
    shipped = session.execute(
        select(AuditEvent.at, UseCase.submitter_id, UseCase.id)
        .join(UseCase, UseCase.id == AuditEvent.use_case_id)
        .where(AuditEvent.action == "stage", AuditEvent.at >= since, AuditEvent.at <= now, UseCase.stage.in_(SHIPPED))
    ).all()
    lessons = session.execute(
        select(Retro.done_at, UseCase.submitter_id, UseCase.id)
        .join(UseCase, UseCase.id == Retro.use_case_id)
        .where(Retro.done_at >= since, Retro.done_at <= now)
    ).all()
    out: dict[int, int] = {}
    for _, person_id, use_case_id in sorted([*shipped, *lessons], key=lambda r: r[0] or now, reverse=True):
        person = session.get(Person, person_id)
        if person is None or evidence.is_importer(person):
            continue
        out.setdefault(person_id, use_case_id)
    return list(out.items())


def invite(
    session: Session,
    showcase: Showcase,
    person_id: int,
    use_case_id: int | None,
    *,
    now: dt.datetime,
    invited_by: int | None = None,
    not_before: dt.datetime | None = None,
) -> bool:
    """Invite one person (once per showcase), in the caller's transaction."""
    if session.scalar(
        select(ShowcaseInvite.id).where(
            ShowcaseInvite.showcase_id == showcase.id, ShowcaseInvite.person_id == person_id
        )
    ):
        return False
    row = ShowcaseInvite(
        showcase_id=showcase.id,
        person_id=person_id,
        use_case_id=use_case_id,
        invited_by_id=invited_by,
        created_at=now,
    )
    session.add(row)
    session.flush()
    uc = session.get(UseCase, use_case_id) if use_case_id else None
    by = session.get(Person, invited_by) if invited_by else None
    notice = ShowcaseInvitation(
        invite_id=row.id,
        at=showcase.at,
        use_case_id=uc.id if uc else None,
        title=uc.title if uc else None,
        nominated_by=PersonView.of(by, with_skills=False) if by else None,
    )
    when = not_before or calendar.when_reachable(session, person_id, now)
    repo.enqueue(session, jsonable(notice), person_id=person_id, at=now, not_before=when)
    return True


def invite_candidates(
    session: Session, showcase: Showcase, since: dt.datetime, *, now: dt.datetime, reachable: object = None
) -> int:
    """Invite the owners of what shipped or was learned since `since`; how many were invited."""
    invited = 0
    taken = len(session.scalars(select(ShowcaseInvite.id).where(ShowcaseInvite.showcase_id == showcase.id)).all())
    for person_id, use_case_id in candidates(session, since, now)[: max(0, MAX_INVITES - taken)]:
        when = reachable(session, person_id, now) if callable(reachable) else None
        invited += invite(session, showcase, person_id, use_case_id, now=now, not_before=when)
    return invited


def _invite_of(session: Session, actor: Actor, invite_id: int) -> tuple[ShowcaseInvite, Showcase]:
    row = session.get(ShowcaseInvite, invite_id)
    showcase = session.get(Showcase, row.showcase_id) if row else None
    if row is None or showcase is None:
        raise NotFound("That showcase invitation is gone.")
    if row.person_id != actor.person_id:
        raise NotAllowed("That invitation is someone else's: only the person invited can answer it.")
    return row, showcase


def _open(showcase: Showcase, now: dt.datetime) -> None:
    if showcase.at <= now:
        raise HubError("That showcase has already happened; you will be asked again for the next one.")


def answer_invitation(uow: UnitOfWork, actor: Actor, invite_id: int, yes: bool, *, now: dt.datetime) -> ShowcaseView:
    """Yes or Not this time, from the person invited; they may change their mind until the showcase."""
    s = uow.session
    row, showcase = _invite_of(s, actor, invite_id)
    _open(showcase, now)
    row.answer, row.answered_at, row.nominee_id = (YES if yes else NO), now, None
    repo.audit(s, action=f"showcase:{row.answer}", actor_id=actor.person_id, use_case_id=row.use_case_id, at=now)
    view = _view(s, showcase)
    uow.commit()
    return view


def nominate(
    uow: UnitOfWork, actor: Actor, invite_id: int, colleague: PersonRef, *, now: dt.datetime
) -> tuple[ShowcaseView, PersonView]:
    """Hand an invitation to a colleague: they are invited in the invitee's place, with the same use case."""
    s = uow.session
    row, showcase = _invite_of(s, actor, invite_id)
    _open(showcase, now)
    nominee = person_for(uow, colleague, now)
    nominee_id = nominee.id
    if nominee_id == actor.person_id:
        raise HubError("Nominate a colleague, not yourself: say Yes to present it yourself.")
    row.answer, row.answered_at, row.nominee_id = NOMINATED, now, nominee_id
    if not invite(s, showcase, nominee_id, row.use_case_id, now=now, invited_by=actor.person_id):
        raise HubError(f"{nominee.name} is already invited to this showcase.")
    repo.audit(s, action="showcase:nominated", actor_id=actor.person_id, use_case_id=row.use_case_id, at=now)
    view = _view(s, showcase)
    uow.commit()
    return view, PersonView.of(nominee, with_skills=False)


def next_showcase(session: Session, now: dt.datetime) -> Showcase | None:
    return session.scalar(select(Showcase).where(Showcase.at > now).order_by(Showcase.at).limit(1))


def lead_invite(
    uow: UnitOfWork, actor: Actor, target: PersonRef, use_case_id: int | None, *, now: dt.datetime
) -> ShowcaseView:
    """A lead invites someone to the next showcase (one whose invitations have gone out)."""
    s = uow.session
    lead = s.get(Person, actor.person_id, populate_existing=True) if actor.person_id else None
    if lead is None or not lead.is_lead:
        raise NotAllowed("Only a hub lead can invite presenters; you can nominate a colleague from your invitation.")
    showcase = next_showcase(s, now)
    if showcase is None:
        raise HubError(
            "No showcase is coming up yet: invitations go out two weeks ahead of a showcase schedule "
            "(/hub schedule add showcase monthly first thursday 15:00 #ai-hub)."
        )
    if use_case_id is not None and s.get(UseCase, use_case_id) is None:
        raise NotFound(f"There is no use case #{use_case_id}.")
    person = person_for(uow, target, now)
    if not invite(s, showcase, person.id, use_case_id, now=now, invited_by=actor.person_id):
        raise HubError(f"{person.name} is already invited to the showcase on {showcase.at:%d %b}.")
    view = _view(s, showcase)
    uow.commit()
    return view


def presenters(session: Session, showcase: Showcase) -> list[Presenter]:
    """Who said yes, in the order they did, and what they present."""
    rows = session.scalars(
        select(ShowcaseInvite)
        .where(ShowcaseInvite.showcase_id == showcase.id, ShowcaseInvite.answer == YES)
        .order_by(ShowcaseInvite.answered_at, ShowcaseInvite.id)
    ).all()
    out = []
    for row in rows:
        person = session.get(Person, row.person_id)
        uc = session.get(UseCase, row.use_case_id) if row.use_case_id else None
        if person is None:
            continue
        out.append(
            Presenter(
                person=PersonView.of(person, with_skills=False),
                use_case_id=uc.id if uc else None,
                title=uc.title if uc else None,
                department=uc.department.name if uc and uc.department else None,
            )
        )
    return out


def record_presenters(session: Session, showcase: Showcase, *, now: dt.datetime) -> int:
    """After the showcase: each presenter gets `showcase` evidence, linked to what they presented."""
    count = 0
    for row in session.scalars(
        select(ShowcaseInvite).where(ShowcaseInvite.showcase_id == showcase.id, ShowcaseInvite.answer == YES)
    ):
        row.presented = True
        uc = session.get(UseCase, row.use_case_id) if row.use_case_id else None
        text = evidence.use_case_text(uc) if uc else "Presented at the hub showcase"
        tags = [uc.department.name if uc and uc.department else "", (uc.topic_area or "") if uc else ""]
        evidence.record(
            session,
            person_id=row.person_id,
            kind=evidence.Kind.SHOWCASE.value,
            text=text,
            tags=tags,
            source_key=f"showcase:{showcase.id}:{row.person_id}",
            at=showcase.at,
            use_case_id=uc.id if uc else None,
        )
        count += 1
    showcase.recorded_at = now
    return count


def _view(session: Session, showcase: Showcase) -> ShowcaseView:
    invites = []
    rows = session.scalars(
        select(ShowcaseInvite).where(ShowcaseInvite.showcase_id == showcase.id).order_by(ShowcaseInvite.id)
    )
    for row in rows:
        person = session.get(Person, row.person_id)
        nominee = session.get(Person, row.nominee_id) if row.nominee_id else None
        uc = session.get(UseCase, row.use_case_id) if row.use_case_id else None
        if person is None:
            continue
        invites.append(
            InviteView(
                id=row.id,
                person=PersonView.of(person, with_skills=False),
                use_case_id=uc.id if uc else None,
                title=uc.title if uc else None,
                answer=row.answer,
                nominee=PersonView.of(nominee, with_skills=False) if nominee else None,
                answered_at=row.answered_at,
            )
        )
    return ShowcaseView(showcase.id, showcase.schedule, showcase.at, showcase.channel, invites, showcase.recorded_at)


def showcase_status(uow: UnitOfWork, *, now: dt.datetime) -> ShowcaseView | None:
    """The next showcase and its answers (None when none is coming up)."""
    found = next_showcase(uow.session, now)
    return _view(uow.session, found) if found else None


def upcoming(session: Session, now: dt.datetime, within: dt.timedelta) -> list[tuple[dt.datetime, list[Presenter]]]:
    """Showcases in the next `within`, with their presenters so far (a digest's "upcoming showcases")."""
    found = session.scalars(
        select(Showcase).where(Showcase.at > now, Showcase.at <= now + within).order_by(Showcase.at)
    ).all()
    return [(sc.at, presenters(session, sc)) for sc in found]
