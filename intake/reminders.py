"""Reminders: nudge reviewers about reviews that wait too long, and escalate to the hub."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intake.calendar import HubDefaults, calendar_for, reachable_at, zone_for
from intake.notices import HUB, ReviewNudge
from intake.read_models import PersonView, UseCaseView, jsonable
from storage import repo
from storage.db import UnitOfWork
from storage.models import Person, Review, UseCase


def remind_waiting_reviews(
    uow: UnitOfWork,
    *,
    remind_after: dt.timedelta,
    escalate_after: dt.timedelta,
    hub: HubDefaults,
    now: dt.datetime,
) -> dict[str, int]:
    """Queue one reminder per review past `remind_after` and one escalation past `escalate_after`, in working time.

    Both count working hours in the reviewer's zone and calendar (the hub's without a reviewer), so a weekend or
    a public holiday never makes a review overdue; the reminder reaches the reviewer in their working hours, the
    escalation the hub channel at once. `waited_hours`, as people read it, is the time it has really waited.
    """
    s = uow.session
    remind_hours, escalate_hours = remind_after.total_seconds() / 3600, escalate_after.total_seconds() / 3600
    waiting = s.scalars(select(Review).where(Review.decision.is_(None)).order_by(Review.opened_at)).all()
    leads = [PersonView.of(p) for p in s.scalars(select(Person).where(Person.is_lead.is_(True)))]
    counts = {"reminded": 0, "escalated": 0}
    for review in waiting:
        since = review.assigned_at or review.opened_at
        reviewer = review.reviewer
        calendar = calendar_for(reviewer, hub.calendar) if reviewer is not None else hub.calendar
        worked = calendar.working_hours_between(since, now, zone_for(reviewer, hub.zone))
        uc = s.get(UseCase, review.use_case_id)
        assert uc is not None
        view = UseCaseView.of(uc, review)
        hours = (now - since).total_seconds() / 3600
        # An away reviewer will not act on a DM: the hub hears about it as soon as a reminder is due.
        away = reviewer is not None and reviewer.away
        due = escalate_hours if not away else remind_hours
        if worked >= due and review.escalated_at is None:
            nudge = ReviewNudge(use_case=view, waited_hours=hours, escalation=True, leads=leads)
            repo.enqueue(s, jsonable(nudge), channel=HUB, at=now)
            review.escalated_at = now
            counts["escalated"] += 1
        elif worked >= remind_hours and review.reminded_at is None and review.reviewer_id is not None:
            nudge = ReviewNudge(use_case=view, waited_hours=hours)
            when = reachable_at(s, review.reviewer_id, now, hub)
            repo.enqueue(s, jsonable(nudge), person_id=review.reviewer_id, at=now, not_before=when)
            review.reminded_at = now
            counts["reminded"] += 1
    uow.commit()
    return counts
